// The load test of issue 12 item 4: a real intake holds 10 000 idle
// connections while a client sends 1 000 requests with bad tokens a second,
// and GET /healthz from another address still answers each probe. The
// probes' latencies are printed (target: < 100 ms); the test pins that every
// probe is answered 200 and that no connection was refused.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace henvis::testing;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t IDLE_TARGET = 10000;
constexpr int BAD_TOKENS_PER_SECOND = 1000;
constexpr int GUESSERS = 4;  // connections, each sending its share
constexpr auto ATTACK = 5s;
constexpr auto PROBE_EVERY = 50ms;

// Raises this process's open-file limit to its hard limit (the services
// started afterwards inherit it) and returns how many idle connections fit
// with room for everything else.
std::size_t idle_connections_that_fit() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  const auto room = r.rlim_cur == RLIM_INFINITY ? IDLE_TARGET : r.rlim_cur - 1000;
  return std::min<std::size_t>(IDLE_TARGET, room);
}

tcp::endpoint service(int port) {
  return {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)};
}

// A connection from the loopback address `from` (all of 127/8 is loopback).
std::unique_ptr<beast::tcp_stream> connect_from(asio::io_context& ioc, const std::string& from,
                                                int port) {
  auto s = std::make_unique<beast::tcp_stream>(ioc);
  s->socket().open(tcp::v4());
  s->socket().bind({asio::ip::make_address(from), 0});
  s->expires_after(5s);
  s->connect(service(port));
  return s;
}

// One request on `s`; the status, or 0 if it failed or took over 5 s.
int request(beast::tcp_stream& s, bhttp::verb verb, const std::string& target,
            const std::string& token) {
  bhttp::request<bhttp::empty_body> req(verb, target, 11);
  req.set(bhttp::field::host, "127.0.0.1");
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  beast::error_code ec;
  s.expires_after(5s);
  bhttp::write(s, req, ec);
  if (ec) return 0;
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buffer, res, ec);
  return ec ? 0 : res.result_int();
}

// Sends its share of BAD_TOKENS_PER_SECOND requests, each with a fresh
// guessed token, paced over one keep-alive connection (reconnecting if the
// server closes it).
void guess_tokens(int port, const std::atomic<bool>& stop, std::atomic<int>& sent) {
  asio::io_context ioc;
  auto s = connect_from(ioc, "127.0.0.3", port);
  auto next = std::chrono::steady_clock::now();
  while (!stop) {
    const std::string token = "guess-" + std::to_string(sent++);
    if (request(*s, bhttp::verb::post, "/v1/offers", token) == 0)
      s = connect_from(ioc, "127.0.0.3", port);
    next += std::chrono::microseconds(1'000'000 * GUESSERS / BAD_TOKENS_PER_SECOND);
    std::this_thread::sleep_until(next);
  }
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

TEST_CASE(
    "load: /healthz answers every probe while 10 000 idle connections are held and 1 000 "
    "bad-token requests a second arrive",
    "[integration][load]") {
  const std::size_t idle_count = idle_connections_that_fit();
  if (idle_count < IDLE_TARGET)
    WARN("the open-file limit allows only " << idle_count << " idle connections");
  Stack s;
  write_service_config(s.dir(), "intake", "",
                       "max_connections: 15000 max_connections_per_address: 4000");
  s.start_broker();
  s.start("intake");
  const int port = s.port("intake");

  // Spread over four addresses, each under max_connections_per_address.
  asio::io_context ioc;
  std::vector<std::unique_ptr<beast::tcp_stream>> idle;
  idle.reserve(idle_count);
  for (std::size_t i = 0; i < idle_count; ++i)
    idle.push_back(connect_from(ioc, "127.0.1." + std::to_string(1 + i % 4), port));

  // Every one accepted (not waiting in the listen backlog) before the attack.
  REQUIRE(eventually([&] { return metric(port, "henvis_http_connections") >= idle_count; },
                     std::chrono::seconds(120)));

  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::vector<std::thread> guessers;
  for (int i = 0; i < GUESSERS; ++i)
    guessers.emplace_back(guess_tokens, port, std::cref(stop), std::ref(sent));
  std::vector<double> millis;
  int answered = 0;
  const auto end = std::chrono::steady_clock::now() + ATTACK;
  while (std::chrono::steady_clock::now() < end) {
    const auto t0 = std::chrono::steady_clock::now();
    auto probe = connect_from(ioc, "127.0.0.1", port);
    if (request(*probe, bhttp::verb::get, "/healthz", "") == 200) ++answered;
    millis.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    std::this_thread::sleep_for(PROBE_EVERY);
  }
  stop = true;
  for (auto& g : guessers) g.join();

  std::printf(
      "load: %zu idle connections, %d bad-token requests in %lld s (paced at %d/s); /healthz p50 "
      "%.1f ms, p99 "
      "%.1f ms, max %.1f ms over %zu probes (target < 100 ms: %s)\n",
      idle.size(), sent.load(), static_cast<long long>(ATTACK.count()), BAD_TOKENS_PER_SECOND,
      percentile(millis, 0.5), percentile(millis, 0.99), percentile(millis, 1.0), millis.size(),
      percentile(millis, 1.0) < 100 ? "met" : "missed");
  CHECK(answered == static_cast<int>(millis.size()));
  // The rate reached is printed, not asserted (a loaded machine sends fewer);
  // every guess got its answer.
  CHECK(sent > 0);
  CHECK(metric(port, "henvis_http_connections_refused_total{limit=\"total\"}") == 0);
  CHECK(metric(port, "henvis_http_connections_refused_total{limit=\"address\"}") == 0);
  // The guesses were answered 401, then 429 once the failed-auth bucket ran dry.
  CHECK(metric(port, "henvis_http_rate_limited_total{limit=\"failed_auth\"}") > 0);
}
