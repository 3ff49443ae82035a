// Broker faults (issue 5, item 2): while offers stream through intake, router
// and notifier, henvis-devbroker's control FIFO makes the mock cluster fail
// produce and fetch requests and takes its brokers down. Nothing may be lost
// or duplicated, no service may need a restart, and /readyz must say 503
// while the brokers are unreachable and 200 again after.
//
// Produce faults come from brokers going down (every request in flight on
// their connections fails, in order), not from pushed produce errors or
// leader moves: the mock does not check idempotent producers' sequence
// numbers, so with those a later batch got in ahead of a failed one and
// librdkafka reported the failed messages delivered (seen in this test; see
// tools/devbroker/main.cpp and docs/robustness.md).
//
// HENVIS_ROBUSTNESS_FAULT_OFFERS=N runs N offers (default 10 000).

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "henvis/topics.hpp"
#include "robust_stack.hpp"

using namespace henvis;
using namespace henvis::robustness;

namespace {
constexpr std::int64_t DEFAULT_OFFERS = 10000;
// 10 000 offers of ~500 bytes over 6 partitions: ~0.8 MB per partition, far
// under the mock's 5 MiB.
constexpr int PARTITIONS = 6;
constexpr int CLIENT_THREADS = 4;
// Offers per second: paces the stream over ~50 s so that every fault below
// happens while offers are still arriving (unpaced, a release build takes
// them all in ~10 s). A sanitizer build may be slower than this anyway.
constexpr double OFFER_RATE = 200;
// Requests failed per injection, cycling through retriable errors.
constexpr int ERRORS_PER_INJECTION = 30;
// All brokers stay down at least this long ("several seconds").
constexpr auto ALL_DOWN_FOR = std::chrono::seconds(6);
// One broker stays down this long.
constexpr auto ONE_DOWN_FOR = std::chrono::seconds(4);
// /readyz must turn 503 within this after the brokers go down: the health
// probe's interval (1 s) plus its timeout (2 s), with room for a slow build.
constexpr auto NOT_READY_WITHIN = std::chrono::seconds(10);
// ... and 200 within this after they are back (reconnect backoff plus one
// probe round).
constexpr auto READY_AGAIN_WITHIN = std::chrono::seconds(30);
constexpr auto SETTLE_TIMEOUT = std::chrono::seconds(300);
const char* const SERVICES[] = {"intake", "router", "notifier"};
}  // namespace

TEST_CASE("Broker faults: produce and fetch errors and brokers down lose and duplicate nothing",
          "[robustness][broker]") {
  const auto t0 = std::chrono::steady_clock::now();
  const int n = static_cast<int>(env_int("HENVIS_ROBUSTNESS_FAULT_OFFERS", DEFAULT_OFFERS));
  REQUIRE(n >= 100);
  const ExpectedOffers expected = expected_offers("faults", n);
  const std::int64_t yes = expected.yes, routable = expected.routable;
  std::cout << "robustness broker-faults: offers=" << n << std::endl;

  RobustStack s({.partitions = PARTITIONS, .control_fifo = true});
  s.start_broker();
  for (const char* svc : SERVICES) s.start(svc);

  OfferStream st;
  std::thread officers(
      [&] { post_offers(st, "faults", n, CLIENT_THREADS, s.port("intake"), OFFER_RATE); });
  auto wait_progress = [&](double fraction) {
    while (st.accepted.load() < static_cast<int>(fraction * n) && !st.failed.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  auto all_readyz = [&](int status) {
    for (const char* svc : SERVICES)
      if (s.readyz(svc) != status) return false;
    return true;
  };
  int faults = 0;
  auto say = [&](const std::string& what) {
    std::cout << "robustness broker-faults: at " << st.accepted.load() << "/" << n << " offers, "
              << seconds_since(t0) << " s: " << what << std::endl;
  };

  // 1. Produce and fetch errors from one broker (a third of the leaders)
  // going down: the producers retry in order, the consumers fetch again.
  wait_progress(0.10);
  s.control("broker-down 1");
  ++faults;
  say("broker 1 down");
  std::this_thread::sleep_for(ONE_DOWN_FOR);
  s.control("broker-up 1");
  say("broker 1 up");

  // 2. Fetch errors: the consumers refresh metadata and fetch again.
  wait_progress(0.25);
  s.control("push-errors fetch " + std::to_string(ERRORS_PER_INJECTION) +
            " NOT_LEADER_FOR_PARTITION,UNKNOWN_TOPIC_OR_PART,KAFKA_STORAGE_ERROR");
  faults += ERRORS_PER_INJECTION;
  say(std::to_string(ERRORS_PER_INJECTION) + " fetch errors pushed");

  // 3. Every broker down for several seconds: not ready, then ready again.
  wait_progress(0.40);
  const auto down_at = std::chrono::steady_clock::now();
  s.control("broker-down all");
  ++faults;
  say("all brokers down");
  const bool went_unready = testing::eventually([&] { return all_readyz(503); }, NOT_READY_WITHIN);
  const double unready_after = seconds_since(down_at);
  say(went_unready ? "every /readyz is 503 after " + std::to_string(unready_after) + " s"
                   : "NOT every /readyz turned 503");
  CHECK(went_unready);
  while (std::chrono::steady_clock::now() - down_at < ALL_DOWN_FOR)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const bool still_unready = all_readyz(503);
  CHECK(still_unready);
  const auto up_at = std::chrono::steady_clock::now();
  s.control("broker-up all");
  const bool ready_again = testing::eventually([&] { return all_readyz(200); }, READY_AGAIN_WITHIN);
  const double ready_after = seconds_since(up_at);
  say("all brokers up after " + std::to_string(seconds_since(down_at)) + " s down; " +
      (ready_again ? "every /readyz is 200 after " + std::to_string(ready_after) + " s"
                   : "NOT every /readyz is 200 again"));
  CHECK(ready_again);

  // 4. Another broker down while fetch errors are pushed, then up.
  wait_progress(0.60);
  s.control("broker-down 2");
  s.control("push-errors fetch " + std::to_string(ERRORS_PER_INJECTION) +
            " NOT_LEADER_FOR_PARTITION,REPLICA_NOT_AVAILABLE");
  faults += 1 + ERRORS_PER_INJECTION;
  say("broker 2 down and " + std::to_string(ERRORS_PER_INJECTION) + " fetch errors pushed");
  std::this_thread::sleep_for(ONE_DOWN_FOR);
  s.control("broker-up 2");
  say("broker 2 up");

  // 5. Slow brokers: every response 300 ms late for a few seconds.
  wait_progress(0.75);
  s.control("rtt all 300");
  ++faults;
  say("every broker answers 300 ms late");
  std::this_thread::sleep_for(ONE_DOWN_FOR);
  s.control("rtt all 0");
  say("latency removed");

  officers.join();
  INFO(st.failure);
  REQUIRE_FALSE(st.failed.load());
  REQUIRE(st.accepted.load() == n);
  const bool settled = wait_settled(s, yes, routable, SETTLE_TIMEOUT);
  // Recovered without a restart: the same processes, all ready.
  for (const char* svc : SERVICES) {
    CHECK(s.running(svc));
    CHECK(s.readyz(svc) == 200);
  }
  std::map<std::string, Census> topics = census_all(s.bootstrap());
  for (const char* svc : SERVICES) CHECK(s.stop(svc) == 0);

  Audit a = audit(s, n, yes, routable, topics);
  const std::int64_t events = a.events;
  std::string truncated;
  for (const auto& t : a.truncated_topics) truncated += " " + t;
  if (!truncated.empty())
    std::cout
        << "robustness broker-faults: the mock dropped the oldest (already consumed) messages of"
        << truncated << " (5 MiB per partition)" << std::endl;
  for (const auto& p : a.problems)
    std::cout << "robustness broker-faults: PROBLEM " << p << std::endl;
  std::cout << "robustness broker-faults: " << n << " offers, " << events << " events applied, "
            << a.resent << " re-sent copies absorbed, " << st.retries.load()
            << " client retries, settled=" << settled << ", referrals=" << a.referrals
            << " inbox=" << a.inbox << " integrity=" << (a.integrity_ok ? "ok" : "FAILED")
            << "; not ready after " << unready_after << " s down, ready " << ready_after
            << " s after up; total " << seconds_since(t0) << " s" << std::endl;
  std::cout << "robustness broker-faults: events=" << events << " faults=" << faults
            << " lost=" << a.lost << " duplicated=" << a.duplicated << std::endl;
  CHECK(settled);
  CHECK(a.lost == 0);
  CHECK(a.duplicated == 0);
  CHECK(a.integrity_ok);
  CHECK(a.problems.empty());
}

TEST_CASE("Broker faults: a producer's fatal error is replaced, not waited out",
          "[robustness][broker]") {
  // Given the stack, with one produce error queued that librdkafka's
  // idempotent producer cannot recover from: OUT_OF_ORDER_SEQUENCE_NUMBER on
  // the first request in flight (its sequence numbers and the broker's
  // disagree). Intake's outbox relay is the only producer with anything to
  // send, and it sends one offer, so the error meets that request.
  RobustStack s({.partitions = PARTITIONS, .control_fifo = true});
  s.start_broker();
  for (const char* svc : SERVICES) s.start(svc);
  s.control("push-errors produce 1 OUT_OF_ORDER_SEQUENCE_NUMBER");

  // When a roadside officer registers a yes
  int i = 0;
  while (!make_offer("fatal", i).routable) ++i;
  const Offer o = make_offer("fatal", i);
  auto r = testing::http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", o.body);
  REQUIRE(r.status == 201);

  // Then intake replaces its producer (counted, logged) instead of refusing
  // every later message until someone restarts it, and the referral reaches
  // the centre's inbox exactly once
  const bool replaced = testing::eventually(
      [&] {
        return testing::metric(s.port("intake"), "henvis_outbox_producer_restarts_total") >= 1;
      },
      std::chrono::seconds(30));
  CHECK(replaced);
  const bool settled = wait_settled(s, 1, 1, std::chrono::seconds(60));
  CHECK(settled);
  CHECK(s.running("intake"));
  CHECK(s.readyz("intake") == 200);
  std::map<std::string, Census> topics = census_all(s.bootstrap());
  for (const char* svc : SERVICES) CHECK(s.stop(svc) == 0);
  Audit a = audit(s, 1, 1, 1, topics);
  for (const auto& p : a.problems)
    std::cout << "robustness broker-faults (fatal): PROBLEM " << p << std::endl;
  std::cout << "robustness broker-faults (fatal): producer replaced=" << replaced
            << " referrals=" << a.referrals << " inbox=" << a.inbox << " lost=" << a.lost
            << " duplicated=" << a.duplicated << std::endl;
  CHECK(a.referrals == 1);
  CHECK(a.inbox == 1);
  CHECK(a.lost == 0);
  CHECK(a.duplicated == 0);
  CHECK(a.problems.empty());
}

TEST_CASE(
    "Broker faults: with every broker down, intake hands Kafka at most the relay's cap of "
    "unconfirmed offers, and sends them all once the brokers are back",
    "[robustness][broker]") {
  // More offers than the relay's cap (10 000 unconfirmed) and one round (1 000).
  constexpr int N = 12500;
  constexpr double CAP_AND_ROUND = 11000;
  RobustStack s({PARTITIONS, true});
  s.start_broker();
  s.start("intake");
  const int port = s.port("intake");
  auto in_flight = [&] { return testing::metric(port, "henvis_outbox_in_flight"); };
  auto published = [&] { return testing::metric(port, "henvis_outbox_published_total"); };
  // Given Kafka away while N offers are accepted (each stored in the outbox)
  s.control("broker-down all");
  OfferStream st;
  post_offers(st, "in-flight", N, CLIENT_THREADS, port);
  INFO(st.failure);
  REQUIRE(st.accepted.load() == N);
  // Then the relay reaches its cap and holds there, nothing confirmed
  CHECK(testing::eventually([&] { return in_flight() >= 10000; }, std::chrono::seconds(60)));
  double most = 0;
  for (int i = 0; i < 20; ++i) {
    most = std::max(most, in_flight());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(most <= CAP_AND_ROUND);
  CHECK(published() == 0);
  // And when the brokers are back every offer is published and none is left in flight
  s.control("broker-up all");
  CHECK(testing::eventually([&] { return published() >= N && in_flight() == 0; }, SETTLE_TIMEOUT));
}
