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

namespace {
// A person with values no other test uses, and the forms they may take in a
// file: the CPR with and without its dash, the phone's digits (intake keeps
// it normalised) and as typed, the name and the e-mail in UTF-8.
struct Person {
  std::string offer_id, cpr, name, phone, email;
  std::vector<std::string> traces() const {
    std::string cpr_digits = cpr, phone_digits;
    cpr_digits.erase(6, 1);
    for (char c : phone.substr(3))
      if (c != ' ') phone_digits += c;
    return {cpr, cpr_digits, name, phone, phone_digits, email};
  }
};

std::string offer_with_email(const Person& p, int kommunekode) {
  std::string j = offer_json(p.offer_id, kommunekode, true, p.cpr, p.name, p.phone);
  const std::string phone = "\"phone\":\"" + p.phone + "\"";
  j.replace(j.find(phone), phone.size(), phone + ",\"email\":\"" + p.email + "\"");
  return j;
}

// Which of `p`'s values each file under `dir` holds (every file: databases,
// WAL, -shm, logs), as "file: value"; empty when none does. The broker's
// log is left out: Kafka's copies are crypto-shredded (issue 12 item 1).
std::vector<std::string> files_holding(const std::filesystem::path& dir, const Person& p) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "devbroker.log") continue;
    const std::string bytes = slurp(e.path());
    for (const auto& t : p.traces())
      if (bytes.find(t) != std::string::npos)
        found.push_back(e.path().filename().string() + ": " + t);
  }
  return found;
}

// The files of `service` under `dir` (its database, WAL and -shm) that
// hold `bytes`.
std::vector<std::string> service_files_holding(const std::filesystem::path& dir,
                                               const std::string& service,
                                               const std::string& bytes) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind(service + ".db", 0) == 0 &&
        slurp(e.path()).find(bytes) != std::string::npos)
      found.push_back(name);
  }
  return found;
}

constexpr const char* ALL_SERVICES[] = {"intake", "router", "notifier", "evaluation", "socialsog"};

bool in_inbox(Stack& s, const std::string& token, const std::string& referral_id) {
  const v1::Inbox in = inbox(s, token);
  for (const auto& e : in.entries())
    if (e.referral().referral_id() == referral_id) return true;
  return false;
}
}  // namespace

TEST_CASE(
    "Within seconds of a withdrawal no file of the running services holds the person, also "
    "when it follows registration at once, after a SIGKILL and after a restart",
    "[integration][erasure]") {
  Stack s;
  s.start_broker();
  for (const std::string svc : ALL_SERVICES) s.start(svc);
  const Person routed{"it-erase-run-a", "120582-4431", "Aksel Slettemark", "+45 31 41 59 26",
                      "aksel.slettemark@example.dk"};
  const Person hasty{"it-erase-run-b", "230691-1527", "Birthe Hurtigfortryd", "+45 27 18 28 18",
                     "birthe.hurtigfortryd@example.dk"};
  const Person unroutable{"it-erase-run-d", "050378-2613", "Dorthe Udenforby", "+45 96 18 03 39",
                          "dorthe.udenforby@example.dk"};
  const Person control{"it-erase-run-c", "170864-3319", "Conrad Kontrolsen", "+45 94 14 21 35",
                       "conrad.kontrolsen@example.dk"};
  const auto post_offer = [&](const Person& p, int kommunekode) {
    auto r = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                  offer_with_email(p, kommunekode));
    REQUIRE(r.status == 201);
    return parse<v1::OfferResponse>(r.body).referral_id();
  };
  const auto withdraw = [&](const Person& p) {
    REQUIRE(http("POST", s.port("intake"), "/v1/offers/" + p.offer_id + "/withdrawal",
                 "dev-officer-mvj")
                .status == 200);
  };
  // Given a referral delivered to Herning's centre, an unroutable one in the
  // coordinator's inbox, and a control person nobody withdraws
  const std::string a = post_offer(routed, 657), d = post_offer(unroutable, 751);
  const std::string c = post_offer(control, 657);
  REQUIRE(eventually(
      [&] { return in_inbox(s, "dev-center-657", a) && in_inbox(s, "dev-center-657", c); }));
  REQUIRE(eventually([&] { return in_inbox(s, "dev-coordinator-mvj", d); }));
  // When those two are withdrawn, and a third person withdraws at once after registering
  const std::string b = post_offer(hasty, 657);
  withdraw(hasty);
  withdraw(routed);
  withdraw(unroutable);
  for (const auto& id : {a, d})
    REQUIRE(eventually([&] { return referral(s, id).status() == v1::REFERRAL_STATUS_WITHDRAWN; }));
  // The hasty one is withdrawn in the router, or, if its data key was already
  // destroyed when the router read the offer, never recorded (shredded,
  // docs/decisions.md 22)
  REQUIRE(eventually([&] {
    const auto r = http("GET", s.port("router"), "/v1/referrals/" + b, "dev-coordinator-mvj");
    if (r.status == 404) return s.metric("router", "henvis_router_shredded_events_total") >= 1;
    return r.status == 200 &&
           parse<v1::ReferralView>(r.body).status() == v1::REFERRAL_STATUS_WITHDRAWN;
  }));
  // Then, the services still running, within 10 s no file holds any of them
  std::vector<std::string> left;
  const auto erased = [&] {
    left.clear();
    for (const Person* p : {&routed, &hasty, &unroutable})
      for (auto& f : files_holding(s.dir(), *p)) left.push_back(std::move(f));
    return left.empty();
  };
  const auto report = [&](bool gone) {
    INFO("values left: " << Catch::Detail::stringify(left));
    CHECK(gone);
  };
  report(eventually(erased, std::chrono::seconds(10)));
  // And the search is not blind: the control person is found
  CHECK(files_holding(s.dir(), control).size() >= 3);
  // And after a SIGKILL of every service (no clean close) nothing comes back
  for (const std::string svc : ALL_SERVICES) s.kill(svc, SIGKILL);
  report(erased());
  // Nor after a restart (the WAL recovered, the outbox relayed again)
  for (const std::string svc : ALL_SERVICES) s.start(svc);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  report(erased());
  CHECK(files_holding(s.dir(), control).size() >= 3);
}

TEST_CASE(
    "Retention: a closed referral's contact data leaves every file of the running services once "
    "its period has passed, an open one's stays",
    "[integration][retention]") {
  // Given a retention of 2 s for closed referrals and acknowledged inbox rows, checked every second
  Stack s({{"router", "router { check_interval_seconds: 1 closed_retention { seconds: 2 } }"},
           {"notifier",
            "notifier { retention_check_seconds: 1 acknowledged_retention { seconds: 2 } }"}});
  s.start_broker();
  for (const std::string svc : {"intake", "router", "notifier", "evaluation"}) s.start(svc);
  const Person closed{"it-retain-closed", "110479-2213", "Karen Afsluttet", "+45 61 62 63 64",
                      "karen.afsluttet@example.dk"};
  const Person open{"it-retain-open", "220588-3324", "Ole Igangværende", "+45 51 52 53 54",
                    "ole.igangvaerende@example.dk"};
  std::string closed_id;
  for (const Person* p : {&closed, &open}) {
    auto r =
        http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", offer_with_email(*p, 657));
    REQUIRE(r.status == 201);
    if (p == &closed) closed_id = parse<v1::OfferResponse>(r.body).referral_id();
  }
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 2; }));
  // (The router holds the closed referral's data key, as intake handed it out)
  const auto fetched = data_key(s, closed_id);
  REQUIRE(fetched.first == 200);
  const std::string key = fetched.second;
  CHECK_FALSE(service_files_holding(s.dir(), "router", key).empty());
  // When the centre acknowledges one referral's entry and closes the referral
  const v1::Inbox in = inbox(s, "dev-center-657");
  for (const auto& e : in.entries())
    if (e.referral().referral_id() == closed_id)
      REQUIRE(http("POST", s.port("notifier"), "/v1/inbox/" + e.notification_id() + "/ack",
                   "dev-center-657")
                  .status == 200);
  REQUIRE(outcome(s, closed_id, "CLOSED").status == 200);
  // Then, within seconds of the period, no file holds that person, the services still running
  std::vector<std::string> left;
  const bool gone = eventually(
      [&] {
        left = files_holding(s.dir(), closed);
        return left.empty();
      },
      std::chrono::seconds(20));
  INFO("values left: " << Catch::Detail::stringify(left));
  CHECK(gone);
  // And the referral stays, without contact data; the open one keeps everything
  const auto v = referral(s, closed_id);
  CHECK(v.status() == v1::REFERRAL_STATUS_CLOSED);
  CHECK_FALSE(v.has_person());
  CHECK(files_holding(s.dir(), open).size() >= 3);
  // And the purges were counted
  CHECK(s.metric("router", "henvis_retention_purged_total{what=\"router_contact_data\"}") == 1);
  CHECK(s.metric("notifier", "henvis_retention_purged_total{what=\"notifier_inbox\"}") == 1);
  // And the router's files no longer hold the closed referral's data key, while it runs, nor
  // after a SIGKILL (no clean close) and a restart that recovers its WAL. Intake keeps its copy
  // until a withdrawal (docs/decisions.md 22, "Retention").
  std::vector<std::string> with_key;
  const bool key_gone = eventually(
      [&] {
        with_key = service_files_holding(s.dir(), "router", key);
        return with_key.empty();
      },
      std::chrono::seconds(20));
  INFO("router files holding the key: " << Catch::Detail::stringify(with_key));
  CHECK(key_gone);
  s.kill("router", SIGKILL);
  s.start("router");
  CHECK(referral(s, closed_id).status() == v1::REFERRAL_STATUS_CLOSED);
  CHECK(service_files_holding(s.dir(), "router", key).empty());
}
