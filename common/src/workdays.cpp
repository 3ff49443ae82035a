#include "henvis/workdays.hpp"

#include <date/tz.h>

#include <stdexcept>

#include "henvis/directory.hpp"

namespace henvis::workdays {

using std::chrono::days;
using std::chrono::sys_days;

namespace {
// The last year Store bededag was a public holiday.
constexpr int LAST_STORE_BEDEDAG = 2023;

const date::time_zone* copenhagen() {
  static const date::time_zone* tz = date::locate_zone("Europe/Copenhagen");
  return tz;
}

Day md(int y, unsigned m, unsigned d) {
  return Day{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
}

Day plus(Day d, int n) { return Day{sys_days(d) + days(n)}; }
}  // namespace

Day easter_sunday(int year) {
  const int a = year % 19;
  const int b = year / 100;
  const int c = year % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = ((h + l - 7 * m + 114) % 31) + 1;
  return md(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

Calendar::Calendar(const v1::Calendar& config) : customary_(config.customary_days_off()) {
  for (const auto& s : config.extra_holidays()) {
    auto d = parse_date(s);
    if (!d) throw std::invalid_argument("calendar: extra_holidays must be YYYY-MM-DD dates");
    extra_.insert(sys_days(*d));
  }
}

std::vector<Holiday> Calendar::holidays(int year) const {
  const Day e = easter_sunday(year);
  std::vector<Holiday> h = {
      {md(year, 1, 1), "Nytårsdag"}, {plus(e, -3), "Skærtorsdag"},
      {plus(e, -2), "Langfredag"},   {e, "Påskedag"},
      {plus(e, 1), "2. påskedag"},   {plus(e, 39), "Kristi himmelfartsdag"},
      {plus(e, 49), "Pinsedag"},     {plus(e, 50), "2. pinsedag"},
      {md(year, 12, 25), "Juledag"}, {md(year, 12, 26), "2. juledag"},
  };
  if (year <= LAST_STORE_BEDEDAG) h.push_back({plus(e, 26), "Store bededag"});
  if (customary_) {
    h.push_back({md(year, 6, 5), "Grundlovsdag"});
    h.push_back({md(year, 12, 24), "Juleaften"});
    h.push_back({md(year, 12, 31), "Nytårsaftensdag"});
  }
  return h;
}

bool Calendar::is_holiday(Day d) const {
  if (extra_.count(sys_days(d))) return true;
  for (const auto& h : holidays(static_cast<int>(d.year())))
    if (h.day == d) return true;
  return false;
}

bool Calendar::is_working_day(Day d) const {
  const std::chrono::weekday wd{sys_days(d)};
  if (wd == std::chrono::Saturday || wd == std::chrono::Sunday) return false;
  return !is_holiday(d);
}

Day Calendar::next_working_day(Day d) const {
  do {
    d = plus(d, 1);
  } while (!is_working_day(d));
  return d;
}

Instant Calendar::deadline(Instant from, int n) const {
  Day d = local_day(from);
  // A day that starts exactly at `from` is a full day: count it.
  if (at_local(d, std::chrono::minutes(0)) == from) d = plus(d, -1);
  for (int i = 0; i < n; ++i) d = next_working_day(d);
  return at_local(plus(d, 1), std::chrono::minutes(0));
}

Day local_day(Instant t) {
  auto local = copenhagen()->to_local(date::sys_seconds{t.time_since_epoch()});
  date::year_month_day ymd{date::floor<date::days>(local)};
  return md(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
            static_cast<unsigned>(ymd.day()));
}

Instant at_local(Day d, std::chrono::minutes time_of_day) {
  date::local_seconds local{sys_days(d).time_since_epoch() + time_of_day};
  auto info = copenhagen()->get_info(local);
  date::sys_seconds utc;
  if (info.result == date::local_info::nonexistent) {
    // In the spring-forward gap: the first instant after it.
    utc = info.second.begin;
  } else {
    // Unique, or ambiguous in the fall-back hour: the earlier instant.
    utc = date::sys_seconds{local.time_since_epoch() - info.first.offset};
  }
  return Instant{utc.time_since_epoch()};
}

}  // namespace henvis::workdays
