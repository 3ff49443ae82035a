#pragma once
// The effective-dated routing directory: which municipalities take part in
// the rusmiddel programme, from when, and which rusmiddelcenter serves each.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "henvis/v1/config.pb.h"

namespace henvis {

inline constexpr const char* PROGRAMME_RUSMIDDEL = "rusmiddel";

struct RouteResult {
  bool routed = false;
  std::string centre_id;  // when routed
  std::string reason;     // when not: "municipality_unknown" | "municipality_not_covered"
};

class Directory {
 public:
  // Checks the directory and throws std::invalid_argument naming the bad
  // entry: duplicate kommunekode, unknown district, bad or overlapping dates,
  // a centre that is not a configured recipient.
  explicit Directory(v1::Directory d);
  Directory() = default;

  const std::string& version() const { return d_.version(); }
  const v1::Municipality* municipality(int kommunekode) const;
  const v1::Recipient* recipient(const std::string& id) const;
  // The coordinator recipient of a district, if configured.
  const v1::Recipient* coordinator(const std::string& district_id) const;
  bool district_exists(const std::string& id) const;
  // Routes a person living in `kommunekode`, charged on local date `day`.
  RouteResult route(int kommunekode, std::chrono::year_month_day day) const;
  const v1::Directory& raw() const { return d_; }

 private:
  v1::Directory d_;
  std::map<int, int> by_code_;
  std::map<std::string, int> recipient_by_id_;
};

// Parses "YYYY-MM-DD"; nullopt if malformed or not a calendar date.
std::optional<std::chrono::year_month_day> parse_date(const std::string& s);
// The calendar date in Europe/Copenhagen of a UTC instant (seconds since epoch).
std::chrono::year_month_day copenhagen_date(std::int64_t unix_seconds);

}  // namespace henvis
