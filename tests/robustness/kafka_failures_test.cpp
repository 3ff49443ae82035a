// Broker failures on a real Apache Kafka (issue 13, item 3): while offers
// stream through intake, router and notifier, one Kafka node is SIGKILLed
// and restarted, then the active KRaft controller is SIGKILLed and
// restarted, then all three nodes are stopped for 10 s and started again.
// Nothing may be lost, duplicated or dead-lettered; no service may need a
// restart; /readyz says 503 while no broker answers and 200 again after.
// The mock cannot do this: its brokers share one process and one log.
//
// Runs on the cluster of the kafka ctest fixture (HENVIS_KAFKA_BOOTSTRAP_FILE,
// HENVIS_KAFKA_DIR: scripts/kafka's cluster directory). Hidden ([.]): only
// the ctest "kafka: ..." entry runs it. HENVIS_KAFKA_FAULT_OFFERS=N runs N
// offers (scripts/dev test: 3000; scripts/dev robustness --kafka: 20 000).

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "../integration/real_kafka.hpp"
#include "henvis/topics.hpp"
#include "robust_stack.hpp"

using namespace henvis;
using namespace henvis::robustness;

namespace {
constexpr std::int64_t DEFAULT_OFFERS = 3000;
constexpr int CLIENT_THREADS = 4;
// The offers go in three segments, one per fault, each paced over this long
// and started just before its fault, so that every fault happens while
// offers are arriving however long the JVM restarts take.
constexpr double SEGMENT_SECONDS = 30;
constexpr auto ALL_DOWN_FOR = std::chrono::seconds(10);
constexpr auto NOT_READY_WITHIN = std::chrono::seconds(15);
constexpr auto READY_AGAIN_WITHIN = std::chrono::seconds(90);
constexpr auto SETTLE_TIMEOUT = std::chrono::seconds(600);
const char* const SERVICES[] = {"intake", "router", "notifier"};

struct ScriptRun {
  int rc;
  std::string args, text;
};

// scripts/kafka ARGS on the fixture's cluster, without assertions: safe on
// any thread (a Catch assertion failing on a helper thread would terminate
// the test run and leave its services behind).
ScriptRun run_kafka_script(const std::string& args) {
  const char* dir = std::getenv("HENVIS_KAFKA_DIR");
  if (!dir) return {-1, args, "HENVIS_KAFKA_DIR is not set"};
  const std::string out =
      std::string(dir) + "/script-" + std::to_string(std::hash<std::string>{}(args)) + ".out";
  const std::string cmd = std::string(HENVIS_SOURCE_DIR) + "/scripts/kafka " + args + " --dir " +
                          dir + " >" + out + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return {rc, args, testing::slurp(out)};
}

// Checked on the test's thread; its stdout.
std::string checked(const ScriptRun& r) {
  INFO("scripts/kafka " << r.args << ": " << r.text);
  REQUIRE(r.rc == 0);
  return r.text;
}

std::string kafka_script(const std::string& args) { return checked(run_kafka_script(args)); }

// scripts/kafka "<verb> N" on nodes 1-3 at once, each checked after all ended.
void on_all_nodes(const std::string& verb) {
  std::vector<ScriptRun> runs(3);
  std::vector<std::thread> ts;
  for (int node = 1; node <= 3; ++node)
    ts.emplace_back([&runs, &verb, node] {
      runs[node - 1] = run_kafka_script(verb + " " + std::to_string(node));
    });
  for (auto& t : ts) t.join();
  for (const auto& r : runs) checked(r);
}
}  // namespace

TEST_CASE("Kafka broker failures: a node, the controller and all nodes killed lose nothing",
          "[.][kafka][kafka-failures]") {
  REQUIRE(testing::real_kafka_bootstrap());
  const auto t0 = std::chrono::steady_clock::now();
  const int n = static_cast<int>(env_int("HENVIS_KAFKA_FAULT_OFFERS", DEFAULT_OFFERS));
  REQUIRE(n >= 100);
  const ExpectedOffers expected = expected_offers("kfaults", n);
  const std::int64_t yes = expected.yes, routable = expected.routable;
  std::cout << "kafka broker-failures: offers=" << n << std::endl;

  RobustStack s({});
  s.start_broker();
  for (const char* svc : SERVICES) s.start(svc);

  OfferStream st;
  std::thread officers;
  // A failed assertion below unwinds past the officers' thread: stop and
  // join it, or its destructor would terminate the run.
  struct JoinOfficers {
    std::thread& t;
    OfferStream& st;
    ~JoinOfficers() {
      if (!t.joinable()) return;
      if (std::uncaught_exceptions() > 0) st.failed = true;
      t.join();
    }
  } join_officers{officers, st};
  // Streams offers up to `fraction` of n on the officers' thread.
  auto stream_to = [&](double fraction) {
    if (officers.joinable()) officers.join();
    const int to = static_cast<int>(fraction * n);
    const double rate = (to - st.next.load()) / SEGMENT_SECONDS;
    officers = std::thread(
        [&, to, rate] { post_offers(st, "kfaults", to, CLIENT_THREADS, s.port("intake"), rate); });
  };
  auto all_readyz = [&](int status) {
    for (const char* svc : SERVICES)
      if (s.readyz(svc) != status) return false;
    return true;
  };
  auto say = [&](const std::string& what) {
    std::cout << "kafka broker-failures: at " << st.accepted.load() << "/" << n << " offers, "
              << seconds_since(t0) << " s: " << what << std::endl;
  };
  auto pause = [](int seconds) { std::this_thread::sleep_for(std::chrono::seconds(seconds)); };

  // 1. One node SIGKILLed, then restarted: its partitions' leadership moves.
  stream_to(0.3);
  pause(5);
  kafka_script("kill 2");
  say("node 2 SIGKILLed");
  pause(5);
  kafka_script("start 2");
  say("node 2 restarted");

  // 2. The active controller SIGKILLed, then restarted: a new one is elected.
  stream_to(0.6);
  pause(3);
  const std::string controller = kafka_script("controller");
  const std::string id = controller.substr(0, controller.find_first_not_of("0123456789"));
  REQUIRE(!id.empty());
  kafka_script("kill " + id);
  say("active controller (node " + id + ") SIGKILLed");
  pause(5);
  kafka_script("start " + id);
  say("node " + id + " restarted");

  // 3. All three stopped for 10 s: not ready, then started: ready again.
  stream_to(1.0);
  pause(5);
  on_all_nodes("kill");
  const auto down_at = std::chrono::steady_clock::now();
  say("all three nodes stopped (SIGKILL)");
  const bool went_unready = testing::eventually([&] { return all_readyz(503); }, NOT_READY_WITHIN);
  say(went_unready ? "every /readyz is 503 after " + std::to_string(seconds_since(down_at)) + " s"
                   : "NOT every /readyz turned 503");
  CHECK(went_unready);
  std::this_thread::sleep_until(down_at + ALL_DOWN_FOR);
  CHECK(all_readyz(503));
  on_all_nodes("start");
  const auto up_at = std::chrono::steady_clock::now();
  const bool ready_again = testing::eventually([&] { return all_readyz(200); }, READY_AGAIN_WITHIN);
  say("all nodes started after " +
      std::to_string(std::chrono::duration<double>(up_at - down_at).count()) + " s down; " +
      (ready_again ? "every /readyz is 200 after " + std::to_string(seconds_since(up_at)) + " s"
                   : "NOT every /readyz is 200 again"));
  CHECK(ready_again);

  officers.join();
  INFO(st.failure);
  REQUIRE_FALSE(st.failed.load());
  REQUIRE(st.accepted.load() == n);
  const bool settled = wait_settled(s, yes, routable, SETTLE_TIMEOUT);
  for (const char* svc : SERVICES) {
    CHECK(s.running(svc));  // recovered without a restart
    CHECK(s.readyz(svc) == 200);
  }
  std::map<std::string, Census> topics = census_all(s.bootstrap());
  for (const char* svc : SERVICES) CHECK(s.stop(svc) == 0);

  Audit a = audit(s, n, yes, routable, topics);
  for (const auto& p : a.problems) std::cout << "kafka broker-failures: PROBLEM " << p << std::endl;
  std::int64_t dead_lettered = 0;
  for (const char* dlq : DLQ_TOPICS) dead_lettered += topics[dlq].messages;
  std::cout << "kafka broker-failures: accepted " << n << " offers with " << st.retries.load()
            << " client retries; settled=" << settled << "; " << a.events << " events applied, "
            << a.resent << " re-sent copies absorbed; referrals=" << a.referrals
            << " inbox=" << a.inbox << " dead_lettered=" << dead_lettered << "; total "
            << seconds_since(t0) << " s" << std::endl;
  std::cout << "kafka broker-failures: offers=" << n << " lost=" << a.lost
            << " duplicated=" << a.duplicated << std::endl;
  CHECK(settled);
  CHECK(a.lost == 0);
  CHECK(a.duplicated == 0);
  CHECK(dead_lettered == 0);
  CHECK(a.integrity_ok);
  CHECK(a.problems.empty());
}
