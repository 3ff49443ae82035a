// router: offers become routed or unroutable referrals, with history, status
// events and a notification; delivery events move referrals to delivered and
// acknowledged (docs/design.md "Drink/drug-driving referral", "Exactly-once effect").

#include "router.hpp"

#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include <cctype>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/paging.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/validate.hpp"
#include "henvis/workdays.hpp"
#include "support.hpp"

namespace {

using henvis::test::dev_directory;
using henvis::test::scalar;
using henvis::test::TempDir;
using henvis::test::ts;

constexpr const char* CPR = "0101901234";
constexpr const char* NAME = "Jens Kristian Testesen";

henvis::v1::OfferRecorded yes_offer(const std::string& offer_id, int kommunekode) {
  henvis::v1::OfferRecorded o;
  o.set_offer_id(offer_id);
  o.set_referral_id("ref-" + offer_id);
  o.set_journal_number("4100-84123-00042-24");
  o.set_offence(henvis::v1::OFFENCE_DRUNK);
  *o.mutable_charged_at() = ts("2024-05-01T10:00:00Z");
  o.set_officer_id("officer-17");
  o.set_district_id("mvj");
  o.set_answer(henvis::v1::ANSWER_YES);
  o.set_kommunekode(kommunekode);
  auto* p = o.mutable_person();
  p->set_cpr(CPR);
  p->set_name(NAME);
  p->set_phone("+4523456789");
  auto* c = o.mutable_consent();
  c->set_text_version("consent-v1");
  *c->mutable_given_at() = ts("2024-05-01T10:05:00Z");
  *o.mutable_recorded_at() = ts("2024-05-01T10:06:00Z");
  o.set_covered(kommunekode == 657);
  return o;
}

using henvis::test::message;

henvis::kafka::Message offer_message(const henvis::v1::OfferRecorded& o) {
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED,
                 o.referral_id().empty() ? o.offer_id() : o.referral_id(), o.SerializeAsString());
}

// The officer's withdrawal of offer `offer_id` (referral "ref-<offer_id>").
henvis::kafka::Message withdrawal_message(const std::string& offer_id) {
  henvis::v1::OfferWithdrawn w;
  w.set_offer_id(offer_id);
  w.set_referral_id("ref-" + offer_id);
  w.set_withdrawn_by(henvis::v1::ROLE_OFFICER);
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_WITHDRAWN, w.referral_id(),
                 w.SerializeAsString());
}

henvis::kafka::Message delivery_message(const std::string& referral_id,
                                        const std::string& recipient,
                                        henvis::v1::DeliveryStatus status) {
  henvis::v1::DeliveryEvent d;
  d.set_notification_id("n-" + henvis::new_uuid());
  d.set_recipient_id(recipient);
  d.set_referral_id(referral_id);
  d.set_status(status);
  d.set_channel("inbox");
  *d.mutable_at() = henvis::now_timestamp();
  std::string name = henvis::v1::DeliveryStatus_Name(status).substr(16);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return message(henvis::topics::DELIVERIES, henvis::event_types::DELIVERY_PREFIX + name, recipient,
                 d.SerializeAsString());
}

// Applies like the consumer loop does: inside a transaction.
void apply(henvis::router::Applier& a, henvis::sqlite::Db& db, const henvis::kafka::Message& m) {
  henvis::sqlite::Transaction tx(db);
  a.apply(m, db);
  tx.commit();
}

struct OutRow {
  std::string topic, key, payload, type;
};

std::vector<OutRow> outbox_rows(henvis::sqlite::Db& db) {
  std::vector<OutRow> out;
  henvis::sqlite::Stmt s(db, "SELECT topic, key, payload, headers FROM outbox ORDER BY id");
  while (s.step()) {
    OutRow r{s.text(0), s.blob(1), s.blob(2), {}};
    henvis::v1::Headers hs;
    hs.ParseFromString(s.blob(3));
    for (const auto& h : hs.header())
      if (h.key() == henvis::kafka::header::TYPE) r.type = h.value();
    out.push_back(r);
  }
  return out;
}

std::vector<OutRow> on_topic(const std::vector<OutRow>& rows, const std::string& topic) {
  std::vector<OutRow> out;
  for (const auto& r : rows)
    if (r.topic == topic) out.push_back(r);
  return out;
}

henvis::router::Settings test_settings() {
  henvis::router::Settings s;
  s.person_key = "router-test-person-key";
  return s;
}

struct Fixture {
  TempDir tmp{"henvis-router-test"};
  henvis::sqlite::Db db{tmp.file("router.db")};
  henvis::SystemClock clock;
  henvis::router::Applier applier{dev_directory(), test_settings(), clock};
  Fixture() { db.migrate(henvis::router::migrations()); }
  std::int64_t status_of(const std::string& referral_id) {
    return scalar(db, "SELECT status FROM referrals WHERE referral_id = ?", referral_id);
  }
};

bool has_digit_run(const std::string& s, std::size_t n) {
  std::size_t run = 0;
  for (char c : s) {
    run = std::isdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    if (run >= n) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("router: status_name is the lower-case status without its prefix", "[router]") {
  // Given statuses / When named / Then the lower-case name without REFERRAL_STATUS_
  CHECK(henvis::router::status_name(henvis::v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED) ==
        "further_sessions_accepted");
  CHECK(henvis::router::status_name(henvis::v1::REFERRAL_STATUS_ROUTED) == "routed");
  CHECK(henvis::router::status_name(henvis::v1::REFERRAL_STATUS_UNROUTABLE) == "unroutable");
}

TEST_CASE("router: a yes for Herning becomes one routed referral with history and events",
          "[router]") {
  // Given a router database and the dev directory
  Fixture f;
  const auto offer = yes_offer("offer-1", 657);
  // When the OfferRecorded is applied
  apply(f.applier, f.db, offer_message(offer));
  // Then one referral, routed to rusmiddelcenter-657, recording the directory version
  REQUIRE(scalar(f.db, "SELECT count(*) FROM referrals") == 1);
  {
    henvis::sqlite::Stmt s(f.db,
                           "SELECT status, centre_id, directory_version, offer_id, kommunekode, "
                           "district_id, reason, cpr FROM referrals");
    REQUIRE(s.step());
    CHECK(s.i64(0) == henvis::v1::REFERRAL_STATUS_ROUTED);
    CHECK(s.i64(0) == 2);
    CHECK(s.text(1) == "rusmiddelcenter-657");
    CHECK(s.text(2) == "dev-1");
    CHECK(s.text(3) == "offer-1");
    CHECK(s.i64(4) == 657);
    CHECK(s.text(5) == "mvj");
    CHECK(s.text(6).empty());
    CHECK(s.text(7) == CPR);
  }
  // And two history rows: received, then routed
  {
    henvis::sqlite::Stmt h(f.db,
                           "SELECT status FROM referral_history WHERE referral_id = ? "
                           "ORDER BY id");
    h.bind(1, offer.referral_id());
    std::vector<std::int64_t> statuses;
    while (h.step()) statuses.push_back(h.i64(0));
    CHECK(statuses == std::vector<std::int64_t>{henvis::v1::REFERRAL_STATUS_RECEIVED,
                                                henvis::v1::REFERRAL_STATUS_ROUTED});
  }
  // And the outbox holds two status events and one notification for the centre
  const auto rows = outbox_rows(f.db);
  CHECK(rows.size() == 3);
  const auto referrals = on_topic(rows, henvis::topics::REFERRALS);
  REQUIRE(referrals.size() == 2);
  CHECK(referrals[0].type == "henvis.referral.received");
  CHECK(referrals[1].type == "henvis.referral.routed");
  for (const auto& r : referrals) {
    CHECK(r.key == offer.referral_id());
    // ReferralStatusChanged carries no personal data
    CHECK(r.payload.find(CPR) == std::string::npos);
    CHECK(r.payload.find(NAME) == std::string::npos);
  }
  henvis::v1::ReferralStatusChanged routed;
  REQUIRE(routed.ParseFromString(referrals[1].payload));
  CHECK(routed.status() == henvis::v1::REFERRAL_STATUS_ROUTED);
  CHECK(routed.previous_status() == henvis::v1::REFERRAL_STATUS_RECEIVED);
  CHECK(routed.centre_id() == "rusmiddelcenter-657");
  CHECK(routed.directory_version() == "dev-1");

  const auto notes = on_topic(rows, henvis::topics::NOTIFICATIONS);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].key == "rusmiddelcenter-657");
  CHECK(notes[0].type == henvis::event_types::NOTIFICATION_REQUESTED);
  henvis::v1::NotificationRequested n;
  REQUIRE(n.ParseFromString(notes[0].payload));
  CHECK(n.recipient_id() == "rusmiddelcenter-657");
  CHECK(n.kind() == henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL);
  CHECK(n.referral().referral_id() == offer.referral_id());
  // A clear offer (before sealing) leaves no data key to seal the person
  // under: announced without it (docs/decisions.md 22; sealed: shred_test.cpp).
  CHECK_FALSE(n.referral().has_person());
  CHECK_FALSE(n.referral().has_sealed_person());
  CHECK(n.referral().municipality_name() == "Herning");
  CHECK_FALSE(n.notification_id().empty());
}

TEST_CASE("router: the same offer applied again under a new ce_id creates nothing more",
          "[router]") {
  // Given an offer already applied
  Fixture f;
  const auto offer = yes_offer("offer-1", 657);
  apply(f.applier, f.db, offer_message(offer));
  REQUIRE(outbox_rows(f.db).size() == 3);
  // When it arrives again with a new ce_id (outbox re-sent)
  apply(f.applier, f.db, offer_message(offer));
  // And when the same offer_id arrives with another referral id (re-registration)
  auto again = offer;
  again.set_referral_id("ref-other");
  apply(f.applier, f.db, offer_message(again));
  // Then still one referral, two history rows and three outbox rows
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals") == 1);
  CHECK(scalar(f.db, "SELECT count(*) FROM referral_history") == 2);
  CHECK(outbox_rows(f.db).size() == 3);
}

TEST_CASE("router: an Aarhus resident becomes unroutable and the coordinator is told", "[router]") {
  // Given a yes from an mvj officer for a person living in Aarhus (751, not covered)
  Fixture f;
  const auto offer = yes_offer("offer-aarhus", 751);
  // When applied
  apply(f.applier, f.db, offer_message(offer));
  // Then the referral is unroutable, with no centre and the reason recorded
  CHECK(f.status_of(offer.referral_id()) == henvis::v1::REFERRAL_STATUS_UNROUTABLE);
  CHECK(f.status_of(offer.referral_id()) == 12);
  henvis::sqlite::Stmt s(f.db, "SELECT centre_id, reason, cpr FROM referrals");
  REQUIRE(s.step());
  CHECK(s.text(0).empty());
  CHECK(s.text(1) == "municipality_not_covered");
  CHECK(s.text(2) == CPR);  // a consent is never dropped
  // And the district coordinator gets a notification
  const auto notes = on_topic(outbox_rows(f.db), henvis::topics::NOTIFICATIONS);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].key == "coordinator-mvj");
  henvis::v1::NotificationRequested n;
  REQUIRE(n.ParseFromString(notes[0].payload));
  CHECK(n.recipient_id() == "coordinator-mvj");
  CHECK(n.kind() == henvis::v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL);
  CHECK(n.referral().reason() == "municipality_not_covered");
  // And the status events say unroutable
  const auto referrals = on_topic(outbox_rows(f.db), henvis::topics::REFERRALS);
  REQUIRE(referrals.size() == 2);
  CHECK(referrals[1].type == "henvis.referral.unroutable");
}

TEST_CASE("router: an unknown kommunekode becomes unroutable with reason municipality_unknown",
          "[router]") {
  // Given a yes for kommunekode 999 (not in the directory) / When applied
  // Then an unroutable referral with reason municipality_unknown, and the coordinator told
  Fixture f;
  const auto offer = yes_offer("offer-unknown", 999);
  apply(f.applier, f.db, offer_message(offer));
  CHECK(f.status_of(offer.referral_id()) == henvis::v1::REFERRAL_STATUS_UNROUTABLE);
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals WHERE reason = 'municipality_unknown'") == 1);
  CHECK(on_topic(outbox_rows(f.db), henvis::topics::NOTIFICATIONS).size() == 1);
}

TEST_CASE("router: routing uses the Copenhagen date of the charge", "[router]") {
  // Given Herning charges at 2020-02-29T22:30Z (Feb 29 local) and 23:30Z (Mar 1 local)
  Fixture f;
  auto before = yes_offer("offer-before", 657);
  *before.mutable_charged_at() = ts("2020-02-29T22:30:00Z");
  auto after = yes_offer("offer-after", 657);
  *after.mutable_charged_at() = ts("2020-02-29T23:30:00Z");
  // When applied
  apply(f.applier, f.db, offer_message(before));
  apply(f.applier, f.db, offer_message(after));
  // Then the first is unroutable (before the programme) and the second routed
  CHECK(f.status_of(before.referral_id()) == henvis::v1::REFERRAL_STATUS_UNROUTABLE);
  CHECK(f.status_of(after.referral_id()) == henvis::v1::REFERRAL_STATUS_ROUTED);
}

TEST_CASE("router: a no makes no referral", "[router]") {
  // Given a declined offer
  Fixture f;
  henvis::v1::OfferRecorded no;
  no.set_offer_id("offer-no");
  no.set_journal_number("4100-84123-00042-24");
  no.set_offence(henvis::v1::OFFENCE_DRUG);
  *no.mutable_charged_at() = ts("2024-05-01T10:00:00Z");
  no.set_district_id("mvj");
  no.set_answer(henvis::v1::ANSWER_NO);
  no.set_kommunekode(657);
  // When applied
  apply(f.applier, f.db, offer_message(no));
  // Then no referral, no history, no events
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals") == 0);
  CHECK(scalar(f.db, "SELECT count(*) FROM referral_history") == 0);
  CHECK(outbox_rows(f.db).empty());
}

TEST_CASE("router: an undecodable payload is Rejected without echoing it", "[router]") {
  // Given bytes that are not an OfferRecorded and contain a CPR-like number
  Fixture f;
  const std::string garbage = std::string("\xff\xff\xff\xff") + CPR + "\x0f garbage";
  // When applied / Then Rejected, with no run of digits from the payload in the reason
  try {
    f.applier.apply(
        message(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "k", garbage), f.db);
    FAIL("expected Rejected");
  } catch (const henvis::Rejected& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK_FALSE(what.empty());
    CHECK(what.find(CPR) == std::string::npos);
    CHECK_FALSE(has_digit_run(what, 2));
  }
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals") == 0);
}

TEST_CASE("router: a payload that parses but lacks offer_id is Rejected", "[router]") {
  // Given a payload with only a CPR-like string in an unrelated field
  Fixture f;
  henvis::v1::OfferRecorded o;
  o.set_journal_number(CPR);
  // When applied / Then Rejected without the digits
  try {
    f.applier.apply(offer_message(o), f.db);
    FAIL("expected Rejected");
  } catch (const henvis::Rejected& e) {
    INFO(e.what());
    CHECK_FALSE(has_digit_run(e.what(), 2));
  }
}

TEST_CASE("router: an offer with an invalid CPR is Rejected without echoing it", "[router]") {
  // Given a yes whose CPR date does not exist / When applied
  // Then Rejected naming person.cpr without any digits, and nothing stored
  Fixture f;
  auto o = yes_offer("offer-badcpr", 657);
  o.mutable_person()->set_cpr("3201901234");
  try {
    f.applier.apply(offer_message(o), f.db);
    FAIL("expected Rejected");
  } catch (const henvis::Rejected& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK_THAT(what, Catch::Contains("person.cpr"));
    CHECK_FALSE(has_digit_run(what, 2));
  }
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals") == 0);
}

TEST_CASE("router: a wrong ce_type on the offers topic is Rejected", "[router]") {
  // Given a valid OfferRecorded payload under another type
  Fixture f;
  const auto o = yes_offer("offer-1", 657);
  auto m = message(henvis::topics::OFFERS, "henvis.offer.something", o.referral_id(),
                   o.SerializeAsString());
  // When applied / Then Rejected, nothing recorded
  CHECK_THROWS_AS(f.applier.apply(m, f.db), henvis::Rejected);
  // And a message without ce_type too
  m.headers = {{henvis::kafka::header::ID, "x"}};
  CHECK_THROWS_AS(f.applier.apply(m, f.db), henvis::Rejected);
  // And a topic the router does not consume
  auto other = offer_message(o);
  other.topic = "henvis.unknown.v1";
  CHECK_THROWS_AS(f.applier.apply(other, f.db), henvis::Rejected);
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals") == 0);
}

// ---------------------------------------------------------------- deliveries

TEST_CASE("router: delivered then acknowledged move the referral - a late delivered does not",
          "[router][delivery]") {
  // Given a routed Herning referral
  Fixture f;
  const auto offer = yes_offer("offer-1", 657);
  apply(f.applier, f.db, offer_message(offer));
  const auto id = offer.referral_id();
  REQUIRE(f.status_of(id) == henvis::v1::REFERRAL_STATUS_ROUTED);
  const auto events_before = on_topic(outbox_rows(f.db), henvis::topics::REFERRALS).size();

  // When the centre's inbox reports DELIVERED
  apply(f.applier, f.db,
        delivery_message(id, "rusmiddelcenter-657", henvis::v1::DELIVERY_STATUS_DELIVERED));
  // Then the referral is delivered, with a history row and a status event
  CHECK(f.status_of(id) == henvis::v1::REFERRAL_STATUS_DELIVERED);
  CHECK(scalar(f.db, "SELECT count(*) FROM referral_history WHERE referral_id = ?", id) == 3);
  auto referrals = on_topic(outbox_rows(f.db), henvis::topics::REFERRALS);
  REQUIRE(referrals.size() == events_before + 1);
  CHECK(referrals.back().type == "henvis.referral.delivered");

  // When READ arrives: no change
  apply(f.applier, f.db,
        delivery_message(id, "rusmiddelcenter-657", henvis::v1::DELIVERY_STATUS_READ));
  CHECK(f.status_of(id) == henvis::v1::REFERRAL_STATUS_DELIVERED);

  // When ACKNOWLEDGED arrives
  apply(f.applier, f.db,
        delivery_message(id, "rusmiddelcenter-657", henvis::v1::DELIVERY_STATUS_ACKNOWLEDGED));
  // Then acknowledged
  CHECK(f.status_of(id) == henvis::v1::REFERRAL_STATUS_ACKNOWLEDGED);
  referrals = on_topic(outbox_rows(f.db), henvis::topics::REFERRALS);
  REQUIRE(referrals.size() == events_before + 2);
  CHECK(referrals.back().type == "henvis.referral.acknowledged");
  henvis::v1::ReferralStatusChanged ack;
  REQUIRE(ack.ParseFromString(referrals.back().payload));
  CHECK(ack.previous_status() == henvis::v1::REFERRAL_STATUS_DELIVERED);
  CHECK(ack.centre_id() == "rusmiddelcenter-657");
  CHECK(ack.directory_version() == "dev-1");

  // When a DELIVERED arrives late (out of order)
  apply(f.applier, f.db,
        delivery_message(id, "rusmiddelcenter-657", henvis::v1::DELIVERY_STATUS_DELIVERED));
  // Then nothing changes: status, history and events stay
  CHECK(f.status_of(id) == henvis::v1::REFERRAL_STATUS_ACKNOWLEDGED);
  CHECK(scalar(f.db, "SELECT count(*) FROM referral_history WHERE referral_id = ?", id) == 4);
  CHECK(on_topic(outbox_rows(f.db), henvis::topics::REFERRALS).size() == events_before + 2);
}

TEST_CASE("router: acknowledged straight from routed is accepted", "[router][delivery]") {
  // Given a routed referral / When ACKNOWLEDGED arrives without DELIVERED before it
  // Then the referral is acknowledged
  Fixture f;
  const auto offer = yes_offer("offer-1", 657);
  apply(f.applier, f.db, offer_message(offer));
  apply(f.applier, f.db,
        delivery_message(offer.referral_id(), "rusmiddelcenter-657",
                         henvis::v1::DELIVERY_STATUS_ACKNOWLEDGED));
  CHECK(f.status_of(offer.referral_id()) == henvis::v1::REFERRAL_STATUS_ACKNOWLEDGED);
}

TEST_CASE("router: a delivery to another recipient does not move the referral",
          "[router][delivery]") {
  // Given a routed Herning referral
  Fixture f;
  const auto offer = yes_offer("offer-1", 657);
  apply(f.applier, f.db, offer_message(offer));
  // When another centre or the coordinator reports delivered/acknowledged for it
  apply(f.applier, f.db,
        delivery_message(offer.referral_id(), "rusmiddelcenter-661",
                         henvis::v1::DELIVERY_STATUS_DELIVERED));
  apply(f.applier, f.db,
        delivery_message(offer.referral_id(), "coordinator-mvj",
                         henvis::v1::DELIVERY_STATUS_ACKNOWLEDGED));
  // Then it stays routed
  CHECK(f.status_of(offer.referral_id()) == henvis::v1::REFERRAL_STATUS_ROUTED);
}

TEST_CASE("router: a delivery for an unknown referral is Rejected", "[router][delivery]") {
  // Given no referrals / When a delivery names an unknown referral / Then Rejected
  Fixture f;
  CHECK_THROWS_AS(f.applier.apply(delivery_message("ref-nowhere", "rusmiddelcenter-657",
                                                   henvis::v1::DELIVERY_STATUS_DELIVERED),
                                  f.db),
                  henvis::Rejected);
}

TEST_CASE("router: a wrong ce_type on the deliveries topic is Rejected", "[router][delivery]") {
  // Given a DeliveryEvent labelled as an offer / When applied / Then Rejected
  Fixture f;
  auto m = delivery_message("ref-x", "rusmiddelcenter-657", henvis::v1::DELIVERY_STATUS_DELIVERED);
  for (auto& [k, v] : m.headers)
    if (k == henvis::kafka::header::TYPE) v = "henvis.offer.recorded";
  CHECK_THROWS_AS(f.applier.apply(m, f.db), henvis::Rejected);
}

// ---- The lifecycle: outcomes, withdrawal, reminders --------------------------

namespace {
using henvis::v1::ReferralStatus;
namespace v1 = henvis::v1;

henvis::http::Request outcome_request(const std::string& referral_id, const std::string& scope,
                                      const std::string& body, const std::string& idem = "") {
  henvis::http::Request r;
  r.method = "POST";
  r.path = "/v1/referrals/" + referral_id + "/outcomes";
  r.params["id"] = referral_id;
  r.body = body;
  r.principal = {"dev-centre", v1::ROLE_CENTRE, scope, {}};
  if (!idem.empty()) r.headers["idempotency-key"] = idem;
  return r;
}

std::string outcome_body(ReferralStatus s) {
  return "{\"outcome\":\"" + v1::ReferralStatus_Name(s) + "\",\"at\":\"2024-05-02T09:00:00Z\"}";
}

// A routed Herning referral "ref-o1" and an Api on the same database.
struct LifecycleFixture : Fixture {
  henvis::ManualClock manual{std::chrono::sys_days(std::chrono::year{2024} / 5 / 3)};
  henvis::router::Api api{tmp.file("router.db"), dev_directory(), test_settings(), manual, nullptr};
  LifecycleFixture() { apply(applier, db, offer_message(yes_offer("o1", 657))); }
  henvis::http::Response record(ReferralStatus s,
                                const std::string& scope = "rusmiddelcenter-657") {
    return api.record_outcome(outcome_request("ref-o1", scope, outcome_body(s)));
  }
};
}  // namespace

TEST_CASE("lifecycle: the allowed outcomes of every status", "[router][lifecycle]") {
  using namespace henvis::router;
  const std::vector<ReferralStatus> open_set = {
      v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, v1::REFERRAL_STATUS_REACHED,
      v1::REFERRAL_STATUS_CONVERSATION_HELD, v1::REFERRAL_STATUS_DECLINED,
      v1::REFERRAL_STATUS_UNREACHABLE,       v1::REFERRAL_STATUS_CLOSED};
  for (auto s : {v1::REFERRAL_STATUS_ROUTED, v1::REFERRAL_STATUS_DELIVERED,
                 v1::REFERRAL_STATUS_ACKNOWLEDGED, v1::REFERRAL_STATUS_CONTACT_ATTEMPTED})
    CHECK(allowed_outcomes(s) == open_set);
  CHECK(allowed_outcomes(v1::REFERRAL_STATUS_REACHED) ==
        std::vector<ReferralStatus>{v1::REFERRAL_STATUS_CONVERSATION_HELD,
                                    v1::REFERRAL_STATUS_DECLINED, v1::REFERRAL_STATUS_CLOSED});
  CHECK(allowed_outcomes(v1::REFERRAL_STATUS_CONVERSATION_HELD) ==
        std::vector<ReferralStatus>{v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED,
                                    v1::REFERRAL_STATUS_DECLINED, v1::REFERRAL_STATUS_CLOSED});
  CHECK(allowed_outcomes(v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED) ==
        std::vector<ReferralStatus>{v1::REFERRAL_STATUS_CLOSED});
  for (auto s :
       {v1::REFERRAL_STATUS_RECEIVED, v1::REFERRAL_STATUS_CLOSED, v1::REFERRAL_STATUS_DECLINED,
        v1::REFERRAL_STATUS_UNREACHABLE, v1::REFERRAL_STATUS_WITHDRAWN,
        v1::REFERRAL_STATUS_UNROUTABLE, v1::REFERRAL_STATUS_EXPIRED})
    CHECK(allowed_outcomes(s).empty());
}

TEST_CASE("lifecycle: every legal path through the API is accepted and emitted",
          "[router][lifecycle]") {
  LifecycleFixture f;
  // Given a routed referral, when the centre records the full happy path
  for (auto s : {v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, v1::REFERRAL_STATUS_REACHED,
                 v1::REFERRAL_STATUS_CONVERSATION_HELD,
                 v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED, v1::REFERRAL_STATUS_CLOSED}) {
    auto r = f.record(s);
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(f.status_of("ref-o1") == s);
  }
  // Then each change is an event on the referrals topic
  std::set<std::string> types;
  for (const auto& r : on_topic(outbox_rows(f.db), henvis::topics::REFERRALS)) types.insert(r.type);
  for (auto t : {"henvis.referral.contact_attempted", "henvis.referral.reached",
                 "henvis.referral.conversation_held", "henvis.referral.further_sessions_accepted",
                 "henvis.referral.closed"})
    CHECK(types.count(t) == 1);
}

TEST_CASE("lifecycle: an illegal transition gets 409 naming the allowed outcomes",
          "[router][lifecycle]") {
  LifecycleFixture f;
  REQUIRE(f.record(v1::REFERRAL_STATUS_CONVERSATION_HELD).status == 200);
  // When the centre tries to go back to contact attempted
  auto r = f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED);
  CHECK(r.status == 409);
  CHECK(r.body.find("further_sessions_accepted, declined, closed") != std::string::npos);
  // And a final referral allows nothing
  REQUIRE(f.record(v1::REFERRAL_STATUS_CLOSED).status == 200);
  auto closed = f.record(v1::REFERRAL_STATUS_DECLINED);
  CHECK(closed.status == 409);
  CHECK(closed.body.find("final") != std::string::npos);
  // And a status that is not an outcome is a 400 naming the field
  auto bad = f.api.record_outcome(
      outcome_request("ref-o1", "rusmiddelcenter-657", "{\"outcome\":\"REFERRAL_STATUS_ROUTED\"}"));
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"field\":\"outcome\"") != std::string::npos);
}

TEST_CASE("lifecycle: another centre gets 404 for an outcome", "[router][lifecycle]") {
  LifecycleFixture f;
  CHECK(f.record(v1::REFERRAL_STATUS_REACHED, "rusmiddelcenter-661").status == 404);
  CHECK(f.status_of("ref-o1") == v1::REFERRAL_STATUS_ROUTED);
}

TEST_CASE("lifecycle: the configured number of failed attempts makes a referral unreachable",
          "[router][lifecycle]") {
  LifecycleFixture f;  // max_contact_attempts defaults to 3
  REQUIRE(f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED).status == 200);
  REQUIRE(f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED).status == 200);
  CHECK(f.status_of("ref-o1") == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED);
  REQUIRE(f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED).status == 200);
  CHECK(f.status_of("ref-o1") == v1::REFERRAL_STATUS_UNREACHABLE);
  CHECK(scalar(f.db, "SELECT contact_attempts FROM referrals WHERE referral_id = ?", "ref-o1") ==
        3);
  CHECK(f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED).status == 409);
}

TEST_CASE("lifecycle: an Idempotency-Key replay gets the first answer and changes nothing",
          "[router][lifecycle]") {
  LifecycleFixture f;
  const std::string body = outcome_body(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED);
  auto first = f.api.record_outcome(outcome_request("ref-o1", "rusmiddelcenter-657", body, "k1"));
  auto again = f.api.record_outcome(outcome_request("ref-o1", "rusmiddelcenter-657", body, "k1"));
  CHECK(first.status == 200);
  CHECK(again.body == first.body);
  CHECK(scalar(f.db, "SELECT contact_attempts FROM referrals WHERE referral_id = ?", "ref-o1") ==
        1);
  auto other = f.api.record_outcome(outcome_request(
      "ref-o1", "rusmiddelcenter-657", outcome_body(v1::REFERRAL_STATUS_REACHED), "k1"));
  CHECK(other.status == 409);
}

TEST_CASE("lifecycle: withdrawal erases the contact data and tells the centre",
          "[router][lifecycle]") {
  LifecycleFixture f;
  REQUIRE(f.api
              .record_outcome(
                  outcome_request("ref-o1", "rusmiddelcenter-657",
                                  "{\"outcome\":\"REFERRAL_STATUS_REACHED\",\"note\":\"talked to " +
                                      std::string(NAME) + "\"}",
                                  "idem-1"))
              .status == 200);
  apply(f.applier, f.db, withdrawal_message("o1"));
  CHECK(f.status_of("ref-o1") == v1::REFERRAL_STATUS_WITHDRAWN);
  // And the erasure left the WAL at once: checkpointed and truncated on commit
  CHECK_FALSE(f.db.erasure_pending());
  CHECK(std::filesystem::file_size(f.tmp.file("router.db") + "-wal") == 0);
  CHECK(scalar(f.db,
               "SELECT count(*) FROM referrals WHERE cpr IS NOT NULL OR name IS NOT NULL "
               "OR phone IS NOT NULL") == 0);
  CHECK(scalar(f.db, "SELECT count(*) FROM referral_history WHERE note IS NOT NULL") == 0);
  // A stored idempotent answer stays, without the person
  CHECK(scalar(f.db, "SELECT count(*) FROM idempotency") == 1);
  CHECK(scalar(f.db,
               "SELECT count(*) FROM idempotency WHERE response LIKE '%0101901234%' OR "
               "response LIKE '%Testesen%'") == 0);
  CHECK(scalar(f.db, "SELECT count(*) FROM person_index") == 0);
  // The centre is told, without the person's data
  bool told = false;
  for (const auto& r : on_topic(outbox_rows(f.db), henvis::topics::NOTIFICATIONS)) {
    v1::NotificationRequested n;
    n.ParseFromString(r.payload);
    if (n.kind() != v1::NOTIFICATION_KIND_WITHDRAWN) continue;
    told = n.recipient_id() == "rusmiddelcenter-657" && !n.referral().has_person();
  }
  CHECK(told);
  // And once the outbox is published (deleted) and the WAL checkpointed, the bytes are gone
  f.db.exec("DELETE FROM outbox");
  f.db.checkpoint_truncate();
  std::string bytes;
  for (const auto& e : std::filesystem::directory_iterator(f.tmp.path)) {
    std::ifstream in(e.path(), std::ios::binary);
    bytes += std::string(std::istreambuf_iterator<char>(in), {});
  }
  CHECK(bytes.find(CPR) == std::string::npos);
  CHECK(bytes.find(NAME) == std::string::npos);
}

namespace {
std::chrono::system_clock::time_point local(int y, unsigned m, unsigned d, int h, int min = 0) {
  return henvis::workdays::at_local(
      henvis::workdays::Day{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}},
      std::chrono::hours(h) + std::chrono::minutes(min));
}

int notifications_of_kind(henvis::sqlite::Db& db, v1::NotificationKind kind, std::string* to) {
  int n = 0;
  for (const auto& r : on_topic(outbox_rows(db), henvis::topics::NOTIFICATIONS)) {
    v1::NotificationRequested x;
    x.ParseFromString(r.payload);
    if (x.kind() == kind) {
      ++n;
      if (to) *to = x.recipient_id();
    }
  }
  return n;
}

// A referral routed at `routed` and the reminder job, both on a manual clock.
struct ReminderFixture {
  TempDir tmp{"henvis-reminder-test"};
  henvis::sqlite::Db db{tmp.file("router.db")};
  henvis::ManualClock clock;
  henvis::router::Applier applier{dev_directory(), test_settings(), clock};
  henvis::router::Reminders reminders{
      tmp.file("router.db"),        dev_directory(), test_settings(),
      henvis::workdays::Calendar(), clock,           nullptr};
  explicit ReminderFixture(std::chrono::system_clock::time_point routed) : clock(routed) {
    db.migrate(henvis::router::migrations());
    apply(applier, db, offer_message(yes_offer("o1", 657)));
  }
  int at(std::chrono::system_clock::time_point t) {
    clock.set(t);
    return reminders.run_once(db);
  }
};
}  // namespace

TEST_CASE(
    "reminders: a centre silent for 2 working days over a weekend is reminded, then the "
    "coordinator",
    "[router][reminders]") {
  // Given a referral routed on Friday 2025-03-07 15:00 (2 working days: Monday, Tuesday)
  ReminderFixture f(local(2025, 3, 7, 15));
  CHECK(f.at(local(2025, 3, 11, 23, 59)) == 0);
  // When Wednesday begins, the centre gets a reminder
  CHECK(f.at(local(2025, 3, 12, 0, 0)) == 1);
  std::string to;
  CHECK(notifications_of_kind(f.db, v1::NOTIFICATION_KIND_REMINDER, &to) == 1);
  CHECK(to == "rusmiddelcenter-657");
  CHECK(f.at(local(2025, 3, 13, 12)) == 0);  // not twice
  // And two more silent working days (Wed, Thu) escalate to the district's coordinator
  CHECK(f.at(local(2025, 3, 14, 0, 0)) == 1);
  CHECK(notifications_of_kind(f.db, v1::NOTIFICATION_KIND_ESCALATION, &to) == 1);
  CHECK(to == "coordinator-mvj");
  CHECK(f.at(local(2025, 3, 20, 0, 0)) == 0);  // and nothing more
}

TEST_CASE("reminders: the working-day clock skips Easter", "[router][reminders]") {
  // Given a referral routed on Wednesday 2025-04-16: Thu 17 to Mon 21 are holidays or weekend
  ReminderFixture f(local(2025, 4, 16, 10));
  CHECK(f.at(local(2025, 4, 23, 23, 59)) == 0);
  CHECK(f.at(local(2025, 4, 24, 0, 0)) == 1);
}

TEST_CASE("reminders: recording an outcome restarts the clock", "[router][reminders]") {
  ReminderFixture f(local(2025, 3, 7, 15));
  henvis::router::Api api{f.tmp.file("router.db"), dev_directory(), test_settings(), f.clock,
                          nullptr};
  f.clock.set(local(2025, 3, 11, 10));  // Tuesday
  REQUIRE(api.record_outcome(outcome_request("ref-o1", "rusmiddelcenter-657",
                                             outcome_body(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED)))
              .status == 200);
  CHECK(f.at(local(2025, 3, 12, 0, 0)) == 0);
  CHECK(f.at(local(2025, 3, 14, 0, 0)) == 1);  // Wed, Thu silent after Tuesday's attempt
  // And a referral past contact (conversation held) is not reminded
  REQUIRE(api.record_outcome(outcome_request("ref-o1", "rusmiddelcenter-657",
                                             outcome_body(v1::REFERRAL_STATUS_CONVERSATION_HELD)))
              .status == 200);
  CHECK(f.at(local(2025, 4, 30, 0, 0)) == 0);
}

TEST_CASE(
    "repeat referrals: the same person's earlier referrals are counted by 90 days and 5 "
    "years",
    "[router]") {
  Fixture f;
  auto at = [](const char* t, const std::string& id) {
    auto o = yes_offer(id, 657);
    *o.mutable_charged_at() = ts(t);
    return o;
  };
  apply(f.applier, f.db, offer_message(at("2019-06-10T10:00:00Z", "r1")));
  apply(f.applier, f.db, offer_message(at("2024-03-01T10:00:00Z", "r2")));
  apply(f.applier, f.db, offer_message(at("2024-05-01T10:00:00Z", "r3")));
  CHECK(scalar(f.db, "SELECT prior_90d FROM referrals WHERE referral_id = ?", "ref-r3") == 1);
  CHECK(scalar(f.db, "SELECT prior_5y FROM referrals WHERE referral_id = ?", "ref-r3") == 2);
  CHECK(scalar(f.db, "SELECT prior_5y FROM referrals WHERE referral_id = ?", "ref-r1") == 0);
  // And the pseudonymous index holds nothing but integers, none of them the
  // CPR number
  CHECK(scalar(f.db,
               "SELECT count(*) FROM person_index WHERE typeof(person) <> 'integer' OR "
               "person = 101901234") == 0);
}

TEST_CASE(
    "repeat referrals: charges indexed under the HMAC before the pseudonym migration are still "
    "counted",
    "[router][store]") {
  // Given a router database as shipped before migration 13, whose person
  // index holds the HMAC's 64 hex digits: one earlier charge of the person
  // the next offer names, and charges of 40 other people
  TempDir tmp{"henvis-router-pseudonym"};
  henvis::sqlite::Db db{tmp.file("router.db")};
  const auto all = henvis::router::migrations();
  db.migrate(std::vector<std::string>(all.begin(), all.begin() + 12));  // 1-12
  const std::string key = test_settings().person_key;
  const std::int64_t march = 1709287200000;  // 2024-03-01T10:00:00Z, Unix ms
  auto index_before = [&](const std::string& referral_id, const std::string& cpr) {
    henvis::sqlite::Stmt s(db, "INSERT INTO person_index VALUES (?, ?, ?)");
    s.bind(1, referral_id)
        .bind(2, henvis::hmac_sha256_hex(key, henvis::validate::normalise_cpr(cpr)))
        .bind(3, march);
    s.run();
  };
  index_before("ref-earlier", CPR);
  std::vector<std::string> others;
  for (int i = 0; i < 40; ++i) {
    others.push_back("02" + std::to_string(10 + i) + "901234");
    index_before("ref-other-" + std::to_string(i), others.back());
  }
  // When the rest of the migrations run, and the person is charged again
  db.migrate(all);
  henvis::SystemClock clock;
  henvis::router::Applier applier{dev_directory(), test_settings(), clock};
  auto again = yes_offer("again", 657);
  *again.mutable_charged_at() = ts("2024-05-01T10:00:00Z");
  apply(applier, db, offer_message(again));
  // Then the earlier charge counts in both windows, and no one else's does
  CHECK(scalar(db, "SELECT prior_90d FROM referrals WHERE referral_id = ?", "ref-again") == 1);
  CHECK(scalar(db, "SELECT prior_5y FROM referrals WHERE referral_id = ?", "ref-again") == 1);
  // And every converted entry is the pseudonym the router computes (about
  // half of them negative: an HMAC's first bit set)
  auto person_of = [&](const std::string& referral_id) {
    henvis::sqlite::Stmt s(db, "SELECT person FROM person_index WHERE referral_id = ?");
    s.bind(1, referral_id);
    REQUIRE(s.step());
    return s.i64(0);
  };
  CHECK(person_of("ref-earlier") == henvis::router::person_pseudonym(key, CPR));
  CHECK(person_of("ref-again") == henvis::router::person_pseudonym(key, CPR));
  for (int i = 0; i < 40; ++i)
    CHECK(person_of("ref-other-" + std::to_string(i)) ==
          henvis::router::person_pseudonym(key, others[i]));
  CHECK(scalar(db, "SELECT count(*) FROM person_index WHERE person < 0") > 0);
  CHECK(scalar(db, "SELECT count(*) FROM person_index WHERE typeof(person) <> 'integer'") == 0);
}

TEST_CASE("store: the Unix-ms migration converts a database's stored RFC 3339 instants",
          "[router][store]") {
  // Given a router database as shipped before the conversion, holding one
  // referral whose times are RFC 3339 text (one with microseconds)
  TempDir tmp{"henvis-router-migration"};
  henvis::sqlite::Db db{tmp.file("router.db")};
  const auto all = henvis::router::migrations();
  const std::vector<std::string> before(all.begin(), all.begin() + 3);
  db.migrate(before);
  db.exec(
      "INSERT INTO referrals(referral_id, offer_id, status, centre_id, kommunekode, district_id, "
      "directory_version, journal_number, offence, charged_at, cpr, name, phone, email, "
      "preferred_contact_time, consent_version, consent_given_at, reason, created_at, "
      "updated_at, last_activity_at) VALUES ('ref-m', 'm', 2, 'rusmiddelcenter-657', 657, 'mvj', "
      "'dev-1', 'j-1', 1, '2024-05-01T10:00:00Z', NULL, NULL, NULL, NULL, NULL, 'consent-v1', "
      "'2024-05-01T10:05:00Z', '', '2024-05-01T10:06:00.500123Z', '2024-05-01T10:06:00.5Z', "
      "'2024-05-01T10:06:00.5Z');"
      "INSERT INTO referral_history(referral_id, status, at, reason, occurred_at) VALUES "
      "('ref-m', 2, '2024-05-01T10:06:00.5Z', '', '2024-05-01T10:06:00Z');"
      "INSERT INTO person_index VALUES ('ref-m', 'k', '2024-05-01T10:00:00Z');"
      "INSERT INTO idempotency VALUES ('h', 'ref-m', 'r', 200, '{}', '2024-05-01T10:07:00Z');");
  // When the rest of the migrations run
  db.migrate(all);
  // Then every instant is an integer of Unix milliseconds, and unset ones stay NULL
  const std::int64_t charged = 1714557600000;  // 2024-05-01T10:00:00Z
  CHECK(scalar(db, "SELECT charged_at FROM referrals") == charged);
  CHECK(scalar(db, "SELECT consent_given_at FROM referrals") == charged + 300000);
  CHECK(scalar(db, "SELECT created_at FROM referrals") == charged + 360500);
  CHECK(scalar(db, "SELECT updated_at + last_activity_at FROM referrals") ==
        2 * (charged + 360500));
  CHECK(scalar(db,
               "SELECT count(*) FROM referrals WHERE reminded_at IS NULL AND "
               "escalated_at IS NULL") == 1);
  CHECK(scalar(db, "SELECT at - occurred_at FROM referral_history") == 500);
  CHECK(scalar(db, "SELECT charged_at FROM person_index") == charged);
  CHECK(scalar(db, "SELECT created_at FROM idempotency") == charged + 420000);
  CHECK(scalar(db,
               "SELECT count(*) FROM referrals, referral_history, person_index, idempotency "
               "WHERE typeof(referrals.charged_at) = 'integer' AND typeof(at) = 'integer' "
               "AND typeof(person_index.charged_at) = 'integer' "
               "AND typeof(idempotency.created_at) = 'integer'") == 1);
  // And the indexes on converted columns are back
  CHECK(scalar(db,
               "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
               "('referrals_centre', 'referrals_district', 'referrals_waiting', "
               "'person_index_key')") == 4);
  // And the API still answers in RFC 3339
  henvis::SystemClock clock;
  henvis::router::Api api{tmp.file("router.db"), dev_directory(), test_settings(), clock, nullptr};
  henvis::http::Request get;
  get.params["id"] = "ref-m";
  get.principal = {"dev-coordinator", v1::ROLE_COORDINATOR, "mvj", {}};
  const auto r = api.get(get);
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.body.find("\"chargedAt\":\"2024-05-01T10:00:00Z\"") != std::string::npos);
  CHECK(r.body.find("\"createdAt\":\"2024-05-01T10:06:00.500Z\"") != std::string::npos);
}

// ---- Unroutable referrals: the reason, the coordinator's forwarding and closure

TEST_CASE("router: a yes without kommunekode becomes unroutable with reason municipality_missing",
          "[router][unroutable]") {
  // Given a yes with no home municipality (intake accepts it) / When applied
  Fixture f;
  apply(f.applier, f.db, offer_message(yes_offer("offer-nowhere", 0)));
  // Then an unroutable referral saying why, and the district's coordinator told
  CHECK(f.status_of("ref-offer-nowhere") == henvis::v1::REFERRAL_STATUS_UNROUTABLE);
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals WHERE reason = 'municipality_missing'") == 1);
  const auto notes = on_topic(outbox_rows(f.db), henvis::topics::NOTIFICATIONS);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].key == "coordinator-mvj");
}

namespace {
template <class M>
M parse_body(const std::string& json) {
  M m;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &m).ok());
  return m;
}

henvis::http::Request coordinator_request(const std::string& action, const std::string& referral_id,
                                          const std::string& body, const std::string& idem = "k1",
                                          const std::string& district = "mvj") {
  henvis::http::Request r;
  r.method = "POST";
  r.path = "/v1/referrals/" + referral_id + "/" + action;
  r.params["id"] = referral_id;
  r.body = body;
  r.principal = {"dev-coordinator-" + district, v1::ROLE_COORDINATOR, district, {}};
  if (!idem.empty()) r.headers["idempotency-key"] = idem;
  return r;
}

constexpr const char* FORWARD_657 =
    R"({"centreId":"rusmiddelcenter-657","note":"Moved to Herning last month"})";

// The routed Herning referral "ref-o1" and an unroutable Aarhus one "ref-o2"
// of district mvj.
struct UnroutableFixture : LifecycleFixture {
  UnroutableFixture() { apply(applier, db, offer_message(yes_offer("o2", 751))); }
  henvis::http::Response forward(const std::string& body = FORWARD_657,
                                 const std::string& idem = "k1") {
    return api.forward(coordinator_request("forwarding", "ref-o2", body, idem));
  }
  std::vector<henvis::v1::NotificationRequested> notifications_to(const std::string& recipient) {
    std::vector<henvis::v1::NotificationRequested> out;
    for (const auto& row : on_topic(outbox_rows(db), henvis::topics::NOTIFICATIONS)) {
      henvis::v1::NotificationRequested n;
      REQUIRE(n.ParseFromString(row.payload));
      if (n.recipient_id() == recipient) out.push_back(n);
    }
    return out;
  }
};
}  // namespace

TEST_CASE("coordinator: forwarding routes an unroutable referral and tells the centre once",
          "[router][unroutable]") {
  UnroutableFixture f;
  // When the coordinator forwards it to Herning's centre, and the request is retried
  const auto first = f.forward();
  INFO(first.body);
  REQUIRE(first.status == 200);
  CHECK(f.forward().body == first.body);
  // Then it is routed to that centre
  const auto v = parse_body<v1::ReferralView>(first.body);
  CHECK(v.status() == v1::REFERRAL_STATUS_ROUTED);
  CHECK(v.centre_id() == "rusmiddelcenter-657");
  // And the history keeps the note, the coordinator and the directory version
  const auto& h = v.history(v.history_size() - 1);
  CHECK(h.status() == v1::REFERRAL_STATUS_ROUTED);
  CHECK(h.reason() == "forwarded_by_coordinator");
  CHECK(h.note() == "Moved to Herning last month");
  CHECK(h.actor() == "dev-coordinator-mvj");
  CHECK(h.directory_version() == "dev-1");
  CHECK(h.centre_id() == "rusmiddelcenter-657");
  // And the centre got exactly one new-referral notification for it
  std::size_t to_centre = 0;
  for (const auto& n : f.notifications_to("rusmiddelcenter-657"))
    if (n.referral().referral_id() == "ref-o2") {
      ++to_centre;
      CHECK(n.kind() == v1::NOTIFICATION_KIND_NEW_REFERRAL);
      CHECK_FALSE(n.referral().has_person());  // never in clear (docs/decisions.md 22)
    }
  CHECK(to_centre == 1);
  // And a routed event says so, without the note
  const auto events = on_topic(outbox_rows(f.db), henvis::topics::REFERRALS);
  CHECK(events.back().type == "henvis.referral.routed");
  CHECK(events.back().payload.find("Moved to Herning") == std::string::npos);
  // And the centre can now record outcomes on it
  CHECK(f.api
            .record_outcome(outcome_request("ref-o2", "rusmiddelcenter-657",
                                            outcome_body(v1::REFERRAL_STATUS_REACHED)))
            .status == 200);
}

TEST_CASE("coordinator: forwarding names a missing note or an unknown centre or a missing key",
          "[router][unroutable]") {
  UnroutableFixture f;
  const auto no_note = f.forward(R"({"centreId":"rusmiddelcenter-657"})");
  CHECK(no_note.status == 400);
  CHECK(no_note.body.find("\"field\":\"note\"") != std::string::npos);
  const auto long_note =
      f.forward(R"({"centreId":"rusmiddelcenter-657","note":")" + std::string(501, 'x') + "\"}");
  CHECK(long_note.body.find("\"field\":\"note\"") != std::string::npos);
  for (const char* centre : {"rusmiddelcenter-999", "coordinator-mvj", "kommune-657", ""}) {
    const auto r = f.forward(std::string(R"({"centreId":")") + centre + R"(","note":"n"})");
    CHECK(r.status == 400);
    CHECK(r.body.find("\"field\":\"centreId\"") != std::string::npos);
  }
  const auto no_key = f.forward(FORWARD_657, "");
  CHECK(no_key.status == 400);
  CHECK(no_key.body.find("\"field\":\"Idempotency-Key\"") != std::string::npos);
  // And nothing moved
  CHECK(f.status_of("ref-o2") == v1::REFERRAL_STATUS_UNROUTABLE);
}

TEST_CASE("coordinator: steps made for a person through henvis-web name them in the history",
          "[router][unroutable][delegation]") {
  UnroutableFixture f;
  // Given henvis-web's principal for the mvj coordinator's person
  auto as_person = [](henvis::http::Request r, const std::string& person = "koordinator-mvj") {
    r.principal.label = "henvis-web";
    r.principal.person = person;
    return r;
  };
  // When it forwards the unroutable referral, and the centre's person records an outcome
  const auto fwd =
      f.api.forward(as_person(coordinator_request("forwarding", "ref-o2", FORWARD_657)));
  REQUIRE(fwd.status == 200);
  const auto out = f.api.record_outcome(as_person(
      outcome_request("ref-o2", "rusmiddelcenter-657", outcome_body(v1::REFERRAL_STATUS_REACHED)),
      "center-657"));
  REQUIRE(out.status == 200);
  // Then the forwarding keeps the label as actor and the person; the outcome the person
  const auto v = parse_body<v1::ReferralView>(out.body);
  const auto& forwarded = v.history(v.history_size() - 2);
  CHECK(forwarded.status() == v1::REFERRAL_STATUS_ROUTED);
  CHECK(forwarded.actor() == "henvis-web");
  CHECK(forwarded.person() == "koordinator-mvj");
  CHECK(v.history(v.history_size() - 1).person() == "center-657");
  // And the router's own steps name nobody
  CHECK(v.history(0).person().empty());
  // And a closure by the person too
  UnroutableFixture g;
  const auto closed =
      g.api.close(as_person(coordinator_request("closure", "ref-o2", R"({"reason":"duplicate"})")));
  REQUIRE(closed.status == 200);
  const auto c = parse_body<v1::ReferralView>(closed.body);
  CHECK(c.history(c.history_size() - 1).person() == "koordinator-mvj");
}

TEST_CASE("coordinator: closing an unroutable referral records the reason once",
          "[router][unroutable]") {
  UnroutableFixture f;
  const std::string body = R"({"reason":"duplicate","note":"Same person as ref-o1"})";
  const auto first = f.api.close(coordinator_request("closure", "ref-o2", body));
  INFO(first.body);
  REQUIRE(first.status == 200);
  CHECK(f.api.close(coordinator_request("closure", "ref-o2", body)).body == first.body);
  CHECK(f.status_of("ref-o2") == v1::REFERRAL_STATUS_CLOSED);
  CHECK(scalar(f.db,
               "SELECT count(*) FROM referral_history WHERE referral_id = 'ref-o2' AND status = 8 "
               "AND reason = 'duplicate' AND actor = 'dev-coordinator-mvj'") == 1);
  CHECK(on_topic(outbox_rows(f.db), henvis::topics::REFERRALS).back().type ==
        "henvis.referral.closed");
  // And a reason outside the set, or "other" without a note, is named
  for (const char* bad : {R"({"reason":"bored"})", R"({"reason":"other"})"}) {
    const auto r = f.api.close(coordinator_request("closure", "ref-o2", bad, "k2"));
    CHECK(r.status == 400);
    CHECK((r.body.find("\"field\":\"reason\"") != std::string::npos ||
           r.body.find("\"field\":\"note\"") != std::string::npos));
  }
}

TEST_CASE("coordinator: another district's referral is 404 and a routed one 409 naming its status",
          "[router][unroutable]") {
  UnroutableFixture f;
  // Given oj's coordinator, the mvj referral does not exist
  CHECK(
      f.api.forward(coordinator_request("forwarding", "ref-o2", FORWARD_657, "k1", "oj")).status ==
      404);
  CHECK(
      f.api.close(coordinator_request("closure", "ref-o2", R"({"reason":"duplicate"})", "k1", "oj"))
          .status == 404);
  // And a routed referral cannot be forwarded or closed by the coordinator
  const auto routed = f.api.forward(coordinator_request("forwarding", "ref-o1", FORWARD_657));
  CHECK(routed.status == 409);
  CHECK(routed.body.find("is routed") != std::string::npos);
  CHECK(routed.body.find("\"field\":\"status\"") != std::string::npos);
  CHECK(f.api.close(coordinator_request("closure", "ref-o1", R"({"reason":"duplicate"})")).status ==
        409);
  CHECK(f.status_of("ref-o1") == v1::REFERRAL_STATUS_ROUTED);
}

TEST_CASE(
    "scope: a centre or coordinator token with an empty scope sees no referral, not the "
    "unroutable ones",
    "[router][unroutable][scope]") {
  // Given a routed referral and an unroutable one (no centre)
  UnroutableFixture f;
  for (const auto role : {v1::ROLE_CENTRE, v1::ROLE_COORDINATOR}) {
    // When a principal of the role with an empty scope lists, reads and records an outcome
    henvis::http::Request req;
    req.principal = {"no-scope", role, "", {}};
    const auto list = parse_body<v1::ReferralList>(f.api.list(req).body);
    req.params["id"] = "ref-o2";
    // Then it sees nothing, and the unroutable referral does not exist for it
    CHECK(list.referrals_size() == 0);
    CHECK(f.api.get(req).status == 404);
  }
  CHECK(f.api
            .record_outcome(
                outcome_request("ref-o2", "", outcome_body(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED)))
            .status == 404);
  CHECK(f.status_of("ref-o2") == v1::REFERRAL_STATUS_UNROUTABLE);
}

TEST_CASE("lifecycle: the view counts attemptsLeft down to the attempt that ends the referral",
          "[router][lifecycle]") {
  LifecycleFixture f;  // max_contact_attempts defaults to 3
  henvis::http::Request get;
  get.params["id"] = "ref-o1";
  get.principal = {"dev-centre", v1::ROLE_CENTRE, "rusmiddelcenter-657", {}};
  const auto view = [&] { return parse_body<v1::ReferralView>(f.api.get(get).body); };
  CHECK(view().attempts_left() == 3);
  CHECK(view().has_contact_attempts());  // present even at 0
  REQUIRE(f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED).status == 200);
  REQUIRE(f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED).status == 200);
  CHECK(view().contact_attempts() == 2);
  CHECK(view().attempts_left() == 1);
  REQUIRE(f.record(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED).status == 200);
  CHECK(view().status() == v1::REFERRAL_STATUS_UNREACHABLE);
  CHECK(view().attempts_left() == 0);
  CHECK(f.api.get(get).body.find("\"attemptsLeft\":0") != std::string::npos);
}

TEST_CASE("list: paging walks every referral exactly once - oldest first", "[router][paging]") {
  Fixture f;
  for (int i = 0; i < 7; ++i)
    apply(f.applier, f.db, offer_message(yes_offer("p" + std::to_string(i), 657)));
  henvis::router::Api api{f.tmp.file("router.db"), dev_directory(), test_settings(), f.clock,
                          nullptr};
  henvis::http::Request list;
  list.principal = {"dev-coordinator-mvj", v1::ROLE_COORDINATOR, "mvj", {}};
  list.query["limit"] = "3";
  std::vector<std::string> seen;
  int pages = 0;
  for (std::string cursor = "start"; !cursor.empty(); ++pages) {
    const auto page = parse_body<v1::ReferralList>(api.list(list).body);
    CHECK(page.referrals_size() <= 3);
    for (const auto& r : page.referrals()) seen.push_back(r.referral_id());
    cursor = page.next_cursor();
    list.query["cursor"] = cursor;
  }
  CHECK(pages == 3);
  std::set<std::string> unique(seen.begin(), seen.end());
  CHECK(seen.size() == 7);
  CHECK(unique.size() == 7);
  // And a cursor this list never gave is a 400 naming it
  list.query["cursor"] = henvis::http::next_cursor({"not-a-time", "x"});
  try {
    api.list(list);
    FAIL("a cursor with a malformed time was accepted");
  } catch (const henvis::http::Problem& p) {
    CHECK(p.response.status == 400);
    CHECK(p.response.body.find("\"field\":\"cursor\"") != std::string::npos);
  }
  // And a crafted time that would overflow the clock is a 400 too, not a crash
  list.query["cursor"] = henvis::http::next_cursor({"9999999999999999", "x"});
  CHECK_THROWS_AS(api.list(list), henvis::http::Problem);
}

namespace {
// Four referrals on a manual clock, o1..o4; each test moves some to a final
// status and runs the retention pass at chosen times.
struct RetentionFixture {
  TempDir tmp{"henvis-retention-test"};
  henvis::sqlite::Db db{tmp.file("router.db")};
  bool migrated = (db.migrate(henvis::router::migrations()), true);  // before the Api opens it
  henvis::ManualClock clock{std::chrono::sys_days(std::chrono::year{2024} / 5 / 3)};
  henvis::router::Settings settings = retention_settings();
  henvis::router::Applier applier{dev_directory(), settings, clock};
  henvis::router::Api api{tmp.file("router.db"), dev_directory(), settings, clock, nullptr};
  henvis::router::ContactRetention retention{tmp.file("router.db"), settings, clock, nullptr};
  const std::chrono::system_clock::time_point start = clock.now();

  static henvis::router::Settings retention_settings() {
    v1::RouterSettings s;
    s.mutable_closed_retention()->set_days(10);
    s.mutable_declined_retention()->set_days(5);
    s.mutable_unreachable_retention()->set_days(20);
    s.mutable_expired_retention()->set_days(1);
    auto out = henvis::router::Settings::from(s);
    out.person_key = "router-test-person-key";
    return out;
  }
  RetentionFixture() {
    for (const char* id : {"o1", "o2", "o3", "o4"})
      apply(applier, db, offer_message(yes_offer(id, 657)));
  }
  void record(const std::string& offer, ReferralStatus s) {
    REQUIRE(
        api.record_outcome(outcome_request("ref-" + offer, "rusmiddelcenter-657", outcome_body(s)))
            .status == 200);
  }
  int pass_at(std::chrono::hours after_start) {
    clock.set(start + after_start);
    return retention.run_once(db);
  }
  bool has_contact(const std::string& offer) {
    return scalar(db,
                  "SELECT count(*) FROM referrals WHERE referral_id = ? AND (cpr IS NOT NULL OR "
                  "name IS NOT NULL OR phone IS NOT NULL OR email IS NOT NULL)",
                  "ref-" + offer) == 1;
  }
};
constexpr std::chrono::hours DAY{24};
}  // namespace

TEST_CASE(
    "retention: each final status's contact data goes when its own period has passed, "
    "open referrals keep theirs",
    "[router][retention]") {
  // Given o1 closed, o2 declined, o3 unreachable (retention 10, 5, 20 days) and o4 still open
  RetentionFixture f;
  f.record("o1", v1::REFERRAL_STATUS_CLOSED);
  f.record("o2", v1::REFERRAL_STATUS_DECLINED);
  f.record("o3", v1::REFERRAL_STATUS_UNREACHABLE);
  f.record("o4", v1::REFERRAL_STATUS_CONVERSATION_HELD);
  // Then nothing goes a moment before the shortest period ends
  CHECK(f.pass_at(5 * DAY - std::chrono::hours(1)) == 0);
  // When 5 days have passed, the declined one's contact data goes, and only that
  CHECK(f.pass_at(5 * DAY) == 1);
  CHECK_FALSE(f.has_contact("o2"));
  CHECK((f.has_contact("o1") && f.has_contact("o3") && f.has_contact("o4")));
  // And the closed one at 10 days, the unreachable one at 20
  CHECK(f.pass_at(10 * DAY) == 1);
  CHECK_FALSE(f.has_contact("o1"));
  CHECK(f.pass_at(20 * DAY) == 1);
  CHECK_FALSE(f.has_contact("o3"));
  // And the open one never; a pass with nothing due erases nothing
  CHECK(f.pass_at(400 * DAY) == 0);
  CHECK(f.has_contact("o4"));
  // The referrals stay for the statistics, with their pseudonym for repeat counts
  CHECK(scalar(f.db, "SELECT count(*) FROM referrals") == 4);
  CHECK(scalar(f.db, "SELECT count(*) FROM person_index") == 4);
  // And the erased bytes left the WAL at once
  CHECK(std::filesystem::file_size(f.tmp.file("router.db") + "-wal") == 0);
}

TEST_CASE("retention: a closed referral's history notes go with its contact data, and only once",
          "[router][retention]") {
  RetentionFixture f;
  REQUIRE(f.api
              .record_outcome(outcome_request(
                  "ref-o1", "rusmiddelcenter-657",
                  "{\"outcome\":\"REFERRAL_STATUS_CLOSED\",\"note\":\"spoke with Jens\"}"))
              .status == 200);
  CHECK(f.pass_at(10 * DAY) == 1);
  CHECK(scalar(f.db, "SELECT count(*) FROM referral_history WHERE note IS NOT NULL") == 0);
  CHECK(f.pass_at(11 * DAY) == 0);
}

TEST_CASE(
    "retention: a pass finds each erased referral's stored answers through an index, scanning no "
    "table",
    "[router][retention]") {
  // Given four referrals whose outcomes were recorded with idempotency keys
  // (each stored answer holds its person), o1 closed and o2 declined
  RetentionFixture f;
  const std::pair<const char*, ReferralStatus> outcomes[] = {
      {"o1", v1::REFERRAL_STATUS_CLOSED},
      {"o2", v1::REFERRAL_STATUS_DECLINED},
      {"o3", v1::REFERRAL_STATUS_CONTACT_ATTEMPTED},
      {"o4", v1::REFERRAL_STATUS_CONTACT_ATTEMPTED}};
  for (const auto& [offer, status] : outcomes)
    REQUIRE(f.api
                .record_outcome(outcome_request(std::string("ref-") + offer, "rusmiddelcenter-657",
                                                outcome_body(status), std::string("idem-") + offer))
                .status == 200);
  // When passes run before and after their periods end
  const std::int64_t before = f.db.full_scan_steps();
  CHECK(f.pass_at(1 * DAY) == 0);
  CHECK(f.pass_at(10 * DAY) == 2);
  // Then both were erased, the others' answers kept, and no statement
  // stepped through a whole table
  CHECK_FALSE(f.has_contact("o1"));
  CHECK_FALSE(f.has_contact("o2"));
  CHECK(f.has_contact("o3"));
  CHECK(f.db.full_scan_steps() == before);
}

TEST_CASE(
    "retention: unset periods are 180 days, a period set to zero is at once, a negative one is "
    "refused naming its field",
    "[router][retention]") {
  using henvis::router::Settings;
  v1::RouterSettings s;
  for (const auto& [status, period] : Settings::from(s).contact_retention)
    CHECK(period == std::chrono::hours(24 * 180));
  s.mutable_closed_retention();  // present, both parts zero
  s.mutable_expired_retention()->set_seconds(2);
  for (const auto& [status, period] : Settings::from(s).contact_retention) {
    if (status == v1::REFERRAL_STATUS_CLOSED) CHECK(period == std::chrono::seconds(0));
    if (status == v1::REFERRAL_STATUS_EXPIRED) CHECK(period == std::chrono::seconds(2));
  }
  s.mutable_declined_retention()->set_days(-1);
  try {
    Settings::from(s);
    FAIL("a negative period was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("router.declined_retention") != std::string::npos);
  }
}

TEST_CASE(
    "withdrawal: notifications about the referral still in the outbox are taken back, other "
    "referrals' stay",
    "[router][lifecycle][erasure]") {
  // Given two routed referrals whose new-referral notifications Kafka has not confirmed yet
  Fixture f;
  apply(f.applier, f.db, offer_message(yes_offer("o1", 657)));
  apply(f.applier, f.db, offer_message(yes_offer("o2", 657)));
  REQUIRE(notifications_of_kind(f.db, v1::NOTIFICATION_KIND_NEW_REFERRAL, nullptr) == 2);
  // When the first person withdraws
  apply(f.applier, f.db, withdrawal_message("o1"));
  // Then only the other referral's new-referral notification is left to send, with the withdrawal
  std::vector<std::string> about;
  for (const auto& r : on_topic(outbox_rows(f.db), henvis::topics::NOTIFICATIONS)) {
    v1::NotificationRequested n;
    n.ParseFromString(r.payload);
    about.push_back(n.referral().referral_id() + ":" + v1::NotificationKind_Name(n.kind()));
  }
  CHECK(about == std::vector<std::string>{"ref-o2:NOTIFICATION_KIND_NEW_REFERRAL",
                                          "ref-o1:NOTIFICATION_KIND_WITHDRAWN"});
}
