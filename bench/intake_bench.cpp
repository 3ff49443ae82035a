// intake: durable offers a second from concurrent clients, against GET
// /healthz (a route that does nothing) on the same server from as many
// clients, and SQLite's ceiling for one-row transactions, in the same run.
// An offer is durable when intake answers 201: its row and outbox entry
// are committed (synchronous=FULL).

#include <catch2/catch.hpp>
#include <cstdio>
#include <thread>

#include "../tests/robustness/robust_stack.hpp"
#include "bench.hpp"

using namespace henvis;
using namespace henvis::bench;

namespace {
// About an offer row with its outbox event.
constexpr std::size_t ROW_BYTES = 700;
// /healthz requests per offer of a run: enough for a measurable time.
constexpr std::int64_t HEALTHZ_PER_OFFER = 10;

// `n` GET /healthz from `clients` keep-alive connections; requests a second.
double healthz_per_second(int port, std::int64_t n, int clients) {
  std::atomic<std::int64_t> next{0}, failed{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int c = 0; c < clients; ++c)
    ts.emplace_back([&] {
      robustness::KeepAliveClient client(port);
      while (next++ < n) {
        auto r = client.request("GET", "/healthz", "", "");
        if (!r || r->status != 200) ++failed;
      }
    });
  for (auto& t : ts) t.join();
  const double rate = static_cast<double>(n) / robustness::seconds_since(t0);
  if (failed > 0) throw std::runtime_error(std::to_string(failed.load()) + " /healthz failed");
  return rate;
}
// `n` offers of `run` posted to intake from `clients` keep-alive clients,
// every one answered 201: offers a second, intake's CPU per offer, and its
// /proc figures after.
struct Posted {
  double per_second = 0;
  double cpu_us = 0;
  ProcStats after;
};
Posted post_timed(robustness::RobustStack& s, const std::string& run, std::int64_t n, int clients) {
  robustness::OfferStream st;
  const double cpu0 = proc_stats(s.pid("intake")).cpu_seconds;
  const auto t0 = std::chrono::steady_clock::now();
  robustness::post_offers(st, run, static_cast<int>(n), clients, s.port("intake"));
  Posted out;
  out.per_second = static_cast<double>(n) / robustness::seconds_since(t0);
  out.after = proc_stats(s.pid("intake"));
  out.cpu_us = (out.after.cpu_seconds - cpu0) * 1e6 / static_cast<double>(n);
  INFO(st.failure);
  REQUIRE(st.accepted.load() == n);
  return out;
}
}  // namespace

TEST_CASE("bench intake: durable offers from concurrent clients against healthz and SQLite",
          "[intake]") {
  const std::int64_t n = size("HENVIS_BENCH_N", 10000, 60);
  const int clients = static_cast<int>(size("HENVIS_BENCH_CLIENTS", 8, 2));
  robustness::RobustStack s({});
  s.start_broker();
  s.start("intake");
  const int port = s.port("intake");

  std::vector<double> offers, cpu_us, healthz, one_row;
  for (int rep = 0; rep < reps(); ++rep) {
    const Posted p = post_timed(s, "bench-intake-" + std::to_string(rep), n, clients);
    offers.push_back(p.per_second);
    cpu_us.push_back(p.cpu_us);

    healthz.push_back(healthz_per_second(port, n * HEALTHZ_PER_OFFER, clients));
    one_row.push_back(sqlite_rows_per_second(s.dir(), n, 1, ROW_BYTES));
  }

  std::printf("intake: %lld offers a run from %d keep-alive clients:\n", static_cast<long long>(n),
              clients);
  CHECK(report("intake durable offers", "offers/s", offers,
               {{"GET /healthz on the same server", "req/s", healthz},
                {"SQLite one-row transactions", "tx/s", one_row}}));
  report("intake CPU per offer", "us", cpu_us);
  report("intake RSS", "MiB", {proc_stats(s.pid("intake")).rss_mib});
}

TEST_CASE(
    "bench intake: offers a second, CPU per offer and RSS while 10 000, 100 000 and 1 000 000 "
    "offers are stored",
    "[intake]") {
  const std::int64_t largest = size("HENVIS_BENCH_STORED", 1000000, 600);
  const int clients = static_cast<int>(size("HENVIS_BENCH_CLIENTS", 8, 2));
  robustness::RobustStack s({});
  s.start_broker();
  s.start("intake");

  std::printf(
      "intake: offers from %d keep-alive clients until %lld are stored, in three stages (one "
      "run: a stage's offers stay stored for the next):\n",
      clients, static_cast<long long>(largest));
  std::int64_t stored = 0;
  for (const std::int64_t target : {largest / 100, largest / 10, largest}) {
    const std::int64_t n = target - stored;
    const Posted p = post_timed(s, "bench-intake-stored-" + std::to_string(target), n, clients);
    stored = target;
    const std::string stage = "from " + num(static_cast<double>(target - n)) + " to " +
                              num(static_cast<double>(target)) + " stored";
    CHECK(report("intake durable offers, " + stage, "offers/s", {p.per_second}));
    CHECK(report("intake CPU per offer, " + stage, "us", {p.cpu_us}));
    CHECK(report("intake RSS with " + num(static_cast<double>(target)) + " stored", "MiB",
                 {p.after.rss_mib}));
    CHECK(report("intake peak RSS (VmHWM) so far", "MiB", {p.after.peak_mib}));
  }
}
