// Crypto-shredding of Socialsøg's underretninger (docs/decisions.md 22): the
// children and adults of an UNDERRETNING notification travel sealed under a
// key only socialsog holds; the notifier fetches the keys of a batch in one
// request; retention destroys the key with the persons.

#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/http.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/workdays.hpp"
#include "notifier.hpp"
#include "socialsog.hpp"
#include "support.hpp"

namespace {

using henvis::test::dev_directory;
using henvis::test::message;
using henvis::test::scalar;
using henvis::test::TempDir;
using henvis::test::ts;
namespace v1 = henvis::v1;
namespace ss = henvis::socialsog;
namespace dk = henvis::data_keys;

constexpr const char* FATHER = "150580-1235";
constexpr const char* CHILD = "010315-4123";
constexpr const char* CHILD_NAME = "Lille Nøglesen";
constexpr const char* FATHER_NAME = "Svend Nøglesen";

std::chrono::system_clock::time_point at(const std::string& s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(ts(s).seconds()));
}

// A notice as socialsog builds it: a Herning child, its father, one incident.
v1::UnderretningNotice notice(const std::string& id) {
  v1::UnderretningNotice n;
  n.set_underretning_id(id);
  n.set_kommunekode(657);
  n.set_district_id("mvj");
  auto* c = n.add_children();
  c->set_cpr(CHILD);
  c->set_name(CHILD_NAME);
  c->set_home_kommunekode(657);
  auto* a = n.add_adults();
  a->set_cpr(FATHER);
  a->set_name(FATHER_NAME);
  auto* i = n.add_incidents();
  i->set_incident_id("inc-1");
  i->set_journal_number("4100-84123-00042-24");
  auto* r = i->add_adults();
  r->set_cpr(FATHER);
  r->set_role(v1::PERSON_ROLE_SUSPECT);
  return n;
}

// Whether `bytes` hold a CPR number (with or without its hyphen: socialsog
// keeps them without) or a name of the family.
bool holds_person(const std::string& bytes) {
  for (const std::string s : {CHILD, FATHER, CHILD_NAME, FATHER_NAME})
    if (bytes.find(s) != std::string::npos) return true;
  for (const std::string cpr : {CHILD, FATHER})
    if (bytes.find(cpr.substr(0, 6) + cpr.substr(7)) != std::string::npos) return true;
  return false;
}

// A severe incident of the father, listing his child (both in Herning), named.
v1::Incident incident(const std::string& id) {
  v1::Incident in = henvis::test::severe_incident(id, ts("2024-05-20T21:00:00Z"), FATHER, CHILD);
  in.mutable_involved(0)->set_name(FATHER_NAME);
  in.mutable_involved(0)->mutable_children(0)->set_name(CHILD_NAME);
  return in;
}

// socialsog's parts on one database file, migrated as the host does.
struct Socialsog {
  TempDir dir{"henvis-underretning-keys"};
  henvis::ManualClock clock{at("2024-06-03T04:00:00Z")};
  ss::Settings settings = ss::Settings::from(v1::SocialsogSettings(), ".");
  henvis::sqlite::Db db{dir.file("s.db")};
  ss::Applier applier{settings, clock};
  ss::Scanner scanner{dev_directory(), settings, henvis::workdays::Calendar(), clock};
  Socialsog() { db.migrate(ss::migrations()); }
  // One underretning to Herning about CHILD and FATHER; its id.
  std::string underretning() {
    henvis::sqlite::Transaction tx(db);
    applier.apply(message(henvis::topics::INCIDENTS, henvis::event_types::INCIDENT_REGISTERED,
                          "inc-1", incident("inc-1").SerializeAsString()),
                  db);
    tx.commit();
    ss::ScanSpec spec;
    spec.requested_by = "test";
    const auto scan = scanner.scan(db, spec);
    REQUIRE(scan.underretning_ids_size() == 1);
    return scan.underretning_ids(0);
  }
  // The UNDERRETNING notification in the outbox, as Kafka will hold it.
  std::pair<v1::NotificationRequested, std::string> notification() {
    henvis::sqlite::Stmt s(db, "SELECT payload FROM outbox WHERE topic = ? ORDER BY id");
    s.bind(1, std::string(henvis::topics::NOTIFICATIONS));
    REQUIRE(s.step());
    v1::NotificationRequested n;
    REQUIRE(n.ParseFromString(s.blob(0)));
    return {n, s.blob(0)};
  }
};

// The underretning's key as socialsog's database holds it, if any.
std::optional<std::string> stored_key(henvis::sqlite::Db& db, const std::string& id) {
  henvis::sqlite::Stmt s(db, "SELECT key FROM underretning_keys WHERE underretning_id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return s.blob(0);
}

henvis::http::Request key_request(const std::string& body, const std::string& scope = "notifier") {
  henvis::http::Request req;
  req.principal = {"dev-service-" + scope, v1::ROLE_SERVICE, scope, {}};
  req.body = body;
  return req;
}

v1::UnderretningKeysResponse keys_of(const henvis::http::Response& r) {
  v1::UnderretningKeysResponse m;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &m).ok());
  return m;
}

// An UNDERRETNING notification for Herning as socialsog sends it, sealed
// under `key`.
henvis::kafka::Message sealed_notification(const std::string& notification_id,
                                           const std::string& underretning_id,
                                           const std::string& key) {
  v1::NotificationRequested n;
  n.set_notification_id(notification_id);
  n.set_recipient_id("kommune-657");
  n.set_kind(v1::NOTIFICATION_KIND_UNDERRETNING);
  *n.mutable_underretning() = notice(underretning_id);
  dk::seal_underretning(key, notification_id, *n.mutable_underretning());
  return message(henvis::topics::NOTIFICATIONS, henvis::event_types::NOTIFICATION_REQUESTED,
                 n.recipient_id(), n.SerializeAsString());
}

struct Notifier {
  TempDir tmp{"henvis-underretning-notifier"};
  henvis::sqlite::Db db{tmp.file("notifier.db")};
  henvis::test::FakeKeySource keys;
  henvis::notifier::Applier applier{dev_directory()};
  Notifier() {
    db.migrate(henvis::notifier::migrations());
    applier.use_underretning_keys(&keys);
  }
  std::int64_t stored(const std::string& notification_id) {
    return scalar(db, "SELECT COUNT(*) FROM inbox WHERE notification_id = ?", notification_id);
  }
};

}  // namespace

TEST_CASE("underretning keys: the persons open with their key, notification and underretning only",
          "[shred][socialsog]") {
  const std::string key = dk::new_key();
  v1::UnderretningNotice n = notice("u-1");
  dk::seal_underretning(key, "n-1", n);
  // The sealed notice holds no child, adult or incident adult in clear
  CHECK(n.children_size() == 0);
  CHECK(n.adults_size() == 0);
  CHECK(n.incidents(0).adults_size() == 0);
  CHECK(n.sealed_persons().key_id() == "u-1");
  CHECK_FALSE(holds_person(n.SerializeAsString()));
  // Another key, another notification or another underretning does not open it
  v1::UnderretningNotice other = n;
  CHECK_FALSE(dk::open_underretning(dk::new_key(), "n-1", other));
  CHECK_FALSE(dk::open_underretning(key, "n-2", other));
  other.set_underretning_id("u-2");
  CHECK_FALSE(dk::open_underretning(key, "n-1", other));
  CHECK(other.sealed_persons().ciphertext() == n.sealed_persons().ciphertext());
  // Its key and ids open it back into the notice, the incident's adults in their incident
  REQUIRE(dk::open_underretning(key, "n-1", n));
  CHECK_FALSE(n.has_sealed_persons());
  REQUIRE(n.children_size() == 1);
  CHECK(n.children(0).cpr() == CHILD);
  CHECK(n.children(0).name() == CHILD_NAME);
  CHECK(n.adults(0).name() == FATHER_NAME);
  REQUIRE(n.incidents(0).adults_size() == 1);
  CHECK(n.incidents(0).adults(0).cpr() == FATHER);
}

TEST_CASE("underretning keys: seal_bytes opens with open_bytes under its key and ad only",
          "[shred]") {
  const std::string key = dk::new_key();
  const dk::SealedBytes s = dk::seal_bytes(key, "0101901234", "ad");
  CHECK(s.ciphertext.find("0101901234") == std::string::npos);
  CHECK(dk::open_bytes(key, s, "ad") == std::optional<std::string>("0101901234"));
  CHECK_FALSE(dk::open_bytes(key, s, "another ad"));
  CHECK_FALSE(dk::open_bytes(dk::new_key(), s, "ad"));
}

TEST_CASE(
    "Socialsøg: an UNDERRETNING notification carries its persons sealed under the "
    "underretning's key, and the API still shows them",
    "[shred][socialsog]") {
  Socialsog s;
  const std::string id = s.underretning();
  // The notification as Kafka will hold it names no child or adult
  const auto [n, bytes] = s.notification();
  CHECK(n.kind() == v1::NOTIFICATION_KIND_UNDERRETNING);
  CHECK_FALSE(holds_person(bytes));
  CHECK(n.underretning().children_size() == 0);
  REQUIRE(n.underretning().has_sealed_persons());
  // The key is in socialsog's database, and opens it
  const auto key = stored_key(s.db, id);
  REQUIRE(key);
  v1::UnderretningNotice opened = n.underretning();
  REQUIRE(dk::open_underretning(*key, n.notification_id(), opened));
  REQUIRE(opened.children_size() == 1);
  CHECK(opened.children(0).name() == CHILD_NAME);
  CHECK(holds_person(opened.SerializeAsString()));
  // And the stored underretning (what the API shows) keeps its persons in clear, unsealed
  const auto v = ss::load_underretning(s.db, id);
  REQUIRE(v);
  CHECK(v->notice().children_size() == 1);
  CHECK_FALSE(v->notice().has_sealed_persons());
}

TEST_CASE(
    "Socialsøg: POST /v1/internal/underretning-keys answers keys, destroyed and unknown, an "
    "access-log row per key",
    "[shred][socialsog]") {
  Socialsog s;
  const std::string id = s.underretning();
  ss::Api api(s.dir.file("s.db"), s.scanner, nullptr);
  // When the notifier asks for the underretning's key and an unknown one
  const auto r = api.underretning_keys(
      key_request(R"({"underretningIds":[")" + id + R"(","no-such-id",")" + id + R"("]})"));
  REQUIRE(r.status == 200);
  auto k = keys_of(r);
  // Then it gets the key once, and the unknown id listed as such
  REQUIRE(k.keys_size() == 1);
  CHECK(k.keys(0).underretning_id() == id);
  CHECK(k.keys(0).key() == *stored_key(s.db, id));
  CHECK(k.unknown().size() == 1);
  CHECK(k.destroyed().empty());
  // And one access-log row, for the key handed out, names the service and never the key
  CHECK(scalar(s.db, "SELECT COUNT(*) FROM access_log WHERE purpose = ?", "data_key") == 1);
  CHECK(scalar(s.db, "SELECT COUNT(*) FROM access_log WHERE referral_id = ?", id) == 1);
  CHECK(scalar(s.db, "SELECT COUNT(*) FROM access_log WHERE who = ?", "dev-service-notifier") == 1);

  // When retention erases the underretning's persons
  s.db.exec("DELETE FROM outbox");
  s.clock.set(at("2025-09-03T04:00:01Z"));
  REQUIRE(s.scanner.purge_underretninger(s.db) == 1);
  // Then its key is gone from the database, and answered destroyed, with no new row
  CHECK_FALSE(stored_key(s.db, id));
  CHECK(scalar(s.db, "SELECT COUNT(*) FROM underretning_keys") == 0);
  k = keys_of(api.underretning_keys(key_request(R"({"underretningIds":[")" + id + R"("]})")));
  CHECK(k.keys().empty());
  REQUIRE(k.destroyed().size() == 1);
  CHECK(k.destroyed(0) == id);
  CHECK(scalar(s.db, "SELECT COUNT(*) FROM access_log WHERE purpose = ?", "data_key") == 1);
}

TEST_CASE("Socialsøg: the underretning-keys endpoint refuses other services and bad batches",
          "[shred][socialsog]") {
  Socialsog s;
  const std::string id = s.underretning();
  ss::Api api(s.dir.file("s.db"), s.scanner, nullptr);
  // The router's service token is not the notifier's
  CHECK(api.underretning_keys(key_request(R"({"underretningIds":[")" + id + R"("]})", "router"))
            .status == 403);
  // No ids, an empty id, and 501 ids are refused naming the field
  for (const std::string& body :
       {std::string("{}"),
        std::string(R"({"underretningIds":[""]})"), R"({"underretningIds":[)" + [] {
          std::string ids;
          for (int i = 0; i < 501; ++i) ids += (i ? ",\"u-" : "\"u-") + std::to_string(i) + "\"";
          return ids;
        }() + "]}"}) {
    const auto r = api.underretning_keys(key_request(body));
    CHECK(r.status == 400);
    CHECK(r.body.find("underretningIds") != std::string::npos);
  }
  CHECK(scalar(s.db, "SELECT COUNT(*) FROM access_log WHERE purpose = ?", "data_key") == 0);
}

TEST_CASE(
    "notifier: a batch's sealed underretninger are opened with one request to socialsog, and one "
    "whose key is gone is dropped",
    "[shred][notifier]") {
  Notifier t;
  henvis::ConsumerLoop loop("notifier", t.tmp.file("notifier.db"), "", t.applier.subscriptions(),
                            nullptr, nullptr);
  t.keys.held["u-b"] = dk::new_key();
  t.keys.held["u-a"] = dk::new_key();
  // When a batch holds two sealed underretninger, one twice, and one whose key was destroyed
  loop.apply_batch(t.db, {sealed_notification("n-b", "u-b", t.keys.held["u-b"]),
                          sealed_notification("n-a", "u-a", t.keys.held["u-a"]),
                          sealed_notification("n-a2", "u-a", t.keys.held["u-a"]),
                          sealed_notification("n-gone", "u-gone", dk::new_key())});
  // Then socialsog was asked once, for the distinct ids
  CHECK(t.keys.batches == 1);
  CHECK(t.keys.asked == 0);
  CHECK(t.keys.last_batch == std::vector<std::string>{"u-a", "u-b", "u-gone"});
  // And the opened ones are stored with their persons, the shredded one not at all
  CHECK(t.stored("n-a") == 1);
  CHECK(t.stored("n-a2") == 1);
  CHECK(t.stored("n-b") == 1);
  CHECK(t.stored("n-gone") == 0);
  CHECK(t.applier.shredded() == 1);
  henvis::sqlite::Stmt s(t.db, "SELECT underretning FROM inbox WHERE notification_id = 'n-a'");
  REQUIRE(s.step());
  CHECK(s.blob(0).find(CHILD_NAME) != std::string::npos);
  // And the batch's keys are not held after it: one outside a batch is asked on its own
  t.keys.held["u-c"] = dk::new_key();
  henvis::sqlite::Transaction tx(t.db);
  t.applier.apply(sealed_notification("n-c", "u-c", t.keys.held["u-c"]), t.db);
  tx.commit();
  CHECK(t.keys.asked == 1);
}

TEST_CASE("underretning keys: socialsog not answering is an error naming socialsog's keys",
          "[shred]") {
  // Port 1 on the loopback: nothing listens there
  dk::SocialsogSource socialsog("http://127.0.0.1:1", "dev-service-notifier");
  CHECK_THROWS_WITH(socialsog.keys({"u-1"}), Catch::StartsWith("socialsog underretning key"));
}

TEST_CASE("notifier: socialsog not answering fails the batch for a retry, nothing stored",
          "[shred][notifier]") {
  Notifier t;
  henvis::ConsumerLoop loop("notifier", t.tmp.file("notifier.db"), "", t.applier.subscriptions(),
                            nullptr, nullptr);
  t.keys.down = true;
  CHECK_THROWS_AS(loop.apply_batch(t.db, {sealed_notification("n-1", "u-1", dk::new_key())}),
                  std::runtime_error);
  CHECK(t.stored("n-1") == 0);
  CHECK(t.applier.shredded() == 0);
  CHECK(scalar(t.db, "SELECT COUNT(*) FROM consumer_offsets WHERE topic = ?",
               std::string(henvis::topics::NOTIFICATIONS)) == 0);
}

TEST_CASE("notifier: an UNDERRETNING notification in clear (before sealing) is still stored",
          "[shred][notifier]") {
  Notifier t;
  v1::NotificationRequested n;
  n.set_notification_id("n-clear");
  n.set_recipient_id("kommune-657");
  n.set_kind(v1::NOTIFICATION_KIND_UNDERRETNING);
  *n.mutable_underretning() = notice("u-clear");
  henvis::sqlite::Transaction tx(t.db);
  t.applier.apply(
      message(henvis::topics::NOTIFICATIONS, henvis::event_types::NOTIFICATION_REQUESTED,
              n.recipient_id(), n.SerializeAsString()),
      t.db);
  tx.commit();
  CHECK(t.stored("n-clear") == 1);
  CHECK(t.keys.batches == 0);
}

TEST_CASE("notifier: sealed underretning persons that do not open are refused naming the field",
          "[shred][notifier]") {
  Notifier t;
  t.keys.held["u-1"] = dk::new_key();
  henvis::sqlite::Transaction tx(t.db);
  try {
    t.applier.apply(sealed_notification("n-1", "u-1", dk::new_key()), t.db);
    FAIL("applied");
  } catch (const henvis::Rejected& e) {
    CHECK(std::string(e.what()).find("underretning.sealed_persons") != std::string::npos);
    CHECK_FALSE(holds_person(e.what()));
  }
}

TEST_CASE("notifier: a sealed underretning without underretning_keys configured is retried",
          "[shred][notifier]") {
  TempDir tmp("henvis-underretning-unconfigured");
  henvis::sqlite::Db db(tmp.file("notifier.db"));
  db.migrate(henvis::notifier::migrations());
  henvis::notifier::Applier applier(dev_directory());
  henvis::sqlite::Transaction tx(db);
  try {
    applier.apply(sealed_notification("n-1", "u-1", dk::new_key()), db);
    FAIL("applied");
  } catch (const henvis::Rejected&) {
    FAIL("refused (DLQ) instead of retried");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("underretning_keys") != std::string::npos);
  }
}
