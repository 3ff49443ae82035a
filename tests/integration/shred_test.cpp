// Crypto-shredding on the running stack (issue 12 item 1, docs/decisions.md
// 21): no henvis.* topic or DLQ holds a person in clear; a withdrawal
// destroys the referral's data key everywhere, and with it every copy.

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {

struct Someone {
  std::string offer_id, cpr, name, phone, email;
  std::vector<std::string> clear() const {
    // The CPR with and without its hyphen, the name's parts, the phone's
    // eight digits (in every form intake may keep), the e-mail.
    return {cpr,
            cpr.substr(0, 6) + cpr.substr(7),
            name.substr(0, name.find(' ')),
            name.substr(name.find(' ') + 1),
            phone,
            email};
  }
};

const Someone KEPT{"it-shred-kept", "271182-4917", "Zacharias Krypteringsen", "61728394",
                   "zacharias.k@example.dk"};
const Someone GONE{"it-shred-gone", "150377-2288", "Ottilie Shredsgaard", "29384756",
                   "ottilie.s@example.dk"};

std::string offer_body(const Someone& p) {
  std::string j = offer_json(p.offer_id, 657, true, p.cpr, p.name, "+45 " + p.phone);
  const std::string phone = "\"phone\":\"+45 " + p.phone + "\"";
  j.replace(j.find(phone), phone.size(), phone + ",\"email\":\"" + p.email + "\"");
  return j;
}

// Where a message holds `text` in clear ("" if nowhere).
std::string clear_in(const kafka::Message& m, const std::string& text) {
  if (m.payload.find(text) != std::string::npos) return "payload";
  if (m.key.find(text) != std::string::npos) return "key";
  for (const auto& [k, v] : m.headers)
    if (v.find(text) != std::string::npos) return "header " + k;
  return "";
}

// How many of the referral's sealed persons on the topics open with `key`.
int opened(const std::vector<kafka::Message>& all, const std::string& referral_id,
           const std::string& key) {
  int n = 0;
  for (const auto& m : all) {
    if (m.topic == "henvis.offers.v1" && m.header("ce_type") == "henvis.offer.recorded") {
      v1::OfferRecorded o;
      if (o.ParseFromString(m.payload) && o.referral_id() == referral_id &&
          data_keys::open(key, o.sealed_person(), data_keys::offer_ad(o.offer_id(), referral_id)))
        ++n;
    } else if (m.topic == "henvis.notifications.v1") {
      v1::NotificationRequested x;
      if (x.ParseFromString(m.payload) && x.referral().referral_id() == referral_id &&
          data_keys::open(key, x.referral().sealed_person(),
                          data_keys::notification_ad(x.notification_id(), referral_id)))
        ++n;
    }
  }
  return n;
}

// A copy of the referral's offer event with its sealed person moved to
// another referral: the router must dead-letter it (raw, so sealed).
void produce_moved_copy(Stack& s, const std::vector<kafka::Message>& all,
                        const std::string& referral_id) {
  for (const auto& m : all) {
    v1::OfferRecorded o;
    if (m.topic != "henvis.offers.v1" || !o.ParseFromString(m.payload) ||
        o.referral_id() != referral_id || !o.has_sealed_person())
      continue;
    o.set_referral_id("it-shred-elsewhere");
    kafka::Producer p(s.bootstrap(),
                      [](std::int64_t, bool ok, const std::string&) { REQUIRE(ok); });
    p.produce(
        "henvis.offers.v1", o.referral_id(), o.SerializeAsString(),
        {{"ce_id", new_uuid()}, {"ce_type", "henvis.offer.recorded"}, {"ce_specversion", "1.0"}},
        1);
    REQUIRE(p.flush(10000));
    return;
  }
  FAIL("no sealed offer of " << referral_id);
}

void check_nothing_in_clear(const std::vector<kafka::Message>& all) {
  for (const Someone* p : {&KEPT, &GONE})
    for (const auto& text : p->clear())
      for (const auto& m : all) {
        INFO("topic " << m.topic << " offset " << m.offset << " holds a person's value in clear");
        CHECK(clear_in(m, text).empty());
      }
}
}  // namespace

TEST_CASE(
    "Kafka holds no person in clear, and a withdrawal makes every copy of that person "
    "unreadable while the others still open",
    "[integration][shred]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  s.start("notifier");
  std::map<std::string, std::string> referral;
  for (const Someone* p : {&KEPT, &GONE}) {
    auto r = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", offer_body(*p));
    REQUIRE(r.status == 201);
    referral[p->offer_id] = parse<v1::OfferResponse>(r.body).referral_id();
  }
  // Both reach the centre with their persons (the notifier opened them).
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 2; }));
  const v1::Inbox delivered = inbox(s, "dev-center-657");
  for (const auto& e : delivered.entries()) CHECK(!e.referral().person().cpr().empty());

  // A key for services only: an officer may not fetch one.
  CHECK(http("GET", s.port("intake"), "/v1/internal/data-keys/" + referral[GONE.offer_id],
             "dev-officer-mvj")
            .status == 403);
  const auto kept = data_key(s, referral[KEPT.offer_id]);
  const auto gone = data_key(s, referral[GONE.offer_id]);
  REQUIRE(kept.first == 200);
  REQUIRE(gone.first == 200);
  const std::string kept_key = kept.second, gone_key = gone.second;

  produce_moved_copy(s, every_henvis_message(s), referral[GONE.offer_id]);
  REQUIRE(
      eventually([&] { return s.metric("router", "henvis_consumer_dead_lettered_total") >= 1; }));
  auto all = every_henvis_message(s);
  check_nothing_in_clear(all);
  // The offer and the centre's notification of each open with its key.
  CHECK(opened(all, referral[GONE.offer_id], gone_key) == 2);
  CHECK(opened(all, referral[KEPT.offer_id], kept_key) == 2);

  // When the person withdraws
  auto w = http("POST", s.port("intake"), "/v1/offers/" + GONE.offer_id + "/withdrawal",
                "dev-officer-mvj");
  REQUIRE(w.status == 200);
  REQUIRE(eventually([&] {
    return inbox(s, "dev-center-657").entries_size() == 3;  // the WITHDRAWN notice
  }));
  // Then intake answers 410 for the key, no service's files hold it, and
  // nothing on the topics opens any more without it.
  CHECK(data_key(s, referral[GONE.offer_id]).first == 410);
  CHECK(data_key(s, "no-such-referral").first == 404);
  // The same answers for a whole batch in one request.
  auto batch = http("POST", s.port("intake"), "/v1/internal/data-keys", service_token("notifier"),
                    R"({"referralIds":[")" + referral[GONE.offer_id] + R"(","no-such-referral",")" +
                        referral[KEPT.offer_id] + R"("]})");
  REQUIRE(batch.status == 200);
  const auto keys = parse<v1::DataKeysResponse>(batch.body);
  REQUIRE(keys.keys_size() == 1);
  CHECK(keys.keys(0).referral_id() == referral[KEPT.offer_id]);
  CHECK(keys.keys(0).key() == kept_key);
  CHECK(std::vector<std::string>(keys.destroyed().begin(), keys.destroyed().end()) ==
        std::vector<std::string>{referral[GONE.offer_id]});
  CHECK(std::vector<std::string>(keys.unknown().begin(), keys.unknown().end()) ==
        std::vector<std::string>{"no-such-referral"});
  CHECK(http("POST", s.port("intake"), "/v1/internal/data-keys", service_token("router"),
             R"({"referralIds":[]})")
            .status == 400);
  CHECK(
      eventually([&] { return read_all_databases(s.dir()).find(gone_key) == std::string::npos; }));
  CHECK(read_all_databases(s.dir()).find(kept_key) != std::string::npos);
  all = every_henvis_message(s);
  check_nothing_in_clear(all);
  CHECK(data_key(s, referral[KEPT.offer_id]) == std::make_pair(200, kept_key));
  CHECK(opened(all, referral[KEPT.offer_id], kept_key) == 2);

  // A replayed copy of the withdrawn offer is counted as shredded, not
  // routed again and not dead-lettered.
  const double dead = s.metric("router", "henvis_consumer_dead_lettered_total");
  for (const auto& m : all) {
    v1::OfferRecorded o;
    if (m.topic != "henvis.offers.v1" || !o.ParseFromString(m.payload) ||
        o.referral_id() != referral[GONE.offer_id] || !o.has_sealed_person())
      continue;
    kafka::Producer p(s.bootstrap(),
                      [](std::int64_t, bool ok, const std::string&) { REQUIRE(ok); });
    p.produce(
        "henvis.offers.v1", m.key, m.payload,
        {{"ce_id", new_uuid()}, {"ce_type", "henvis.offer.recorded"}, {"ce_specversion", "1.0"}},
        1);
    REQUIRE(p.flush(10000));
  }
  REQUIRE(
      eventually([&] { return s.metric("router", "henvis_router_shredded_events_total") == 1; }));
  CHECK(s.metric("router", "henvis_consumer_dead_lettered_total") == dead);
}

TEST_CASE(
    "With intake down, a sealed offer waits (no DLQ, nothing lost) and is routed once "
    "intake is back",
    "[integration][shred]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  auto r = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", offer_body(KEPT));
  REQUIRE(r.status == 201);
  // Given the sealed offer on the topic and intake stopped before the router reads it
  s.stop("intake");
  s.start("router");
  s.start("notifier");
  // When the router keeps failing to get the key for a while
  REQUIRE(eventually(
      [&] { return slurp(s.dir() / "router.log").find("intake data key") != std::string::npos; }));
  CHECK(s.metric("router", "henvis_consumer_dead_lettered_total") == 0);
  // Then, intake back (and the router restarted, as its supervisor would, if
  // it stopped after its retries), the offer reaches the centre
  s.start("intake");
  REQUIRE(eventually([&] {
    try {
      if (http("GET", s.port("router"), "/readyz").status == 200)
        return inbox(s, "dev-center-657").entries_size() == 1;
    } catch (const std::exception&) {
    }
    s.start("router");
    return false;
  }));
  CHECK(s.metric("router", "henvis_consumer_dead_lettered_total") == 0);
  CHECK(s.metric("router", "henvis_router_shredded_events_total") == 0);
}
