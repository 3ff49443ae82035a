#pragma once
// Logging. One line per event, logfmt-style key=value after the message, to
// stderr. Personal data (CPR, names, phones, e-mails) is never passed to a log
// call: log ids (referral, offer, notification), counts and rule names only.

#include <string>

namespace henvis::log {

// Sets the pattern and level (HENVIS_LOG_LEVEL: trace|debug|info|warn|error).
void init(const std::string& service);

}  // namespace henvis::log
