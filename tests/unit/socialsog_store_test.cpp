// socialsog's store: the migration that turns its stored instants into Unix
// milliseconds (docs/decisions.md 16), and the places where the scan's whole
// seconds meet the stored milliseconds.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "henvis/clock.hpp"
#include "henvis/http.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
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

constexpr const char* SEVERE = "PH-G-GROV-VOLD";  // weight 6, severe in the default list
constexpr const char* FATHER = "150580-1235";
constexpr const char* CHILD = "010315-4123";

std::chrono::system_clock::time_point at(const std::string& s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(ts(s).seconds()));
}

// A severe incident of the father, listing his child (both living in Herning).
v1::Incident incident(const std::string& id, const google::protobuf::Timestamp& when) {
  v1::Incident in;
  in.set_incident_id(id);
  in.set_journal_number("4100-84123-00042-24");
  in.set_district_id("mvj");
  *in.mutable_occurred_at() = when;
  in.set_location_kommunekode(657);
  in.add_offence_codes(SEVERE);
  auto* p = in.add_involved();
  p->set_role(v1::PERSON_ROLE_SUSPECT);
  p->set_cpr(FATHER);
  p->set_home_kommunekode(657);
  auto* c = p->add_children();
  c->set_cpr(CHILD);
  c->set_home_kommunekode(657);
  return in;
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

// The service's parts on one database file, migrated as the host does.
struct Service {
  Service(const std::string& path, henvis::Clock& clock)
      : db(path),
        settings(ss::Settings::from(v1::SocialsogSettings(), ".")),
        applier(settings, clock),
        scanner(dev_directory(), settings, henvis::workdays::Calendar(), clock) {
    db.migrate(ss::migrations());
  }
  void add(const v1::Incident& in) {
    henvis::sqlite::Transaction tx(db);
    applier.apply(message(in), db);
    tx.commit();
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
  REQUIRE(all.size() == 3);
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
  req.principal = {"dev-municipality-657", v1::ROLE_MUNICIPALITY, "kommune-657"};
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
