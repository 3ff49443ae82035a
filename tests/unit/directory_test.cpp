// The effective-dated routing directory (docs/design.md "Drink/drug-driving
// referral", Routing): participation periods are [from, to) in local dates.

#include "henvis/directory.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "henvis/config.hpp"
#include "henvis/v1/config.pb.h"
#include "support.hpp"

using namespace std::chrono;

namespace {

using henvis::test::dev_config;

std::string iso(year_month_day d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

year_month_day ymd(int y, unsigned m, unsigned d) {
  return year_month_day{year{y}, month{m}, day{d}};
}

henvis::v1::Recipient* add_centre(henvis::v1::Directory& d, const std::string& id) {
  auto* r = d.add_recipients();
  r->set_id(id);
  r->set_name(id);
  r->set_kind(henvis::v1::RECIPIENT_KIND_CENTRE);
  r->set_district_id("mvj");
  r->set_channel(henvis::v1::CHANNEL_INBOX);
  return r;
}

henvis::v1::Municipality* add_municipality(henvis::v1::Directory& d, int code,
                                           const std::string& name) {
  auto* m = d.add_municipalities();
  m->set_kommunekode(code);
  m->set_name(name);
  m->set_district_id("mvj");
  return m;
}

void add_period(henvis::v1::Municipality* m, const std::string& from, const std::string& to,
                const std::string& centre) {
  auto* p = m->add_participation();
  p->set_programme(henvis::PROGRAMME_RUSMIDDEL);
  p->set_from(from);
  p->set_to(to);
  p->set_centre_id(centre);
}

// One district, two centres, and:
//   657 Herning: from 2020-03-01, open, centre-a
//   661 Holstebro: 2020-03-01 .. 2021-01-01 (exclusive), centre-a
//   665 Lemvig: 2020-03-01 .. 2022-07-01 centre-a, then from 2022-07-01 centre-b
//   751 Aarhus: no participation
henvis::v1::Directory small_directory() {
  henvis::v1::Directory d;
  d.set_version("test-1");
  auto* dist = d.add_districts();
  dist->set_id("mvj");
  dist->set_name("Midt- og Vestjyllands Politi");
  add_centre(d, "centre-a");
  add_centre(d, "centre-b");
  auto* coord = d.add_recipients();
  coord->set_id("coordinator-mvj");
  coord->set_kind(henvis::v1::RECIPIENT_KIND_COORDINATOR);
  coord->set_district_id("mvj");
  add_period(add_municipality(d, 657, "Herning"), "2020-03-01", "", "centre-a");
  add_period(add_municipality(d, 661, "Holstebro"), "2020-03-01", "2021-01-01", "centre-a");
  auto* lemvig = add_municipality(d, 665, "Lemvig");
  add_period(lemvig, "2020-03-01", "2022-07-01", "centre-a");
  add_period(lemvig, "2022-07-01", "", "centre-b");
  add_municipality(d, 751, "Aarhus");
  return d;
}

}  // namespace

TEST_CASE("directory: a participation starting 2020-03-01 routes from that day, not the day before",
          "[directory]") {
  // Given Herning taking part from 2020-03-01 (inclusive)
  const henvis::Directory dir(small_directory());
  // When a charge on 2020-03-01 and one on 2020-02-29 are routed
  const auto on_first_day = dir.route(657, ymd(2020, 3, 1));
  const auto day_before = dir.route(657, ymd(2020, 2, 29));
  // Then the first goes to centre-a and the second is not covered
  CHECK(on_first_day.routed);
  CHECK(on_first_day.centre_id == "centre-a");
  CHECK(on_first_day.reason.empty());
  CHECK_FALSE(day_before.routed);
  CHECK(day_before.centre_id.empty());
  CHECK(day_before.reason == "municipality_not_covered");
}

TEST_CASE("directory: a period's `to` date is exclusive", "[directory]") {
  // Given Holstebro taking part 2020-03-01 .. 2021-01-01
  const henvis::Directory dir(small_directory());
  // When charges on the last day and on the `to` day are routed
  const auto last_day = dir.route(661, ymd(2020, 12, 31));
  const auto to_day = dir.route(661, ymd(2021, 1, 1));
  // Then the last day is covered and the `to` day is not
  CHECK(last_day.routed);
  CHECK(last_day.centre_id == "centre-a");
  CHECK_FALSE(to_day.routed);
  CHECK(to_day.reason == "municipality_not_covered");
}

TEST_CASE("directory: successive periods route to the centre of the period containing the day",
          "[directory]") {
  // Given Lemvig served by centre-a until 2022-07-01 and by centre-b from then
  const henvis::Directory dir(small_directory());
  // When charges either side of the boundary are routed
  const auto before = dir.route(665, ymd(2022, 6, 30));
  const auto after = dir.route(665, ymd(2022, 7, 1));
  // Then each goes to the centre of its own period
  CHECK(before.routed);
  CHECK(before.centre_id == "centre-a");
  CHECK(after.routed);
  CHECK(after.centre_id == "centre-b");
}

TEST_CASE("directory: an unknown kommunekode is municipality_unknown", "[directory]") {
  // Given a directory without kommunekode 999
  const henvis::Directory dir(small_directory());
  // When 999 is routed
  const auto r = dir.route(999, ymd(2024, 5, 1));
  // Then it is unknown, not merely uncovered
  CHECK_FALSE(r.routed);
  CHECK(r.reason == "municipality_unknown");
  CHECK(dir.municipality(999) == nullptr);
}

TEST_CASE("directory: a municipality with no participation is not covered", "[directory]") {
  // Given Aarhus with no participation periods
  const henvis::Directory dir(small_directory());
  // When routed
  const auto r = dir.route(751, ymd(2024, 5, 1));
  // Then not covered
  CHECK_FALSE(r.routed);
  CHECK(r.reason == "municipality_not_covered");
}

TEST_CASE("directory: the constructor refuses overlapping participation periods", "[directory]") {
  // Given Herning with a second period overlapping the open first one
  auto d = small_directory();
  add_period(d.mutable_municipalities(0), "2023-01-01", "2024-01-01", "centre-b");
  // When built / Then refused naming the municipality
  CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  CHECK_THROWS_WITH(henvis::Directory(d), Catch::Contains("657") && Catch::Contains("overlap"));
}

TEST_CASE("directory: the constructor accepts adjacent periods that share only the boundary day",
          "[directory]") {
  // Given periods [2020-03-01, 2021-01-01) and [2021-01-01, open) for one municipality
  auto d = small_directory();
  add_period(d.mutable_municipalities(1), "2021-01-01", "", "centre-b");
  // When built / Then accepted, and the boundary day goes to the later period
  henvis::Directory dir(d);
  CHECK(dir.route(661, ymd(2021, 1, 1)).centre_id == "centre-b");
  CHECK(dir.route(661, ymd(2020, 12, 31)).centre_id == "centre-a");
}

TEST_CASE("directory: the constructor refuses a centre_id that is not a configured centre",
          "[directory]") {
  SECTION("no such recipient") {
    // Given a period naming a centre that does not exist
    auto d = small_directory();
    d.mutable_municipalities(0)->mutable_participation(0)->set_centre_id("centre-nowhere");
    // Then refused
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
  SECTION("a recipient that is not a centre") {
    // Given a period naming the coordinator
    auto d = small_directory();
    d.mutable_municipalities(0)->mutable_participation(0)->set_centre_id("coordinator-mvj");
    // Then refused
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
}

TEST_CASE("directory: the constructor refuses a duplicate kommunekode", "[directory]") {
  // Given 657 twice
  auto d = small_directory();
  add_municipality(d, 657, "Herning again");
  // Then refused naming it
  CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  CHECK_THROWS_WITH(henvis::Directory(d), Catch::Contains("657"));
}

TEST_CASE("directory: the constructor refuses bad dates", "[directory]") {
  auto d = small_directory();
  auto* p = d.mutable_municipalities(0)->mutable_participation(0);
  SECTION("from not a calendar date") {
    p->set_from("2021-02-29");
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
  SECTION("from malformed") {
    p->set_from("1.3.2020");
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
  SECTION("from empty") {
    p->set_from("");
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
  SECTION("to malformed") {
    p->set_to("2021-13-01");
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
  SECTION("to equal to from") {
    p->set_to("2020-03-01");
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
  SECTION("to before from") {
    p->set_to("2020-01-01");
    CHECK_THROWS_AS(henvis::Directory(d), std::invalid_argument);
  }
}

TEST_CASE("directory: parse_date refuses signs and blanks inside the date", "[directory]") {
  // Given strings of the right length that are not YYYY-MM-DD
  // When parsed
  // Then each is refused (sscanf's %u accepts a sign or leading blanks)
  CHECK_FALSE(henvis::parse_date("2020-+3-01").has_value());
  CHECK_FALSE(henvis::parse_date("2020- 3-01").has_value());
  CHECK_FALSE(henvis::parse_date("+020-03-01").has_value());
}

TEST_CASE("directory: parse_date accepts YYYY-MM-DD calendar dates only", "[directory]") {
  // Given well-formed, impossible and malformed date strings
  // When parsed / Then only real YYYY-MM-DD dates are accepted
  CHECK(henvis::parse_date("2020-02-29").has_value());
  CHECK(iso(*henvis::parse_date("2020-02-29")) == "2020-02-29");
  CHECK_FALSE(henvis::parse_date("2021-02-29").has_value());
  CHECK_FALSE(henvis::parse_date("2020-02-29x").has_value());
  CHECK_FALSE(henvis::parse_date("2020-2-29").has_value());
  CHECK_FALSE(henvis::parse_date("").has_value());
}

TEST_CASE("copenhagen_date: late evening UTC in winter is the next day in Copenhagen (UTC+1)",
          "[directory][time]") {
  // Given 2020-02-29T23:30:00Z
  const std::int64_t t =
      sys_seconds{sys_days{ymd(2020, 2, 29)} + hours{23} + minutes{30}}.time_since_epoch().count();
  // When converted / Then it is 2020-03-01 in Copenhagen
  CHECK(iso(henvis::copenhagen_date(t)) == "2020-03-01");
  // And an hour earlier (22:30Z = 23:30 local) is still 2020-02-29
  CHECK(iso(henvis::copenhagen_date(t - 3600)) == "2020-02-29");
}

TEST_CASE("copenhagen_date: late evening UTC in summer is the next day in Copenhagen (UTC+2)",
          "[directory][time]") {
  // Given 2021-06-30T22:30:00Z
  const std::int64_t t =
      sys_seconds{sys_days{ymd(2021, 6, 30)} + hours{22} + minutes{30}}.time_since_epoch().count();
  // When converted / Then it is 2021-07-01 in Copenhagen
  CHECK(iso(henvis::copenhagen_date(t)) == "2021-07-01");
  // And 21:30Z (23:30 local) is still 2021-06-30
  CHECK(iso(henvis::copenhagen_date(t - 3600)) == "2021-06-30");
}

TEST_CASE("directory: the dev directory routes Herning to its centre and leaves Aarhus uncovered",
          "[directory][config]") {
  // Given deploy/config/dev/directory.textproto
  const auto path = dev_config("directory.textproto");
  REQUIRE(std::filesystem::exists(path));
  const henvis::Directory dir(henvis::config::load<henvis::v1::Directory>(path.string()));
  // When Herning (657) and Aarhus (751) are routed on 2024-05-01
  const auto herning = dir.route(657, ymd(2024, 5, 1));
  const auto aarhus = dir.route(751, ymd(2024, 5, 1));
  // Then Herning goes to rusmiddelcenter-657 and Aarhus is known but not covered
  CHECK(herning.routed);
  CHECK(herning.centre_id == "rusmiddelcenter-657");
  CHECK_FALSE(aarhus.routed);
  CHECK(aarhus.reason == "municipality_not_covered");
  REQUIRE(dir.municipality(751) != nullptr);
  CHECK(dir.municipality(751)->name() == "Aarhus");
  // And the district coordinators are configured
  REQUIRE(dir.coordinator("mvj") != nullptr);
  CHECK(dir.coordinator("mvj")->id() == "coordinator-mvj");
}
