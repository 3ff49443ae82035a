// router: how fast henvis-router drains a backlog of offers, against a raw
// consume of the same topic with the same client library and SQLite's
// ceiling for batched writes of the same count, in the same run.
//
// The offers go through intake's HTTP API first (they are sealed with data
// keys intake holds); then, in each run, the router starts on an empty
// database, so it reads henvis.offers.v1 from the beginning, and the run
// ends when its consumer has taken every offer.

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>

#include "../tests/robustness/robust_stack.hpp"
#include "bench.hpp"
#include "henvis/topics.hpp"

using namespace henvis;
using namespace henvis::bench;
namespace fs = std::filesystem;

namespace {
// Clients posting the backlog to intake.
constexpr int POSTERS = 8;
// Rows per commit in the SQLite anchor: a consumer loop's poll batch.
constexpr int BATCH = 500;
// About an offer event's size (sealed contact, CloudEvents headers apart).
constexpr std::size_t EVENT_BYTES = 700;
constexpr auto DRAIN_LIMIT = std::chrono::minutes(30);

// Offers the router's consumer has taken: applied, skipped or dead-lettered.
double taken(int port) {
  return testing::metric(port, "henvis_consumer_applied_total") +
         testing::metric(port, "henvis_consumer_duplicates_total") +
         testing::metric(port, "henvis_consumer_dead_lettered_total");
}
}  // namespace

TEST_CASE("bench router: drain a backlog of offers against a raw consume and SQLite batches",
          "[router]") {
  const std::int64_t n = size("HENVIS_BENCH_N", 20000, 60);
  robustness::RobustStack s({});
  s.start_broker();
  s.start("intake");
  robustness::OfferStream st;
  robustness::post_offers(st, "bench-router", static_cast<int>(n), POSTERS, s.port("intake"));
  INFO(st.failure);
  REQUIRE(st.accepted.load() == n);

  std::vector<double> drain, cpu_us, rss, raw, sqlite_batched;
  for (int rep = 0; rep < reps(); ++rep) {
    raw.push_back(raw_consume_per_second(s.bootstrap(), topics::OFFERS, n));

    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(s.database("router") + suffix);
    const auto t0 = std::chrono::steady_clock::now();
    s.start("router");
    const int port = s.port("router");
    REQUIRE(
        testing::eventually([&] { return taken(port) >= static_cast<double>(n); }, DRAIN_LIMIT));
    drain.push_back(static_cast<double>(n) / robustness::seconds_since(t0));
    const ProcStats p = proc_stats(s.pid("router"));
    cpu_us.push_back(p.cpu_seconds * 1e6 / static_cast<double>(n));
    rss.push_back(p.rss_mib);
    CHECK(s.stop("router") == 0);

    sqlite_batched.push_back(sqlite_rows_per_second(s.dir(), n, BATCH, EVENT_BYTES));
  }

  std::printf(
      "router drain of %lld offers (router started on an empty database, timed from its "
      "start to the last offer taken):\n",
      static_cast<long long>(n));
  CHECK(
      report("router drain", "events/s", drain,
             {{"raw consume of " + std::string(topics::OFFERS), "msg/s", raw},
              {"SQLite " + std::to_string(BATCH) + " rows per commit", "rows/s", sqlite_batched}}));
  report("router CPU per event", "us", cpu_us);
  report("router RSS after the drain", "MiB", rss);
}
