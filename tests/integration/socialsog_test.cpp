// Socialsøg through the real stack: incidents produced to police.incidents.v1,
// an on-demand scan, the underretning in the right municipality's inbox only,
// and the municipality's receipt.

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include "harness.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/socialsog.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {
v1::UnderretningList underretninger(Stack& s, const std::string& token) {
  auto r = http("GET", s.port("socialsog"), "/v1/underretninger", token);
  REQUIRE(r.status == 200);
  return parse<v1::UnderretningList>(r.body);
}

v1::Incident incident(const std::string& id, const std::string& district, const std::string& code,
                      std::int64_t occurred) {
  v1::Incident in;
  in.set_incident_id(id);
  in.set_journal_number("4100-84123-00042-26");
  in.set_district_id(district);
  in.mutable_occurred_at()->set_seconds(occurred);
  in.set_location_kommunekode(district == "mvj" ? 657 : 751);
  in.add_offence_codes(code);
  auto* p = in.add_involved();
  p->set_role(v1::PERSON_ROLE_SUSPECT);
  p->set_cpr("150580-1235");
  p->set_name("Svend Testesen");
  p->set_home_kommunekode(657);
  auto* c = p->add_children();
  c->set_cpr("010315-4123");
  c->set_name("Lille Testesen");
  c->set_home_kommunekode(657);
  return in;
}

// A stack of the broker, notifier and socialsog; the weekly schedule stays
// out of the way (the coordinator scans on demand).
void start_socialsog(Stack& s) {
  s.start_broker();
  std::ofstream(s.dir() / "socialsog-settings.textproto") << "weekly_scan_disabled: true\n";
  s.start("notifier");
  s.start("socialsog");
}

// Produces the incidents to police.incidents.v1, as the police system does.
void produce(Stack& s, const std::vector<v1::Incident>& incidents) {
  kafka::Producer producer(s.bootstrap(), [](std::int64_t, bool, const std::string&) {});
  std::int64_t n = 0;
  for (const auto& in : incidents) {
    auto e = kafka::make_event("/test/police", event_types::INCIDENT_REGISTERED, in.incident_id(),
                               in.SerializeAsString());
    producer.produce(topics::INCIDENTS, e.key, e.payload, e.headers(), ++n);
  }
  REQUIRE(producer.flush(30000));
}
}  // namespace

TEST_CASE("Socialsøg through the stack: scan, the right inbox, receipt", "[integration]") {
  Stack s;
  start_socialsog(s);

  // Given two weak drink-driving incidents (in two districts) and an aggravated
  // violence incident of a Herning father, and an incident with a bad CPR number
  const std::int64_t now = std::time(nullptr);
  std::vector<v1::Incident> incidents = {
      incident("it-inc-1", "mvj", "PH-G-FL53", now - 86400 * 60),
      incident("it-inc-2", "oj", "PH-G-FL53", now - 86400 * 30),
      incident("it-inc-3", "mvj", "PH-G-GROV-VOLD", now - 86400 * 2)};
  auto bad = incident("it-inc-bad", "mvj", "PH-G-FL53", now);
  bad.mutable_involved(0)->set_cpr("999999-9999");
  incidents.push_back(bad);
  produce(s, incidents);
  REQUIRE(eventually([&] {
    return s.metric("socialsog", "henvis_consumer_applied_total") +
               s.metric("socialsog", "henvis_consumer_dead_lettered_total") >=
           4;
  }));
  CHECK(s.metric("socialsog", "henvis_consumer_dead_lettered_total") == 1);

  // When the coordinator scans on demand
  CHECK(http("POST", s.port("socialsog"), "/v1/scans", "dev-municipality-657").status == 403);
  auto r = http("POST", s.port("socialsog"), "/v1/scans", "dev-coordinator-mvj");
  REQUIRE(r.status == 200);
  auto scan = parse<v1::ScanView>(r.body);
  CHECK(scan.incidents_considered() == 3);
  CHECK(scan.children_flagged() == 1);
  REQUIRE(scan.underretninger_created() == 1);
  const std::string id = scan.underretning_ids(0);
  auto again =
      http("GET", s.port("socialsog"), "/v1/scans/" + scan.scan_id(), "dev-coordinator-mvj");
  CHECK(again.status == 200);
  CHECK(parse<v1::ScanView>(again.body).underretninger_created() == 1);

  // Then Herning's inbox shows the underretning with the child, and Aarhus's does not
  REQUIRE(eventually([&] {
    const v1::Inbox in = inbox(s, "dev-municipality-657");
    for (const auto& e : in.entries())
      if (e.kind() == v1::NOTIFICATION_KIND_UNDERRETNING &&
          e.underretning().underretning_id() == id)
        return true;
    return false;
  }));
  const auto herning = inbox(s, "dev-municipality-657");
  REQUIRE(herning.entries_size() == 1);
  const auto& notice = herning.entries(0).underretning();
  CHECK(notice.kommunekode() == 657);
  CHECK(notice.incidents_size() == 3);
  REQUIRE(notice.children_size() == 1);
  CHECK(notice.children(0).cpr() == "0103154123");
  CHECK(notice.rules_version() == "placeholder-2024.1");
  CHECK(inbox(s, "dev-municipality-751").entries_size() == 0);

  // And both list it as theirs (Herning) or not at all (Aarhus); the
  // coordinator of a district with an incident sees it
  CHECK(underretninger(s, "dev-municipality-751").underretninger_size() == 0);
  CHECK(underretninger(s, "dev-coordinator-mvj").underretninger_size() == 1);
  REQUIRE(eventually([&] {
    auto l = underretninger(s, "dev-municipality-657");
    return l.underretninger_size() == 1 && l.underretninger(0).has_delivered_at();
  }));

  // When Herning confirms receipt (Aarhus may not)
  CHECK(http("POST", s.port("socialsog"), "/v1/underretninger/" + id + "/receipt",
             "dev-municipality-751")
            .status == 404);
  auto rc = http("POST", s.port("socialsog"), "/v1/underretninger/" + id + "/receipt",
                 "dev-municipality-657");
  REQUIRE(rc.status == 200);
  // Then the receipt shows in the list, and a response can follow
  auto l = underretninger(s, "dev-municipality-657");
  REQUIRE(l.underretninger_size() == 1);
  CHECK(l.underretninger(0).has_receipt_at());
  auto resp =
      http("POST", s.port("socialsog"), "/v1/underretninger/" + id + "/response",
           "dev-municipality-657", "{\"response\":\"UNDERRETNING_RESPONSE_ASSESSMENT_STARTED\"}");
  CHECK(resp.status == 200);
  CHECK(underretninger(s, "dev-municipality-657").underretninger(0).response() ==
        v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED);
  // The notifier first: an underretning it has not delivered yet needs socialsog's key.
  CHECK(s.stop("notifier") == 0);
  CHECK(s.stop("socialsog") == 0);
}

namespace {
// Today's date in Copenhagen, `days` days from now, as YYYY-MM-DD (near
// enough: the tests' windows are days wide).
std::string day(int days) {
  const std::time_t t = std::time(nullptr) + 86400 * days;
  char buf[11];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}
}  // namespace

TEST_CASE("Socialsøg through the stack: acknowledging in the inbox is the receipt, at the ack time",
          "[integration][socialsog][receipt]") {
  Stack s;
  start_socialsog(s);
  // Given a Herning father's aggravated violence five days ago
  const std::int64_t now = std::time(nullptr);
  produce(s, {incident("ack-inc-1", "mvj", "PH-G-GROV-VOLD", now - 86400 * 5)});
  REQUIRE(eventually([&] { return s.metric("socialsog", "henvis_consumer_applied_total") >= 1; }));

  // When the coordinator scans an empty window by dates: the window and zero counts are echoed
  const int port = s.port("socialsog");
  auto empty = http("POST", port, "/v1/scans", "dev-coordinator-mvj",
                    R"({"from":"2020-01-01","to":"2020-01-31"})");
  REQUIRE(empty.status == 200);
  CHECK(empty.body.find("\"windowFrom\":\"2019-12-31T23:00:00Z\"") != std::string::npos);
  CHECK(empty.body.find("\"windowTo\":\"2020-01-31T23:00:00Z\"") != std::string::npos);
  CHECK(empty.body.find("\"incidentsConsidered\":0") != std::string::npos);
  // And the last ten days by dates: one underretning
  auto r = http("POST", port, "/v1/scans", "dev-coordinator-mvj",
                "{\"from\":\"" + day(-10) + "\",\"to\":\"" + day(0) + "\"}");
  REQUIRE(r.status == 200);
  const auto scan = parse<v1::ScanView>(r.body);
  REQUIRE(scan.underretninger_created() == 1);
  const std::string id = scan.underretning_ids(0);
  auto scans = http("GET", port, "/v1/scans", "dev-coordinator-mvj");
  REQUIRE(scans.status == 200);
  CHECK(parse<v1::ScanList>(scans.body).scans_size() == 2);

  // And Herning acknowledges it in its notifier inbox
  std::string notification;
  REQUIRE(eventually([&] {
    const v1::Inbox in = inbox(s, "dev-municipality-657");
    for (const auto& e : in.entries())
      if (e.underretning().underretning_id() == id) notification = e.notification_id();
    return !notification.empty();
  }));
  auto ack = http("POST", s.port("notifier"), "/v1/inbox/" + notification + "/ack",
                  "dev-municipality-657");
  REQUIRE(ack.status == 200);
  const auto acked_at = parse<v1::InboxEntry>(ack.body).acknowledged_at();

  // Then socialsog records the receipt at the acknowledgement's time
  v1::UnderretningView v;
  REQUIRE(eventually([&] {
    auto g = http("GET", port, "/v1/underretninger/" + id, "dev-municipality-657");
    REQUIRE(g.status == 200);
    v = parse<v1::UnderretningView>(g.body);
    return v.has_receipt_at();
  }));
  CHECK(std::abs(v.receipt_at().seconds() - acked_at.seconds()) <= 1);
  CHECK(v.receipt_recorded_by() == "inbox");
  CHECK(v.status() == "received");
  CHECK(v.notice().has_receipt_due_at());
  // And the lists agree; Aarhus does not see it, the district's coordinator does
  auto received = http("GET", port, "/v1/underretninger?status=received", "dev-municipality-657");
  CHECK(parse<v1::UnderretningList>(received.body).underretninger_size() == 1);
  auto pending = http("GET", port, "/v1/underretninger?status=pending", "dev-municipality-657");
  CHECK(parse<v1::UnderretningList>(pending.body).underretninger_size() == 0);
  CHECK(http("GET", port, "/v1/underretninger/" + id, "dev-municipality-751").status == 404);
  CHECK(http("GET", port, "/v1/underretninger/" + id, "dev-coordinator-mvj").status == 200);
  // And a receipt time given later does not change it
  auto again = http("POST", port, "/v1/underretninger/" + id + "/receipt", "dev-municipality-657",
                    "{\"receivedAt\":\"" + day(0) + "\"}");
  CHECK(again.status == 200);
  CHECK(parse<v1::UnderretningView>(again.body).receipt_at().seconds() == v.receipt_at().seconds());
  // The notifier first: an underretning it has not delivered yet needs socialsog's key.
  CHECK(s.stop("notifier") == 0);
  CHECK(s.stop("socialsog") == 0);
}

TEST_CASE("Socialsøg through the stack: a receipt and response recorded for a person name them",
          "[integration][socialsog][delegation]") {
  Stack s;
  start_socialsog(s);
  // Given an underretning for Herning from a scan
  const std::int64_t now = std::time(nullptr);
  produce(s, {incident("deleg-inc-1", "mvj", "PH-G-GROV-VOLD", now - 86400 * 5)});
  REQUIRE(eventually([&] { return s.metric("socialsog", "henvis_consumer_applied_total") >= 1; }));
  const int port = s.port("socialsog");
  auto r = http("POST", port, "/v1/scans", "dev-coordinator-mvj");
  REQUIRE(r.status == 200);
  const auto scan = parse<v1::ScanView>(r.body);
  REQUIRE(scan.underretninger_created() == 1);
  const std::string id = scan.underretning_ids(0);

  // When henvis-web records the receipt and a response for Herning's caseworker
  const auto worker = person_headers("kommune-657", "municipality", "kommune-657");
  auto rc =
      http("POST", port, "/v1/underretninger/" + id + "/receipt", DELEGATING_TOKEN, "", worker);
  REQUIRE(rc.status == 200);
  auto resp = http("POST", port, "/v1/underretninger/" + id + "/response", DELEGATING_TOKEN,
                   R"({"response":"UNDERRETNING_RESPONSE_ASSESSMENT_STARTED"})", worker);
  REQUIRE(resp.status == 200);

  // Then the view names the person for the receipt and the response, beside the label
  auto g = http("GET", port, "/v1/underretninger/" + id, "dev-coordinator-mvj");
  REQUIRE(g.status == 200);
  const auto v = parse<v1::UnderretningView>(g.body);
  CHECK(v.receipt_recorded_by() == DELEGATING_TOKEN);
  CHECK(v.receipt_recorded_by_person() == "kommune-657");
  REQUIRE(v.responses_size() == 1);
  CHECK(v.responses(0).recorded_by() == DELEGATING_TOKEN);
  CHECK(v.responses(0).recorded_by_person() == "kommune-657");
  // And the coordinator's own read records no person
  sqlite::Db db(s.database("socialsog"));
  sqlite::Stmt st(db, "SELECT purpose, person FROM access_log ORDER BY id");
  std::map<std::string, std::string> person_of;
  while (st.step()) person_of[st.text(0)] += st.text(1) + ";";
  CHECK(person_of["receipt"] == "kommune-657;");
  CHECK(person_of["response"] == "kommune-657;");
  CHECK(person_of["underretning_read"] == ";");
  // The notifier first: an underretning it has not delivered yet needs socialsog's key.
  CHECK(s.stop("notifier") == 0);
  CHECK(s.stop("socialsog") == 0);
}

TEST_CASE("Socialsøg: a scan stuck waiting for its database holds up no other request",
          "[integration][threads]") {
  // Issue 12: handlers run on a pool of threads with a connection each, so
  // one slow request cannot stall the others.
  Stack s;
  start_socialsog(s);
  const int port = s.port("socialsog");
  REQUIRE(http("POST", port, "/v1/scans", "dev-coordinator-mvj").status == 200);

  // Given another process holding socialsog.db's write lock (as a long
  // transaction would), and a coordinator's scan waiting for it
  sqlite::Db holder(s.database("socialsog"));
  holder.exec("BEGIN IMMEDIATE");
  std::atomic<bool> scan_done{false};
  int scan_status = 0;
  std::thread scan([&] {
    scan_status = http("POST", port, "/v1/scans", "dev-coordinator-mvj").status;
    scan_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it reach the lock

  // When the coordinator lists the scans meanwhile
  auto list = http("GET", port, "/v1/scans", "dev-coordinator-mvj");
  const bool answered_while_stuck = !scan_done.load();
  holder.exec("ROLLBACK");
  scan.join();

  // Then the list was answered while the scan still waited, and the scan ran after
  CHECK(list.status == 200);
  const auto scans = parse<v1::ScanList>(list.body);
  REQUIRE(scans.scans_size() == 1);
  CHECK(answered_while_stuck);
  CHECK(scan_status == 200);
  CHECK(parse<v1::ScanList>(http("GET", port, "/v1/scans", "dev-coordinator-mvj").body)
            .scans_size() == 2);
}
