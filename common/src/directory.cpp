#include "henvis/directory.hpp"

#include <date/tz.h>

#include <cctype>
#include <stdexcept>

namespace henvis {

std::optional<std::chrono::year_month_day> parse_date(const std::string& s) {
  // Exactly YYYY-MM-DD: sscanf alone would take signs and blanks.
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  const int y = std::stoi(s.substr(0, 4));
  const auto m = static_cast<unsigned>(std::stoi(s.substr(5, 2)));
  const auto d = static_cast<unsigned>(std::stoi(s.substr(8, 2)));
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

std::chrono::year_month_day copenhagen_date(std::int64_t unix_seconds) {
  static const date::time_zone* tz = date::locate_zone("Europe/Copenhagen");
  date::sys_seconds t{std::chrono::seconds{unix_seconds}};
  auto local = tz->to_local(t);
  auto days = date::floor<date::days>(local);
  date::year_month_day ymd{days};
  return std::chrono::year_month_day{std::chrono::year{static_cast<int>(ymd.year())},
                                     std::chrono::month{static_cast<unsigned>(ymd.month())},
                                     std::chrono::day{static_cast<unsigned>(ymd.day())}};
}

Directory::Directory(v1::Directory d) : d_(std::move(d)) {
  if (d_.version().empty()) throw std::invalid_argument("directory: version is required");
  for (int i = 0; i < d_.recipients_size(); ++i) {
    const auto& r = d_.recipients(i);
    if (r.id().empty()) throw std::invalid_argument("directory: a recipient has no id");
    if (!recipient_by_id_.emplace(r.id(), i).second)
      throw std::invalid_argument("directory: duplicate recipient " + r.id());
    if (!r.district_id().empty() && !district_exists(r.district_id()))
      throw std::invalid_argument("directory: recipient " + r.id() + " has unknown district");
  }
  for (int i = 0; i < d_.municipalities_size(); ++i) {
    const auto& m = d_.municipalities(i);
    const std::string where = "directory: municipality " + std::to_string(m.kommunekode());
    if (m.kommunekode() <= 0)
      throw std::invalid_argument("directory: kommunekode must be positive");
    if (!by_code_.emplace(m.kommunekode(), i).second)
      throw std::invalid_argument(where + " repeats");
    if (!district_exists(m.district_id()))
      throw std::invalid_argument(where + ": unknown district");
    std::vector<std::pair<std::chrono::sys_days, std::chrono::sys_days>> periods;
    for (const auto& p : m.participation()) {
      auto from = parse_date(p.from());
      if (!from) throw std::invalid_argument(where + ": participation.from must be YYYY-MM-DD");
      std::chrono::sys_days to = std::chrono::sys_days::max();
      if (!p.to().empty()) {
        auto t = parse_date(p.to());
        if (!t || std::chrono::sys_days(*t) <= std::chrono::sys_days(*from))
          throw std::invalid_argument(where + ": participation.to must be a date after from");
        to = *t;
      }
      if (p.programme() != PROGRAMME_RUSMIDDEL)
        throw std::invalid_argument(where + ": unknown programme");
      auto it = recipient_by_id_.find(p.centre_id());
      if (it == recipient_by_id_.end() ||
          d_.recipients(it->second).kind() != v1::RECIPIENT_KIND_CENTRE)
        throw std::invalid_argument(where + ": centre_id is not a configured centre");
      for (const auto& [f, t] : periods)
        if (std::chrono::sys_days(*from) < t && f < to)
          throw std::invalid_argument(where + ": participation periods overlap");
      periods.emplace_back(*from, to);
    }
  }
}

bool Directory::district_exists(const std::string& id) const {
  for (const auto& d : d_.districts())
    if (d.id() == id) return true;
  return false;
}

const v1::Municipality* Directory::municipality(int kommunekode) const {
  auto it = by_code_.find(kommunekode);
  return it == by_code_.end() ? nullptr : &d_.municipalities(it->second);
}

const v1::Recipient* Directory::recipient(const std::string& id) const {
  auto it = recipient_by_id_.find(id);
  return it == recipient_by_id_.end() ? nullptr : &d_.recipients(it->second);
}

const v1::Recipient* Directory::coordinator(const std::string& district_id) const {
  for (const auto& r : d_.recipients())
    if (r.kind() == v1::RECIPIENT_KIND_COORDINATOR && r.district_id() == district_id) return &r;
  return nullptr;
}

RouteResult Directory::route(int kommunekode, std::chrono::year_month_day day) const {
  const auto* m = municipality(kommunekode);
  if (!m) return {false, "", "municipality_unknown"};
  std::chrono::sys_days d(day);
  for (const auto& p : m->participation()) {
    auto from = parse_date(p.from());
    auto to = p.to().empty() ? std::nullopt : parse_date(p.to());
    if (d >= std::chrono::sys_days(*from) && (!to || d < std::chrono::sys_days(*to)))
      return {true, p.centre_id(), ""};
  }
  return {false, "", "municipality_not_covered"};
}

}  // namespace henvis
