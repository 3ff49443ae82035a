// Bad input never blocks or crashes a service, and nothing is dropped
// silently (issue 5, "Bad input"; docs/design.md "Kafka", "Interfaces").
//
// Every consumer (router on offers and deliveries, notifier on
// notifications, evaluation on offers, referrals and deliveries) is given
// undecodable bytes, valid protobuf of the wrong type, events missing
// required fields and events with unknown enum values: each lands in that
// consumer's <topic>.dlq.<service> with a reason (never personal data) and
// its origin, and a valid event after them on the same partition is applied.
// `henvisctl dlq list` shows the entries without payloads; `henvisctl dlq
// replay` re-drives one to its origin under a new ce_id, once.
// The HTTP APIs answer malformed JSON, wrong types, oversized bodies, deep
// nesting and unknown fields with problem+json and keep answering /healthz.

#include <google/protobuf/util/json_util.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>

#include "harness.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {

constexpr const char* CPR = "0101901234";
constexpr std::int64_t T0 = 1714557600;  // 2024-05-01T10:00:00Z

struct Sent {
  std::string topic, key, type, payload, id;
};

void produce(Stack& s, const std::vector<Sent>& events) {
  kafka::Producer p(s.bootstrap(), [](std::int64_t, bool ok, const std::string&) { REQUIRE(ok); });
  std::int64_t n = 0;
  for (const auto& e : events) {
    kafka::HeaderList h{{"ce_specversion", "1.0"}, {"ce_source", "/test/bad-input"}};
    if (!e.id.empty()) h.emplace_back("ce_id", e.id);
    if (!e.type.empty()) h.emplace_back("ce_type", e.type);
    p.produce(e.topic, e.key, e.payload, h, ++n);
  }
  REQUIRE(p.flush(10000));
}

v1::OfferRecorded yes_offer(const std::string& id, int kommunekode = 657) {
  v1::OfferRecorded o;
  o.set_offer_id("o-" + id);
  o.set_referral_id("r-" + id);
  o.set_journal_number("4100-84123-00042-24");
  o.set_offence(v1::OFFENCE_DRUNK);
  o.mutable_charged_at()->set_seconds(T0);
  o.set_officer_id("officer-17");
  o.set_district_id("mvj");
  o.set_answer(v1::ANSWER_YES);
  o.set_kommunekode(kommunekode);
  o.mutable_person()->set_cpr(CPR);
  o.mutable_person()->set_name("Jens Testesen");
  o.mutable_person()->set_phone("+4523456789");
  o.mutable_consent()->set_text_version("consent-v1");
  o.mutable_consent()->mutable_given_at()->set_seconds(T0 + 60);
  o.set_covered(kommunekode == 657);
  return o;
}

v1::DeliveryEvent delivery(const std::string& referral, int status,
                           const std::string& recipient = "rusmiddelcenter-657") {
  v1::DeliveryEvent d;
  d.set_notification_id("n-" + referral);
  d.set_recipient_id(recipient);
  d.set_referral_id(referral);
  d.set_status(static_cast<v1::DeliveryStatus>(status));
  d.set_channel("inbox");
  return d;
}

v1::NotificationRequested notification(const std::string& id, const std::string& recipient,
                                       int kind) {
  v1::NotificationRequested n;
  n.set_notification_id(id);
  n.set_recipient_id(recipient);
  n.set_kind(static_cast<v1::NotificationKind>(kind));
  auto* c = n.mutable_referral();
  c->set_referral_id("r-" + id);
  c->set_offence(v1::OFFENCE_DRUNK);
  c->set_kommunekode(661);
  c->mutable_person()->set_cpr(CPR);
  c->mutable_person()->set_name("Jens Testesen");
  c->mutable_person()->set_phone("+4523456789");
  return n;
}

const std::string JUNK("\xff\xfe\xfd not protobuf \x01\x02", 20);

// Reads `topic` from the beginning until `n` entries arrived (or 60 s).
std::vector<kafka::Message> read_dlq(Stack& s, const std::string& topic, std::size_t n) {
  kafka::Consumer c(s.bootstrap(), "it-bad-input-" + topic);
  c.assign({topic}, {}, 60000);
  std::vector<kafka::Message> out;
  eventually([&] {
    for (auto& m : c.poll_batch(100, 200)) out.push_back(std::move(m));
    return out.size() >= n;
  });
  return out;
}

// Checks every entry of a DLQ and returns the reasons by original ce_id.
std::map<std::string, std::string> check_dlq(const std::vector<kafka::Message>& dlq,
                                             const std::string& origin,
                                             const std::string& service) {
  std::map<std::string, std::string> by_id;
  for (const auto& m : dlq) {
    INFO("dlq entry " << m.partition << "/" << m.offset << " of " << origin);
    CHECK(m.header("dlq_origin_topic") == origin);
    CHECK(m.header("dlq_service") == service);
    CHECK(m.header("dlq_origin_partition").has_value());
    CHECK(m.header("dlq_origin_offset").has_value());
    CHECK(m.header("orig_ce_source") == std::string("/test/bad-input"));
    const std::string reason = m.header("dlq_reason").value_or("");
    CHECK_FALSE(reason.empty());
    CHECK(reason.find(CPR) == std::string::npos);
    CHECK(reason.find("23456789") == std::string::npos);
    by_id[m.header("orig_ce_id").value_or("")] = reason;
  }
  return by_id;
}

std::string run_ctl(Stack& s, const std::string& args, int* rc = nullptr) {
  const std::string cmd = std::string(HENVIS_BUILD_DIR) + "/tools/henvisctl/henvisctl " + args +
                          " --bootstrap " + s.bootstrap() + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf{};
  std::size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), got);
  const int status = ::pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::int64_t scalar(const std::string& db_path, const std::string& sql,
                    const std::string& arg = {}) {
  sqlite::Db db(db_path);
  sqlite::Stmt st(db, sql);
  if (!arg.empty()) st.bind(1, arg);
  REQUIRE(st.step());
  return st.i64(0);
}

std::int64_t router_status(Stack& s, const std::string& referral) {
  sqlite::Db db(s.database("router"));
  sqlite::Stmt st(db, "SELECT status FROM referrals WHERE referral_id = ?");
  st.bind(1, referral);
  return st.step() ? st.i64(0) : -1;
}

}  // namespace

TEST_CASE("Bad events land in each consumer's DLQ with reason and origin, the partition moves on",
          "[integration][robustness]") {
  Stack s;
  s.start_broker();
  s.start("router");
  s.start("evaluation");

  const std::string offers = "henvis.offers.v1", deliveries = "henvis.deliveries.v1",
                    referrals = "henvis.referrals.v1", notifications = "henvis.notifications.v1";
  // Given bad offers and a withdrawal that comes before its offer, all on one
  // key (one partition), followed by valid offers on the same key
  auto missing = yes_offer("missing");
  missing.clear_referral_id();
  auto unknown_offence = yes_offer("unknown-offence");
  unknown_offence.set_offence(static_cast<v1::Offence>(99));
  auto unknown_answer = yes_offer("unknown-answer");
  unknown_answer.set_answer(static_cast<v1::Answer>(7));
  v1::OfferWithdrawn early;
  early.set_offer_id("o-late");
  early.set_referral_id("r-late");
  early.set_withdrawn_by(v1::ROLE_OFFICER);
  const std::string K = "one-partition";
  produce(
      s,
      {
          {offers, K, "henvis.offer.recorded", JUNK, "bad-offer-junk"},
          {offers, K, "henvis.offer.recorded",
           notification("x", "rusmiddelcenter-657", 1).SerializeAsString(), "bad-offer-wrong-type"},
          {offers, K, "henvis.offer.recorded", missing.SerializeAsString(), "bad-offer-missing"},
          {offers, K, "henvis.offer.recorded", unknown_offence.SerializeAsString(),
           "bad-offer-unknown-offence"},
          {offers, K, "henvis.offer.recorded", unknown_answer.SerializeAsString(),
           "bad-offer-unknown-answer"},
          {offers, K, "henvis.offer.bogus", yes_offer("bogus").SerializeAsString(),
           "bad-offer-unknown-type"},
          {offers, K, "henvis.offer.recorded", yes_offer("no-id").SerializeAsString(), ""},
          {offers, K, "henvis.offer.withdrawn", early.SerializeAsString(), "early-withdrawal"},
          {offers, K, "henvis.offer.recorded", yes_offer("good").SerializeAsString(), "good-offer"},
          {offers, K, "henvis.offer.recorded", yes_offer("late").SerializeAsString(), "late-offer"},
      });
  // Then the valid offers after them are routed (router) and counted (evaluation)
  REQUIRE(eventually([&] { return router_status(s, "r-good") == v1::REFERRAL_STATUS_ROUTED; }));
  REQUIRE(eventually([&] { return router_status(s, "r-late") == v1::REFERRAL_STATUS_ROUTED; }));
  REQUIRE(eventually([&] {
    return scalar(s.database("evaluation"),
                  "SELECT count(*) FROM facts WHERE offered = 1 AND key IN ('r-good','r-late')") ==
           2;
  }));

  // And bad deliveries and status events, then valid ones, on one key each
  produce(s, {
                 {deliveries, K, "henvis.delivery.delivered", JUNK, "bad-delivery-junk"},
                 {deliveries, K, "henvis.delivery.delivered", yes_offer("w").SerializeAsString(),
                  "bad-delivery-wrong-type"},
                 {deliveries, K, "henvis.delivery.delivered",
                  delivery("r-unknown", v1::DELIVERY_STATUS_DELIVERED).SerializeAsString(),
                  "bad-delivery-unknown-referral"},
                 {deliveries, K, "henvis.delivery.delivered",
                  delivery("r-good", 42).SerializeAsString(), "bad-delivery-unknown-status"},
                 {deliveries, K, "henvis.delivery.delivered",
                  delivery("r-good", v1::DELIVERY_STATUS_DELIVERED).SerializeAsString(),
                  "good-delivery"},
                 {referrals, K, "henvis.referral.routed", JUNK, "bad-status-junk"},
                 {referrals, K, "henvis.referral.routed",
                  v1::ReferralStatusChanged().SerializeAsString(), "bad-status-missing"},
                 {referrals, K, "henvis.referral.routed",
                  [] {
                    v1::ReferralStatusChanged c;
                    c.set_referral_id("r-good");
                    c.set_status(static_cast<v1::ReferralStatus>(77));
                    return c.SerializeAsString();
                  }(),
                  "bad-status-unknown-status"},
                 {referrals, K, "henvis.referral.conversation_held",
                  [] {
                    v1::ReferralStatusChanged c;
                    c.set_referral_id("r-good");
                    c.set_offer_id("o-good");
                    c.set_status(v1::REFERRAL_STATUS_CONVERSATION_HELD);
                    c.set_centre_id("rusmiddelcenter-657");
                    c.mutable_occurred_at()->set_seconds(T0 + 86400);
                    return c.SerializeAsString();
                  }(),
                  "good-status"},
             });
  REQUIRE(eventually([&] { return router_status(s, "r-good") == v1::REFERRAL_STATUS_DELIVERED; }));
  REQUIRE(eventually([&] {
    return scalar(s.database("evaluation"),
                  "SELECT count(*) FROM facts WHERE key = 'r-good' AND first_contact_day IS NOT "
                  "NULL") == 1;
  }));
  // (The deliveries topic is read apart from the referrals topic: its row may
  // come after the fact's conversation.)
  CHECK(eventually([&] {
    return scalar(s.database("evaluation"),
                  "SELECT count(*) FROM deliveries WHERE referral_id = 'r-good'") == 1;
  }));

  // And each bad event is in the consumer's DLQ, with a reason and its origin
  {
    auto by_id = check_dlq(read_dlq(s, offers + ".dlq.router", 8), offers, "router");
    CHECK(by_id.size() == 8);
    CHECK(by_id["bad-offer-junk"] == "payload is not a valid henvis.v1.OfferRecorded");
    CHECK(by_id.count("bad-offer-wrong-type"));
    CHECK(by_id["bad-offer-missing"] == "missing field referral_id");
    CHECK(by_id["bad-offer-unknown-offence"] == "field offence is not a known offence");
    CHECK(by_id["bad-offer-unknown-answer"] == "field answer is not ANSWER_YES or ANSWER_NO");
    CHECK(by_id["bad-offer-unknown-type"] == "unexpected ce_type for offers topic");
    CHECK(by_id[""] == "missing header ce_id");
    CHECK(by_id["early-withdrawal"] == "withdrawal for an unknown referral_id");
  }
  {
    auto by_id = check_dlq(read_dlq(s, deliveries + ".dlq.router", 4), deliveries, "router");
    CHECK(by_id.size() == 4);
    CHECK(by_id["bad-delivery-unknown-referral"] == "delivery for an unknown referral_id");
    CHECK(by_id["bad-delivery-unknown-status"] == "field status is not a known delivery status");
  }
  {
    // The evaluation refuses the same bad offers (not the early withdrawal: it
    // waits for its offer) ...
    auto by_id = check_dlq(read_dlq(s, offers + ".dlq.evaluation", 7), offers, "evaluation");
    CHECK(by_id.size() == 7);
    CHECK(by_id.count("bad-offer-junk"));
    CHECK(by_id["bad-offer-missing"] == "missing field referral_id");
    CHECK(by_id[""] == "missing header ce_id");
    CHECK(by_id["bad-offer-unknown-offence"] == "field offence is not a known offence");
    CHECK(by_id["bad-offer-unknown-answer"] == "field answer is not ANSWER_YES or ANSWER_NO");
    CHECK(by_id.count("early-withdrawal") == 0);
    // ... and its bad referral and delivery events
    auto st = check_dlq(read_dlq(s, referrals + ".dlq.evaluation", 3), referrals, "evaluation");
    CHECK(st.size() == 3);
    CHECK(st["bad-status-unknown-status"] == "field status is not a referral status");
    // (a delivery about an unknown referral is kept by the evaluation: order-independent)
    auto dl = check_dlq(read_dlq(s, deliveries + ".dlq.evaluation", 2), deliveries, "evaluation");
    CHECK(dl.count("bad-delivery-junk"));
    CHECK(dl["bad-delivery-unknown-status"] == "field status is not a known delivery status");
  }

  // The notifier, likewise
  s.start("notifier");
  produce(s,
          {
              {notifications, K, "henvis.notification.requested", JUNK, "bad-n-junk"},
              {notifications, K, "henvis.notification.requested",
               delivery("r-x", 1).SerializeAsString(), "bad-n-wrong-type"},
              {notifications, K, "henvis.notification.requested",
               notification("n-missing", "", 1).SerializeAsString(), "bad-n-missing"},
              {notifications, K, "henvis.notification.requested",
               notification("n-kind", "rusmiddelcenter-661", 77).SerializeAsString(), "bad-n-kind"},
              {notifications, K, "henvis.notification.requested",
               notification("n-good", "rusmiddelcenter-661", 1).SerializeAsString(), "good-n"},
          });
  REQUIRE(eventually([&] {
    return scalar(s.database("notifier"),
                  "SELECT count(*) FROM inbox WHERE notification_id = 'n-good'") == 1;
  }));
  {
    auto by_id =
        check_dlq(read_dlq(s, notifications + ".dlq.notifier", 4), notifications, "notifier");
    CHECK(by_id.size() == 4);
    CHECK(by_id["bad-n-junk"] == "payload is not a valid henvis.v1.NotificationRequested");
    CHECK(by_id["bad-n-missing"] == "missing field recipient_id");
    CHECK(by_id["bad-n-kind"] == "field kind is not a known kind");
  }

  // henvisctl dlq list shows the entries and never a payload
  {
    int rc = -1;
    const std::string out = run_ctl(s, "dlq list --topic henvis.offers.v1.dlq.router", &rc);
    INFO(out);
    CHECK(rc == 0);
    CHECK(out.find("8 entries in henvis.offers.v1.dlq.router") != std::string::npos);
    CHECK(out.find("withdrawal for an unknown referral_id") != std::string::npos);
    CHECK(out.find("henvis.offers.v1/") != std::string::npos);
    CHECK(out.find(CPR) == std::string::npos);
    CHECK(out.find("Testesen") == std::string::npos);
    const std::string json = run_ctl(s, "--json dlq list --topic henvis.offers.v1.dlq.router", &rc);
    CHECK(rc == 0);
    CHECK(json.find("\"originTopic\":\"henvis.offers.v1\"") != std::string::npos);
    CHECK(json.find(CPR) == std::string::npos);
  }

  // henvisctl dlq replay re-drives the early withdrawal, now that its offer is
  // in: the referral becomes withdrawn, under a new ce_id
  std::string offset;
  {
    const std::string json = run_ctl(s, "--json dlq list --topic henvis.offers.v1.dlq.router");
    std::size_t line_start = 0;
    for (std::size_t nl; (nl = json.find('\n', line_start)) != std::string::npos;
         line_start = nl + 1) {
      const std::string line = json.substr(line_start, nl - line_start);
      if (line.find("withdrawal for an unknown referral_id") == std::string::npos) continue;
      auto p = line.find("\"offset\":");
      offset = line.substr(p + 9, line.find(',', p) - p - 9);
    }
    REQUIRE_FALSE(offset.empty());
  }
  int rc = -1;
  std::string out =
      run_ctl(s, "dlq replay --topic henvis.offers.v1.dlq.router --offset " + offset, &rc);
  INFO(out);
  REQUIRE(rc == 0);
  REQUIRE(eventually([&] { return router_status(s, "r-late") == v1::REFERRAL_STATUS_WITHDRAWN; }));
  CHECK(scalar(
            s.database("router"),
            "SELECT count(*) FROM processed_events WHERE ce_id LIKE 'early-withdrawal.replay.%'") ==
        1);
  // Replaying the same entry again is de-duplicated: applied once, no new DLQ entry
  out = run_ctl(s, "dlq replay --topic henvis.offers.v1.dlq.router --offset " + offset, &rc);
  REQUIRE(rc == 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(scalar(
            s.database("router"),
            "SELECT count(*) FROM processed_events WHERE ce_id LIKE 'early-withdrawal.replay.%'") ==
        1);
  out = run_ctl(s, "dlq list --topic henvis.offers.v1.dlq.router", &rc);
  CHECK(out.find("8 entries") != std::string::npos);
  // And the replayed entry is marked as replayed, the others are not
  CHECK(out.find(", 1 replayed") != std::string::npos);
  const std::string marked = run_ctl(s, "--json dlq list --topic henvis.offers.v1.dlq.router");
  CHECK(marked.find("\"offset\":" + offset + ",") != std::string::npos);
  std::size_t replayed_lines = 0;
  for (std::size_t at = 0; (at = marked.find("\"replayed\":true", at)) != std::string::npos; ++at)
    ++replayed_lines;
  CHECK(replayed_lines == 1);
  // Usage errors
  run_ctl(s, "dlq replay --topic henvis.offers.v1.dlq.router", &rc);
  CHECK(rc == 2);
}

TEST_CASE("henvisctl dlq list names every DLQ and refuses, never creates, an unknown topic",
          "[integration][robustness][henvisctl]") {
  // Given a stack whose router dead-lettered one event
  Stack s;
  s.start_broker();
  s.start("router");
  henvis::kafka::Producer producer(s.bootstrap(), [](std::int64_t, bool, const std::string&) {});
  auto junk = henvis::kafka::make_event("/test/dlq-list", "henvis.offer.recorded", "k", "junk");
  producer.produce("henvis.offers.v1", junk.key, junk.payload, junk.headers(), 1);
  REQUIRE(producer.flush(10000));
  int rc = -1;
  REQUIRE(eventually([&] {
    return run_ctl(s, "dlq list --topic henvis.offers.v1.dlq.router", &rc).find("1 entry") !=
           std::string::npos;
  }));
  // When every DLQ is listed / Then the router's shows its one entry, none replayed
  std::string all = run_ctl(s, "--json dlq list", &rc);
  INFO(all);
  CHECK(rc == 0);
  CHECK(all.find("{\"topic\":\"henvis.offers.v1.dlq.router\",\"entries\":1,\"replayed\":0}") !=
        std::string::npos);
  // When a misspelled topic is listed / Then it is refused with the likely one named
  const std::string typo = run_ctl(s, "dlq list --topic henvis.offers.v1.dlq.ruoter", &rc);
  INFO(typo);
  CHECK(rc == 2);
  CHECK(typo.find("no dead-letter topic henvis.offers.v1.dlq.ruoter") != std::string::npos);
  CHECK(typo.find("did you mean henvis.offers.v1.dlq.router?") != std::string::npos);
  // And the misspelled topic was not created by asking
  all = run_ctl(s, "dlq list", &rc);
  CHECK(all.find("ruoter") == std::string::npos);
  CHECK(henvis::kafka::list_topics(s.bootstrap(), 10000).size() > 0);
  for (const auto& t : henvis::kafka::list_topics(s.bootstrap(), 10000))
    CHECK(t.name != "henvis.offers.v1.dlq.ruoter");
}

TEST_CASE("Bad HTTP bodies get problem+json and the services keep answering",
          "[integration][robustness]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  const int intake = s.port("intake"), router = s.port("router");
  const std::string good = offer_json("bad-http-good", 657, true);
  struct Case {
    std::string name, body;
    int status;
    std::string field;  // expected in the problem's errors, if any
  };
  std::string nested(10000, '[');
  nested += std::string(10000, ']');
  std::string deep_object;
  for (int i = 0; i < 5000; ++i) deep_object += "{\"person\":";  // 55 KB: under the limit
  const std::vector<Case> cases{
      {"malformed JSON", "{\"offerId\": \"x\",", 400, "body"},
      {"not JSON at all", "\x01\x02\xff", 400, "body"},
      {"wrong type", "{\"offerId\": 17, \"kommunekode\": \"Herning\"}", 400, ""},
      {"wrong type in an object", "{\"person\": [1,2,3]}", 400, ""},
      {"unknown field", "{\"offerId\": \"x\", \"favouriteColour\": \"red\"}", 400,
       "favouriteColour"},
      {"unknown field holding a CPR", "{\"x0101901234\": 1}", 400, "body"},
      // (found by fuzzing: protobuf's "(path) ..." message form, imitated by a key)
      {"unknown field imitating a path", "{\"(0101901234): Cannot\": 1}", 400, "body"},
      {"deeply nested arrays", nested, 400, "body"},
      {"deeply nested objects", deep_object, 400, ""},
      {"unknown enum number",
       good.substr(0, good.find("\"OFFENCE_DRUNK\"")) + "7" +
           good.substr(good.find("\"OFFENCE_DRUNK\"") + 15),
       400, "offence"},
      {"oversized", "{\"offerId\": \"" + std::string(70 * 1024, 'a') + "\"}", 413, ""},
      // København (101) or no municipality is accepted (unroutable); a code no
      // Danish municipality has is not
      {"kommunekode no Danish municipality has", offer_json("bad-kode", 99999, true), 400,
       "kommunekode"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = http("POST", intake, "/v1/offers", "dev-officer-mvj", c.body);
    INFO(r.body);
    CHECK(r.status == c.status);
    CHECK(r.content_type.rfind("application/problem+json", 0) == 0);
    CHECK(r.body.find("0101901234") == std::string::npos);
    if (!c.field.empty()) CHECK(r.body.find("\"field\":\"" + c.field + "\"") != std::string::npos);
    REQUIRE(http("GET", intake, "/healthz").status == 200);
  }
  // The router's outcome endpoint, likewise (its body is parsed before the referral is looked up)
  for (const auto& body :
       {std::string("{\"outcome\":"), nested, std::string("{\"outcome\":\"REACHED\"}"),
        std::string("{\"outcome\":99}"), std::string("{\"note\":\"x\",\"extra\":1}"),
        std::string("{\"outcome\":\"REFERRAL_STATUS_REACHED\",\"at\":\"9999-12-31T00:00:00Z\"}")}) {
    auto r = http("POST", router, "/v1/referrals/r-none/outcomes", "dev-center-657", body);
    INFO(body.substr(0, 80) << " -> " << r.status << " " << r.body);
    CHECK((r.status == 400 || r.status == 404));
    CHECK(r.content_type.rfind("application/problem+json", 0) == 0);
    REQUIRE(http("GET", router, "/healthz").status == 200);
  }
  // The coordinator's forwarding and closure name the bad field
  const std::vector<std::pair<std::string, std::string>> coordinator_cases{
      {"forwarding", "{\"centreId\":"},
      {"forwarding", "{\"centreId\":\"rusmiddelcenter-657\"}"},
      {"forwarding", "{\"centreId\":\"nowhere\",\"note\":\"n\"}"},
      {"forwarding",
       "{\"centreId\":\"rusmiddelcenter-657\",\"note\":\"" + std::string(501, 'n') + "\"}"},
      {"closure", "{\"reason\":\"bored\"}"},
      {"closure", "{\"reason\":7}"}};
  for (const auto& [action, body] : coordinator_cases) {
    auto r = http("POST", router, "/v1/referrals/r-none/" + action, "dev-coordinator-mvj", body,
                  {{"Idempotency-Key", "k-1"}});
    INFO(action << " " << body.substr(0, 80) << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK(r.content_type.rfind("application/problem+json", 0) == 0);
  }
  // And the list's paging parameters
  for (const char* q : {"?limit=0", "?limit=abc", "?limit=501", "?cursor=zz", "?cursor=00"}) {
    auto r = http("GET", router, std::string("/v1/referrals") + q, "dev-coordinator-mvj");
    INFO(q << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK((r.body.find("\"field\":\"limit\"") != std::string::npos ||
           r.body.find("\"field\":\"cursor\"") != std::string::npos));
  }
  auto big = http("POST", router, "/v1/referrals/r-none/outcomes", "dev-center-657",
                  "{\"note\":\"" + std::string(100 * 1024, 'n') + "\"}");
  CHECK(big.status == 413);
  // And a valid offer is still accepted afterwards
  auto ok = http("POST", intake, "/v1/offers", "dev-officer-mvj", good);
  INFO(ok.body);
  CHECK(ok.status == 201);
  CHECK(http("GET", router, "/healthz").status == 200);
}
