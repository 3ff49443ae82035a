// Crypto-shredding (docs/decisions.md 22): personal data in Kafka is sealed
// under its referral's data key; without the key it opens nowhere.

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "notifier.hpp"
#include "router.hpp"
#include "support.hpp"

namespace dk = henvis::data_keys;
using henvis::test::dev_directory;
using henvis::test::scalar;
using henvis::test::TempDir;
using henvis::test::ts;

namespace {

henvis::v1::Person person() {
  henvis::v1::Person p;
  p.set_cpr("0101901234");
  p.set_name("Gudrun Shredsen");
  p.set_phone("+4523456789");
  p.set_email("gudrun@example.dk");
  return p;
}

using FakeSource = henvis::test::FakeKeySource;
using henvis::test::message;

// A yes for Herning (657) as intake sends it: the person sealed under `key`.
henvis::v1::OfferRecorded sealed_offer(const std::string& referral_id, const std::string& key) {
  henvis::v1::OfferRecorded o;
  o.set_offer_id("offer-" + referral_id);
  o.set_referral_id(referral_id);
  o.set_journal_number("4100-84123-00042-24");
  o.set_offence(henvis::v1::OFFENCE_DRUNK);
  *o.mutable_charged_at() = ts("2024-05-01T10:00:00Z");
  o.set_officer_id("officer-17");
  o.set_district_id("mvj");
  o.set_answer(henvis::v1::ANSWER_YES);
  o.set_kommunekode(657);
  o.mutable_consent()->set_text_version("consent-v1");
  *o.mutable_consent()->mutable_given_at() = ts("2024-05-01T10:05:00Z");
  *o.mutable_sealed_person() =
      dk::seal(key, referral_id, person(), dk::offer_ad(o.offer_id(), referral_id));
  return o;
}

henvis::kafka::Message offer_message(const henvis::v1::OfferRecorded& o) {
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, o.referral_id(),
                 o.SerializeAsString());
}

henvis::kafka::Message withdrawn_message(const std::string& referral_id) {
  henvis::v1::OfferWithdrawn w;
  w.set_offer_id("offer-" + referral_id);
  w.set_referral_id(referral_id);
  w.set_withdrawn_by(henvis::v1::ROLE_OFFICER);
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_WITHDRAWN, referral_id,
                 w.SerializeAsString());
}

struct Router {
  TempDir tmp{"henvis-shred-router"};
  henvis::sqlite::Db db{tmp.file("router.db")};
  henvis::SystemClock clock;
  FakeSource keys;
  henvis::router::Applier applier{dev_directory(), settings(), clock};
  Router() {
    db.migrate(henvis::router::migrations());
    applier.use_data_keys(&keys);
  }
  static henvis::router::Settings settings() {
    henvis::router::Settings s;
    s.person_key = "shred-test-person-key";
    return s;
  }
  void apply(const henvis::kafka::Message& m) {
    henvis::sqlite::Transaction tx(db);
    applier.apply(m, db);
    tx.commit();
  }
  // Applies a yes sealed under a new key that intake holds; the key.
  std::string offer_with_key(const std::string& referral_id) {
    const std::string key = dk::new_key();
    keys.held[referral_id] = key;
    apply(offer_message(sealed_offer(referral_id, key)));
    return key;
  }
  std::int64_t count(const std::string& sql, const std::string& id) { return scalar(db, sql, id); }
  // The person of the referral's first notification, opened with `key`.
  std::optional<henvis::v1::Person> notified_person(const std::string& key) {
    henvis::sqlite::Stmt s(db, "SELECT payload FROM outbox WHERE topic = ? ORDER BY id");
    s.bind(1, std::string(henvis::topics::NOTIFICATIONS));
    REQUIRE(s.step());
    henvis::v1::NotificationRequested n;
    REQUIRE(n.ParseFromString(s.blob(0)));
    CHECK_FALSE(n.referral().has_person());
    return dk::open(key, n.referral().sealed_person(),
                    dk::notification_ad(n.notification_id(), n.referral().referral_id()));
  }
};

}  // namespace

TEST_CASE("data keys: a sealed person opens with its key and event, and holds nothing in clear",
          "[shred]") {
  const std::string key = dk::new_key();
  const auto ad = dk::offer_ad("offer-1", "ref-1");
  const auto sealed = dk::seal(key, "ref-1", person(), ad);
  CHECK(sealed.key_id() == "ref-1");
  const std::string bytes = sealed.SerializeAsString();
  for (const std::string clear : {"0101901234", "Gudrun", "Shredsen", "23456789", "gudrun@"})
    CHECK(bytes.find(clear) == std::string::npos);
  const auto opened = dk::open(key, sealed, ad);
  REQUIRE(opened);
  CHECK(opened->SerializeAsString() == person().SerializeAsString());
  // A fresh nonce per message: the same person sealed twice differs.
  CHECK(dk::seal(key, "ref-1", person(), ad).ciphertext() != sealed.ciphertext());
}

TEST_CASE("data keys: a ciphertext moved to another event or referral does not open", "[shred]") {
  const std::string key = dk::new_key();
  const auto sealed = dk::seal(key, "ref-1", person(), dk::notification_ad("n-1", "ref-1"));
  CHECK_FALSE(dk::open(key, sealed, dk::notification_ad("n-2", "ref-1")));
  CHECK_FALSE(dk::open(key, sealed, dk::notification_ad("n-1", "ref-2")));
  CHECK_FALSE(dk::open(key, sealed, dk::offer_ad("n-1", "ref-1")));
  // The ids cannot be shifted between the fields either.
  CHECK(dk::offer_ad("a\nb", "c") != dk::offer_ad("a", "b\nc"));
}

TEST_CASE("data keys: a changed byte, nonce or key does not open", "[shred]") {
  const std::string key = dk::new_key();
  const auto ad = dk::offer_ad("offer-1", "ref-1");
  const auto sealed = dk::seal(key, "ref-1", person(), ad);
  for (std::size_t i = 0; i < sealed.ciphertext().size(); i += 7) {
    auto tampered = sealed;
    (*tampered.mutable_ciphertext())[i] ^= 0x01;
    CHECK_FALSE(dk::open(key, tampered, ad));
  }
  auto nonce = sealed;
  (*nonce.mutable_nonce())[0] ^= 0x01;
  CHECK_FALSE(dk::open(key, nonce, ad));
  auto cut = sealed;
  cut.set_ciphertext(sealed.ciphertext().substr(0, 10));
  CHECK_FALSE(dk::open(key, cut, ad));
  CHECK_FALSE(dk::open(dk::new_key(), sealed, ad));
  CHECK_FALSE(dk::open("short", sealed, ad));
}

TEST_CASE(
    "router: a sealed offer is routed with its person, and the centre's notification is "
    "sealed under the same key",
    "[shred][router]") {
  Router r;
  const std::string key = r.offer_with_key("ref-a");
  CHECK(r.count("SELECT COUNT(*) FROM referrals WHERE referral_id = ?", "ref-a") == 1);
  CHECK(r.count("SELECT COUNT(*) FROM data_keys WHERE referral_id = ?", "ref-a") == 1);
  const auto p = r.notified_person(key);
  REQUIRE(p);
  CHECK(p->cpr() == "0101901234");
  CHECK(p->name() == "Gudrun Shredsen");
}

TEST_CASE("router: a withdrawal deletes the router's copy of the data key", "[shred][router]") {
  Router r;
  r.offer_with_key("ref-b");
  r.apply(withdrawn_message("ref-b"));
  CHECK(r.count("SELECT COUNT(*) FROM data_keys WHERE referral_id = ?", "ref-b") == 0);
}

TEST_CASE(
    "router: the retention pass deletes the data key with the contact data, and a replayed offer "
    "does not put it back",
    "[shred][router][retention]") {
  // Given a routed referral whose person the router opened with intake's
  // key (intake still holds it), then closed
  Router r;
  const std::string key = r.offer_with_key("ref-r");
  const auto offer = offer_message(sealed_offer("ref-r", key));
  const std::string keys_of = "SELECT COUNT(*) FROM data_keys WHERE referral_id = ?";
  const std::string person_of =
      "SELECT COUNT(*) FROM referrals WHERE referral_id = ? AND cpr IS NOT NULL";
  REQUIRE(r.count(keys_of, "ref-r") == 1);
  REQUIRE(r.count(person_of, "ref-r") == 1);
  henvis::sqlite::Stmt(r.db, "UPDATE referrals SET status = ? WHERE referral_id = 'ref-r'")
      .bind(1, static_cast<int>(henvis::v1::REFERRAL_STATUS_CLOSED))
      .run();
  // When a retention pass with closed referrals' period 0 runs
  henvis::v1::RouterSettings s;
  s.mutable_closed_retention()->set_days(0);
  henvis::router::ContactRetention retention(r.tmp.file("router.db"),
                                             henvis::router::Settings::from(s), r.clock, nullptr);
  CHECK(retention.run_once(r.db) == 1);
  // Then the person and the router's copy of the key are gone
  CHECK(r.count(person_of, "ref-r") == 0);
  CHECK(r.count(keys_of, "ref-r") == 0);
  // And the offer read again in a consumer batch (intake still answers with
  // the key) asks intake nothing, opens nothing and puts no key back
  henvis::ConsumerLoop loop("router", r.tmp.file("router.db"), "", r.applier.subscriptions(),
                            nullptr, nullptr);
  const int batches = r.keys.batches, asked = r.keys.asked;
  loop.apply_batch(r.db, {offer});
  CHECK(loop.applied() == 1);
  CHECK(r.applier.shredded() == 1);  // counted as a copy whose key is gone
  CHECK(r.keys.batches == batches);
  CHECK(r.keys.asked == asked);
  CHECK(r.count(keys_of, "ref-r") == 0);
  CHECK(r.count(person_of, "ref-r") == 0);
  CHECK(r.count("SELECT COUNT(*) FROM referrals WHERE referral_id = ?", "ref-r") == 1);
}

TEST_CASE(
    "router: the migration deletes the data keys of referrals whose contact data was erased "
    "before retention deleted keys",
    "[shred][router][retention]") {
  // Given two referrals and their keys, one of them erased by an earlier
  // retention pass, which did not yet delete keys (migration 12 is then run
  // again: the Applier of today needs the later migrations' schema)
  TempDir tmp("henvis-shred-router-migration");
  henvis::sqlite::Db db(tmp.file("router.db"));
  const auto all = henvis::router::migrations();
  const std::string& delete_erased_keys = all.at(11);  // migration 12
  REQUIRE(delete_erased_keys.find("DELETE FROM data_keys") != std::string::npos);
  db.migrate(all);
  henvis::router::Settings settings;
  settings.person_key = "shred-test-person-key";
  FakeSource keys;
  henvis::SystemClock clock;
  henvis::router::Applier applier(dev_directory(), settings, clock);
  applier.use_data_keys(&keys);
  for (const char* id : {"ref-kept", "ref-erased"}) {
    keys.held[id] = dk::new_key();
    henvis::sqlite::Transaction tx(db);
    applier.apply(offer_message(sealed_offer(id, keys.held[id])), db);
    tx.commit();
  }
  {
    henvis::sqlite::Transaction tx(db);
    henvis::router::Store(db).erase_contact("ref-erased");
    tx.commit();
  }
  REQUIRE(scalar(db, "SELECT COUNT(*) FROM data_keys") == 2);
  // When migration 12 runs
  db.exec(delete_erased_keys);
  // Then only the referral that still holds its person keeps its key
  CHECK(scalar(db, "SELECT COUNT(*) FROM data_keys WHERE referral_id = ?", "ref-kept") == 1);
  CHECK(scalar(db, "SELECT COUNT(*) FROM data_keys WHERE referral_id = ?", "ref-erased") == 0);
}

TEST_CASE("router: an offer whose key is gone makes no referral and its withdrawal is no error",
          "[shred][router]") {
  Router r;
  r.apply(offer_message(sealed_offer("ref-c", dk::new_key())));  // intake: 410
  CHECK(r.applier.shredded() == 1);
  CHECK(r.count("SELECT COUNT(*) FROM referrals WHERE referral_id = ?", "ref-c") == 0);
  CHECK(r.count("SELECT COUNT(*) FROM outbox WHERE key = ?", "ref-c") == 0);
  CHECK_NOTHROW(r.apply(withdrawn_message("ref-c")));
}

TEST_CASE("router: intake not answering fails the batch for a retry, not the DLQ",
          "[shred][router]") {
  Router r;
  r.keys.down = true;
  const auto m = offer_message(sealed_offer("ref-d", dk::new_key()));
  try {
    r.apply(m);
    FAIL("applied without a key");
  } catch (const henvis::Rejected&) {
    FAIL("refused (DLQ) instead of retried");
  } catch (const std::runtime_error&) {
  }
  CHECK(r.applier.shredded() == 0);
}

TEST_CASE("router: a sealed person under another key is refused without echoing it",
          "[shred][router]") {
  Router r;
  r.keys.held["ref-e"] = dk::new_key();
  try {
    r.apply(offer_message(sealed_offer("ref-e", dk::new_key())));
    FAIL("applied");
  } catch (const henvis::Rejected& e) {
    CHECK(std::string(e.what()).find("sealed_person") != std::string::npos);
  }
}

TEST_CASE("notifier: a sealed notification is stored opened - one whose key is gone is dropped",
          "[shred][notifier]") {
  TempDir tmp("henvis-shred-notifier");
  henvis::sqlite::Db db(tmp.file("notifier.db"));
  db.migrate(henvis::notifier::migrations());
  FakeSource keys;
  henvis::notifier::Applier applier(dev_directory());
  applier.use_data_keys(&keys);
  const std::string key = dk::new_key();
  keys.held["ref-f"] = key;
  auto notification = [&](const std::string& id, const std::string& referral_id) {
    henvis::v1::NotificationRequested n;
    n.set_notification_id(id);
    n.set_recipient_id("rusmiddelcenter-657");
    n.set_kind(henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL);
    n.mutable_referral()->set_referral_id(referral_id);
    *n.mutable_referral()->mutable_sealed_person() =
        dk::seal(key, referral_id, person(), dk::notification_ad(id, referral_id));
    return message(henvis::topics::NOTIFICATIONS, henvis::event_types::NOTIFICATION_REQUESTED,
                   n.recipient_id(), n.SerializeAsString());
  };
  henvis::sqlite::Transaction tx(db);
  applier.apply(notification("n-1", "ref-f"), db);
  applier.apply(notification("n-2", "ref-gone"), db);
  tx.commit();
  CHECK(scalar(db, "SELECT COUNT(*) FROM inbox WHERE notification_id = ?", "n-1") == 1);
  CHECK(scalar(db, "SELECT COUNT(*) FROM inbox WHERE notification_id = ?", "n-2") == 0);
  CHECK(applier.shredded() == 1);
  henvis::sqlite::Stmt s(db, "SELECT contact FROM inbox WHERE notification_id = 'n-1'");
  REQUIRE(s.step());
  CHECK(s.blob(0).find("Gudrun Shredsen") != std::string::npos);
}

TEST_CASE(
    "router: a batch's data keys come in one request before it is applied, and are not held "
    "after it",
    "[shred][router]") {
  Router r;
  henvis::ConsumerLoop loop("router", r.tmp.file("router.db"), "", r.applier.subscriptions(),
                            nullptr, nullptr);
  std::vector<henvis::kafka::Message> batch;
  for (const char* id : {"ref-c2", "ref-a2", "ref-b2", "ref-a2"}) {
    r.keys.held[id] = r.keys.held.count(id) ? r.keys.held[id] : dk::new_key();
    batch.push_back(offer_message(sealed_offer(id, r.keys.held[id])));
  }
  batch.push_back(withdrawn_message("ref-x2"));  // not sealed: needs no key
  loop.apply_batch(r.db, batch);
  CHECK(r.keys.batches == 1);
  CHECK(r.keys.asked == 0);
  CHECK(r.keys.last_batch == std::vector<std::string>{"ref-a2", "ref-b2", "ref-c2"});
  CHECK(r.count("SELECT COUNT(*) FROM referrals WHERE referral_id LIKE ?", "ref-_2") == 3);

  // A re-delivered offer the router already holds the key of asks nothing.
  loop.apply_batch(r.db, {offer_message(sealed_offer("ref-a2", r.keys.held["ref-a2"]))});
  CHECK(r.keys.last_batch == std::vector<std::string>{"ref-a2", "ref-b2", "ref-c2"});
  // The batch's keys are gone from memory: an offer outside a batch is
  // asked for on its own.
  const std::string key = dk::new_key();
  r.keys.held["ref-d2"] = key;
  r.apply(offer_message(sealed_offer("ref-d2", key)));
  CHECK(r.keys.asked == 1);
}

TEST_CASE("router: intake not answering the batch's keys fails the batch for a retry",
          "[shred][router]") {
  Router r;
  henvis::ConsumerLoop loop("router", r.tmp.file("router.db"), "", r.applier.subscriptions(),
                            nullptr, nullptr);
  r.keys.down = true;
  CHECK_THROWS_AS(loop.apply_batch(r.db, {offer_message(sealed_offer("ref-e2", dk::new_key()))}),
                  std::runtime_error);
  CHECK(r.count("SELECT COUNT(*) FROM referrals WHERE referral_id = ?", "ref-e2") == 0);
  CHECK(scalar(r.db, "SELECT COUNT(*) FROM consumer_offsets WHERE topic = ?",
               std::string(henvis::topics::OFFERS)) == 0);
}
