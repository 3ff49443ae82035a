// The referral lifecycle through the real stack: outcomes over HTTP and a
// consent withdrawal that erases the contact data from every database.

#include <google/protobuf/util/json_util.h>

#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "harness.hpp"
#include "henvis/v1/api.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {
v1::ReferralView referral(Stack& s, const std::string& id) {
  auto r = http("GET", s.port("router"), "/v1/referrals/" + id, "dev-coordinator-mvj");
  REQUIRE(r.status == 200);
  return parse<v1::ReferralView>(r.body);
}

HttpResult outcome(Stack& s, const std::string& id, const std::string& outcome,
                   const std::string& token = "dev-center-657") {
  return http("POST", s.port("router"), "/v1/referrals/" + id + "/outcomes", token,
              "{\"outcome\":\"REFERRAL_STATUS_" + outcome + "\"}");
}
}  // namespace

TEST_CASE("Outcomes through the router: a legal path, an illegal step, another centre",
          "[integration]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  s.start("notifier");
  auto res = parse<v1::OfferResponse>(http("POST", s.port("intake"), "/v1/offers",
                                           "dev-officer-mvj", offer_json("it-life-1", 657, true))
                                          .body);
  const std::string id = res.referral_id();
  REQUIRE(eventually([&] {
    return http("GET", s.port("router"), "/v1/referrals/" + id, "dev-center-657").status == 200;
  }));
  CHECK(outcome(s, id, "CONTACT_ATTEMPTED").status == 200);
  CHECK(outcome(s, id, "CONVERSATION_HELD").status == 200);
  auto illegal = outcome(s, id, "REACHED");
  CHECK(illegal.status == 409);
  CHECK(illegal.content_type == "application/problem+json");
  CHECK(illegal.body.find("further_sessions_accepted") != std::string::npos);
  CHECK(outcome(s, id, "FURTHER_SESSIONS_ACCEPTED", "dev-center-661").status == 404);
  CHECK(outcome(s, id, "FURTHER_SESSIONS_ACCEPTED").status == 200);
  auto v = referral(s, id);
  CHECK(v.status() == v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED);
  CHECK(v.contact_attempts() == 1);
}

TEST_CASE("A consent withdrawal erases the contact data from every database", "[integration]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  s.start("notifier");
  s.start("evaluation");
  // Given an accepted offer delivered to Herning's centre
  const std::string cpr = "150372-1357", name = "Villads Tilbagetrækker", phone = "+45 71 72 73 74";
  auto res =
      parse<v1::OfferResponse>(http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                                    offer_json("it-withdraw-1", 657, true, cpr, name, phone))
                                   .body);
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 1; }));
  // When another centre tries to withdraw it, it does not exist for them
  CHECK(http("POST", s.port("intake"), "/v1/offers/it-withdraw-1/withdrawal", "dev-center-661")
            .status == 404);
  // And when the officer records the withdrawal (twice: the same answer)
  auto w1 =
      http("POST", s.port("intake"), "/v1/offers/it-withdraw-1/withdrawal", "dev-officer-mvj");
  auto w2 =
      http("POST", s.port("intake"), "/v1/offers/it-withdraw-1/withdrawal", "dev-officer-mvj");
  REQUIRE(w1.status == 200);
  CHECK(w2.body == w1.body);
  // Then the referral is withdrawn and the centre's inbox shows the withdrawal
  REQUIRE(eventually(
      [&] { return referral(s, res.referral_id()).status() == v1::REFERRAL_STATUS_WITHDRAWN; }));
  REQUIRE(eventually([&] {
    const v1::Inbox in = inbox(s, "dev-center-657");
    for (const auto& e : in.entries())
      if (e.kind() == v1::NOTIFICATION_KIND_WITHDRAWN) return true;
    return false;
  }));
  // And no inbox entry shows the person any more
  const v1::Inbox after = inbox(s, "dev-center-657");
  CHECK(after.entries_size() == 2);
  for (const auto& e : after.entries()) CHECK_FALSE(e.referral().has_person());
  CHECK_FALSE(referral(s, res.referral_id()).has_person());
  // And, read straight from the SQLite files, the data is in no database
  // (once the evaluation has read the offer, status and delivery events too)
  REQUIRE(eventually([&] { return s.metric("evaluation", "henvis_consumer_applied_total") >= 6; }));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (const std::string svc : {"intake", "router", "notifier", "evaluation"})
    CHECK(s.stop(svc) == 0);
  const std::string bytes = read_all_databases(s.dir());
  REQUIRE(std::filesystem::exists(s.database("evaluation")));
  CHECK(bytes.find("1503721357") == std::string::npos);
  CHECK(bytes.find("150372-1357") == std::string::npos);
  CHECK(bytes.find(name) == std::string::npos);
  CHECK(bytes.find("71727374") == std::string::npos);
}

TEST_CASE("A withdrawal erases the person from every file of the running services, WAL included",
          "[integration][erasure]") {
  Stack s;
  s.start_broker();
  for (const std::string svc : {"intake", "router", "notifier", "evaluation"}) s.start(svc);
  // Given an accepted offer delivered to Herning's centre, and a second person as a marker
  const std::string cpr = "180473-2468", name = "Rigmor Glemmesen", phone = "+45 81 82 83 84";
  auto res =
      parse<v1::OfferResponse>(http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                                    offer_json("it-erase-live-1", 657, true, cpr, name, phone))
                                   .body);
  http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
       offer_json("it-erase-live-marker", 657, true));
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 2; }));
  // When the officer withdraws the consent, and every service has applied it
  REQUIRE(http("POST", s.port("intake"), "/v1/offers/it-erase-live-1/withdrawal", "dev-officer-mvj")
              .status == 200);
  REQUIRE(eventually(
      [&] { return referral(s, res.referral_id()).status() == v1::REFERRAL_STATUS_WITHDRAWN; }));
  const auto holds_person = [&](const std::string& bytes) {
    return bytes.find("1804732468") != std::string::npos ||
           bytes.find("180473-2468") != std::string::npos ||
           bytes.find(name) != std::string::npos || bytes.find("81828384") != std::string::npos;
  };
  // Then, with the services still running, within seconds no file (db, -wal, -shm) holds the person
  std::string bytes;
  CHECK(eventually(
      [&] {
        bytes = read_all_databases(s.dir());
        return !holds_person(bytes);
      },
      std::chrono::seconds(15)));
  // And the scan is not blind: the marker's data is there
  CHECK(bytes.find("Jens Testesen") != std::string::npos);
  // And after a SIGKILL of every service (no clean close to checkpoint anything) it stays gone
  for (const std::string svc : {"intake", "router", "notifier", "evaluation"}) s.kill(svc, SIGKILL);
  CHECK_FALSE(holds_person(read_all_databases(s.dir())));
}
