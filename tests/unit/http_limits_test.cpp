// The HTTP server's limits (docs/security.md "Limits"): 429 token buckets
// per address, per principal and for failed authentications; failed
// authentications counted and logged in summaries; the connection cap.
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/digest.hpp"
#include "henvis/http.hpp"
#include "henvis/rate_limit.hpp"
#include "henvis/sqlite.hpp"

namespace {

namespace http = henvis::http;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

const std::string OFFICER_TOKEN = "officer-secret-token";
const std::string ANALYST_TOKEN = "evaluator-secret-token";

henvis::auth::TokenStore tokens() {
  henvis::v1::Tokens t;
  auto* a = t.add_tokens();
  a->set_label("officer-1");
  a->set_sha256_hex(henvis::sha256_hex(OFFICER_TOKEN));
  a->set_role(henvis::v1::ROLE_OFFICER);
  auto* b = t.add_tokens();
  b->set_label("evaluator-1");
  b->set_sha256_hex(henvis::sha256_hex(ANALYST_TOKEN));
  b->set_role(henvis::v1::ROLE_EVALUATOR);
  return henvis::auth::TokenStore(t);
}

http::Router routes() {
  http::Router r;
  r.add("GET", "/v1/things", {henvis::v1::ROLE_OFFICER}, [](http::Request&) {
    return http::Response{200, "application/json", "{}"};
  });
  return r;
}

// A server with generous limits except those a test lowers, on a manual clock.
struct Fixture {
  explicit Fixture(http::RateLimits limits, std::size_t max_connections = 0) {
    http::ServerOptions o;
    o.rate_limits = limits;
    o.max_connections = max_connections;
    o.clock = &clock;
    server = std::make_unique<http::Server>(o, store, routes(), metrics, [] { return true; });
  }
  http::Response get(const std::string& address, const std::string& token,
                     const std::string& path = "/v1/things") {
    http::Request req;
    req.method = "GET";
    req.path = path;
    req.remote_address = address;
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    return server->handle(req);
  }
  henvis::ManualClock clock{std::chrono::system_clock::time_point(1'800'000'000s)};
  henvis::auth::TokenStore store = tokens();
  http::Metrics metrics;
  std::unique_ptr<http::Server> server;
};

http::RateLimits generous() {
  http::RateLimits l;
  l.per_address_per_second = l.per_address_burst = 1e6;
  l.per_principal_per_second = l.per_principal_burst = 1e6;
  l.failed_auth_per_minute = 1e6;
  return l;
}

int retry_after(const http::Response& r) {
  auto it = r.headers.find("Retry-After");
  return it == r.headers.end() ? 0 : std::stoi(it->second);
}

}  // namespace

TEST_CASE(
    "limits: the request beyond an address's burst is 429 problem+json with Retry-After, "
    "other addresses unaffected, and the bucket refills",
    "[limits]") {
  auto l = generous();
  l.per_address_per_second = 1;
  l.per_address_burst = 3;
  Fixture f(l);
  for (int i = 0; i < 3; ++i) REQUIRE(f.get("10.0.0.1", OFFICER_TOKEN).status == 200);
  const auto refused = f.get("10.0.0.1", OFFICER_TOKEN);
  CHECK(refused.status == 429);
  CHECK(refused.content_type == "application/problem+json");
  CHECK(retry_after(refused) >= 1);
  CHECK(f.get("10.0.0.2", OFFICER_TOKEN).status == 200);
  // Unknown paths draw from the address's bucket too (scanning).
  CHECK(f.get("10.0.0.1", OFFICER_TOKEN, "/v1/nothing").status == 429);
  f.clock.advance(1s);
  CHECK(f.get("10.0.0.1", OFFICER_TOKEN).status == 200);
  CHECK(f.get("10.0.0.1", OFFICER_TOKEN).status == 429);
}

TEST_CASE(
    "limits: /healthz, /readyz, /metrics and /openapi.json answer after the address's "
    "requests are spent",
    "[limits]") {
  auto l = generous();
  l.per_address_per_second = 1;
  l.per_address_burst = 1;
  Fixture f(l);
  REQUIRE(f.get("10.0.0.1", OFFICER_TOKEN).status == 200);
  REQUIRE(f.get("10.0.0.1", OFFICER_TOKEN).status == 429);
  for (int i = 0; i < 20; ++i) {
    CHECK(f.get("10.0.0.1", "", "/healthz").status == 200);
    CHECK(f.get("10.0.0.1", "", "/readyz").status == 200);
    CHECK(f.get("10.0.0.1", "", "/metrics").status == 200);
    CHECK(f.get("10.0.0.1", "", "/openapi.json").status != 429);
  }
}

TEST_CASE(
    "limits: after its failed authentications an address gets 429 even with a valid "
    "token, until the bucket refills - other addresses are unaffected",
    "[limits]") {
  auto l = generous();
  l.failed_auth_per_minute = 5;  // one every 12 s
  Fixture f(l);
  for (int i = 0; i < 5; ++i)
    REQUIRE(f.get("10.0.0.1", "guess-" + std::to_string(i)).status == 401);
  const auto refused = f.get("10.0.0.1", "guess-5");
  CHECK(refused.status == 429);
  CHECK(retry_after(refused) >= 1);
  CHECK(f.get("10.0.0.1", OFFICER_TOKEN).status == 429);
  CHECK(f.get("10.0.0.2", OFFICER_TOKEN).status == 200);
  f.clock.advance(12s);
  CHECK(f.get("10.0.0.1", OFFICER_TOKEN).status == 200);
}

TEST_CASE("limits: one principal's requests are limited across addresses", "[limits]") {
  auto l = generous();
  l.per_principal_per_second = 1;
  l.per_principal_burst = 2;
  Fixture f(l);
  CHECK(f.get("10.0.0.1", OFFICER_TOKEN).status == 200);
  CHECK(f.get("10.0.0.2", OFFICER_TOKEN).status == 200);
  const auto refused = f.get("10.0.0.3", OFFICER_TOKEN);
  CHECK(refused.status == 429);
  CHECK(retry_after(refused) >= 1);
  f.clock.advance(1s);
  CHECK(f.get("10.0.0.3", OFFICER_TOKEN).status == 200);
}

TEST_CASE(
    "limits: failed authentications are counted by reason and logged as a summary, "
    "never with the token",
    "[limits]") {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("limits-test", sink));
  {
    Fixture f(generous());
    f.get("10.0.0.1", "");
    for (int i = 0; i < 100; ++i) f.get("10.0.0.1", "guess-token-" + std::to_string(i));
    f.get("10.0.0.1", ANALYST_TOKEN);  // a role the route does not allow
    const std::string m = f.metrics.render();
    CHECK(m.find("henvis_http_auth_failures_total{reason=\"missing\"} 1") != std::string::npos);
    CHECK(m.find("henvis_http_auth_failures_total{reason=\"invalid\"} 100") != std::string::npos);
    CHECK(m.find("henvis_http_auth_failures_total{reason=\"forbidden\"} 1") != std::string::npos);
    f.clock.advance(10s);
    f.get("10.0.0.1", "guess-token-last");
  }
  spdlog::set_default_logger(previous);
  const auto lines = sink->last_formatted();
  std::vector<std::string> auth;
  for (const auto& line : lines)
    if (line.find("authentication failed") != std::string::npos) auth.push_back(line);
  REQUIRE(auth.size() == 2);  // the first at once, then one summary
  CHECK(auth[1].find("count=102") != std::string::npos);
  CHECK(auth[1].find("latest_remote=10.0.0.1") != std::string::npos);
  CHECK(auth[1].find("latest_route=/v1/things") != std::string::npos);
  for (const auto& line : lines) CHECK(line.find("guess-token") == std::string::npos);
}

TEST_CASE(
    "limits: the bucket maps stay bounded under many keys, idle full buckets dropped "
    "before a limited one",
    "[limits]") {
  henvis::rate_limit::Buckets b({1, 2}, 100);
  const auto t0 = std::chrono::system_clock::time_point(1'800'000'000s);
  REQUIRE(b.take("guesser", 2, t0) == 0);
  REQUIRE(b.take("guesser", 1, t0) >= 1);
  for (int i = 0; i < 10000; ++i) b.take("a" + std::to_string(i), 1, t0 + 10s);
  CHECK(b.size() <= 100);
  henvis::rate_limit::Buckets c({1, 2}, 3);
  REQUIRE(c.take("guesser", 2, t0) == 0);
  // Two others, then full again (idle 2 s): dropped before the guesser.
  c.take("x", 1, t0);
  c.take("y", 1, t0);
  CHECK(c.take("z", 1, t0 + 1500ms) == 0);
  CHECK(c.size() <= 3);
  CHECK(c.take("guesser", 2, t0 + 1500ms) >= 1);
}

namespace {
// Reads whatever the server sends until it closes the connection.
std::string read_to_eof(tcp::socket& s) {
  std::string out;
  char buf[1024];
  beast::error_code ec;
  for (;;) {
    auto n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) return out;
  }
}

// A connection to the server on `port` from the loopback address `from`
// (all of 127/8 is the loopback interface, so one test plays many clients).
std::unique_ptr<tcp::socket> connect_from(asio::io_context& ioc, const std::string& from,
                                          int port) {
  auto s = std::make_unique<tcp::socket>(ioc);
  s->open(tcp::v4());
  s->bind({asio::ip::make_address(from), 0});
  s->connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  return s;
}

int healthz_status(asio::io_context& ioc, int port, const std::string& from = "127.0.0.1",
                   const std::string& path = "/healthz") {
  auto sp = connect_from(ioc, from, port);
  auto& s = *sp;
  bhttp::request<bhttp::empty_body> req(bhttp::verb::get, path, 11);
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(s, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  beast::error_code ec;
  bhttp::read(s, buffer, res, ec);
  return ec ? 0 : res.result_int();
}
}  // namespace

TEST_CASE(
    "limits: beyond max_connections a connection is answered 503 and closed at once - "
    "when one closes, /healthz answers again",
    "[limits]") {
  Fixture f(generous(), 2);
  f.server->start();
  asio::io_context ioc;
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"),
                         static_cast<unsigned short>(f.server->port()));
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 2; ++i) {
    idle.push_back(std::make_unique<tcp::socket>(ioc));
    idle.back()->connect(ep);
  }
  tcp::socket third(ioc);
  third.connect(ep);
  // Today's server would hold it open, saying nothing, until its idle timeout.
  const std::string answer = read_to_eof(third);
  CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(answer.find("application/problem+json") != std::string::npos);
  idle.front()->close();
  int status = 0;
  for (int attempt = 0; attempt < 200 && status != 200; ++attempt) {
    status = healthz_status(ioc, f.server->port());
    if (status != 200) std::this_thread::sleep_for(10ms);
  }
  CHECK(status == 200);
  CHECK(f.metrics.render().find("henvis_http_connections_refused_total") != std::string::npos);
  f.server->stop();
}

TEST_CASE(
    "limits: one address holding max_connections_per_address connections is refused more, "
    "while another address is still served",
    "[limits]") {
  http::ServerOptions o;
  o.rate_limits = generous();
  o.max_connections = 100;
  o.max_connections_per_address = 2;
  henvis::auth::TokenStore store = tokens();
  http::Metrics metrics;
  http::Server server(o, store, routes(), metrics, [] { return true; });
  server.start();
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 2; ++i) idle.push_back(connect_from(ioc, "127.0.0.2", server.port()));
  auto third = connect_from(ioc, "127.0.0.2", server.port());
  CHECK(read_to_eof(*third).rfind("HTTP/1.1 503", 0) == 0);
  CHECK(healthz_status(ioc, server.port(), "127.0.0.1") == 200);
  CHECK(metrics.render().find("henvis_http_connections_refused_total{limit=\"address\"} 1") !=
        std::string::npos);
  server.stop();
}

TEST_CASE(
    "limits: with a handler thread, GET /healthz, /readyz and /metrics answer while a slow "
    "handler holds that thread",
    "[limits]") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, entered = false;
  http::Router r;
  r.add("GET", "/v1/things", {henvis::v1::ROLE_OFFICER}, [&](http::Request&) {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return http::Response{200, "application/json", "{}"};
  });
  http::ServerOptions o;
  o.rate_limits = generous();
  o.handler_threads = 1;
  henvis::auth::TokenStore store = tokens();
  http::Metrics metrics;
  http::Server server(o, store, std::move(r), metrics, [] { return true; });
  server.start();
  asio::io_context ioc;
  auto slow = connect_from(ioc, "127.0.0.1", server.port());
  bhttp::request<bhttp::empty_body> req(bhttp::verb::get, "/v1/things", 11);
  req.set(bhttp::field::host, "127.0.0.1");
  req.set(bhttp::field::authorization, "Bearer " + OFFICER_TOKEN);
  bhttp::write(*slow, req);
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return entered; }));
  }
  // Before the handler thread is free again: each probe is answered.
  for (const char* path : {"/healthz", "/readyz", "/metrics"})
    CHECK(healthz_status(ioc, server.port(), "127.0.0.1", path) == 200);
  {
    std::lock_guard lock(mu);
    CHECK_FALSE(release);
    release = true;
  }
  cv.notify_all();
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(*slow, buffer, res);
  CHECK(res.result_int() == 200);
  server.stop();
}

TEST_CASE(
    "limits: with several handler threads, a slow handler holds up neither the probes nor other "
    "requests",
    "[limits][threads]") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, entered = false;
  http::Router r;
  r.add("GET", "/v1/slow", {henvis::v1::ROLE_OFFICER}, [&](http::Request&) {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return http::Response{200, "application/json", "{}"};
  });
  r.add("GET", "/v1/fast", {henvis::v1::ROLE_OFFICER}, [](http::Request&) {
    return http::Response{200, "application/json", "{}"};
  });
  http::ServerOptions o;
  o.rate_limits = generous();
  o.handler_threads = 2;
  henvis::auth::TokenStore store = tokens();
  http::Metrics metrics;
  http::Server server(o, store, std::move(r), metrics, [] { return true; });
  server.start();
  asio::io_context ioc;
  auto get = [&](tcp::socket& s, const char* path) {
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, path, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::authorization, "Bearer " + OFFICER_TOKEN);
    bhttp::write(s, req);
  };
  auto read_status = [](tcp::socket& s) {
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buffer, res);
    return res.result_int();
  };
  auto slow = connect_from(ioc, "127.0.0.1", server.port());
  get(*slow, "/v1/slow");
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return entered; }));
  }
  // While the slow handler holds one thread, another request is answered.
  auto fast = connect_from(ioc, "127.0.0.1", server.port());
  get(*fast, "/v1/fast");
  CHECK(read_status(*fast) == 200);
  {
    std::lock_guard lock(mu);
    CHECK_FALSE(release);
    release = true;
  }
  cv.notify_all();
  CHECK(read_status(*slow) == 200);
  server.stop();
}

TEST_CASE("limits: a database still locked after the busy timeout is 503 with Retry-After",
          "[limits][threads]") {
  http::Router r;
  r.add("POST", "/v1/things", {henvis::v1::ROLE_OFFICER}, [](http::Request&) -> http::Response {
    throw henvis::sqlite::Error(SQLITE_BUSY, "database is locked");
  });
  r.add("GET", "/v1/broken", {henvis::v1::ROLE_OFFICER}, [](http::Request&) -> http::Response {
    throw henvis::sqlite::Error(SQLITE_CORRUPT, "database disk image is malformed");
  });
  http::ServerOptions o;
  o.rate_limits = generous();
  henvis::auth::TokenStore store = tokens();
  http::Metrics metrics;
  http::Server server(o, store, std::move(r), metrics, [] { return true; });
  server.start();
  asio::io_context ioc;
  auto send = [&](bhttp::verb verb, const char* path) {
    auto s = connect_from(ioc, "127.0.0.1", server.port());
    bhttp::request<bhttp::string_body> req(verb, path, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::authorization, "Bearer " + OFFICER_TOKEN);
    if (verb == bhttp::verb::post) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = "{}";
    }
    req.prepare_payload();
    bhttp::write(*s, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(*s, buffer, res);
    return res;
  };
  const auto busy = send(bhttp::verb::post, "/v1/things");
  CHECK(busy.result_int() == 503);
  CHECK(busy[bhttp::field::retry_after] == "1");
  CHECK(busy[bhttp::field::content_type] == "application/problem+json");
  // Not every database error is worth a retry.
  CHECK(send(bhttp::verb::get, "/v1/broken").result_int() == 500);
  server.stop();
}
