// latency: an offer accepted by intake -> in its centre's inbox (router and
// notifier in between, each a consumer hop), p50 and p99 at a steady 50 and
// 200 offers a second, against a bare consumer's poll hop on the same
// broker at the same rate, in the same run.
//
// The times come from the services' own records, read after the run:
// intake's offers.created_at (the request's time) and the notifier's
// inbox.delivered_at (the row's commit into the inbox), both Unix ms on
// this machine's clock; the bench polls nothing while it measures.

#include <catch2/catch.hpp>
#include <cstdio>
#include <set>
#include <thread>

#include "../tests/integration/real_kafka.hpp"
#include "../tests/robustness/robust_stack.hpp"
#include "bench.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"

using namespace henvis;
using namespace henvis::bench;

namespace {
constexpr int POSTERS = 4;
constexpr std::size_t POLL_BATCH = 500;  // as a service's consumer loop
constexpr int POLL_TIMEOUT_MS = 200;
constexpr auto SETTLE_LIMIT = std::chrono::minutes(5);
constexpr const char* WARMUP = "warmup";

struct Quantiles {
  double p50 = 0, p99 = 0;
};

// Milliseconds from intake's acceptance to the first inbox row of each
// routable offer of `run` that has reached an inbox.
std::vector<double> offer_to_inbox_ms(robustness::RobustStack& s, const std::string& run,
                                      const std::set<std::string>& routable) {
  sqlite::Db db(s.database("notifier"));
  sqlite::Stmt(db, "ATTACH DATABASE ? AS r").bind(1, s.database("router")).run();
  sqlite::Stmt(db, "ATTACH DATABASE ? AS i").bind(1, s.database("intake")).run();
  sqlite::Stmt q(db,
                 "SELECT o.offer_id, min(n.delivered_at) - o.created_at FROM i.offers o "
                 "JOIN r.referrals ref ON ref.offer_id = o.offer_id "
                 "JOIN inbox n ON n.referral_id = ref.referral_id AND n.state = 'delivered' "
                 "WHERE o.offer_id LIKE ? GROUP BY o.offer_id");
  q.bind(1, run + "-%");
  std::vector<double> ms;
  while (q.step())
    if (routable.count(q.text(0))) ms.push_back(static_cast<double>(q.i64(1)));
  return ms;
}

// Posts `rate` offers a second for `seconds` and waits until every routable
// one is in an inbox; their p50 and p99 in ms.
Quantiles offer_to_inbox(robustness::RobustStack& s, const std::string& run, int rate,
                         int seconds) {
  const int n = rate * seconds;
  std::set<std::string> routable;
  for (int i = 0; i < n; ++i)
    if (auto o = robustness::make_offer(run, i); o.routable) routable.insert(o.id);
  robustness::OfferStream st;
  robustness::post_offers(st, run, n, POSTERS, s.port("intake"), rate);
  INFO(st.failure);
  REQUIRE(st.accepted.load() == n);
  std::vector<double> ms;
  REQUIRE(testing::eventually(
      [&] {
        ms = offer_to_inbox_ms(s, run, routable);
        return ms.size() == routable.size();
      },
      SETTLE_LIMIT));
  return {percentile(ms, 0.5), percentile(ms, 0.99)};
}

// A producer sends `rate` messages a second for `seconds` to a fresh topic, each
// carrying its send time; a consumer on the same broker polls as a
// service's loop does. The p50 and p99 of send -> polled, in ms.
Quantiles bare_hop(const std::string& bootstrap, int rate, int seconds) {
  using clock = std::chrono::steady_clock;
  const std::string topic = "henvis.bench.hop." + new_uuid();
  // A real cluster creates no topic on first use (auto.create.topics.enable
  // is off, as in production): create it, with the partitions of the
  // services' topics.
  if (testing::real_kafka_bootstrap()) testing::create_topic(bootstrap, topic, 6);
  // The hop polls with the services' settings: on the devbroker their short
  // fetch wait (deploy/config/dev, the harness's configs), on Kafka the default.
  kafka::set_client_properties(testing::real_kafka_bootstrap()
                                   ? kafka::Properties{}
                                   : kafka::Properties{{"fetch.wait.max.ms", "10"}});
  kafka::Producer producer(bootstrap, [](std::int64_t, bool, const std::string&) {});
  // Creates the topic (the devbroker's default partitions) before the
  // consumer asks for its partitions.
  producer.produce(topic, "", WARMUP, {}, 0);
  REQUIRE(producer.flush(30000));
  kafka::Consumer consumer(bootstrap, "henvis-bench-hop");
  consumer.assign({topic}, {}, 30000);

  const int n = rate * seconds;
  std::vector<double> ms;
  std::thread reader([&] {
    const auto limit = clock::now() + std::chrono::seconds(seconds) + SETTLE_LIMIT;
    while (static_cast<int>(ms.size()) < n && clock::now() < limit)
      for (const auto& m : consumer.poll_batch(POLL_BATCH, POLL_TIMEOUT_MS)) {
        if (m.payload == WARMUP) continue;
        const auto sent = clock::time_point(clock::duration(std::stoll(m.payload)));
        ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - sent).count());
      }
  });
  const auto start = clock::now();
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        start + std::chrono::microseconds(static_cast<std::int64_t>(i * 1e6 / rate)));
    producer.produce(topic, std::to_string(i),
                     std::to_string(clock::now().time_since_epoch().count()), {}, i);
    producer.poll(0);
  }
  producer.flush(30000);
  reader.join();
  REQUIRE(static_cast<int>(ms.size()) == n);
  return {percentile(ms, 0.5), percentile(ms, 0.99)};
}
}  // namespace

TEST_CASE("bench latency: offer accepted to the centre's inbox against a bare consumer hop",
          "[latency]") {
  const int seconds = static_cast<int>(size("HENVIS_BENCH_SECONDS", 10, 1));
  robustness::RobustStack s({});
  s.start_broker();
  for (const char* svc : {"intake", "router", "notifier"}) s.start(svc);

  for (const int rate : {50, 200}) {
    std::vector<double> p50, p99, hop50, hop99;
    for (int rep = 0; rep < reps(); ++rep) {
      const auto run = "bench-latency-" + std::to_string(rate) + "-" + std::to_string(rep);
      const Quantiles q = offer_to_inbox(s, run, rate, seconds);
      p50.push_back(q.p50);
      p99.push_back(q.p99);
      const Quantiles h = bare_hop(s.bootstrap(), rate, seconds);
      hop50.push_back(h.p50);
      hop99.push_back(h.p99);
    }
    const std::string at = " at " + std::to_string(rate) + " offers/s";
    std::printf("latency: %d s of offers at %d/s, 3 hops (intake outbox -> router -> notifier):\n",
                seconds, rate);
    CHECK(report("offer -> inbox p50" + at, "ms", p50, {{"bare consumer hop p50", "ms", hop50}}));
    CHECK(report("offer -> inbox p99" + at, "ms", p99, {{"bare consumer hop p99", "ms", hop99}}));
  }
}
