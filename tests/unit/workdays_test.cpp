// Danish working days in Europe/Copenhagen.
#include <catch2/catch.hpp>

#include "henvis/workdays.hpp"

using namespace henvis::workdays;
using namespace std::chrono;

namespace {
Day d(int y, unsigned m, unsigned dd) { return Day{year{y}, month{m}, day{dd}}; }
// An instant given as Copenhagen local time.
Instant at(Day day, int h, int min = 0) { return at_local(day, hours(h) + minutes(min)); }
}  // namespace

TEST_CASE("Easter Sunday is computed for known years", "[workdays]") {
  CHECK(easter_sunday(2000) == d(2000, 4, 23));
  CHECK(easter_sunday(2019) == d(2019, 4, 21));
  CHECK(easter_sunday(2024) == d(2024, 3, 31));
  CHECK(easter_sunday(2025) == d(2025, 4, 20));
  CHECK(easter_sunday(2026) == d(2026, 4, 5));
  CHECK(easter_sunday(2038) == d(2038, 4, 25));  // the latest possible date
  CHECK(easter_sunday(2285) == d(2285, 3, 22));  // the earliest possible date
}

TEST_CASE("Easter-based and fixed public holidays are not working days", "[workdays]") {
  Calendar cal;
  // 2025: Skærtorsdag 17/4, Langfredag 18/4, 2. påskedag 21/4, Kristi himmelfart 29/5,
  // 2. pinsedag 9/6, juledag 25/12, 2. juledag 26/12, nytårsdag 1/1
  for (Day h : {d(2025, 4, 17), d(2025, 4, 18), d(2025, 4, 21), d(2025, 5, 29), d(2025, 6, 9),
                d(2025, 12, 25), d(2025, 12, 26), d(2025, 1, 1)})
    CHECK_FALSE(cal.is_working_day(h));
  CHECK(cal.is_working_day(d(2025, 4, 16)));  // the Wednesday before Easter
  CHECK(cal.is_working_day(d(2025, 4, 22)));  // the Tuesday after
}

TEST_CASE("Store bededag is a holiday up to 2023 and a working day from 2024", "[workdays]") {
  Calendar cal;
  CHECK_FALSE(cal.is_working_day(d(2023, 5, 5)));
  CHECK(cal.is_working_day(d(2024, 4, 26)));
}

TEST_CASE("Customary days off and extra holidays come from the configuration", "[workdays]") {
  Calendar plain;
  CHECK(plain.is_working_day(d(2025, 6, 5)));    // Grundlovsdag, a Thursday
  CHECK(plain.is_working_day(d(2025, 12, 24)));  // Juleaften, a Wednesday
  henvis::v1::Calendar cfg;
  cfg.set_customary_days_off(true);
  cfg.add_extra_holidays("2025-06-06");
  Calendar custom(cfg);
  CHECK_FALSE(custom.is_working_day(d(2025, 6, 5)));
  CHECK_FALSE(custom.is_working_day(d(2025, 12, 24)));
  CHECK_FALSE(custom.is_working_day(d(2025, 6, 6)));
  cfg.add_extra_holidays("2025-13-01");
  CHECK_THROWS_AS(Calendar(cfg), std::invalid_argument);
}

TEST_CASE("A deadline of working days skips the weekend", "[workdays]") {
  Calendar cal;
  // Given something routed on Friday 2025-03-07 at 15:00, 2 working days: Monday and Tuesday
  Instant due = cal.deadline(at(d(2025, 3, 7), 15), 2);
  // Then it is due at the start of Wednesday, local time
  CHECK(due == at(d(2025, 3, 12), 0));
  CHECK(local_day(due - seconds(1)) == d(2025, 3, 11));
}

TEST_CASE("A deadline of working days skips Easter", "[workdays]") {
  Calendar cal;
  // Given Wednesday 2025-04-16, 2 working days: Tuesday 22/4 and Wednesday 23/4
  CHECK(cal.deadline(at(d(2025, 4, 16), 10), 2) == at(d(2025, 4, 24), 0));
  // And 6 working days from Friday before Easter 2024 (Langfredag 29/3; 2. påskedag 1/4)
  // are 2,3,4,5,8,9 April
  CHECK(cal.deadline(at(d(2024, 3, 28), 9), 6) == at(d(2024, 4, 10), 0));
}

TEST_CASE("Local times follow Copenhagen's DST changes", "[workdays]") {
  // Winter: UTC+1; summer: UTC+2
  CHECK(at(d(2025, 1, 15), 7, 30) == sys_days(d(2025, 1, 15)) + hours(6) + minutes(30));
  CHECK(at(d(2025, 7, 15), 7, 30) == sys_days(d(2025, 7, 15)) + hours(5) + minutes(30));
  // 2025-03-30 02:30 does not exist: the first instant after the gap (03:00 CEST = 01:00Z)
  CHECK(at(d(2025, 3, 30), 2, 30) == sys_days(d(2025, 3, 30)) + hours(1));
  // 2025-10-26 02:30 happens twice: the earlier (CEST, 00:30Z)
  CHECK(at(d(2025, 10, 26), 2, 30) == sys_days(d(2025, 10, 26)) + minutes(30));
  // 07:30 local on the two sides of the autumn change are 25 hours apart
  CHECK(at(d(2025, 10, 26), 7, 30) - at(d(2025, 10, 25), 7, 30) == hours(25));
}
