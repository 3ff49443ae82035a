// socialsog's store: the migration that turns its stored instants into Unix
// milliseconds (docs/decisions.md 16), and the places where the scan's whole
// seconds meet the stored milliseconds.

#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "henvis/clock.hpp"
#include "henvis/http.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/paging.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/workdays.hpp"
#include "socialsog.hpp"
#include "support.hpp"

namespace {

using henvis::test::dev_directory;
using henvis::test::scalar;
using henvis::test::TempDir;
using henvis::test::ts;
namespace v1 = henvis::v1;
namespace ss = henvis::socialsog;
using namespace std::chrono_literals;

constexpr const char* FATHER = "150580-1235";
constexpr const char* CHILD = "010315-4123";

std::chrono::system_clock::time_point at(const std::string& s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(ts(s).seconds()));
}

// A severe incident of the father, listing his child (both living in Herning).
v1::Incident incident(const std::string& id, const google::protobuf::Timestamp& when) {
  return henvis::test::severe_incident(id, when, FATHER, CHILD);
}

henvis::kafka::Message message(const v1::Incident& in) {
  henvis::kafka::Message m;
  m.topic = henvis::topics::INCIDENTS;
  m.key = in.incident_id();
  m.payload = in.SerializeAsString();
  m.headers = {{henvis::kafka::header::ID, henvis::new_uuid()},
               {henvis::kafka::header::TYPE, henvis::event_types::INCIDENT_REGISTERED}};
  return m;
}

// The incident of another household: its own adult and child, living in
// `home` (661 Holstebro has no henvis account).
v1::Incident household(const std::string& id, int n, int home,
                       const google::protobuf::Timestamp& when) {
  v1::Incident in = incident(id, when);
  auto* p = in.mutable_involved(0);
  p->set_cpr("1505801" + std::to_string(200 + n));
  p->set_home_kommunekode(home);
  p->mutable_children(0)->set_cpr("0103154" + std::to_string(200 + n));
  p->mutable_children(0)->set_home_kommunekode(home);
  return in;
}

henvis::kafka::Message acknowledged(const std::string& notification_id, const std::string& at) {
  v1::DeliveryEvent d;
  d.set_notification_id(notification_id);
  d.set_recipient_id("kommune-657");
  d.set_status(v1::DELIVERY_STATUS_ACKNOWLEDGED);
  d.set_channel("inbox");
  *d.mutable_at() = ts(at);
  henvis::kafka::Message m;
  m.topic = henvis::topics::DELIVERIES;
  m.key = d.recipient_id();
  m.payload = d.SerializeAsString();
  m.headers = {{henvis::kafka::header::ID, henvis::new_uuid()},
               {henvis::kafka::header::TYPE,
                std::string(henvis::event_types::DELIVERY_PREFIX) + "acknowledged"}};
  return m;
}

henvis::http::Request request(const std::string& id, const std::string& label, v1::Role role,
                              const std::string& scope, const std::string& body = "") {
  henvis::http::Request req;
  req.params["id"] = id;
  req.principal = {label, role, scope, {}};
  req.body = body;
  return req;
}
henvis::http::Request herning(const std::string& id, const std::string& body = "") {
  return request(id, "dev-municipality-657", v1::ROLE_MUNICIPALITY, "kommune-657", body);
}
henvis::http::Request coordinator(const std::string& id, const std::string& district,
                                  const std::string& body = "") {
  return request(id, "dev-coordinator-" + district, v1::ROLE_COORDINATOR, district, body);
}

template <class M>
M parsed(const henvis::http::Response& r) {
  M m;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &m).ok());
  return m;
}

// The service's parts on one database file, migrated as the host does.
struct Service {
  Service(const std::string& path, henvis::Clock& clock)
      : db(path),
        settings(ss::Settings::from(v1::SocialsogSettings(), ".")),
        applier(settings, clock),
        scanner(dev_directory(), settings, henvis::workdays::Calendar(), clock) {
    db.migrate(ss::migrations());
  }
  void add(const v1::Incident& in) { apply(message(in)); }
  void apply(const henvis::kafka::Message& m) {
    henvis::sqlite::Transaction tx(db);
    applier.apply(m, db);
    tx.commit();
  }
  std::vector<std::string> scan() {
    ss::ScanSpec spec;
    spec.requested_by = "test";
    const auto v = scanner.scan(db, spec);
    return {v.underretning_ids().begin(), v.underretning_ids().end()};
  }
  // How many underretning events of this type are in the outbox.
  int events(const std::string& type) {
    int n = 0;
    henvis::sqlite::Stmt q(db, "SELECT headers FROM outbox");
    while (q.step()) {
      v1::Headers hs;
      hs.ParseFromString(q.blob(0));
      for (const auto& h : hs.header())
        n += h.key() == henvis::kafka::header::TYPE && h.value() == "henvis.underretning." + type;
    }
    return n;
  }
  henvis::sqlite::Db db;
  ss::Settings settings;
  ss::Applier applier;
  ss::Scanner scanner;
};

}  // namespace

TEST_CASE("Socialsøg store: the migration turns every stored instant into Unix milliseconds",
          "[socialsog][store][migration]") {
  // Given a database of the previous schema with an incident, a scan, a
  // received and answered underretning and a weekly scan done on Monday 3
  // June 2024 06:00 Copenhagen (seconds and RFC 3339 text as stored before)
  TempDir dir("socialsog-store");
  const std::string path = dir.file("s.db");
  const auto all = ss::migrations();
  REQUIRE(all.size() >= 3);
  {
    henvis::sqlite::Db db(path);
    db.migrate({all[0], all[1]});
    db.exec(R"sql(
INSERT INTO incidents(incident_id, district_id, occurred_at, sent_at_scene, payload, received_at)
  VALUES ('inc-1', 'mvj', 1716238800, 1, x'', '2024-05-20T21:00:05.25Z');
INSERT INTO scans(scan_id, kind, started_at, view) VALUES ('scan-1', 'weekly', '2024-06-03T04:00:00Z', x'');
INSERT INTO underretninger(underretning_id, kommunekode, recipient_id, district_id, notice,
  notification_id, created_at, receipt_due_at, delivered_at, receipt_at, missed_at, response,
  response_at, response_note)
  VALUES ('u-1', 657, 'kommune-657', 'mvj', x'', 'n-1', '2024-06-03T04:00:00.123456Z', 1718661600,
  '2024-06-03T04:00:01.5Z', '2024-06-04T10:00:00Z', NULL, 1, '2024-06-05T10:00:00.999Z', 'ok');
INSERT INTO state(key, value) VALUES ('weekly_slot', 1717387200), ('watermark_seq', 1);
)sql");
  }
  // When the service starts on it
  henvis::ManualClock clock(at("2024-06-03T04:30:00Z"));
  Service s(path, clock);
  // Then every instant is Unix milliseconds, fractions kept
  CHECK(scalar(s.db, "SELECT occurred_at FROM incidents") == 1716238800000);
  CHECK(scalar(s.db, "SELECT received_at FROM incidents") == 1716238805250);
  CHECK(scalar(s.db, "SELECT sent_at_scene FROM incidents") == 1);
  CHECK(scalar(s.db, "SELECT started_at FROM scans") == 1717387200000);
  CHECK(scalar(s.db, "SELECT created_at FROM underretninger") == 1717387200123);
  CHECK(scalar(s.db, "SELECT receipt_due_at FROM underretninger") == 1718661600000);
  CHECK(scalar(s.db, "SELECT delivered_at FROM underretninger") == 1717387201500);
  CHECK(scalar(s.db, "SELECT receipt_at FROM underretninger") == 1717495200000);
  CHECK(scalar(s.db, "SELECT missed_at IS NULL FROM underretninger") == 1);
  CHECK(scalar(s.db, "SELECT response_at FROM underretninger") == 1717581600999);
  CHECK(scalar(s.db, "SELECT value FROM state WHERE key = 'weekly_slot'") == 1717387200000);
  CHECK(scalar(s.db, "SELECT value FROM state WHERE key = 'watermark_seq'") == 1);
  // And the indexes on converted columns are there again
  CHECK(scalar(s.db,
               "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
               "('incidents_time', 'underretninger_due')") == 2);
  // And the underretning reads back with the same times
  auto v = ss::load_underretning(s.db, "u-1");
  REQUIRE(v);
  CHECK(henvis::to_rfc3339(v->delivered_at()) == "2024-06-03T04:00:01.500Z");
  CHECK(henvis::to_rfc3339(v->receipt_at()) == "2024-06-04T10:00:00Z");
  CHECK(henvis::to_rfc3339(v->response_at()) == "2024-06-05T10:00:00.999Z");
  CHECK(v->response_note() == "ok");
  // And the response recorded before starts the history
  REQUIRE(v->responses_size() == 1);
  CHECK(v->responses(0).note() == "ok");
  CHECK(henvis::to_rfc3339(v->responses(0).at()) == "2024-06-05T10:00:00.999Z");
  // And Monday's weekly scan is known to be done
  CHECK_FALSE(s.scanner.weekly_if_due(s.db));
  CHECK(s.scanner.watermark(s.db) == 1);
}

TEST_CASE("Socialsøg: an incident within the last second of a scan window counts",
          "[socialsog][store][rules]") {
  // Given a severe incident half a second before the end of an on-demand
  // window (the rules count whole seconds: it happened in the window's last one)
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-05-31T23:59:59.500Z")));
  // When a coordinator scans May
  ss::ScanSpec spec;
  spec.from = ts("2024-05-01T00:00:00Z").seconds();
  spec.to = ts("2024-06-01T00:00:00Z").seconds();
  spec.requested_by = "test";
  const v1::ScanView v = s.scanner.scan(s.db, spec);
  // Then it is considered and flags the child
  CHECK(v.incidents_considered() == 1);
  CHECK(v.underretninger_created() == 1);
}

TEST_CASE("Socialsøg: a receipt answers with the instant it stored",
          "[socialsog][store][receipt]") {
  // Given an underretning to Herning
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-05-20T21:00:00Z")));
  ss::ScanSpec spec;
  spec.requested_by = "test";
  const std::string id = s.scanner.scan(s.db, spec).underretning_ids(0);
  // When Herning confirms receipt at a time finer than a millisecond
  clock.set(at("2024-06-04T09:00:00Z") + 123456us);
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  henvis::http::Request req;
  req.params["id"] = id;
  req.principal = {"dev-municipality-657", v1::ROLE_MUNICIPALITY, "kommune-657", {}};
  const auto first = api.receipt(req);
  // Then the answer, a later one and the stored view agree, in whole milliseconds
  CHECK(first.status == 200);
  CHECK(api.receipt(req).body == first.body);
  CHECK(henvis::to_rfc3339(ss::load_underretning(s.db, id)->receipt_at()) ==
        "2024-06-04T09:00:00.123Z");
}

TEST_CASE("Socialsøg: an incident at a time outside this era is refused naming the field",
          "[socialsog][store][dlq]") {
  // Given an incident dated in the year 2500 (a time_point cannot hold it)
  google::protobuf::Timestamp far;
  far.set_seconds(16725225600);
  // Then the reason names the field
  auto r = ss::invalid_incident(incident("inc-1", far));
  REQUIRE(r);
  CHECK(*r == "field occurred_at is not a valid time");
}

TEST_CASE("Socialsøg: acknowledging an underretning in the inbox records its receipt at that time",
          "[socialsog][store][receipt][inbox]") {
  // Given an underretning to Herning, not yet delivered
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-05-20T21:00:00Z")));
  const std::string id = s.scan().at(0);
  const std::string notification = ss::load_underretning(s.db, id)->notification_id();
  // When Herning acknowledges it in its inbox (the applier runs later)
  clock.set(at("2024-06-05T12:00:00Z"));
  s.apply(acknowledged(notification, "2024-06-04T09:30:00.250Z"));
  // Then the receipt (and the delivery it implies) is recorded at the ack time
  auto v = ss::load_underretning(s.db, id);
  CHECK(henvis::to_rfc3339(v->receipt_at()) == "2024-06-04T09:30:00.250Z");
  CHECK(henvis::to_rfc3339(v->delivered_at()) == "2024-06-04T09:30:00.250Z");
  CHECK(v->receipt_recorded_by() == "inbox");
  CHECK(s.events("receipt_recorded") == 1);
  CHECK(s.events("delivered") == 1);
  // And a second acknowledgement (another event) changes nothing
  s.apply(acknowledged(notification, "2024-06-05T10:00:00Z"));
  CHECK(henvis::to_rfc3339(ss::load_underretning(s.db, id)->receipt_at()) ==
        "2024-06-04T09:30:00.250Z");
  CHECK(s.events("receipt_recorded") == 1);
  // And an acknowledgement of another notification (a referral's) is ignored
  s.apply(acknowledged("not-an-underretning", "2024-06-05T10:00:00Z"));
  CHECK(s.events("receipt_recorded") == 1);
}

TEST_CASE("Socialsøg: a receipt time is checked against the sending and now, naming receivedAt",
          "[socialsog][store][receipt]") {
  // Given an underretning to Herning sent Monday 3 June 2024 06:00 Copenhagen
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-05-20T21:00:00Z")));
  const std::string id = s.scan().at(0);
  clock.set(at("2024-06-05T12:00:00Z"));
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  // Then a time before it was sent, in the future, or malformed is refused
  for (const std::string bad :
       {"2024-06-03T03:59:59Z", "2024-06-05T12:00:01Z", "2024-06-06", "yesterday", "2024-02-30"}) {
    const auto r = api.receipt(herning(id, "{\"receivedAt\":\"" + bad + "\"}"));
    INFO(bad);
    CHECK(r.status == 400);
    CHECK(r.body.find("\"field\":\"receivedAt\"") != std::string::npos);
    CHECK(r.body.find(bad) == std::string::npos);
  }
  CHECK_FALSE(ss::load_underretning(s.db, id)->has_receipt_at());
  // And the day it was sent means the sending itself (it cannot be received earlier)
  const auto ok = api.receipt(herning(id, "{\"receivedAt\":\"2024-06-03\"}"));
  REQUIRE(ok.status == 200);
  CHECK(henvis::to_rfc3339(parsed<v1::UnderretningView>(ok).receipt_at()) ==
        "2024-06-03T04:00:00Z");
  CHECK(parsed<v1::UnderretningView>(ok).receipt_recorded_by() == "dev-municipality-657");
}

TEST_CASE("Socialsøg: every response is kept, oldest first, and a retried one is recorded once",
          "[socialsog][store][response]") {
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-05-20T21:00:00Z")));
  const std::string id = s.scan().at(0);
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  // When Herning starts an assessment (sent twice), then decides on a support measure
  const std::string started =
      R"({"response":"UNDERRETNING_RESPONSE_ASSESSMENT_STARTED","note":"undersøgelse"})";
  clock.set(at("2024-06-04T08:00:00Z"));
  CHECK(api.response(herning(id, started)).status == 200);
  clock.set(at("2024-06-04T08:00:05Z"));
  CHECK(api.response(herning(id, started)).status == 200);
  clock.set(at("2024-06-10T08:00:00Z"));
  const auto last =
      api.response(herning(id, R"({"response":"UNDERRETNING_RESPONSE_SUPPORT_MEASURE"})"));
  REQUIRE(last.status == 200);
  // Then both are in the history, oldest first, with who recorded them; the
  // latest is the current response
  const auto v = parsed<v1::UnderretningView>(api.get_underretning(herning(id)));
  REQUIRE(v.responses_size() == 2);
  CHECK(v.responses(0).response() == v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED);
  CHECK(v.responses(0).note() == "undersøgelse");
  CHECK(henvis::to_rfc3339(v.responses(0).at()) == "2024-06-04T08:00:00Z");
  CHECK(v.responses(0).recorded_by() == "dev-municipality-657");
  CHECK(v.responses(1).response() == v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE);
  CHECK(v.response() == v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE);
  CHECK(v.status() == "responded");
  CHECK(s.events("response_recorded") == 2);
}

TEST_CASE(
    "Socialsøg: a coordinator records receipt and forwarding for a municipality without "
    "a henvis account, and only there",
    "[socialsog][store][coordinator]") {
  // Given an underretning for a Holstebro child (no henvis account: sent to
  // the mvj coordinator) and one for a Herning child
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(household("inc-1", 1, 661, ts("2024-05-20T21:00:00Z")));
  s.add(incident("inc-2", ts("2024-05-20T21:00:00Z")));
  std::string holstebro, herning_id;
  for (const auto& id : s.scan())
    (ss::load_underretning(s.db, id)->notice().kommunekode() == 661 ? holstebro : herning_id) = id;
  REQUIRE(!holstebro.empty());
  REQUIRE(!herning_id.empty());
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  clock.set(at("2024-06-04T10:00:00Z"));
  // Then another district's coordinator finds neither, nor does Herning the Holstebro one
  CHECK(api.receipt(coordinator(holstebro, "oj")).status == 404);
  CHECK(api.forwarding(coordinator(holstebro, "oj")).status == 404);
  CHECK(api.get_underretning(coordinator(holstebro, "oj")).status == 404);
  CHECK(api.get_underretning(herning(holstebro)).status == 404);
  // And the mvj coordinator may not confirm Herning's (Herning does that in henvis)
  CHECK(api.receipt(coordinator(herning_id, "mvj")).status == 404);
  CHECK(api.forwarding(coordinator(herning_id, "mvj")).status == 404);
  // When the mvj coordinator forwards the Holstebro one by e-mail and records its receipt
  const std::string forward =
      R"({"forwardedAt":"2024-06-03T09:00:00Z","channel":"e-mail","note":"sendt sikkert"})";
  const auto f = api.forwarding(coordinator(holstebro, "mvj", forward));
  REQUIRE(f.status == 200);
  const auto r = api.receipt(coordinator(holstebro, "mvj", R"({"receivedAt":"2024-06-04"})"));
  REQUIRE(r.status == 200);
  // Then both are recorded, evented and shown
  const auto v = parsed<v1::UnderretningView>(api.get_underretning(coordinator(holstebro, "mvj")));
  CHECK(henvis::to_rfc3339(v.forwarding().forwarded_at()) == "2024-06-03T09:00:00Z");
  CHECK(v.forwarding().channel() == "e-mail");
  CHECK(v.forwarding().note() == "sendt sikkert");
  CHECK(v.forwarding().recorded_by() == "dev-coordinator-mvj");
  CHECK(henvis::to_rfc3339(v.receipt_at()) == "2024-06-03T22:00:00Z");
  CHECK(v.status() == "received");
  CHECK(s.events("forwarded") == 1);
  CHECK(s.events("receipt_recorded") == 1);
  // And the same forwarding again is the same; a different one is refused
  CHECK(parsed<v1::UnderretningView>(api.forwarding(coordinator(holstebro, "mvj", forward)))
            .forwarding()
            .SerializeAsString() == v.forwarding().SerializeAsString());
  CHECK(api.forwarding(coordinator(holstebro, "mvj", R"({"channel":"letter"})")).status == 409);
  CHECK(api.forwarding(coordinator(holstebro, "mvj", R"({"channel":"pigeon"})")).status == 400);
  CHECK(s.events("forwarded") == 1);
}

TEST_CASE(
    "Socialsøg: a forwarding and receipt made for a person through henvis-web keep the person "
    "beside the label",
    "[socialsog][store][coordinator][delegation]") {
  // Given an underretning for a Holstebro child (sent to the mvj coordinator)
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(household("inc-1", 1, 661, ts("2024-05-20T21:00:00Z")));
  const std::string id = s.scan().at(0);
  REQUIRE(ss::load_underretning(s.db, id)->notice().kommunekode() == 661);
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  // When henvis-web's principal for the coordinator's person forwards it and records the receipt
  auto as_person = [&](const std::string& body) {
    auto req = coordinator(id, "mvj", body);
    req.principal.label = "henvis-web";
    req.principal.person = "koordinator-mvj";
    return req;
  };
  REQUIRE(api.forwarding(as_person(R"({"channel":"letter"})")).status == 200);
  REQUIRE(api.receipt(as_person("")).status == 200);
  // Then the view names the person beside the label for both
  const auto v = parsed<v1::UnderretningView>(api.get_underretning(coordinator(id, "mvj")));
  CHECK(v.forwarding().recorded_by() == "henvis-web");
  CHECK(v.forwarding().recorded_by_person() == "koordinator-mvj");
  CHECK(v.receipt_recorded_by() == "henvis-web");
  CHECK(v.receipt_recorded_by_person() == "koordinator-mvj");
  // And the coordinator's own token, reading it, names no person
  CHECK(scalar(s.db, "SELECT count(*) FROM access_log WHERE person = 'koordinator-mvj'") == 2);
  CHECK(scalar(s.db, "SELECT count(*) FROM access_log WHERE person = ''") == 1);
}

TEST_CASE("Socialsøg: GET by id for the owner and the district's coordinators, access-logged",
          "[socialsog][store][api]") {
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-07T08:00:00Z"));  // Friday
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-06-01T21:00:00Z")));
  const std::string id = s.scan().at(0);
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  const auto own = api.get_underretning(herning(id));
  REQUIRE(own.status == 200);
  CHECK(parsed<v1::UnderretningView>(own).notice().children(0).cpr() == "0103154123");
  CHECK(api.get_underretning(coordinator(id, "mvj")).status == 200);
  CHECK(api.get_underretning(
               request(id, "dev-municipality-751", v1::ROLE_MUNICIPALITY, "kommune-751"))
            .status == 404);
  CHECK(api.get_underretning(herning("no-such-id")).status == 404);
  CHECK(scalar(s.db,
               "SELECT count(*) FROM access_log WHERE purpose = 'underretning_read' AND "
               "referral_id = ?",
               id) == 2);
}

TEST_CASE("Socialsøg: the list filters by status and counts the working days left",
          "[socialsog][store][list]") {
  // Given three underretninger to Herning sent Friday 7 June 2024 10:00,
  // receipt due at the end of Monday 17 June (10 11 12 13 14 17 June)
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-07T08:00:00Z"));
  Service s(dir.file("s.db"), clock);
  for (int n = 1; n <= 3; ++n)
    s.add(household("inc-" + std::to_string(n), n, 657, ts("2024-06-01T21:00:00Z")));
  const auto ids = s.scan();
  REQUIRE(ids.size() == 3);
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  auto list = [&](const std::string& status) {
    auto req = herning("");
    if (!status.empty()) req.query["status"] = status;
    const auto r = api.list(req);
    REQUIRE(r.status == 200);
    return parsed<v1::UnderretningList>(r);
  };
  // Then on the day they were sent 7 working days are left, today included
  auto all = list("");
  REQUIRE(all.underretninger_size() == 3);
  CHECK(all.underretninger(0).working_days_left() == 7);
  CHECK(all.underretninger(0).status() == "pending");
  // When one is received and one answered on Monday 17 June (1 day left)
  clock.set(at("2024-06-17T09:00:00Z"));
  CHECK(list("pending").underretninger(0).working_days_left() == 1);
  REQUIRE(api.receipt(herning(ids[0])).status == 200);
  REQUIRE(
      api.response(herning(ids[1], R"({"response":"UNDERRETNING_RESPONSE_NO_ACTION"})")).status ==
      200);
  // Then each status lists its own
  CHECK(list("pending").underretninger_size() == 1);
  CHECK(list("overdue").underretninger_size() == 0);
  REQUIRE(list("received").underretninger_size() == 1);
  CHECK(list("received").underretninger(0).notice().underretning_id() == ids[0]);
  CHECK_FALSE(list("received").underretninger(0).has_working_days_left());
  CHECK(list("responded").underretninger(0).notice().underretning_id() == ids[1]);
  // And after the deadline the third is overdue: 0 on the day after, then negative
  clock.set(at("2024-06-18T09:00:00Z"));
  REQUIRE(list("overdue").underretninger_size() == 1);
  CHECK(list("overdue").underretninger(0).working_days_left() == 0);
  CHECK(list("overdue").underretninger(0).status() == "overdue");
  CHECK(list("pending").underretninger_size() == 1);  // pending includes overdue
  clock.set(at("2024-06-20T09:00:00Z"));
  CHECK(list("overdue").underretninger(0).working_days_left() == -2);
  // And the pending one comes first in the unfiltered list
  CHECK(list("").underretninger(0).notice().underretning_id() == ids[2]);
  // And an unknown status is refused naming it
  const auto bad = api.list([&] {
    auto r = herning("");
    r.query["status"] = "lost";
    return r;
  }());
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"field\":\"status\"") != std::string::npos);
}

TEST_CASE("Socialsøg: paging the underretninger walks every one exactly once, in list order",
          "[socialsog][store][list][paging]") {
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-07T08:00:00Z"));
  Service s(dir.file("s.db"), clock);
  // Given seven underretninger from two scans, two of them received
  for (int n = 1; n <= 4; ++n)
    s.add(household("inc-" + std::to_string(n), n, 657, ts("2024-06-01T21:00:00Z")));
  const auto first = s.scan();
  clock.set(at("2024-06-10T08:00:00Z"));
  for (int n = 5; n <= 7; ++n)
    s.add(household("inc-" + std::to_string(n), n, 657, ts("2024-06-08T21:00:00Z")));
  s.scan();
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  REQUIRE(api.receipt(herning(first[1])).status == 200);
  REQUIRE(api.receipt(herning(first[3])).status == 200);
  auto whole = parsed<v1::UnderretningList>(api.list(herning("")));
  REQUIRE(whole.underretninger_size() == 7);
  CHECK(whole.next_cursor().empty());
  // When it is read two at a time
  std::vector<std::string> walked;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto req = herning("");
    req.query["limit"] = "2";
    if (!cursor.empty()) req.query["cursor"] = cursor;
    const auto l = parsed<v1::UnderretningList>(api.list(req));
    for (const auto& v : l.underretninger()) walked.push_back(v.notice().underretning_id());
    cursor = l.next_cursor();
    if (cursor.empty()) break;
  }
  // Then every one comes once, in the order of the whole list: the five
  // awaiting a receipt by deadline, then the two received newest first
  std::vector<std::string> expected;
  for (const auto& v : whole.underretninger()) expected.push_back(v.notice().underretning_id());
  CHECK(walked == expected);
  CHECK(whole.underretninger(4).status() == "pending");
  CHECK(whole.underretninger(5).status() == "received");
  CHECK(whole.underretninger(0).notice().created_at().seconds() <
        whole.underretninger(4).notice().created_at().seconds());
  // And a cursor it did not return is refused naming it
  auto bad = herning("");
  bad.query["cursor"] = henvis::http::next_cursor({"x", "y", "z"});
  const auto refused = api.list(bad);
  CHECK(refused.status == 400);
  CHECK(refused.body.find("\"field\":\"cursor\"") != std::string::npos);
}

TEST_CASE(
    "Socialsøg: a scan window of dates covers whole Copenhagen days and is echoed with "
    "zero counts",
    "[socialsog][store][scan]") {
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-05-31T21:30:00Z")));  // 31 May 23:30 in Copenhagen
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  auto post = [&](const std::string& body) {
    henvis::http::Request req = coordinator("", "mvj", body);
    return api.post_scan(req);
  };
  // When a coordinator scans 1 to 30 May, by dates
  const auto may = post(R"({"from":"2024-05-01","to":"2024-05-30"})");
  REQUIRE(may.status == 200);
  // Then the window is 1 May 00:00 to the end of 30 May, Copenhagen time,
  // and the counts are there as 0
  const auto v = parsed<v1::ScanView>(may);
  CHECK(henvis::to_rfc3339(v.window_from()) == "2024-04-30T22:00:00Z");
  CHECK(henvis::to_rfc3339(v.window_to()) == "2024-05-30T22:00:00Z");
  CHECK(v.window_basis() == "occurred");
  CHECK(may.body.find("\"incidentsConsidered\":0") != std::string::npos);
  CHECK(may.body.find("\"underretningerCreated\":0") != std::string::npos);
  // And 31 May alone holds the incident
  clock.advance(1s);
  CHECK(parsed<v1::ScanView>(post(R"({"from":"2024-05-31","to":"2024-05-31"})"))
            .incidents_considered() == 1);
  // And without a body, the default window is echoed by ingest number
  clock.advance(1s);
  const auto def = post("");
  REQUIRE(def.status == 200);
  CHECK(def.body.find("\"windowBasis\":\"received\"") != std::string::npos);
  CHECK(def.body.find("\"receivedAfterSeq\":\"0\"") != std::string::npos);
  // And a malformed date is refused naming the field
  const auto bad = post(R"({"from":"2024-05-01","to":"31.05.2024"})");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"field\":\"to\"") != std::string::npos);
  // And GET /v1/scans lists them newest first, paged
  henvis::http::Request list = coordinator("", "mvj");
  list.query["limit"] = "2";
  const auto page1 = parsed<v1::ScanList>(api.list_scans(list));
  REQUIRE(page1.scans_size() == 2);
  CHECK(page1.scans(0).scan_id() == parsed<v1::ScanView>(def).scan_id());
  REQUIRE_FALSE(page1.next_cursor().empty());
  list.query["cursor"] = page1.next_cursor();
  const auto page2 = parsed<v1::ScanList>(api.list_scans(list));
  REQUIRE(page2.scans_size() == 1);
  CHECK(page2.scans(0).scan_id() == v.scan_id());  // the first, 1 to 30 May
  CHECK(page2.next_cursor().empty());
}

// ---------------------------------------------------------------------------
// Migration 9: a person's incidents and an adult's children clustered on the person

TEST_CASE(
    "Socialsøg: the person tables keep their rows through migration 9 and the scan finds them",
    "[socialsog][store][migration]") {
  // Given a database of migration 8 holding an incident of the father's, stored
  // as that version stored it (the incident, its person, the child he listed)
  TempDir dir("socialsog-store");
  const std::string path = dir.file("s.db");
  const auto all = ss::migrations();
  REQUIRE(all.size() >= 9);
  const v1::Incident in = incident("inc-1", ts("2024-05-20T21:00:00Z"));
  {
    henvis::sqlite::Db db(path);
    db.migrate({all.begin(), all.begin() + 8});
    henvis::sqlite::Stmt i(db,
                           "INSERT INTO incidents(incident_id, district_id, occurred_at, "
                           "sent_at_scene, payload, received_at) VALUES ('inc-1', 'mvj', "
                           "1716238800000, 0, ?, 1716238805000)");
    v1::Incident stored = in;
    stored.mutable_involved(0)->set_cpr("1505801235");
    stored.mutable_involved(0)->mutable_children(0)->set_cpr("0103154123");
    i.bind_blob(1, stored.SerializeAsString()).run();
    db.exec(
        "INSERT INTO incident_persons(incident_id, cpr, role) VALUES ('inc-1', '1505801235', 1);"
        "INSERT INTO adult_children(incident_id, adult_cpr, child_cpr) "
        "VALUES ('inc-1', '1505801235', '0103154123');");
  }
  // When the service starts on it
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(path, clock);
  // Then the rows are there, in tables keyed by the person
  CHECK(scalar(s.db,
               "SELECT count(*) FROM incident_persons WHERE cpr = '1505801235' AND "
               "incident_id = 'inc-1' AND role = 1") == 1);
  CHECK(scalar(s.db,
               "SELECT count(*) FROM adult_children WHERE adult_cpr = '1505801235' AND "
               "child_cpr = '0103154123'") == 1);
  CHECK(scalar(s.db,
               "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
               "('incident_persons_incident', 'adult_children_incident')") == 0);
  // And the scan flags the child from them
  const auto ids = s.scan();
  REQUIRE(ids.size() == 1);
  auto v = ss::load_underretning(s.db, ids[0]);
  REQUIRE(v);
  REQUIRE(v->notice().children_size() == 1);
  CHECK(v->notice().children(0).cpr() == "0103154123");
}

TEST_CASE("Socialsøg: a corrected incident replaces the persons and children of the stored one",
          "[socialsog][store]") {
  // Given the father's severe incident listing his child
  TempDir dir("socialsog-store");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", ts("2024-05-20T21:00:00Z")));
  // When it is corrected: another adult, who lists another child
  v1::Incident corrected = household("inc-1", 7, 657, ts("2024-05-20T21:00:00Z"));
  s.add(corrected);
  // Then only the corrected persons and children are stored for it
  CHECK(scalar(s.db, "SELECT count(*) FROM incidents WHERE incident_id = 'inc-1'") == 1);
  CHECK(scalar(s.db, "SELECT count(*) FROM incident_persons WHERE incident_id = 'inc-1'") == 1);
  CHECK(scalar(s.db, "SELECT count(*) FROM incident_persons WHERE cpr = '1505801207'") == 1);
  CHECK(scalar(s.db, "SELECT count(*) FROM adult_children WHERE incident_id = 'inc-1'") == 1);
  CHECK(scalar(s.db, "SELECT count(*) FROM adult_children WHERE child_cpr = '0103154207'") == 1);
  // And the scan flags the corrected child, not the first one
  const auto ids = s.scan();
  REQUIRE(ids.size() == 1);
  auto v = ss::load_underretning(s.db, ids[0]);
  REQUIRE(v);
  REQUIRE(v->notice().children_size() == 1);
  CHECK(v->notice().children(0).cpr() == "0103154207");
}
