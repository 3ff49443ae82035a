// Crash test (issue 5, item 1), after Kafka's transactions system test: offers
// stream through intake, router and notifier while the router, then the
// notifier, then the intake are each killed with SIGKILL three times at random
// points after 20 % progress, and restarted. Afterwards every accepted offer
// is exactly one referral in exactly one inbox entry, no event was applied
// twice, and every database passes PRAGMA integrity_check.
//
// HENVIS_ROBUSTNESS_OFFERS=N runs N offers (default below),
// HENVIS_ROBUSTNESS_SEED=S repeats a run's kill points (the seed is printed).

#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "henvis/topics.hpp"
#include "robust_stack.hpp"

using namespace henvis;
using namespace henvis::robustness;

namespace {
// Offers per run unless HENVIS_ROBUSTNESS_OFFERS says otherwise. Chosen so
// that the run stays well inside 12 minutes on 2 cores under ASan+UBSan (see
// the measured figures in the closing note of issue 5).
constexpr std::int64_t DEFAULT_OFFERS = 100000;
// Partitions per topic. The mock keeps at most 5 MiB per partition and drops
// the oldest beyond that even unread. An offer event is about 500 bytes on the
// wire (a ~230-byte OfferRecorded with personal data, ~230 bytes of
// CloudEvents headers, the 36-byte key, record overhead), so 100 000 offers
// are ~50 MB; keyed by referral id they spread evenly, ~2.1 MB per partition
// over 24 partitions: under the limit with a 2.4x margin, so even a consumer
// that has read nothing loses nothing. The referral status events (3 per
// referral, smaller) spread the same way. Notifications and deliveries are
// keyed by recipient (12 recipients here), so their whole stream does not fit
// in the partitions they hash to; what must fit is the backlog a consumer has
// not read yet, which stays far below 5 MiB because the notifier and router
// apply 500-event batches much faster than the intake accepts offers. Any
// event the mock dropped would show as lost below.
constexpr int PARTITIONS = 24;
// Kills happen between these fractions of the accepted offers.
constexpr double KILL_FROM = 0.20, KILL_TO = 0.90;
constexpr int KILLS_PER_SERVICE = 3;
// A killed service stays down up to this long before its restart.
constexpr int MAX_DOWN_MS = 1000;
constexpr int CLIENT_THREADS = 6;
// After the last offer, how long the stack may take to deliver everything.
constexpr auto SETTLE_TIMEOUT = std::chrono::seconds(300);
}  // namespace

TEST_CASE("Crash test: intake, router and notifier killed with SIGKILL lose and duplicate nothing",
          "[robustness][crash]") {
  const auto t0 = std::chrono::steady_clock::now();
  const int n = static_cast<int>(env_int("HENVIS_ROBUSTNESS_OFFERS", DEFAULT_OFFERS));
  const auto seed = static_cast<std::uint64_t>(env_int(
      "HENVIS_ROBUSTNESS_SEED", static_cast<std::int64_t>(std::random_device{}() & 0x7fffffff)));
  std::cout << "robustness crash: offers=" << n << " seed=" << seed
            << " (HENVIS_ROBUSTNESS_SEED=" << seed << " repeats the kill points)" << std::endl;
  REQUIRE(n >= 100);

  // Expected outcome of the offer stream.
  const ExpectedOffers expected = expected_offers("crash", n);
  const std::int64_t yes = expected.yes, routable = expected.routable;

  // The kill plan: 9 sorted random points, router x3, notifier x3, intake x3.
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> at(KILL_FROM, KILL_TO);
  std::uniform_int_distribution<int> down_ms(0, MAX_DOWN_MS);
  std::vector<double> points;
  for (int k = 0; k < 3 * KILLS_PER_SERVICE; ++k) points.push_back(at(rng));
  std::sort(points.begin(), points.end());
  struct Kill {
    std::string service;
    int planned_at;
    int actual_at = 0;
    int down_ms = 0;
    double restart_s = 0;
  };
  std::vector<Kill> kills;
  for (int k = 0; k < 3 * KILLS_PER_SERVICE; ++k)
    kills.push_back({k < 3   ? "router"
                     : k < 6 ? "notifier"
                             : "intake",
                     static_cast<int>(points[static_cast<std::size_t>(k)] * n), 0, down_ms(rng)});

  RobustStack s({.partitions = PARTITIONS});
  s.start_broker();
  for (const char* svc : {"intake", "router", "notifier"}) s.start(svc);

  OfferStream st;
  std::thread officers([&] { post_offers(st, "crash", n, CLIENT_THREADS, s.port("intake")); });
  for (auto& k : kills) {
    while (st.accepted.load() < k.planned_at && !st.failed.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (st.failed.load()) break;
    k.actual_at = st.accepted.load();
    s.kill(k.service, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(k.down_ms));
    const auto r0 = std::chrono::steady_clock::now();
    s.start(k.service);
    k.restart_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
    std::cout << "robustness crash: SIGKILL " << k.service << " at " << k.actual_at << "/" << n
              << " offers (" << (100 * k.actual_at / n) << " %), down " << k.down_ms
              << " ms, ready again after " << k.restart_s << " s" << std::endl;
  }
  officers.join();
  INFO(st.failure);
  REQUIRE_FALSE(st.failed.load());
  REQUIRE(st.accepted.load() == n);
  const double post_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Every service is up, lets the stack settle, then stops cleanly.
  const bool settled = wait_settled(s, yes, routable, SETTLE_TIMEOUT);
  std::map<std::string, Census> topics = census_all(s.bootstrap());
  for (const char* svc : {"intake", "router", "notifier"}) CHECK(s.stop(svc) == 0);

  Audit a = audit(s, n, yes, routable, topics);
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::int64_t events = a.events;
  std::string truncated;
  for (const auto& t : a.truncated_topics) truncated += " " + t;
  if (!truncated.empty())
    std::cout << "robustness crash: the mock dropped the oldest (already consumed) messages of"
              << truncated << " (5 MiB per partition)" << std::endl;
  for (const auto& p : a.problems) std::cout << "robustness crash: PROBLEM " << p << std::endl;
  std::cout << "robustness crash: accepted " << n << " offers (" << yes << " yes, " << routable
            << " routable) in " << post_s << " s with " << st.retries.load()
            << " client retries; settled=" << settled << "; " << events << " events applied, "
            << a.resent << " re-sent copies absorbed by de-duplication; referrals=" << a.referrals
            << " inbox=" << a.inbox << " router_processed=" << a.processed_router
            << " notifier_processed=" << a.processed_notifier
            << " integrity=" << (a.integrity_ok ? "ok" : "FAILED") << "; total " << total_s << " s"
            << std::endl;
  std::cout << "robustness crash: offers=" << n << " kills=" << kills.size() << " lost=" << a.lost
            << " duplicated=" << a.duplicated << std::endl;
  CHECK(settled);
  CHECK(a.lost == 0);
  CHECK(a.duplicated == 0);
  CHECK(a.integrity_ok);
  CHECK(a.problems.empty());
}
