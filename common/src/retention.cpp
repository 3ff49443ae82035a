#include "henvis/retention.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace henvis::retention {

Period period(bool set, const v1::RetentionPeriod& p, Period fallback, const std::string& field) {
  if (!set) return fallback;
  if (p.days() < 0 || p.seconds() < 0)
    throw std::invalid_argument(field + ": a retention period must not be negative");
  return std::chrono::hours(24) * p.days() + std::chrono::seconds(p.seconds());
}

Purge::Purge(std::string what, http::Metrics* metrics) : what_(std::move(what)) {
  if (metrics)
    purged_ = &metrics->counter("henvis_retention_purged_total",
                                "Rows erased because their retention period had passed",
                                {{"what", what_}});
}

int Purge::run(sqlite::Db& db, const std::function<int()>& erase) {
  const int n = sqlite::erase(db, erase);
  if (n > 0) {
    if (purged_) purged_->Increment(n);
    spdlog::info("retention purge what={} rows={}", what_, n);
  }
  return n;
}

}  // namespace henvis::retention
