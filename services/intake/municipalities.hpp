#pragma once
// Denmark's 98 municipalities, from data/municipalities.csv (embedded at
// build time): a kommunekode intake accepts whether or not the directory
// lists it (docs/lifecycle.md "Unroutable referrals").

#include <string>

namespace henvis::intake {

// The name of the Danish municipality `kommunekode` (e.g. "København" for
// 101); nullptr when no Danish municipality has that code.
const std::string* danish_municipality(int kommunekode);

}  // namespace henvis::intake
