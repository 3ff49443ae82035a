// Crypto-shredding of Socialsøg's underretninger on the running stack
// (issue 12 item 1, docs/decisions.md 22): the children and adults of an
// UNDERRETNING notification are sealed in Kafka under a key only socialsog
// holds; the notifier opens them with it; retention destroys the key, and
// with it every copy in Kafka.

#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"

using namespace henvis;
using namespace henvis::testing;
namespace fs = std::filesystem;

namespace {

constexpr const char* FATHER = "230466-3319";
constexpr const char* FATHER_NAME = "Hjalmar Forseglingsen";
constexpr const char* CHILD = "170916-4402";
constexpr const char* CHILD_NAME = "Ingeborg Forseglingsen";

// Each value of the family as it could appear in clear: CPR numbers with
// and without the hyphen, every part of the names.
std::vector<std::string> in_clear() {
  std::vector<std::string> out;
  for (const std::string cpr : {FATHER, CHILD}) {
    out.push_back(cpr);
    out.push_back(cpr.substr(0, 6) + cpr.substr(7));
  }
  for (const std::string name : {FATHER_NAME, CHILD_NAME}) {
    out.push_back(name.substr(0, name.find(' ')));
    out.push_back(name.substr(name.find(' ') + 1));
  }
  return out;
}

// An aggravated violence incident (severe) of the Herning father, listing his child.
v1::Incident incident() {
  v1::Incident in;
  in.set_incident_id("it-shred-inc-1");
  in.set_journal_number("4100-84123-00077-26");
  in.set_district_id("mvj");
  in.mutable_occurred_at()->set_seconds(std::time(nullptr) - 86400 * 2);
  in.set_location_kommunekode(657);
  in.add_offence_codes("PH-G-GROV-VOLD");
  auto* p = in.add_involved();
  p->set_role(v1::PERSON_ROLE_SUSPECT);
  p->set_cpr(FATHER);
  p->set_name(FATHER_NAME);
  p->set_home_kommunekode(657);
  auto* c = p->add_children();
  c->set_cpr(CHILD);
  c->set_name(CHILD_NAME);
  c->set_home_kommunekode(657);
  return in;
}

// socialsog's answer to the notifier's key request for `id`.
v1::UnderretningKeysResponse keys(Stack& s, const std::string& id) {
  auto r = http("POST", s.port("socialsog"), "/v1/internal/underretning-keys",
                service_token("notifier"), "{\"underretningIds\":[\"" + id + "\"]}");
  REQUIRE(r.status == 200);
  return parse<v1::UnderretningKeysResponse>(r.body);
}

// Every byte of the files in `dir` whose name starts with `prefix`.
std::string files_of(const fs::path& dir, const std::string& prefix) {
  std::string all;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) all += slurp(e.path());
  return all;
}

}  // namespace

TEST_CASE(
    "Socialsøg shred: Kafka holds no child or adult of an underretning in clear, the notifier "
    "opens it with socialsog's key, and the retention purge destroys that key",
    "[integration][socialsog][shred]") {
  // Given socialsog (its worker every second, no weekly scan) and the notifier
  // fetching underretning keys from it
  Stack s;
  s.start_broker();
  std::ofstream(s.dir() / "socialsog-settings.textproto")
      << "weekly_scan_disabled: true\ncheck_interval_seconds: 1\n";
  s.start("socialsog");
  s.start("notifier");

  // When the police register a severe incident of a Herning father and the coordinator scans
  {
    kafka::Producer producer(s.bootstrap(), [](std::int64_t, bool, const std::string&) {});
    const auto in = incident();
    auto e = kafka::make_event("/test/police", event_types::INCIDENT_REGISTERED, in.incident_id(),
                               in.SerializeAsString());
    producer.produce(topics::INCIDENTS, e.key, e.payload, e.headers(), 1);
    REQUIRE(producer.flush(30000));
  }
  REQUIRE(eventually([&] { return s.metric("socialsog", "henvis_consumer_applied_total") >= 1; }));
  auto r = http("POST", s.port("socialsog"), "/v1/scans", "dev-coordinator-mvj");
  REQUIRE(r.status == 200);
  const auto scan = parse<v1::ScanView>(r.body);
  REQUIRE(scan.underretninger_created() == 1);
  const std::string id = scan.underretning_ids(0);

  // Then Herning's inbox shows the child and the father: the notifier opened them
  REQUIRE(eventually([&] {
    const v1::Inbox herning = inbox(s, "dev-municipality-657");
    for (const auto& e : herning.entries())
      if (e.underretning().underretning_id() == id && e.underretning().children_size() == 1)
        return true;
    return false;
  }));
  const v1::Inbox herning = inbox(s, "dev-municipality-657");
  for (const auto& e : herning.entries()) {
    if (e.underretning().underretning_id() != id) continue;
    CHECK(e.underretning().children(0).name() == CHILD_NAME);
    REQUIRE(e.underretning().adults_size() == 1);
    CHECK(e.underretning().adults(0).name() == FATHER_NAME);
    CHECK_FALSE(e.underretning().has_sealed_persons());
  }
  CHECK(s.metric("notifier", "henvis_consumer_dead_lettered_total") == 0);

  // And no henvis topic (notifications, underretninger, DLQs) holds any of them in clear
  const auto all = every_henvis_message(s);
  for (const auto& text : in_clear())
    for (const auto& m : all) {
      INFO("topic " << m.topic << " offset " << m.offset << " holds " << text << " in clear");
      CHECK(m.payload.find(text) == std::string::npos);
    }
  // And the notification holds them sealed, opening with the key socialsog hands the notifier
  kafka::Message sealed;
  for (const auto& m : all) {
    v1::NotificationRequested n;
    if (m.topic == topics::NOTIFICATIONS && n.ParseFromString(m.payload) &&
        n.underretning().underretning_id() == id && n.underretning().has_sealed_persons())
      sealed = m;
  }
  REQUIRE_FALSE(sealed.payload.empty());
  auto k = keys(s, id);
  REQUIRE(k.keys_size() == 1);
  const std::string key = k.keys(0).key();
  {
    v1::NotificationRequested n;
    REQUIRE(n.ParseFromString(sealed.payload));
    v1::UnderretningNotice opened = n.underretning();
    REQUIRE(data_keys::open_underretning(key, n.notification_id(), opened));
    REQUIRE(opened.children_size() == 1);
    CHECK(opened.children(0).name() == CHILD_NAME);
  }
  // And another service's token gets no key
  CHECK(http("POST", s.port("socialsog"), "/v1/internal/underretning-keys", service_token("router"),
             "{\"underretningIds\":[\"" + id + "\"]}")
            .status == 403);

  // When its retention has passed (the underretning made to look three years old)
  REQUIRE(s.stop("socialsog") == 0);
  {
    sqlite::Db db(s.database("socialsog"));
    auto q =
        db.query("UPDATE underretninger SET created_at = created_at - ? WHERE underretning_id = ?");
    q->bind(1, std::int64_t{3} * 366 * 86400 * 1000).bind(2, id).run();
  }
  s.start("socialsog");
  // Then the running socialsog's purge destroys the key: it is answered destroyed
  REQUIRE(eventually([&] { return keys(s, id).destroyed_size() == 1; }));
  CHECK(keys(s, id).keys_size() == 0);
  // And no file of the running socialsog (database, WAL) holds the key any more
  CHECK(files_of(s.dir(), "socialsog.db").find(key) == std::string::npos);

  // When the sealed notification is delivered again (a DLQ replay, a re-sent copy)
  {
    kafka::Producer p(s.bootstrap(),
                      [](std::int64_t, bool ok, const std::string&) { REQUIRE(ok); });
    auto headers = sealed.headers;
    for (auto& [name, value] : headers)
      if (name == kafka::header::ID) value = new_uuid();
    p.produce(topics::NOTIFICATIONS, sealed.key, sealed.payload, headers, 1);
    REQUIRE(p.flush(10000));
  }
  // Then the notifier cannot open it and counts it as shredded, not as an error
  REQUIRE(eventually(
      [&] { return s.metric("notifier", "henvis_notifier_shredded_events_total") == 1; }));
  CHECK(s.metric("notifier", "henvis_consumer_dead_lettered_total") == 0);
  CHECK(s.stop("notifier") == 0);
  CHECK(s.stop("socialsog") == 0);
}
