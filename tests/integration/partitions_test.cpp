// Partition-aligned router instances (issue 13 item 5, DESIGN.md "Scale",
// docs/decisions.md 24): two routers, each owning half of the partitions
// (KafkaSettings.partitions) with its own database, hold and produce exactly
// what one router holds and produces for the same offers and withdrawals,
// repeat-offender counts included; one instance down stops only its own
// partitions, and restarted it resumes them. In the integration label on
// henvis-devbroker and in the kafka label on a real 3-node Apache Kafka.

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"

using namespace henvis;
using namespace henvis::testing;
namespace fs = std::filesystem;

namespace {

constexpr auto WAIT = std::chrono::seconds(180);
const std::string CENTRE = "dev-center-657";  // Herning: every offer here routes to it

// One router process with its own directory, database and partitions.
struct Router {
  fs::path dir;
  std::string partitions;  // "" = all
  int port = 0;
  std::unique_ptr<Process> proc;

  void start(Stack& s) {
    fs::create_directories(dir);
    fs::copy_file(s.dir() / "bootstrap.txt", dir / "bootstrap.txt",
                  fs::copy_options::overwrite_existing);
    write_service_config(dir, "router", data_keys_config(dir, "router", s.port("intake")), "",
                         partitions.empty() ? "" : "partitions: [" + partitions + "]");
    proc = start_service(dir, "router", port, std::chrono::seconds(120));
  }
};

// A person by number: a valid CPR number of the 1900s (no modulus-11 rule).
std::string cpr_of(int person) {
  char cpr[16];
  std::snprintf(cpr, sizeof cpr, "%02d%02d70-%04d", person % 28 + 1, (person / 28) % 12 + 1,
                1000 + person);
  return cpr;
}

struct Offer {
  std::string offer_id;
  int person = 0;
  std::string referral_id;
};

// Charged `hours_ago` (a repeat count counts earlier charges only, to the
// second).
Offer register_offer(Stack& s, int person, int n, int hours_ago) {
  Offer o{"it-part-" + std::to_string(n), person, ""};
  std::string body = offer_json(o.offer_id, 657, true, cpr_of(person));
  const std::string field = "\"chargedAt\":\"";
  const auto at = body.find(field) + field.size();
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() -
                                                      std::chrono::hours(hours_ago));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char charged[32];
  std::strftime(charged, sizeof charged, "%Y-%m-%dT%H:%M:%SZ", &tm);
  body.replace(at, body.find('"', at) - at, charged);
  auto r = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", body);
  INFO(r.body);
  REQUIRE(r.status == 201);
  o.referral_id = parse<v1::OfferResponse>(r.body).referral_id();
  return o;
}

void withdraw(Stack& s, const Offer& o) {
  REQUIRE(
      http("POST", s.port("intake"), "/v1/offers/" + o.offer_id + "/withdrawal", "dev-officer-mvj")
          .status == 200);
}

// Every message on `topic` now, raw, once it holds at least `at_least`
// (intake's outbox relay publishes after the answer).
std::vector<kafka::Message> messages(Stack& s, const std::string& topic,
                                     std::int64_t at_least = 0) {
  std::int64_t expected = 0;
  REQUIRE(eventually(
      [&] {
        for (const auto& t : kafka::list_topics(s.bootstrap(), 10000))
          if (t.name == topic) expected = t.messages;
        return expected >= at_least;
      },
      WAIT));
  std::vector<kafka::Message> all;
  if (expected == 0) return all;
  kafka::Consumer c(s.bootstrap(), "it-partitions-" + new_uuid());
  c.assign({topic}, {}, 10000);
  REQUIRE(eventually([&] {
    for (auto& m : c.poll_batch(500, 200)) all.push_back(std::move(m));
    return static_cast<std::int64_t>(all.size()) >= expected;
  }));
  return all;
}

// The partition of each referral's offer on henvis.offers.v1; checks that
// each withdrawal went to its offer's partition. `events`: offers and
// withdrawals registered so far.
std::map<std::string, std::int32_t> partitions_of(Stack& s, std::int64_t events) {
  std::map<std::string, std::int32_t> at;
  std::vector<std::pair<std::string, std::int32_t>> withdrawals;
  for (const auto& m : messages(s, "henvis.offers.v1", events)) {
    if (m.header("ce_type") == "henvis.offer.recorded") {
      v1::OfferRecorded o;
      REQUIRE(o.ParseFromString(m.payload));
      CHECK(o.partition_key() == m.key);
      CHECK(o.partition_key().size() == 4);  // "p" and a bucket 000..255
      at[o.referral_id()] = m.partition;
    } else {
      v1::OfferWithdrawn w;
      REQUIRE(w.ParseFromString(m.payload));
      CHECK(!w.partition_key().empty());
      withdrawals.emplace_back(w.referral_id(), m.partition);
    }
  }
  for (const auto& [referral, partition] : withdrawals) {
    INFO("the withdrawal of " << referral << " is not in its offer's partition");
    CHECK(at.at(referral) == partition);
  }
  return at;
}

// What a router holds of each referral, as the centre reads it: status,
// centre, repeat counts and the statuses of its history (no ids, no times).
std::map<std::string, std::string> held(int port) {
  std::map<std::string, std::string> out;
  std::string cursor;
  do {
    auto r = http("GET", port,
                  "/v1/referrals?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor), CENTRE);
    REQUIRE(r.status == 200);
    const auto page = parse<v1::ReferralList>(r.body);
    for (const auto& v : page.referrals()) {
      std::string d = v1::ReferralStatus_Name(v.status()) + " " + v.centre_id() +
                      " prior90=" + std::to_string(v.prior_referrals_90d()) +
                      " prior5y=" + std::to_string(v.prior_referrals_5y()) + " history=";
      for (const auto& h : v.history()) d += v1::ReferralStatus_Name(h.status()) + ",";
      out[v.referral_id()] = d;
    }
    cursor = page.next_cursor();
  } while (!cursor.empty());
  return out;
}

// `all` restricted to the referrals whose offer is in one of `partitions`.
std::map<std::string, std::string> in_partitions(const std::map<std::string, std::string>& all,
                                                 const std::map<std::string, std::int32_t>& at,
                                                 const std::set<std::int32_t>& partitions) {
  std::map<std::string, std::string> out;
  for (const auto& [id, d] : all)
    if (partitions.count(at.at(id))) out.emplace(id, d);
  return out;
}

// Each event a router produced, as (topic, ce_type, referral, recipient):
// what one router and the pair must produce alike.
std::multiset<std::string> produced(Stack& s) {
  std::multiset<std::string> out;
  for (const auto& m : messages(s, "henvis.referrals.v1")) {
    v1::ReferralStatusChanged e;
    REQUIRE(e.ParseFromString(m.payload));
    out.insert("referrals " + m.header("ce_type").value_or("") + " " + e.referral_id());
  }
  for (const auto& m : messages(s, "henvis.notifications.v1")) {
    v1::NotificationRequested n;
    REQUIRE(n.ParseFromString(m.payload));
    out.insert("notifications " + v1::NotificationKind_Name(n.kind()) + " " +
               n.referral().referral_id() + " " + n.recipient_id());
  }
  return out;
}

std::multiset<std::string> minus(std::multiset<std::string> a,
                                 const std::multiset<std::string>& b) {
  for (const auto& x : b) {
    auto it = a.find(x);
    if (it != a.end()) a.erase(it);
  }
  return a;
}

// Waits until the router on `port` holds exactly `expected` (its consumer
// caught up); fails naming the difference in size otherwise.
void wait_holds(int port, const std::map<std::string, std::string>& expected) {
  const bool ok = eventually([&] { return held(port) == expected; }, WAIT);
  INFO("router on port " << port << " holds " << held(port).size() << " referrals, expected "
                         << expected.size());
  REQUIRE(ok);
}

}  // namespace

TEST_CASE(
    "Two partition-aligned routers hold and produce what one router does, repeat counts "
    "included, and one down stops only its own partitions",
    "[integration][partitions]") {
  Stack s;
  s.start_broker();
  s.start("intake");

  // 30 persons; persons 0..9 charged three times (repeat counts 0, 1, 2);
  // the first offer of persons 20..24 withdrawn before any router ran (so
  // their keys are destroyed and no router records them).
  std::vector<Offer> offers;
  int n = 0;
  for (int round = 0; round < 3; ++round)
    for (int p = 0; p < (round == 0 ? 30 : 10); ++p)
      offers.push_back(register_offer(s, p, n++, 5 - round));
  for (int p = 20; p < 25; ++p) withdraw(s, offers[static_cast<std::size_t>(p)]);

  std::map<std::string, std::int32_t> at =
      partitions_of(s, static_cast<std::int64_t>(offers.size()) + 5);
  REQUIRE(at.size() == offers.size());
  // One person's referrals share a partition (their partition key).
  for (const auto& o : offers)
    CHECK(at.at(o.referral_id) == at.at(offers[o.person % 30].referral_id));
  const std::set<std::int32_t> first{0, 1, 2}, second{3, 4, 5};
  std::size_t in_first = 0;
  for (const auto& [id, p] : at) in_first += first.count(p);
  REQUIRE(in_first > 0);
  REQUIRE(in_first < at.size());

  // One router with every partition: the reference.
  Router single{s.dir() / "single", "", 0, nullptr};
  single.start(s);
  REQUIRE(eventually([&] { return held(single.port).size() == offers.size() - 5; }, WAIT));
  std::map<std::string, std::string> reference = held(single.port);
  // The repeat counts are there to compare: person 0's second and third referrals.
  CHECK(reference.at(offers[30].referral_id).find("prior90=1") != std::string::npos);
  CHECK(reference.at(offers[40].referral_id).find("prior90=2") != std::string::npos);
  REQUIRE(single.proc->stop() == 0);
  const auto by_one = produced(s);

  // The first half alone holds exactly its partitions' referrals.
  Router a{s.dir() / "a", "0, 1, 2", 0, nullptr};
  a.start(s);
  wait_holds(a.port, in_partitions(reference, at, first));
  // The second half: together they hold what the one router held.
  Router b{s.dir() / "b", "3, 4, 5", 0, nullptr};
  b.start(s);
  wait_holds(b.port, in_partitions(reference, at, second));
  // And produced the same events (their own copies after the reference's).
  CHECK(eventually([&] { return minus(produced(s), by_one) == by_one; }, WAIT));

  // The first instance down: more offers (repeats of persons 0..5, and new
  // persons 30..35) and three withdrawals of routed referrals (persons
  // 25..27) reach only the second's partitions.
  a.proc->signal(SIGKILL);
  a.proc->wait(std::chrono::seconds(10));
  std::vector<Offer> later;
  for (int p : {0, 1, 2, 3, 4, 5, 30, 31, 32, 33, 34, 35})
    later.push_back(register_offer(s, p, n++, 1));
  for (int p = 25; p < 28; ++p) withdraw(s, offers[static_cast<std::size_t>(p)]);
  at = partitions_of(s, static_cast<std::int64_t>(offers.size() + later.size()) + 8);
  single.start(s);  // the reference catches up from its stored offsets
  const auto withdrawn = [](const std::map<std::string, std::string>& held_now) {
    int n = 0;
    for (const auto& [id, d] : held_now) n += d.rfind("REFERRAL_STATUS_WITHDRAWN", 0) == 0;
    return n;
  };
  REQUIRE(eventually(
      [&] {
        reference = held(single.port);
        return reference.size() == offers.size() - 5 + later.size() && withdrawn(reference) == 3;
      },
      WAIT));
  CHECK(reference.at(later[0].referral_id).find("prior90=3") != std::string::npos);
  wait_holds(b.port, in_partitions(reference, at, second));
  // Restarted, the first resumes its partitions from its own offsets.
  a.start(s);
  wait_holds(a.port, in_partitions(reference, at, first));
  std::map<std::string, std::string> both = held(a.port);
  for (const auto& [id, d] : held(b.port)) CHECK(both.emplace(id, d).second);
  CHECK(both == reference);
}
