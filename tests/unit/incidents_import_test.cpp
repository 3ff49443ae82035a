// henvisctl incidents import, without a broker: the JSON-lines reading and
// socialsog's validation (services/socialsog/incident_check.hpp). A file with
// bad lines reports each bad line by number with the field and reason, never
// a value, and keeps the good ones. (The command's exit status and producing
// are exercised in tests/integration/socialsog_stats_test.cpp.)

#include <catch2/catch.hpp>
#include <set>
#include <sstream>
#include <string>

#include "henvis/validate.hpp"
#include "incident_check.hpp"
#include "sim/incidents.hpp"
#include "socialsog.hpp"
#include "support.hpp"

namespace {

namespace ss = henvis::socialsog;

std::string line(const std::string& id, const std::string& extra = "",
                 const std::string& father_cpr = "150580-1235",
                 const std::string& child_cpr = "010315-4123") {
  return R"({"incidentId":")" + id +
         R"(","journalNumber":"4100-84123-00042-24","districtId":"mvj",)"
         R"("occurredAt":"2024-05-20T21:00:00Z","locationKommunekode":657,)"
         R"("offenceCodes":["PH-G-FL53"],"involved":[{"role":"PERSON_ROLE_SUSPECT","cpr":")" +
         father_cpr + R"(","name":"Svend Testesen","homeKommunekode":657,"children":[{"cpr":")" +
         child_cpr + R"(","name":"Lille Testesen","homeKommunekode":661}]}])" + extra + "}";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}

}  // namespace

TEST_CASE("incidents import: a file with bad lines reports each bad line and keeps the good ones",
          "[henvisctl][incidents]") {
  // Given a file of nine lines: four good incidents, a blank line and four bad ones
  const std::string file = line("imp-1") + "\n" +                                        // 1 good
                           line("imp-2", R"(,"underretningSentAtScene":true)") + "\n" +  // 2 good
                           "\n" +                                                        // 3 blank
                           line("imp-3", "", "150580-1235", "310299-9999") + "\n" +  // 4 bad CPR
                           R"({"incidentId":"imp-4","occurredAt":"2024-13-45T00:00:00Z"})" +
                           "\n" +                                    // 5 bad time
                           "this is not json\n" +                    // 6
                           line("imp-1") + "\r\n" +                  // 7 same id
                           line("imp-5") + "\r\n" +                  // 8 good, CRLF
                           line("imp-6", R"(,"cpr":"0101901234")");  // 9 unknown field
  std::istringstream in(file);
  const auto r = ss::read_incidents_jsonl(in);

  // Then the good ones are kept, in file order with their line numbers
  REQUIRE(r.good.size() == 3);
  CHECK(r.good[0].first == 1);
  CHECK(r.good[0].second.incident_id() == "imp-1");
  CHECK(r.good[0].second.involved(0).children(0).home_kommunekode() == 661);
  CHECK(r.good[1].first == 2);
  CHECK(r.good[1].second.underretning_sent_at_scene());
  CHECK(r.good[2].first == 8);
  CHECK(r.good[2].second.incident_id() == "imp-5");
  CHECK(r.blank == 1);

  // And each bad line is reported by number, field and reason
  REQUIRE(r.bad.size() == 5);
  CHECK(r.bad[0].text() == "line 4: involved[0].children[0].cpr: is not a valid CPR number");
  CHECK(r.bad[1].text() == "line 5: occurred_at: is not valid proto3 JSON for this field");
  CHECK(r.bad[2].text() == "line 6: (line): is not a henvis.v1.Incident in proto3 JSON");
  CHECK(r.bad[3].text() == "line 7: incident_id: is the same as on an earlier line");
  CHECK(r.bad[4].text() == "line 9: (line): has a field henvis.v1.Incident does not have");

  // And no report holds a value from the file
  for (const auto& b : r.bad)
    for (const std::string secret : {"310299", "9999", "2024-13-45", "0101901234", "Svend"})
      CHECK(b.text().find(secret) == std::string::npos);
}

TEST_CASE("incidents import: each of socialsog's rules names its field", "[henvisctl][incidents]") {
  struct Case {
    std::string json, text;
  };
  const std::vector<Case> cases = {
      {R"({"districtId":"mvj"})", "line 1: incident_id: missing"},
      {replace(line("x"), R"("districtId":"mvj",)", ""), "line 1: district_id: missing"},
      {replace(line("x"), R"("locationKommunekode":657)", R"("locationKommunekode":99)"),
       "line 1: location_kommunekode: is not a kommunekode"},
      {replace(line("x"), R"("journalNumber":"4100-84123-00042-24",)", ""),
       "line 1: journal_number: " + *henvis::validate::journal_number("")},
      {replace(line("x"), R"("offenceCodes":["PH-G-FL53"],)", ""),
       "line 1: incident_codes or offence_codes: missing"},
      {line("x", "", "999999-9999"), "line 1: involved[0].cpr: is not a valid CPR number"},
      {replace(line("x"), "PERSON_ROLE_SUSPECT", "PERSON_ROLE_BOSS"),
       "line 1: involved[0].role: is not valid proto3 JSON for this field"},
      {replace(line("x"), "PERSON_ROLE_SUSPECT", "PERSON_ROLE_UNSPECIFIED"),
       "line 1: involved[0].role: is not a known role"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    std::istringstream in(c.json);
    const auto r = ss::read_incidents_jsonl(in);
    REQUIRE(r.bad.size() == 1);
    CHECK(r.bad[0].text() == c.text);
    CHECK(r.good.empty());
  }
  // And the service's own sentence is unchanged
  henvis::v1::Incident in;
  in.set_incident_id("x");
  CHECK(ss::invalid_incident(in) == std::optional<std::string>("missing field district_id"));
}

TEST_CASE("henvis-sim incidents: deterministic, realistic, and every line imports",
          "[henvisctl][incidents][sim]") {
  henvis::sim::IncidentOptions opt;
  opt.seed = 42;
  const auto a = henvis::sim::generate_incidents(opt);
  const auto b = henvis::sim::generate_incidents(opt);
  const std::string text = henvis::sim::to_jsonl(a);
  CHECK(text == henvis::sim::to_jsonl(b));
  opt.seed = 43;
  CHECK(henvis::sim::to_jsonl(henvis::sim::generate_incidents(opt)) != text);

  // Every line passes socialsog's validation
  std::istringstream in(text);
  const auto r = ss::read_incidents_jsonl(in);
  CHECK(r.bad.empty());
  REQUIRE(r.good.size() == a.incidents.size());

  // Both districts, in the year, households that move and children elsewhere
  const auto& s = a.summary;
  CHECK(s.incidents_mvj > 100);
  CHECK(s.incidents_oj > 100);
  CHECK(s.moved_households > 10);
  CHECK(s.children_elsewhere > 20);
  CHECK(s.severe_incidents > 20);
  const std::int64_t start = 1672531200;  // 2023-01-01T00:00:00Z
  const std::int64_t end = 1704067200;    // 2024-01-01T00:00:00Z
  std::set<std::string> codes;
  bool cross_district_household = false;
  for (const auto& i : a.incidents) {
    CHECK(i.occurred_at().seconds() >= start);
    CHECK(i.occurred_at().seconds() < end);
    for (const auto& c : i.incident_codes()) codes.insert(c);
    for (const auto& c : i.offence_codes()) codes.insert(c);
    for (const auto& p : i.involved()) {
      const bool away =
          (p.home_kommunekode() == 751 || p.home_kommunekode() == 730) && i.district_id() == "mvj";
      cross_district_household = cross_district_household || (away && p.children_size() > 0);
    }
  }
  CHECK(cross_district_household);
  // Every code of the default list appears, and some unwatched ones
  const auto rules = henvis::socialsog::default_rules();
  for (const auto& c : rules.codes()) CHECK(codes.count(c.code()) == 1);
  CHECK(codes.count("PH-G-TYVERI") == 1);
}

TEST_CASE("henvis-sim incidents can cover the 365 days before a date instead of a calendar year",
          "[sim][incidents]") {
  // Given the window ending 2026-11-30 (henvis-sim's default is the one ending today)
  henvis::sim::IncidentOptions opt;
  opt.households = 50;
  opt.until = std::chrono::sys_days(std::chrono::year{2026} / 11 / 30);
  opt.year = 2025;
  const auto y = henvis::sim::generate_incidents(opt);
  // Then every incident happened in those 365 days, and they all pass validation
  REQUIRE_FALSE(y.incidents.empty());
  const std::int64_t end = 1795996800;  // 2026-11-30T00:00:00Z
  for (const auto& i : y.incidents) {
    CHECK(i.occurred_at().seconds() >= end - 365 * 86400);
    CHECK(i.occurred_at().seconds() < end);
  }
  std::istringstream in(henvis::sim::to_jsonl(y));
  CHECK(ss::read_incidents_jsonl(in).bad.empty());
}
