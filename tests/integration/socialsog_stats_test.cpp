// Socialsøg statistics through the real stack: a JSON-lines file with bad
// lines imported with `henvisctl incidents import`, an on-demand scan, a
// receipt, a response, and GET /v1/stats/underretninger counting them
// (evaluation consuming henvis.underretninger.v1).

#include <google/protobuf/util/json_util.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "harness.hpp"
#include "henvis/v1/socialsog.pb.h"
#include "henvis/v1/stats.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {
v1::Incident incident(const std::string& id, const std::string& district, int location,
                      const std::string& code, std::int64_t occurred, const std::string& adult,
                      int home, const std::string& child) {
  v1::Incident in;
  in.set_incident_id(id);
  in.set_journal_number("4100-84123-00042-26");
  in.set_district_id(district);
  in.mutable_occurred_at()->set_seconds(occurred);
  in.set_location_kommunekode(location);
  (code.rfind("PH-G-", 0) == 0 ? in.add_offence_codes(code) : in.add_incident_codes(code));
  auto* p = in.add_involved();
  p->set_role(v1::PERSON_ROLE_SUSPECT);
  p->set_cpr(adult);
  p->set_name("Svend Testesen");
  p->set_home_kommunekode(home);
  auto* c = p->add_children();
  c->set_cpr(child);
  c->set_name("Lille Testesen");
  c->set_home_kommunekode(home);
  return in;
}

std::string json_line(const v1::Incident& in) {
  std::string s;
  REQUIRE(google::protobuf::util::MessageToJsonString(in, &s).ok());
  return s + "\n";
}

}  // namespace

TEST_CASE("Socialsøg statistics: import with bad lines, scan, receipt, counted",
          "[integration][socialsog][evaluation]") {
  Stack s(std::map<std::string, std::string>{{"evaluation", "evaluation { min_cell: 1 }\n"}});
  s.start_broker();
  std::ofstream(s.dir() / "socialsog-settings.textproto") << "weekly_scan_disabled: true\n";
  s.start("notifier");
  s.start("socialsog");
  s.start("evaluation");

  // Given a file with a Herning father's drink driving in Herning (mvj) and
  // Aarhus (oj) and his aggravated violence in Herning; an Aarhus mother's
  // violence between partners in Aarhus; and two bad lines
  const std::int64_t now = std::time(nullptr);
  const std::string herning_father = "150580-1235", herning_child = "010315-4123";
  const std::string aarhus_mother = "120885-1234", aarhus_child = "020416-4124";
  const auto file = s.dir() / "incidents.jsonl";
  {
    std::ofstream f(file);
    f << json_line(incident("st-1", "mvj", 657, "PH-G-FL53", now - 86400 * 60, herning_father, 657,
                            herning_child))
      << json_line(incident("st-2", "oj", 751, "PH-G-FL53", now - 86400 * 30, herning_father, 657,
                            herning_child))
      << "{\"incidentId\": \"st-bad\", \"occurredAt\": \n"  // line 3: not JSON
      << json_line(incident("st-3", "mvj", 657, "PH-G-GROV-VOLD", now - 86400 * 2, herning_father,
                            657, herning_child))
      << json_line(incident("st-4", "oj", 751, "PH-H-PARVOLD", now - 86400 * 3, aarhus_mother, 751,
                            aarhus_child))
      << json_line(incident("st-5", "oj", 751, "PH-H-PARVOLD", now - 86400 * 3, "999999-9999", 751,
                            aarhus_child));  // line 6: bad CPR
  }

  // When it is checked (dry run) and imported with henvisctl
  auto dry = henvisctl(s.dir(), "incidents import " + file.string() + " --dry-run");
  CHECK(dry.status == 1);
  CHECK(dry.out.find("4 valid, 2 bad") != std::string::npos);
  auto imp = henvisctl(s.dir(), "incidents import " + file.string() + " --bootstrap-file " +
                                    (s.dir() / "bootstrap.txt").string());
  // Then each bad line is reported by number and field, never the value, and
  // the good ones are imported
  CHECK(imp.status == 1);
  CHECK(imp.err ==
        "line 3: (line): is not a henvis.v1.Incident in proto3 JSON\n"
        "line 6: involved[0].cpr: is not a valid CPR number\n");
  CHECK(imp.err.find("999999") == std::string::npos);
  CHECK(imp.out.find("imported 4 of 6 incident(s)") != std::string::npos);
  REQUIRE(eventually([&] { return s.metric("socialsog", "henvis_consumer_applied_total") >= 4; }));
  CHECK(s.metric("socialsog", "henvis_consumer_dead_lettered_total") == 0);

  // When the coordinator scans
  auto r = http("POST", s.port("socialsog"), "/v1/scans", "dev-coordinator-mvj");
  REQUIRE(r.status == 200);
  auto scan = parse<v1::ScanView>(r.body);
  CHECK(scan.incidents_considered() == 4);
  CHECK(scan.children_flagged() == 2);
  REQUIRE(scan.underretninger_created() == 2);

  // And Herning confirms receipt of its underretning and starts an assessment
  auto herning = parse<v1::UnderretningList>(
      http("GET", s.port("socialsog"), "/v1/underretninger", "dev-municipality-657").body);
  REQUIRE(herning.underretninger_size() == 1);
  const std::string id = herning.underretninger(0).notice().underretning_id();
  REQUIRE(http("POST", s.port("socialsog"), "/v1/underretninger/" + id + "/receipt",
               "dev-municipality-657")
              .status == 200);
  REQUIRE(http("POST", s.port("socialsog"), "/v1/underretninger/" + id + "/response",
               "dev-municipality-657",
               "{\"response\":\"UNDERRETNING_RESPONSE_ASSESSMENT_STARTED\"}")
              .status == 200);

  // Then the evaluators' statistics count them per municipality and district
  v1::UnderretningStats stats;
  const bool counted = eventually([&] {
    auto res = http("GET", s.port("evaluation"),
                    "/v1/stats/underretninger?groupBy=municipality,district", "dev-evaluator");
    if (res.status != 200) return false;
    stats = parse<v1::UnderretningStats>(res.body);
    return stats.total().underretninger() == 2 && stats.total().receipts_on_time() == 1 &&
           stats.total().response_assessment_started() == 1;
  });
  INFO(stats.DebugString());
  REQUIRE(counted);
  REQUIRE(stats.rows_size() == 2);
  const auto& h = stats.rows(0);
  CHECK(h.kommunekode() == 657);
  CHECK(h.municipality_name() == "Herning");
  CHECK(h.district_id() == "mvj");
  CHECK(h.underretninger() == 1);
  CHECK(h.children_flagged() == 1);
  CHECK(h.children_cross_district() == 1);
  CHECK(h.children_cross_municipality() == 1);
  CHECK(h.receipts_on_time() == 1);
  CHECK(h.receipts_pending() == 0);
  CHECK(h.response_assessment_started() == 1);
  CHECK(h.cross_district_share() == 1.0);
  const auto& a = stats.rows(1);
  CHECK(a.kommunekode() == 751);
  CHECK(a.district_id() == "oj");
  CHECK(a.underretninger() == 1);
  CHECK(a.children_cross_district() == 0);
  CHECK(a.receipts_pending() == 1);
  CHECK(a.response_none() == 1);
  CHECK(stats.total().children_flagged() == 2);
  // And as CSV, per week
  auto csv = http("GET", s.port("evaluation"), "/v1/stats/underretninger?groupBy=week&format=csv",
                  "dev-evaluator");
  CHECK(csv.status == 200);
  CHECK(csv.body.rfind("row,week,underretninger,childrenFlagged", 0) == 0);
  // And henvisctl prints the same table for an evaluator (header, then the
  // total: two underretninger-counting columns read from the server's CSV)
  std::ofstream(s.dir() / "evaluator.token") << "dev-evaluator\n";
  auto ctl =
      henvisctl(s.dir(), "--evaluation http://127.0.0.1:" + std::to_string(s.port("evaluation")) +
                             " --token-file " + (s.dir() / "evaluator.token").string() +
                             " stats underretninger --csv");
  INFO(ctl.err);
  CHECK(ctl.status == 0);
  CHECK(ctl.out.rfind("row,underretninger,childrenFlagged", 0) == 0);
  CHECK(ctl.out.find("total,2,2") != std::string::npos);
  // And by the date of the earliest incident (socialsog sends it with every
  // event) the same two are counted, and the answer says which date it used
  auto by_incident = http("GET", s.port("evaluation"),
                          "/v1/stats/underretninger?dateBasis=incident", "dev-evaluator");
  REQUIRE(by_incident.status == 200);
  const auto incident_stats = parse<v1::UnderretningStats>(by_incident.body);
  CHECK(incident_stats.date_basis() == "incident");
  CHECK(incident_stats.total().underretninger() == 2);
  auto bad_basis = http("GET", s.port("evaluation"), "/v1/stats/underretninger?dateBasis=charged",
                        "dev-evaluator");
  CHECK(bad_basis.status == 400);
  CHECK(bad_basis.body.find("\"field\":\"dateBasis\"") != std::string::npos);
  // And only evaluators get them
  CHECK(
      http("GET", s.port("evaluation"), "/v1/stats/underretninger", "dev-coordinator-mvj").status ==
      403);
  CHECK(s.metric("evaluation", "henvis_consumer_dead_lettered_total") == 0);
  CHECK(s.stop("evaluation") == 0);
  // The notifier first: an underretning it has not delivered yet needs socialsog's key.
  CHECK(s.stop("notifier") == 0);
  CHECK(s.stop("socialsog") == 0);
}
