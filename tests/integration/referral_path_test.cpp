// The first referral path through the real stack: henvis-devbroker, intake,
// router and notifier as processes, driven over HTTP and Kafka.

#include <google/protobuf/util/json_util.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "harness.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {
void start_all(Stack& s) {
  s.start_broker();
  s.start("intake");
  s.start("router");
  s.start("notifier");
}

// Every referral `token` may see, page by page (?limit=&cursor=).
v1::ReferralList referrals(Stack& s, const std::string& token, const std::string& query = "") {
  v1::ReferralList all;
  std::string cursor;
  do {
    const std::string sep = query.empty() ? "?" : "&";
    auto r =
        http("GET", s.port("router"),
             "/v1/referrals" + query + (cursor.empty() ? "" : sep + "cursor=" + cursor), token);
    REQUIRE(r.status == 200);
    auto page = parse<v1::ReferralList>(r.body);
    for (const auto& ref : page.referrals()) *all.add_referrals() = ref;
    cursor = page.next_cursor();
  } while (!cursor.empty());
  return all;
}

v1::OfferResponse post_offer(Stack& s, const std::string& body, int expect = 201,
                             const std::string& officer = "dev-officer-mvj") {
  auto r = http("POST", s.port("intake"), "/v1/offers", officer, body);
  INFO(r.body);
  REQUIRE(r.status == expect);
  return parse<v1::OfferResponse>(r.body);
}

// POST with an Idempotency-Key, as a coordinator's forwarding or closure.
HttpResult post_keyed(Stack& s, const std::string& target, const std::string& token,
                      const std::string& body, const std::string& key) {
  return http("POST", s.port("router"), target, token, body, {{"Idempotency-Key", key}});
}

v1::ReferralView referral(Stack& s, const std::string& token, const std::string& id) {
  auto r = http("GET", s.port("router"), "/v1/referrals/" + id, token);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return parse<v1::ReferralView>(r.body);
}

// The inbox entries of `token` about referral `id`.
int entries_about(Stack& s, const std::string& token, const std::string& id) {
  int n = 0;
  const auto entries = inbox(s, token);
  for (const auto& e : entries.entries()) n += e.referral().referral_id() == id;
  return n;
}
}  // namespace

TEST_CASE("An accepted offer for a Herning resident reaches dev-center-657's inbox only",
          "[integration]") {
  Stack s;
  start_all(s);
  // Given an officer registers a yes from a Herning (657) resident
  auto res = post_offer(s, offer_json("it-herning-1", 657, true));
  CHECK(res.covered());
  CHECK(res.municipality_name() == "Herning");
  REQUIRE_FALSE(res.referral_id().empty());
  // Then it appears in the Herning centre's inbox with the contact details
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 1; }));
  auto e = inbox(s, "dev-center-657").entries(0);
  CHECK(e.referral().referral_id() == res.referral_id());
  CHECK(e.referral().person().cpr() == "0101901234");
  CHECK(e.referral().person().phone() == "+4522334455");
  CHECK(e.kind() == v1::NOTIFICATION_KIND_NEW_REFERRAL);
  // And not in Holstebro's
  CHECK(inbox(s, "dev-center-661").entries_size() == 0);
  // And acknowledging it moves the referral to acknowledged
  auto ack = http("POST", s.port("notifier"), "/v1/inbox/" + e.notification_id() + "/ack",
                  "dev-center-657");
  CHECK(ack.status == 200);
  REQUIRE(eventually([&] {
    auto r = http("GET", s.port("router"), "/v1/referrals/" + res.referral_id(), "dev-center-657");
    return r.status == 200 &&
           parse<v1::ReferralView>(r.body).status() == v1::REFERRAL_STATUS_ACKNOWLEDGED;
  }));
  // And Holstebro's centre cannot see that the referral exists
  CHECK(http("GET", s.port("router"), "/v1/referrals/" + res.referral_id(), "dev-center-661")
            .status == 404);
}

TEST_CASE("A declined offer leaves no personal data in any database", "[integration]") {
  Stack s;
  start_all(s);
  // Given a no, sent (wrongly) with the person's data
  auto res = post_offer(
      s, offer_json("it-no-1", 661, false, "020285-4321", "Karen Nejsiger", "+45 61 62 63 64"));
  CHECK(res.personal_data_dropped());
  CHECK(res.referral_id().empty());
  // When the router has consumed it (and a later yes, as a marker)
  post_offer(s, offer_json("it-yes-marker", 657, true));
  REQUIRE(eventually([&] { return s.metric("router", "henvis_consumer_applied_total") >= 2; }));
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 1; }));
  for (const std::string svc : {"intake", "router", "notifier"}) CHECK(s.stop(svc) == 0);
  // Then no database file of any service holds its CPR, name or phone
  const std::string bytes = read_all_databases(s.dir());
  REQUIRE(bytes.size() > 0);
  CHECK(bytes.find("0202854321") == std::string::npos);
  CHECK(bytes.find("020285-4321") == std::string::npos);
  CHECK(bytes.find("Karen Nejsiger") == std::string::npos);
  CHECK(bytes.find("61626364") == std::string::npos);
  // And the yes marker's data is there (the scan is not blind)
  CHECK(bytes.find("Jens Testesen") != std::string::npos);
}

TEST_CASE("An Aarhus resident's consent becomes an unroutable referral the coordinator sees",
          "[integration]") {
  Stack s;
  start_all(s);
  auto res = post_offer(s, offer_json("it-aarhus-1", 751, true));
  // The officer is told the truth at the roadside
  CHECK_FALSE(res.covered());
  CHECK(res.municipality_name() == "Aarhus");
  REQUIRE(eventually([&] {
    return referrals(s, "dev-coordinator-mvj", "?status=unroutable").referrals_size() == 1;
  }));
  auto r = referrals(s, "dev-coordinator-mvj", "?status=unroutable").referrals(0);
  CHECK(r.referral_id() == res.referral_id());
  CHECK(r.reason() == "municipality_not_covered");
  CHECK(r.directory_version() == "dev-1");
  // And the coordinator's inbox has it; no centre's does
  REQUIRE(eventually([&] { return inbox(s, "dev-coordinator-mvj").entries_size() == 1; }));
  CHECK(inbox(s, "dev-coordinator-mvj").entries(0).kind() ==
        v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL);
  CHECK(inbox(s, "dev-center-657").entries_size() == 0);
}

TEST_CASE("Bad requests get problem+json naming the field - auth is enforced", "[integration]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  // An invalid CPR (31 February) gets 400 naming person.cpr, without echoing it
  auto bad = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                  offer_json("it-bad-1", 657, true, "310290-1234"));
  CHECK(bad.status == 400);
  CHECK(bad.content_type == "application/problem+json");
  CHECK(bad.body.find("\"field\":\"person.cpr\"") != std::string::npos);
  CHECK(bad.body.find("310290") == std::string::npos);
  // An unknown field is refused, not ignored
  auto unknown = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                      R"({"offerId":"x","shoeSize":44})");
  CHECK(unknown.status == 400);
  // A body over 64 KiB gets 413
  CHECK(http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", std::string(70 * 1024, ' '))
            .status == 413);
  // A missing or wrong token gets 401
  CHECK(http("POST", s.port("intake"), "/v1/offers", "", offer_json("x", 657, true)).status == 401);
  CHECK(http("POST", s.port("intake"), "/v1/offers", "not-a-token", offer_json("x", 657, true))
            .status == 401);
  // A token outside the route's roles gets 403
  CHECK(http("POST", s.port("intake"), "/v1/offers", "dev-center-657", offer_json("x", 657, true))
            .status == 403);
  CHECK(http("GET", s.port("router"), "/v1/referrals", "dev-evaluator").status == 403);
  CHECK(http("GET", s.port("router"), "/v1/referrals", "dev-municipality-657").status == 403);
  // The probes need no token
  CHECK(http("GET", s.port("intake"), "/healthz").status == 200);
  CHECK(http("GET", s.port("intake"), "/metrics").status == 200);
}

TEST_CASE("A replayed offerId gets the first answer - another body gets 409", "[integration]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  const std::string body = offer_json("it-replay-1", 657, true);
  auto first = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", body);
  auto again = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", body);
  CHECK(first.status == 201);
  CHECK(again.status == first.status);
  CHECK(again.body == first.body);
  auto other = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                    offer_json("it-replay-1", 661, true));
  CHECK(other.status == 409);
  CHECK(other.body.find("offerId") != std::string::npos);
  // And exactly one referral exists
  REQUIRE(eventually([&] { return referrals(s, "dev-coordinator-mvj").referrals_size() == 1; }));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(referrals(s, "dev-coordinator-mvj").referrals_size() == 1);
}

TEST_CASE("A garbage message on the offers topic is dead-lettered and the next offer is routed",
          "[integration]") {
  Stack s;
  start_all(s);
  // Given garbage produced straight onto henvis.offers.v1
  {
    kafka::Producer p(s.bootstrap(),
                      [](std::int64_t, bool ok, const std::string&) { REQUIRE(ok); });
    p.produce("henvis.offers.v1", "k", std::string("\xff\xfe not protobuf \x01", 18),
              {{"ce_id", "garbage-1"}, {"ce_type", "henvis.offer.recorded"}}, 1);
    p.produce("henvis.offers.v1", "k", "no envelope at all", {}, 2);
    REQUIRE(p.flush(10000));
  }
  // When a valid offer follows
  auto res = post_offer(s, offer_json("it-after-garbage", 657, true));
  // Then it is routed
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 1; }));
  // And both bad messages are in the router's dead-letter topic with reasons
  kafka::Consumer c(s.bootstrap(), "it-dlq-reader");
  c.assign({"henvis.offers.v1.dlq.router"}, {}, 30000);
  std::vector<kafka::Message> dlq;
  REQUIRE(eventually([&] {
    for (auto& m : c.poll_batch(100, 200)) dlq.push_back(std::move(m));
    return dlq.size() >= 2;
  }));
  std::set<std::string> reasons;
  for (const auto& m : dlq) {
    CHECK(m.header("dlq_origin_topic") == "henvis.offers.v1");
    CHECK(m.header("dlq_service") == "router");
    CHECK(m.header("dlq_origin_offset").has_value());
    reasons.insert(m.header("dlq_reason").value_or(""));
  }
  CHECK(reasons.count("payload is not a valid henvis.v1.OfferRecorded") == 1);
  CHECK(reasons.count("missing header ce_id") == 1);
}

TEST_CASE("The router killed with SIGKILL mid-stream routes every offer exactly once",
          "[integration][slow]") {
  Stack s;
  start_all(s);
  constexpr int OFFERS = 300;
  constexpr int KILL_AFTER = 100;
  std::atomic<int> posted{0};
  int herning = 0;
  for (int i = 0; i < OFFERS; ++i) herning += i % 2 == 0;
  // Given a stream of offers registered by officers
  std::thread officers([&] {
    for (int i = 0; i < OFFERS; ++i) {
      auto r = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                    offer_json("it-crash-" + std::to_string(i), i % 2 == 0 ? 657 : 661, true));
      REQUIRE(r.status == 201);
      ++posted;
    }
  });
  // When the router is killed in the middle of it, and restarted
  REQUIRE(eventually(
      [&] { return s.metric("router", "henvis_consumer_applied_total") >= KILL_AFTER; }));
  s.kill("router", SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  s.start("router");
  officers.join();
  // Then every offer is exactly one referral
  REQUIRE(eventually([&] { return referrals(s, "dev-coordinator-mvj").referrals_size() >= OFFERS; },
                     std::chrono::seconds(120)));
  auto all = referrals(s, "dev-coordinator-mvj");
  std::set<std::string> offers;
  for (const auto& r : all.referrals()) offers.insert(r.offer_id());
  CHECK(all.referrals_size() == OFFERS);
  CHECK(offers.size() == static_cast<std::size_t>(OFFERS));
  // And each is in exactly one inbox entry
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() >= herning; },
                     std::chrono::seconds(120)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto in657 = inbox(s, "dev-center-657");
  auto in661 = inbox(s, "dev-center-661");
  std::set<std::string> delivered;
  for (const auto& e : in657.entries()) delivered.insert(e.referral().referral_id());
  for (const auto& e : in661.entries()) delivered.insert(e.referral().referral_id());
  CHECK(in657.entries_size() == herning);
  CHECK(in661.entries_size() == OFFERS - herning);
  CHECK(delivered.size() == static_cast<std::size_t>(OFFERS));
  // And the router's database is intact
  sqlite::Db db(s.database("router"));
  sqlite::Stmt check(db, "PRAGMA integrity_check");
  REQUIRE(check.step());
  CHECK(check.text(0) == "ok");
}

TEST_CASE("A consent is never refused for its municipality: unknown or missing is unroutable",
          "[integration][unroutable]") {
  Stack s;
  start_all(s);
  // Given an mvj officer registers a yes from a København (101) resident, whom
  // the directory does not list, and a yes without a home municipality
  auto kbh = post_offer(s, offer_json("it-kbh-1", 101, true));
  CHECK_FALSE(kbh.covered());
  CHECK(kbh.municipality_name() == "København");
  auto nowhere = post_offer(s, offer_json("it-nowhere-1", 0, true));
  CHECK_FALSE(nowhere.covered());
  // And a code no Danish municipality has is refused, naming kommunekode
  auto bad = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                  offer_json("it-bad-kode", 99999, true));
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"field\":\"kommunekode\"") != std::string::npos);
  // Then both are unroutable referrals of mvj's coordinator, each saying why
  REQUIRE(eventually([&] {
    return referrals(s, "dev-coordinator-mvj", "?status=unroutable").referrals_size() == 2;
  }));
  const auto k = referral(s, "dev-coordinator-mvj", kbh.referral_id());
  CHECK(k.status() == v1::REFERRAL_STATUS_UNROUTABLE);
  CHECK(k.kommunekode() == 101);
  CHECK(k.reason() == "municipality_unknown");
  CHECK(k.history(k.history_size() - 1).reason() == "municipality_unknown");
  CHECK(referral(s, "dev-coordinator-mvj", nowhere.referral_id()).reason() ==
        "municipality_missing");
  // And the coordinator was told of both
  REQUIRE(eventually([&] { return inbox(s, "dev-coordinator-mvj").entries_size() == 2; }));
}

TEST_CASE("oj's coordinator sees and is told of oj's unroutable referrals - mvj's does not",
          "[integration][unroutable]") {
  Stack s;
  start_all(s);
  // Given an oj officer registers a yes from an Aarhus (751) resident (oj is not in the programme)
  auto res = post_offer(s, offer_json("it-oj-1", 751, true), 201, "dev-officer-oj");
  // Then dev-coordinator-oj sees it unroutable, and its inbox has it
  REQUIRE(eventually([&] {
    return referrals(s, "dev-coordinator-oj", "?status=unroutable").referrals_size() == 1;
  }));
  CHECK(referrals(s, "dev-coordinator-oj").referrals(0).referral_id() == res.referral_id());
  REQUIRE(eventually([&] { return inbox(s, "dev-coordinator-oj").entries_size() == 1; }));
  // And mvj's coordinator neither sees it nor may act on it
  CHECK(referrals(s, "dev-coordinator-mvj").referrals_size() == 0);
  CHECK(post_keyed(s, "/v1/referrals/" + res.referral_id() + "/forwarding", "dev-coordinator-mvj",
                   R"({"centreId":"rusmiddelcenter-657","note":"n"})", "k-1")
            .status == 404);
}

TEST_CASE("A coordinator forwards an unroutable referral: the centre is told exactly once",
          "[integration][unroutable]") {
  Stack s;
  start_all(s);
  auto kbh = post_offer(s, offer_json("it-fwd-1", 101, true));
  auto dup = post_offer(s, offer_json("it-fwd-2", 101, true, "020285-4321"));
  REQUIRE(eventually([&] {
    return referrals(s, "dev-coordinator-mvj", "?status=unroutable").referrals_size() == 2;
  }));
  const std::string target = "/v1/referrals/" + kbh.referral_id() + "/forwarding";
  const std::string body = R"({"centreId":"rusmiddelcenter-657","note":"Lives in Herning now"})";
  // When the coordinator forwards it to Herning's centre, and the request is retried
  auto first = post_keyed(s, target, "dev-coordinator-mvj", body, "fwd-key-1");
  INFO(first.body);
  REQUIRE(first.status == 200);
  auto again = post_keyed(s, target, "dev-coordinator-mvj", body, "fwd-key-1");
  CHECK(again.status == 200);
  CHECK(again.body == first.body);
  // Then it is in the centre's list, routed, with the note, coordinator and directory version
  const auto v = referral(s, "dev-center-657", kbh.referral_id());
  CHECK(v.status() == v1::REFERRAL_STATUS_ROUTED);
  const auto& h = v.history(v.history_size() - 1);
  CHECK(h.note() == "Lives in Herning now");
  CHECK(h.actor() == "dev-coordinator-mvj");
  CHECK(h.directory_version() == "dev-1");
  CHECK(referrals(s, "dev-center-657").referrals_size() == 1);
  // And in its inbox exactly once, as a new referral
  REQUIRE(eventually([&] { return entries_about(s, "dev-center-657", kbh.referral_id()) == 1; }));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(entries_about(s, "dev-center-657", kbh.referral_id()) == 1);
  CHECK(inbox(s, "dev-center-657").entries(0).kind() == v1::NOTIFICATION_KIND_NEW_REFERRAL);
  // And forwarding it again (another key) is a 409 naming its status
  auto twice = post_keyed(s, target, "dev-coordinator-mvj", body, "fwd-key-2");
  CHECK(twice.status == 409);
  // (routed, or delivered by now)
  CHECK(twice.body.find("\"field\":\"status\"") != std::string::npos);
  CHECK((twice.body.find("is routed") != std::string::npos ||
         twice.body.find("is delivered") != std::string::npos));
  // When the coordinator closes the other as a duplicate
  auto closed = post_keyed(s, "/v1/referrals/" + dup.referral_id() + "/closure",
                           "dev-coordinator-mvj", R"({"reason":"duplicate"})", "close-1");
  INFO(closed.body);
  REQUIRE(closed.status == 200);
  // Then it is closed with that reason, and the centre was never told of it
  const auto c = referral(s, "dev-coordinator-mvj", dup.referral_id());
  CHECK(c.status() == v1::REFERRAL_STATUS_CLOSED);
  CHECK(c.history(c.history_size() - 1).reason() == "duplicate");
  CHECK(entries_about(s, "dev-center-657", dup.referral_id()) == 0);
}
