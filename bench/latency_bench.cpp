// latency: an offer accepted by intake -> in its centre's inbox (router and
// notifier in between, each a consumer hop), p50 and p99 at a steady 50 and
// 200 offers a second, against a bare consumer's poll hop on the same
// broker at the same rate, in the same run.
//
// The times come from the services' own records, read after the run:
// intake's offers.created_at (the request's time) and the notifier's
// inbox.delivered_at (the row's commit into the inbox), both Unix ms on
// this machine's clock; the bench polls nothing while it measures.
//
// Where the time goes, stage by stage, from the same records and the
// messages' Kafka timestamps (CreateTime: when the producer took each):
//   intake    accepted -> its OfferRecorded taken by intake's producer
//   hop 1     that -> the router applying it (NotificationRequested.requested_at)
//   router    applying -> its NotificationRequested taken by the router's producer
//   hop 2     that -> the notifier's commit into the inbox
// A hop holds the broker (replication to every in-sync replica, acks=all),
// the consumer's fetch, and the service's own work before its apply.

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <unistd.h>

#include "../tests/integration/real_kafka.hpp"
#include "../tests/robustness/robust_stack.hpp"
#include "bench.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"

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

Quantiles quantiles(const std::vector<double>& ms) {
  return {percentile(ms, 0.5), percentile(ms, 0.99)};
}

// The four stages of the header, in order.
constexpr const char* STAGES[] = {"intake (commit, relay)", "hop 1 (Kafka, router's fetch)",
                                  "router (apply, commit, relay)",
                                  "hop 2 (Kafka, notifier's fetch and apply)"};
constexpr std::size_t N_STAGES = std::size(STAGES);
using Stages = std::array<Quantiles, N_STAGES>;

// Every message now on `topic`, read from its start with a fresh consumer.
std::vector<kafka::Message> read_topic(const std::string& bootstrap, const std::string& topic) {
  std::int64_t expected = 0;
  for (const auto& t : kafka::list_topics(bootstrap, 30000))
    if (t.name == topic) expected = t.messages;
  kafka::Consumer c(bootstrap, "henvis-bench-read-" + new_uuid());
  c.assign({topic}, {}, 30000);
  std::vector<kafka::Message> all;
  REQUIRE(testing::eventually(
      [&] {
        for (auto& m : c.poll_batch(POLL_BATCH, POLL_TIMEOUT_MS)) all.push_back(std::move(m));
        return static_cast<std::int64_t>(all.size()) >= expected;
      },
      SETTLE_LIMIT));
  return all;
}

// When each routable offer of `run` that has reached an inbox passed each
// stage (Unix ms; -1 = not known yet), by referral id: from the services'
// databases, and (stages_of) the messages' Kafka timestamps.
struct Times {
  std::int64_t accepted = -1, offer_sent = -1, applied = -1, notification_sent = -1, delivered = -1;
};
std::map<std::string, Times> recorded_times(robustness::RobustStack& s, const std::string& run,
                                            const std::set<std::string>& routable) {
  std::map<std::string, Times> by_referral;
  sqlite::Db db(s.database("notifier"));
  sqlite::Stmt(db, "ATTACH DATABASE ? AS r").bind(1, s.database("router")).run();
  sqlite::Stmt(db, "ATTACH DATABASE ? AS i").bind(1, s.database("intake")).run();
  sqlite::Stmt q(db,
                 "SELECT o.offer_id, ref.referral_id, o.created_at, min(n.requested_at), "
                 "min(n.delivered_at) FROM i.offers o "
                 "JOIN r.referrals ref ON ref.offer_id = o.offer_id "
                 "JOIN inbox n ON n.referral_id = ref.referral_id AND n.state = 'delivered' "
                 "WHERE o.offer_id LIKE ? GROUP BY o.offer_id");
  q.bind(1, run + "-%");
  while (q.step())
    if (routable.count(q.text(0))) by_referral[q.text(1)] = {q.i64(2), -1, q.i64(3), -1, q.i64(4)};
  return by_referral;
}

// Milliseconds from intake's acceptance to the first inbox row of each
// routable offer of `run` that has reached an inbox.
std::vector<double> offer_to_inbox_ms(robustness::RobustStack& s, const std::string& run,
                                      const std::set<std::string>& routable) {
  std::vector<double> ms;
  for (const auto& [referral, t] : recorded_times(s, run, routable))
    ms.push_back(static_cast<double>(t.delivered - t.accepted));
  return ms;
}

// The earlier of two Unix ms times, -1 meaning none yet: the first copy of
// a message a relay sent again.
std::int64_t earliest(std::int64_t a, std::int64_t b) { return a < 0 ? b : std::min(a, b); }

// The stages of `run`'s routable offers (see the header), each offer's
// first notification; ms.
Stages stages_of(robustness::RobustStack& s, const std::string& run,
                 const std::set<std::string>& routable) {
  std::map<std::string, Times> by_referral = recorded_times(s, run, routable);
  for (const auto& m : read_topic(s.bootstrap(), "henvis.offers.v1")) {
    v1::OfferRecorded o;
    if (m.header("ce_type") != "henvis.offer.recorded" || !o.ParseFromString(m.payload)) continue;
    if (auto it = by_referral.find(o.referral_id()); it != by_referral.end())
      it->second.offer_sent = earliest(it->second.offer_sent, m.timestamp_ms);
  }
  for (const auto& m : read_topic(s.bootstrap(), "henvis.notifications.v1")) {
    v1::NotificationRequested n;
    if (m.header("ce_type") != event_types::NOTIFICATION_REQUESTED || !n.ParseFromString(m.payload))
      continue;
    if (auto it = by_referral.find(n.referral().referral_id()); it != by_referral.end())
      it->second.notification_sent = earliest(it->second.notification_sent, m.timestamp_ms);
  }
  std::array<std::vector<double>, N_STAGES> ms;
  for (const auto& [referral, t] : by_referral) {
    REQUIRE(t.offer_sent >= 0);
    REQUIRE(t.notification_sent >= 0);
    const std::int64_t at[] = {t.accepted, t.offer_sent, t.applied, t.notification_sent,
                               t.delivered};
    for (std::size_t i = 0; i < N_STAGES; ++i)
      ms[i].push_back(static_cast<double>(at[i + 1] - at[i]));
  }
  Stages out;
  for (std::size_t i = 0; i < N_STAGES; ++i) out[i] = quantiles(ms[i]);
  return out;
}

// A histogram's count and sum on a service's /metrics (`series` is the
// name's label part, "" for none).
struct Histogram {
  double count = 0, sum = 0;
};
Histogram histogram(int port, const std::string& name, const std::string& series) {
  return {testing::metric(port, name + "_count" + series),
          testing::metric(port, name + "_sum" + series)};
}

// What the consumers did while `run` passed: batches and their mean apply
// time in the router and the notifier, and intake's answers to their key
// fetches; from the services' own histograms, the difference over the run.
// The machine's CPU time, busy and in all, in clock ticks (/proc/stat).
struct CpuTicks {
  double busy = 0, total = 0;
};
CpuTicks cpu_ticks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;  // "cpu": the sum over every core
  CpuTicks t;
  double v = 0;
  for (int i = 0; i < 8 && in >> v; ++i) {
    t.total += v;
    if (i != 3 && i != 4) t.busy += v;  // not idle, not iowait
  }
  return t;
}

constexpr const char* SERVICES[] = {"intake", "router", "notifier"};

struct ServiceTimes {
  Histogram router_batches, notifier_batches, key_fetches;
  CpuTicks cpu;
  std::array<double, std::size(SERVICES)> service_cpu{};  // seconds
  double bench_cpu = 0;                                   // this process: the posting clients
};
ServiceTimes service_times(robustness::RobustStack& s) {
  const std::string batch = "henvis_consumer_batch_apply_seconds";
  ServiceTimes t{histogram(s.port("router"), batch, ""), histogram(s.port("notifier"), batch, ""),
                 histogram(s.port("intake"), "henvis_http_request_duration_seconds",
                           R"({method="POST",route="/v1/internal/data-keys",status_class="2xx"})"),
                 cpu_ticks()};
  for (std::size_t i = 0; i < std::size(SERVICES); ++i)
    t.service_cpu[i] = proc_stats(s.pid(SERVICES[i])).cpu_seconds;
  t.bench_cpu = proc_stats(getpid()).cpu_seconds;
  return t;
}
void print_service_times(const ServiceTimes& before, const ServiceTimes& after) {
  const auto line = [](const char* what, const Histogram& b, const Histogram& a) {
    const double n = a.count - b.count;
    std::printf("    %s: %.0f, mean %.2f ms\n", what, n, n > 0 ? (a.sum - b.sum) / n * 1000 : 0.0);
  };
  line("router batches", before.router_batches, after.router_batches);
  line("notifier batches", before.notifier_batches, after.notifier_batches);
  line("intake key fetches answered", before.key_fetches, after.key_fetches);
  const double total = after.cpu.total - before.cpu.total;
  const double busy_s =
      (after.cpu.busy - before.cpu.busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::printf("    the machine's CPU busy: %.0f %% (%.1f s), of which",
              total > 0 ? 100 * (after.cpu.busy - before.cpu.busy) / total : 0.0, busy_s);
  double henvis = 0;
  for (std::size_t i = 0; i < std::size(SERVICES); ++i) {
    const double used = after.service_cpu[i] - before.service_cpu[i];
    henvis += used;
    std::printf(" %s %.2f s,", SERVICES[i], used);
  }
  const double bench = after.bench_cpu - before.bench_cpu;
  // The machine's ticks and the processes' are read at slightly different
  // instants: a rest near zero can come out a little below it.
  std::printf(" the bench %.2f s, the rest (the broker, anything else) %.1f s\n", bench,
              std::max(0.0, busy_s - henvis - bench));
}

// Posts `rate` offers a second for `seconds` and waits until every routable
// one is in an inbox; their p50 and p99 in ms, in all and by stage.
struct OfferToInbox {
  Quantiles total;
  std::set<std::string> routable;  // the run's offers that reach an inbox
  ServiceTimes after;              // read as the last one arrived
};
OfferToInbox offer_to_inbox(robustness::RobustStack& s, const std::string& run, int rate,
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
  const ServiceTimes after = service_times(s);
  return {quantiles(ms), std::move(routable), after};
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
  return quantiles(ms);
}
}  // namespace

TEST_CASE("bench latency: offer accepted to the centre's inbox against a bare consumer hop",
          "[latency]") {
  const int seconds = static_cast<int>(size("HENVIS_BENCH_SECONDS", 10, 1));
  robustness::RobustStack s({});
  s.start_broker();
  for (const char* svc : SERVICES) s.start(svc);
  // Not measured: the first offers meet cold brokers (a JVM compiling its
  // code, a leader's first appends) and cold services; they put seconds
  // into the first run's p99 alone.
  offer_to_inbox(s, "bench-latency-warmup", 50, smoke() ? 1 : 3);

  for (const int rate : {50, 200}) {
    std::vector<double> p50, p99, hop50, hop99;
    std::array<std::vector<double>, N_STAGES> stage50, stage99;
    for (int rep = 0; rep < reps(); ++rep) {
      const auto run = "bench-latency-" + std::to_string(rate) + "-" + std::to_string(rep);
      const ServiceTimes before = service_times(s);
      const OfferToInbox q = offer_to_inbox(s, run, rate, seconds);
      // After the CPU window: reading the topics from their start is the
      // bench's work, not the run's.
      const Stages stages = stages_of(s, run, q.routable);
      std::printf("  run %d at %d offers/s:\n", rep + 1, rate);
      print_service_times(before, q.after);
      p50.push_back(q.total.p50);
      p99.push_back(q.total.p99);
      for (std::size_t i = 0; i < N_STAGES; ++i) {
        stage50[i].push_back(stages[i].p50);
        stage99[i].push_back(stages[i].p99);
      }
      const Quantiles h = bare_hop(s.bootstrap(), rate, seconds);
      hop50.push_back(h.p50);
      hop99.push_back(h.p99);
    }
    const std::string at = " at " + std::to_string(rate) + " offers/s";
    std::printf("latency: %d s of offers at %d/s, 3 hops (intake outbox -> router -> notifier):\n",
                seconds, rate);
    CHECK(report("offer -> inbox p50" + at, "ms", p50, {{"bare consumer hop p50", "ms", hop50}}));
    CHECK(report("offer -> inbox p99" + at, "ms", p99, {{"bare consumer hop p99", "ms", hop99}}));
    // Where the time goes (a stage may take under a millisecond: not checked).
    for (std::size_t i = 0; i < N_STAGES; ++i) {
      report(std::string("  stage ") + STAGES[i] + " p50" + at, "ms", stage50[i]);
      report(std::string("  stage ") + STAGES[i] + " p99" + at, "ms", stage99[i]);
    }
  }
}
