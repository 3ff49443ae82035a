// socialsog: the rules, the weekly watermark, underretninger (one per
// household and home municipality, never twice for the same incidents, linked
// to the earlier one) and the 6-working-day receipt clock (docs/socialsog.md).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"
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

// Placeholder codes of the default list: weights 6 (severe) / 2 / 3.
constexpr const char* SEVERE = "PH-G-GROV-VOLD";
constexpr const char* DRUNK = "PH-G-FL53";                // weight 2
constexpr const char* DISTURBANCE = "PH-H-HUSSPEKTAKEL";  // weight 2

constexpr const char* FATHER = "150580-1235";
constexpr const char* MOTHER = "020282-2468";
constexpr const char* CHILD1 = "010315-4123";  // born 2015
constexpr const char* CHILD2 = "120717-4246";  // born 2017

std::chrono::system_clock::time_point at(const std::string& s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(ts(s).seconds()));
}

struct Kid {
  std::string cpr;
  int home;
};

v1::Incident incident(const std::string& id, const std::string& district, const std::string& when,
                      const std::string& code, const std::string& adult, int adult_home,
                      const std::vector<Kid>& kids, v1::PersonRole role = v1::PERSON_ROLE_SUSPECT) {
  v1::Incident in;
  in.set_incident_id(id);
  in.set_journal_number("4100-84123-00042-24");
  in.set_district_id(district);
  *in.mutable_occurred_at() = ts(when);
  in.set_location_kommunekode(district == "mvj" ? 657 : 751);
  if (std::string(code).rfind("PH-G-", 0) == 0)
    in.add_offence_codes(code);
  else
    in.add_incident_codes(code);
  auto* p = in.add_involved();
  p->set_role(role);
  p->set_cpr(adult);
  p->set_name("Voksen " + adult.substr(0, 2));
  p->set_home_kommunekode(adult_home);
  for (const auto& k : kids) {
    auto* c = p->add_children();
    c->set_cpr(k.cpr);
    c->set_name("Barn " + k.cpr.substr(0, 2));
    c->set_home_kommunekode(k.home);
  }
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

// The service's parts on one database file, as main() wires them.
struct Service {
  Service(const std::string& path, henvis::Clock& clock,
          ss::Settings settings = ss::Settings::from(v1::SocialsogSettings(), "."))
      : db(path),
        applier(settings, clock),
        scanner(dev_directory(), settings, henvis::workdays::Calendar(), clock) {
    db.migrate(ss::migrations());
  }
  void add(const v1::Incident& in) {
    henvis::sqlite::Transaction tx(db);
    applier.apply(message(in), db);
    tx.commit();
  }
  v1::ScanView on_demand() {
    ss::ScanSpec spec;
    spec.requested_by = "test";
    return scanner.scan(db, spec);
  }
  v1::UnderretningNotice notice(const std::string& id) {
    auto v = ss::load_underretning(db, id);
    REQUIRE(v);
    return v->notice();
  }
  std::string recipient(const std::string& id) {
    auto v = ss::load_underretning(db, id);
    REQUIRE(v);
    return v->recipient_id();
  }
  henvis::sqlite::Db db;
  ss::Applier applier;
  ss::Scanner scanner;
};

struct Outgoing {
  std::string topic, type;
  std::string payload;
};
std::vector<Outgoing> outbox(henvis::sqlite::Db& db) {
  std::vector<Outgoing> out;
  henvis::sqlite::Stmt s(db, "SELECT topic, payload, headers FROM outbox ORDER BY id");
  while (s.step()) {
    Outgoing o{s.text(0), {}, s.blob(1)};
    v1::Headers hs;
    hs.ParseFromString(s.blob(2));
    for (const auto& h : hs.header())
      if (h.key() == henvis::kafka::header::TYPE) o.type = h.value();
    out.push_back(o);
  }
  return out;
}
std::vector<v1::NotificationRequested> notifications(henvis::sqlite::Db& db) {
  std::vector<v1::NotificationRequested> out;
  for (const auto& o : outbox(db))
    if (o.topic == henvis::topics::NOTIFICATIONS) {
      v1::NotificationRequested n;
      REQUIRE(n.ParseFromString(o.payload));
      out.push_back(n);
    }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Rule evaluation

TEST_CASE("Socialsøg: one severe incident flags the adult's child", "[socialsog][rules]") {
  // Given a father suspected of aggravated violence (a severe code), his child listed
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  // When the scan runs
  v1::ScanView v = s.on_demand();
  // Then one underretning goes to Herning, naming the child, the rule and the code-list version
  REQUIRE(v.underretninger_created() == 1);
  CHECK(v.children_flagged() == 1);
  const auto n = s.notice(v.underretning_ids(0));
  CHECK(n.rule() == v1::SOCIALSOG_RULE_SEVERE);
  CHECK(n.rules_version() == "placeholder-2024.1");
  CHECK(n.kommunekode() == 657);
  REQUIRE(n.children_size() == 1);
  CHECK(n.children(0).cpr() == "0103154123");
  REQUIRE(n.incidents_size() == 1);
  CHECK(n.incidents(0).severe());
  CHECK(n.incidents(0).offence_codes(0) == SEVERE);
  REQUIRE(n.incidents(0).adults_size() == 1);
  CHECK(n.incidents(0).adults(0).role() == v1::PERSON_ROLE_SUSPECT);
  CHECK(n.sender() == "Socialsøg, Midt- og Vestjyllands Politi");
  CHECK(s.recipient(n.underretning_id()) == "kommune-657");
  auto ns = notifications(s.db);
  REQUIRE(ns.size() == 1);
  CHECK(ns[0].kind() == v1::NOTIFICATION_KIND_UNDERRETNING);
  CHECK(ns[0].recipient_id() == "kommune-657");
  CHECK(ns[0].underretning().underretning_id() == n.underretning_id());
  // And the lifecycle event carries no CPR number
  for (const auto& o : outbox(s.db))
    if (o.topic == henvis::topics::UNDERRETNINGER) {
      CHECK(o.type == "henvis.underretning.created");
      CHECK(o.payload.find("0103154123") == std::string::npos);
      CHECK(o.payload.find("1505801235") == std::string::npos);
    }
}

TEST_CASE("Socialsøg: weak incidents in two districts reach the threshold together",
          "[socialsog][rules]") {
  // Given two weak incidents (2 + 2 < 6) of one father, in two districts
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", "mvj", "2024-01-10T21:00:00Z", DRUNK, FATHER, 657, {{CHILD1, 657}}));
  s.add(incident("inc-2", "oj", "2024-03-10T21:00:00Z", DISTURBANCE, FATHER, 657, {}));
  // When scanned, no child is flagged: each signal alone is too weak
  CHECK(s.on_demand().children_flagged() == 0);
  // When a third weak one arrives (2 + 2 + 2 = 6) and the next scan runs
  s.add(incident("inc-3", "oj", "2024-05-30T21:00:00Z", DRUNK, FATHER, 657, {}));
  v1::ScanView v = s.on_demand();
  // Then the child is flagged on the threshold rule with all three incidents
  REQUIRE(v.underretninger_created() == 1);
  const auto n = s.notice(v.underretning_ids(0));
  CHECK(n.rule() == v1::SOCIALSOG_RULE_THRESHOLD);
  CHECK(n.incidents_size() == 3);
  REQUIRE(n.children_size() == 1);
  CHECK(n.children(0).total_weight() == 6);
  CHECK(n.district_id() == "oj");  // the newest incident's district sends it
  CHECK(s.recipient(n.underretning_id()) == "kommune-657");
}

TEST_CASE("Socialsøg: weak incidents outside the look-back do not count", "[socialsog][rules]") {
  // Given two weak incidents 13 months ago and one now (only 2 within 12 months)
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("old-1", "mvj", "2023-04-20T21:00:00Z", DRUNK, FATHER, 657, {{CHILD1, 657}}));
  s.add(incident("old-2", "mvj", "2023-05-01T21:00:00Z", DRUNK, FATHER, 657, {{CHILD1, 657}}));
  s.add(incident("new-1", "mvj", "2024-05-30T21:00:00Z", DRUNK, FATHER, 657, {{CHILD1, 657}}));
  // When scanned
  v1::ScanView v = s.on_demand();
  // Then nothing is flagged
  CHECK(v.incidents_considered() == 3);
  CHECK(v.children_flagged() == 0);
  CHECK(v.underretninger_created() == 0);
  // And the pure rule agrees: only what lies within [from, to] counts
  const std::int64_t to = ts("2024-06-03T04:00:00Z").seconds();
  const std::int64_t from = ss::months_before(to, 12);
  CHECK(from == ts("2023-06-03T04:00:00Z").seconds());
  auto a = ss::assess({{"a", ts("2023-05-01T00:00:00Z").seconds(), 4, false},
                       {"b", ts("2024-05-01T00:00:00Z").seconds(), 2, false}},
                      from, to, 6);
  CHECK_FALSE(a.flagged());
  CHECK(a.total_weight == 2);
}

TEST_CASE("Socialsøg: a child living in another municipality goes to the child's municipality",
          "[socialsog][rules]") {
  // Given a Herning father whose child lives in Aarhus
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 751}}));
  // When scanned
  v1::ScanView v = s.on_demand();
  // Then the underretning is Aarhus's, not Herning's
  REQUIRE(v.underretninger_created() == 1);
  const auto n = s.notice(v.underretning_ids(0));
  CHECK(n.kommunekode() == 751);
  CHECK(n.municipality_name() == "Aarhus");
  CHECK(s.recipient(n.underretning_id()) == "kommune-751");
  CHECK(n.reason().empty());
  REQUIRE(notifications(s.db).size() == 1);
  CHECK(notifications(s.db)[0].recipient_id() == "kommune-751");
}

TEST_CASE("Socialsøg: a child of unknown or unconfigured municipality goes to the coordinator",
          "[socialsog][rules]") {
  // Given one child with no known home municipality and one living in
  // Holstebro (in the directory, but with no municipality recipient)
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 0}}));
  s.add(incident("inc-2", "mvj", "2024-05-21T21:00:00Z", SEVERE, MOTHER, 661, {{CHILD2, 661}}));
  // When scanned
  v1::ScanView v = s.on_demand();
  // Then both go to the district's coordinator, each with its reason; none is dropped
  REQUIRE(v.underretninger_created() == 2);
  std::map<int, std::string> reasons;
  for (const auto& id : v.underretning_ids()) {
    CHECK(s.recipient(id) == "coordinator-mvj");
    const auto n = s.notice(id);
    reasons[n.kommunekode()] = n.reason();
    CHECK_FALSE(n.has_receipt_due_at());
  }
  CHECK(reasons[0] == "municipality_unknown");
  CHECK(reasons[661] == "municipality_not_configured");
}

TEST_CASE("Socialsøg: children sharing an adult are one household, one underretning",
          "[socialsog][rules]") {
  // Given a father listing two children of the same municipality, and the
  // mother (in another incident) listing one of them
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657,
                 {{CHILD1, 657}, {CHILD2, 657}}));
  s.add(incident("inc-2", "oj", "2024-05-22T21:00:00Z", SEVERE, MOTHER, 657, {{CHILD2, 657}},
                 v1::PERSON_ROLE_VICTIM));
  // When scanned
  v1::ScanView v = s.on_demand();
  // Then one underretning lists both children, both adults and both incidents
  REQUIRE(v.underretninger_created() == 1);
  const auto n = s.notice(v.underretning_ids(0));
  CHECK(n.children_size() == 2);
  CHECK(n.adults_size() == 2);
  CHECK(n.incidents_size() == 2);
}

// ---------------------------------------------------------------------------
// The weekly watermark

TEST_CASE("Socialsøg: scan, restart, scan: no incident scanned twice or missed",
          "[socialsog][watermark]") {
  TempDir dir("socialsog");
  const std::string path = dir.file("s.db");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));  // Monday 06:00 Copenhagen
  std::int64_t first_high = 0;
  {
    // Given two incidents received before Monday's weekly scan
    Service s(path, clock);
    s.add(incident("a", "mvj", "2024-05-28T21:00:00Z", DRUNK, FATHER, 657, {{CHILD1, 657}}));
    s.add(incident("b", "mvj", "2024-05-29T21:00:00Z", DRUNK, MOTHER, 657, {{CHILD2, 657}}));
    ss::Worker w(path, s.scanner, nullptr);
    // When the worker runs at 06:00, the weekly scan covers both
    REQUIRE(w.run_once(s.db) == 1);
    auto scans = scalar(s.db, "SELECT count(*) FROM scans WHERE kind = 'weekly'");
    CHECK(scans == 1);
    first_high = s.scanner.watermark(s.db);
    CHECK(first_high == 2);
    // And running again the same week does not scan again
    clock.advance(std::chrono::hours(24));
    CHECK(w.run_once(s.db) == 0);
  }
  // When the service restarts (new objects on the same file), one more incident
  // arrives, and the next Monday comes
  Service s(path, clock);
  s.add(incident("c", "mvj", "2024-06-05T21:00:00Z", DRUNK, FATHER, 657, {{CHILD1, 657}}));
  ss::Worker w(path, s.scanner, nullptr);
  clock.set(at("2024-06-10T03:59:00Z"));
  CHECK(w.run_once(s.db) == 0);  // 05:59: not yet
  clock.set(at("2024-06-10T04:00:00Z"));
  auto v = s.scanner.weekly_if_due(s.db);
  // Then that scan covers exactly the one new incident
  REQUIRE(v);
  CHECK(v->received_after_seq() == first_high);
  CHECK(v->received_up_to_seq() == 3);
  CHECK(v->incidents_considered() == 1);
  // And an on-demand scan does not move the watermark
  s.add(incident("d", "oj", "2024-06-10T08:00:00Z", DRUNK, MOTHER, 657, {}));
  CHECK(s.on_demand().incidents_considered() == 1);
  CHECK(s.scanner.watermark(s.db) == 3);
}

TEST_CASE("Socialsøg: the consumer stores incidents while a scan computes - the next scan has them",
          "[socialsog][watermark]") {
  // Given a severe incident received before Monday's weekly scan
  TempDir dir("socialsog");
  const std::string path = dir.file("s.db");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));  // Monday 06:00 Copenhagen
  Service s(path, clock);
  s.add(incident("a", "mvj", "2024-05-28T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  // And the consumer's own connection, which gives up on a lock after 100 ms
  henvis::sqlite::Db consumer(path);
  sqlite3_busy_timeout(consumer.raw(), 100);
  ss::Applier applier(ss::Settings::from(v1::SocialsogSettings(), "."), clock);
  bool stored = false;
  s.scanner.on_read_phase([&] {
    if (stored) return;
    // When, while the weekly scan is computing, the consumer stores a batch
    // with another severe incident (BEGIN IMMEDIATE: it needs the write lock)
    henvis::sqlite::Transaction tx(consumer);
    applier.apply(
        message(incident("b", "oj", "2024-05-29T21:00:00Z", SEVERE, MOTHER, 657, {{CHILD2, 657}})),
        consumer);
    tx.commit();
    stored = true;
  });
  const auto weekly = s.scanner.weekly_if_due(s.db);
  // Then the batch was stored during the scan, not refused as busy
  CHECK(stored);
  // And the scan covered what it read: the first incident, the watermark after it
  REQUIRE(weekly);
  CHECK(weekly->incidents_considered() == 1);
  CHECK(weekly->underretninger_created() == 1);
  CHECK(weekly->received_up_to_seq() == 1);
  CHECK(s.scanner.watermark(s.db) == 1);
  // And the next weekly scan covers the incident stored meanwhile, once
  clock.set(at("2024-06-10T04:00:00Z"));
  const auto next = s.scanner.weekly_if_due(s.db);
  REQUIRE(next);
  CHECK(next->received_after_seq() == 1);
  CHECK(next->received_up_to_seq() == 2);
  CHECK(next->incidents_considered() == 1);
  REQUIRE(next->underretninger_created() == 1);
  CHECK(s.notice(next->underretning_ids(0)).children(0).cpr() == "1207174246");
}

TEST_CASE("Socialsøg: a scan that another process's scan overtook computes again - no child twice",
          "[socialsog][watermark]") {
  // Given a severe incident of the father, listing his child
  TempDir dir("socialsog");
  const std::string path = dir.file("s.db");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(path, clock);
  s.add(incident("a", "mvj", "2024-05-28T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  // And a second scanner on its own connection, as another process would have
  henvis::sqlite::Db other_db(path);
  ss::Scanner other(dev_directory(), ss::Settings::from(v1::SocialsogSettings(), "."),
                    henvis::workdays::Calendar(), clock);
  int overtaken = 0;
  s.scanner.on_read_phase([&] {
    if (overtaken++) return;
    // When the other scans and notifies the child while this scan computes
    ss::ScanSpec spec;
    spec.requested_by = "other";
    REQUIRE(other.scan(other_db, spec).underretninger_created() == 1);
  });
  const v1::ScanView v = s.on_demand();
  // Then this scan saw the change under the write lock, computed again, and
  // found the child already notified
  CHECK(overtaken == 1);
  CHECK(v.children_flagged() == 1);
  CHECK(v.children_already_notified() == 1);
  CHECK(v.underretninger_created() == 0);
  CHECK(scalar(s.db, "SELECT count(*) FROM underretninger") == 1);
}

TEST_CASE("Socialsøg: a late-registered incident is caught by the next weekly scan",
          "[socialsog][watermark]") {
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  ss::Worker w(dir.file("s.db"), s.scanner, nullptr);
  // Given a weak incident scanned on Monday 3 June
  s.add(incident("a", "mvj", "2024-05-29T21:00:00Z", DRUNK, FATHER, 657, {{CHILD1, 657}}));
  REQUIRE(w.run_once(s.db) == 1);
  // When an incident that happened on 30 May (in the week already scanned) is
  // registered only on 5 June, and the next Monday's scan runs
  clock.set(at("2024-06-05T10:00:00Z"));
  s.add(incident("late", "oj", "2024-05-30T21:00:00Z", SEVERE, FATHER, 657, {}));
  clock.set(at("2024-06-10T04:00:00Z"));
  auto v = s.scanner.weekly_if_due(s.db);
  // Then it is considered and the child flagged, with the earlier weak one
  // listed beside it (6 + 2 reach the threshold too)
  REQUIRE(v);
  CHECK(v->incidents_considered() == 1);
  REQUIRE(v->underretninger_created() == 1);
  const auto n = s.notice(v->underretning_ids(0));
  CHECK(n.rule() == v1::SOCIALSOG_RULE_SEVERE);
  REQUIRE(n.incidents_size() == 2);
  CHECK(n.incidents(1).incident_id() == "late");
}

// ---------------------------------------------------------------------------
// No duplicates; linking

TEST_CASE("Socialsøg: no second underretning for the same incidents - a new one links back",
          "[socialsog][dedup]") {
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  // Given an underretning for a severe incident
  s.add(incident("inc-1", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  v1::ScanView first = s.on_demand();
  REQUIRE(first.underretninger_created() == 1);
  // When a window scan covers the same incident again
  ss::ScanSpec again;
  again.from = ts("2024-05-01T00:00:00Z").seconds();
  again.to = ts("2024-06-01T00:00:00Z").seconds();
  v1::ScanView second = s.scanner.scan(s.db, again);
  // Then the child is flagged but already notified: nothing new
  CHECK(second.incidents_considered() == 1);
  CHECK(second.children_flagged() == 1);
  CHECK(second.children_already_notified() == 1);
  CHECK(second.underretninger_created() == 0);
  // When a later weak incident of the same father arrives
  s.add(incident("inc-2", "oj", "2024-06-01T21:00:00Z", DRUNK, FATHER, 657, {}));
  v1::ScanView third = s.on_demand();
  // Then a new underretning lists both and links to the first
  REQUIRE(third.underretninger_created() == 1);
  CHECK(third.underretninger_linked() == 1);
  const auto n = s.notice(third.underretning_ids(0));
  CHECK(n.previous_underretning_id() == first.underretning_ids(0));
  REQUIRE(n.incidents_size() == 2);
  CHECK_FALSE(n.incidents(0).new_since_previous());
  CHECK(n.incidents(1).new_since_previous());
  CHECK(scalar(s.db, "SELECT count(*) FROM underretninger") == 2);
}

TEST_CASE(
    "Socialsøg: an incident with an underretning sent at the scene counts but does not "
    "alone trigger one",
    "[socialsog][dedup]") {
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  // Given a severe incident whose underretning was sent at the scene
  auto in = incident("inc-1", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}});
  in.set_underretning_sent_at_scene(true);
  s.add(in);
  // When scanned, then no duplicate is sent
  v1::ScanView v = s.on_demand();
  CHECK(v.children_already_notified() == 1);
  CHECK(v.underretninger_created() == 0);
  // When a weak incident adds to it (6 + 2 >= 6), then the combined picture is sent
  s.add(incident("inc-2", "mvj", "2024-05-30T21:00:00Z", DRUNK, FATHER, 657, {}));
  v = s.on_demand();
  REQUIRE(v.underretninger_created() == 1);
  const auto n = s.notice(v.underretning_ids(0));
  CHECK(n.incidents_size() == 2);
  CHECK(n.incidents(0).sent_at_scene());
}

// ---------------------------------------------------------------------------
// The receipt clock

TEST_CASE("Socialsøg: the 6-working-day receipt clock runs over Easter", "[socialsog][receipt]") {
  TempDir dir("socialsog");
  // Given an underretning to Herning created Wednesday 27 March 2024 11:00
  // (Maundy Thursday, Good Friday, the weekend and Easter Monday follow)
  henvis::ManualClock clock(at("2024-03-27T10:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", "mvj", "2024-03-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  const std::string id = s.on_demand().underretning_ids(0);
  // Then receipt is due at the end of the 6th working day: 2 3 4 5 8 9 April
  CHECK(s.notice(id).receipt_due_at().seconds() == ts("2024-04-09T22:00:00Z").seconds());
  ss::Worker w(dir.file("s.db"), s.scanner, nullptr);
  // When the municipality has not confirmed by Tuesday 9 April 23:59
  clock.set(at("2024-04-09T21:59:00Z"));
  CHECK(s.scanner.check_receipts(s.db) == 0);
  // Then at midnight the coordinator is told, once
  clock.set(at("2024-04-09T22:00:00Z"));
  CHECK(s.scanner.check_receipts(s.db) == 1);
  clock.advance(std::chrono::hours(24));
  CHECK(s.scanner.check_receipts(s.db) == 0);
  auto ns = notifications(s.db);
  REQUIRE(ns.size() == 2);
  CHECK(ns[1].kind() == v1::NOTIFICATION_KIND_RECEIPT_MISSED);
  CHECK(ns[1].recipient_id() == "coordinator-mvj");
  CHECK(ns[1].underretning().underretning_id() == id);
  CHECK(ns[1].underretning().children_size() == 0);
  int missed = 0;
  for (const auto& o : outbox(s.db)) missed += o.type == "henvis.underretning.receipt_missed";
  CHECK(missed == 1);
  CHECK(ss::load_underretning(s.db, id)->receipt_missed());
}

TEST_CASE("Socialsøg: the receipt clock skips the weekend - a receipt in time stops it",
          "[socialsog][receipt]") {
  TempDir dir("socialsog");
  // Given two underretninger created Friday 7 June 2024 10:00
  henvis::ManualClock clock(at("2024-06-07T08:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-1", "mvj", "2024-06-01T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  s.add(incident("inc-2", "oj", "2024-06-01T21:00:00Z", SEVERE, MOTHER, 751, {{CHILD2, 751}}));
  v1::ScanView v = s.on_demand();
  REQUIRE(v.underretninger_created() == 2);
  std::string herning, aarhus;
  for (const auto& id : v.underretning_ids())
    (s.recipient(id) == "kommune-657" ? herning : aarhus) = id;
  // Then receipt is due at the end of Monday 17 June (10 11 12 13 14 17 June)
  CHECK(s.notice(herning).receipt_due_at().seconds() == ts("2024-06-17T22:00:00Z").seconds());
  // When Herning confirms receipt on Monday 17 June (twice: the same answer)
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  clock.set(at("2024-06-17T09:00:00Z"));
  henvis::http::Request req;
  req.params["id"] = herning;
  req.principal = {"dev-municipality-657", v1::ROLE_MUNICIPALITY, "kommune-657", {}};
  auto r1 = api.receipt(req);
  auto r2 = api.receipt(req);
  CHECK(r1.status == 200);
  CHECK(r2.body == r1.body);
  // And Aarhus may not confirm Herning's (it does not exist for Aarhus)
  henvis::http::Request other = req;
  other.principal = {"dev-municipality-751", v1::ROLE_MUNICIPALITY, "kommune-751", {}};
  CHECK(api.receipt(other).status == 404);
  // Then after the deadline only Aarhus's missed receipt is reported
  clock.set(at("2024-06-17T22:00:00Z"));
  CHECK(s.scanner.check_receipts(s.db) == 1);
  CHECK_FALSE(ss::load_underretning(s.db, herning)->receipt_missed());
  CHECK(ss::load_underretning(s.db, aarhus)->receipt_missed());
  CHECK(notifications(s.db).back().recipient_id() == "coordinator-oj");
}

TEST_CASE("Socialsøg: a scan window outside 1970 to 2200 is a 400 naming the end, not a crash",
          "[socialsog][api]") {
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-07T08:00:00Z"));
  Service s(dir.file("s.db"), clock);
  ss::Api api(dir.file("s.db"), s.scanner, nullptr);
  henvis::http::Request req;
  req.principal = {"dev-coordinator-mvj", v1::ROLE_COORDINATOR, "mvj", {}};
  // A year 232 overflowed the clock's nanoseconds (found by schemathesis)
  req.body = R"({"from": "0232-10-07T09:19:03Z", "to": "2026-11-30T10:32:28Z"})";
  auto r = api.post_scan(req);
  CHECK(r.status == 400);
  CHECK(r.body.find(R"("field":"from")") != std::string::npos);
  req.body = R"({"from": "2024-01-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"})";
  r = api.post_scan(req);
  CHECK(r.status == 400);
  CHECK(r.body.find(R"("field":"to")") != std::string::npos);
  // A window within the range scans
  req.body = R"({"from": "2024-01-01T00:00:00Z", "to": "2024-06-01T00:00:00Z"})";
  CHECK(api.post_scan(req).status == 200);
}

TEST_CASE("Socialsøg: an invalid incident is refused naming the field, never the value",
          "[socialsog][dlq]") {
  // Given an incident whose child has an impossible CPR number
  auto in =
      incident("inc-1", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{"310299-9999", 657}});
  // Then the reason names the field and not the number
  auto r = ss::invalid_incident(in);
  REQUIRE(r);
  CHECK(*r == "field involved[0].children[0].cpr is not a valid CPR number");
  // And a valid one passes
  CHECK_FALSE(ss::invalid_incident(
      incident("inc-2", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}})));
}

// ---------------------------------------------------------------------------
// Retention

TEST_CASE("Socialsøg: incidents are erased with their persons after the retention period",
          "[socialsog][retention]") {
  // Given the default retention (the 12-month look-back + 3 = 15 months), an
  // incident from January 2023 and one from May 2024, both scanned (the
  // recent one flags the child)
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-old", "mvj", "2023-01-10T21:00:00Z", DRUNK, MOTHER, 657, {{CHILD2, 657}}));
  s.add(incident("inc-new", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  REQUIRE(s.on_demand().underretninger_created() == 1);
  auto count = [&](const std::string& table) {
    return scalar(s.db, "SELECT count(*) FROM " + table);
  };
  REQUIRE(count("incidents") == 2);
  // When the retention pass runs
  const int erased = s.scanner.purge_incidents(s.db);
  // Then the old incident and its persons and children are gone, the recent one stays
  CHECK(erased == 1);
  CHECK(scalar(s.db, "SELECT count(*) FROM incidents WHERE incident_id = 'inc-old'") == 0);
  CHECK(scalar(s.db, "SELECT count(*) FROM incident_persons WHERE incident_id = 'inc-old'") == 0);
  CHECK(scalar(s.db, "SELECT count(*) FROM adult_children WHERE incident_id = 'inc-old'") == 0);
  CHECK(scalar(s.db, "SELECT count(*) FROM incidents WHERE incident_id = 'inc-new'") == 1);
  CHECK(scalar(s.db, "SELECT count(*) FROM adult_children WHERE incident_id = 'inc-new'") == 1);
  // And the underretning already sent keeps its notice, and the record that
  // the child was notified stays (no second underretning for it)
  CHECK(count("underretninger") == 1);
  CHECK(count("notified") == 1);
  REQUIRE(s.on_demand().underretninger_created() == 0);
  // And a second pass erases nothing more
  CHECK(s.scanner.purge_incidents(s.db) == 0);
  // When it is one second short of 15 months after the recent incident
  // (2024-05-20T21:00Z) / Then it stays; one second past / Then it goes too
  clock.set(at("2025-08-20T20:59:59Z"));
  CHECK(s.scanner.purge_incidents(s.db) == 0);
  clock.set(at("2025-08-20T21:00:01Z"));
  CHECK(s.scanner.purge_incidents(s.db) == 1);
  CHECK(count("incidents") == 0);
  CHECK(count("incident_persons") == 0);
  CHECK(count("adult_children") == 0);
}

TEST_CASE(
    "Socialsøg: an underretning's persons are erased after its retention period, the rest stays",
    "[socialsog][retention]") {
  // Given an underretning sent on 2024-06-03 about CHILD1 and FATHER (default
  // retention: the incident retention, 15 months)
  TempDir dir("socialsog");
  henvis::ManualClock clock(at("2024-06-03T04:00:00Z"));
  Service s(dir.file("s.db"), clock);
  s.add(incident("inc-new", "mvj", "2024-05-20T21:00:00Z", SEVERE, FATHER, 657, {{CHILD1, 657}}));
  const auto scan = s.on_demand();
  REQUIRE(scan.underretninger_created() == 1);
  const std::string id = scan.underretning_ids(0);
  s.db.exec("DELETE FROM outbox");  // as the relay does once Kafka has the notification
  CHECK(s.scanner.settings().underretning_retention_months == 15);
  // When it is one second short of 15 months / Then it is kept whole
  clock.set(at("2025-09-03T03:59:59Z"));
  CHECK(s.scanner.purge_underretninger(s.db) == 0);
  CHECK(s.notice(id).children_size() == 1);
  // When 15 months have passed / Then its children and adults are gone, and who was notified
  clock.set(at("2025-09-03T04:00:01Z"));
  CHECK(s.scanner.purge_underretninger(s.db) == 1);
  const auto n = s.notice(id);
  CHECK(n.children_size() == 0);
  CHECK(n.adults_size() == 0);
  for (const auto& i : n.incidents()) CHECK(i.adults_size() == 0);
  CHECK(scalar(s.db, "SELECT count(*) FROM notified") == 0);
  // And what the statistics need stays: the underretning, its municipality and incidents
  CHECK(n.kommunekode() == 657);
  CHECK(n.incidents_size() == 1);
  // And a second pass erases nothing more
  CHECK(s.scanner.purge_underretninger(s.db) == 0);
  // And with the incident gone too, no file holds the child or the father
  CHECK(s.scanner.purge_incidents(s.db) == 1);
  std::string bytes;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    std::ifstream in(e.path(), std::ios::binary);
    bytes += std::string(std::istreambuf_iterator<char>(in), {});
  }
  for (const std::string cpr : {CHILD1, FATHER}) {
    std::string digits = cpr;
    digits.erase(6, 1);
    CHECK(bytes.find(digits) == std::string::npos);
    CHECK(bytes.find(cpr) == std::string::npos);
  }
}

TEST_CASE("Socialsøg: an underretning retention shorter than the incident retention is refused",
          "[socialsog][retention][config]") {
  v1::SocialsogSettings in;
  in.set_underretning_retention_months(14);  // incident retention: 15
  try {
    ss::Settings::from(in, ".");
    FAIL("accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("underretning_retention_months") != std::string::npos);
  }
  in.set_underretning_retention_months(24);
  CHECK(ss::Settings::from(in, ".").underretning_retention_months == 24);
}

TEST_CASE("Socialsøg: a retention shorter than the look-back is a configuration error",
          "[socialsog][retention][config]") {
  // Given a retention of 6 months with the default 12-month look-back
  v1::SocialsogSettings cfg;
  cfg.set_incident_retention_months(6);
  // When the settings are read / Then the error names the field and the look-back
  try {
    ss::Settings::from(cfg, ".");
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("incident_retention_months") != std::string::npos);
    CHECK(std::string(e.what()).find("12") != std::string::npos);
  }
  // And 12 months, or the default, is accepted
  cfg.set_incident_retention_months(12);
  CHECK(ss::Settings::from(cfg, ".").incident_retention_months == 12);
  CHECK(ss::Settings::from(v1::SocialsogSettings(), ".").incident_retention_months == 15);
}
