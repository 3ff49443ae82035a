#pragma once
// Retention (docs/security.md "Retention"): personal data a service keeps
// past the period its configuration sets for the case's state is erased by a
// periodic pass, the way socialsog erases old incidents: in a transaction of
// its own (sqlite::erase: secure_delete, the WAL truncated at commit), the
// rows counted in a metric and logged by count only, never by content.

#include <chrono>
#include <functional>
#include <string>

#include "henvis/http.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/config.pb.h"

namespace henvis::retention {

using Period = std::chrono::seconds;

// The configured period: `p`'s days plus seconds when `set`, else
// `fallback`. Throws std::invalid_argument naming `field` for a negative part.
Period period(bool set, const v1::RetentionPeriod& p, Period fallback, const std::string& field);

// The purge of one kind of data, `what` a fixed name ("router_contact_data"):
// each run erases through sqlite::erase, adds the rows to
// henvis_retention_purged_total{what} and logs their number.
class Purge {
 public:
  Purge(std::string what, http::Metrics* metrics);
  // `erase` deletes what is due and returns how many rows it erased.
  int run(sqlite::Db& db, const std::function<int()>& erase);

 private:
  std::string what_;
  prometheus::Counter* purged_ = nullptr;
};

}  // namespace henvis::retention
