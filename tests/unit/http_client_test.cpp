// henvis/http_client.hpp: what goes on the wire, keep-alive, and that every
// failure ends as a TransportError naming its step (never a hang).
#include "henvis/http_client.hpp"
#include "henvis/data_keys.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace http = henvis::http;
using tcp = asio::ip::tcp;

// A loopback server on a thread of its own. Modes: answer each request
// (keeping the connection open while the client asks it to), answer one
// request as if keeping the connection and then close it (as a server's
// idle timeout does between requests), or accept and never answer.
class Server {
 public:
  enum class Mode { answer, answer_chunked, answer_then_close, silent };
  struct Seen {
    std::string method, target, host, connection, user_agent, body;
    int connection_no = 0;
  };

  explicit Server(Mode mode, std::string answer_body = "hello",
                  bhttp::status status = bhttp::status::created)
      : mode_(mode), answer_body_(std::move(answer_body)), status_(status) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = std::to_string(acceptor_.local_endpoint().port());
    thread_ = std::thread([this] { serve(); });
  }
  ~Server() {
    stop_ = true;
    // Unblock accept() with a connection of our own.
    boost::system::error_code ec;
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port_))},
              ec);
    thread_.join();
  }
  http::Endpoint endpoint() const { return {"127.0.0.1", port_}; }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void serve() {
    for (int n = 1; !stop_; ++n) {
      auto socket = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stop_) return;
      open_.push_back(socket);
      if (mode_ == Mode::silent) continue;  // holds the connection, says nothing
      beast::flat_buffer buffer;
      for (;;) {
        bhttp::request<bhttp::string_body> req;
        bhttp::read(*socket, buffer, req, ec);
        if (ec) break;
        {
          std::lock_guard lock(mu_);
          seen_.push_back({std::string(req.method_string()), std::string(req.target()),
                           std::string(req[bhttp::field::host]),
                           std::string(req[bhttp::field::connection]),
                           std::string(req[bhttp::field::user_agent]), req.body(), n});
        }
        bhttp::response<bhttp::string_body> res{status_, 11};
        res.set(bhttp::field::content_type, "text/plain");
        res.keep_alive(req.keep_alive());
        res.body() = answer_body_;
        res.prepare_payload();
        if (mode_ == Mode::answer_chunked) res.chunked(true);
        bhttp::write(*socket, res, ec);
        if (mode_ == Mode::answer_then_close) socket->close(ec);
        if (ec || !req.keep_alive() || mode_ == Mode::answer_then_close) break;
      }
    }
  }

  Mode mode_;
  std::string answer_body_;
  bhttp::status status_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::string port_;
  std::atomic<bool> stop_{false};
  std::vector<std::shared_ptr<tcp::socket>> open_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

// A port nothing listens on: bound, then closed.
std::string closed_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return std::to_string(a.local_endpoint().port());
}

}  // namespace

TEST_CASE("http::request sends one request with Host, Connection: close and the caller's headers",
          "[http_client]") {
  Server server(Server::Mode::answer);
  const auto r = http::request(server.endpoint(), "POST", "/a/b?c=1",
                               {{"User-Agent", "test-agent"}}, "payload");
  CHECK(r.status == 201);
  CHECK(r.content_type == "text/plain");
  CHECK(r.body == "hello");
  const auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/a/b?c=1");
  CHECK(seen[0].host == "127.0.0.1:" + server.endpoint().port);
  CHECK(seen[0].connection == "close");
  CHECK(seen[0].user_agent == "test-agent");
  CHECK(seen[0].body == "payload");
}

TEST_CASE("http::Connection sends several requests over one kept-alive connection",
          "[http_client]") {
  Server server(Server::Mode::answer);
  http::Connection c(server.endpoint());
  CHECK_FALSE(c.is_open());
  CHECK(c.request("GET", "/one").status == 201);
  CHECK(c.is_open());
  CHECK(c.request("GET", "/two").status == 201);
  const auto seen = server.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].connection_no == seen[1].connection_no);
  c.close();
  CHECK_FALSE(c.is_open());
  CHECK(c.request("GET", "/three").status == 201);
  CHECK(server.seen().back().connection_no != seen[0].connection_no);
}

TEST_CASE("http::Connection closes when the server answers Connection: close", "[http_client]") {
  Server server(Server::Mode::answer);
  http::Connection c(server.endpoint());
  CHECK(c.request("GET", "/", {{"Connection", "close"}}).status == 201);
  CHECK_FALSE(c.is_open());
}

TEST_CASE("a peer that accepts and never answers is a read error after the timeout",
          "[http_client]") {
  Server server(Server::Mode::silent);
  const auto start = std::chrono::steady_clock::now();
  try {
    http::request(server.endpoint(), "GET", "/", {}, {}, {std::chrono::milliseconds(300)});
    FAIL("no error");
  } catch (const http::TransportError& e) {
    CHECK(e.step() == "read");
    CHECK(std::string(e.what()).rfind("read: ", 0) == 0);
    CHECK_FALSE(e.peer_closed());  // a timeout: the key sources do not ask again
  }
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= std::chrono::milliseconds(250));
  CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("a refused connection is a connect error, an unknown host a resolve error",
          "[http_client]") {
  try {
    http::request({"127.0.0.1", closed_port()}, "GET", "/");
    FAIL("no error");
  } catch (const http::TransportError& e) {
    CHECK(e.step() == "connect");
  }
  http::Connection c({"no-such-host.invalid", "80"});
  try {
    c.connect();
    FAIL("no error");
  } catch (const http::TransportError& e) {
    CHECK(e.step() == "resolve");
  }
  CHECK_FALSE(c.is_open());
}

TEST_CASE("an answer body over the limit is a read error and closes the connection",
          "[http_client]") {
  // With a Content-Length and chunked: Beast 1.74 itself checks only the latter.
  for (auto mode : {Server::Mode::answer, Server::Mode::answer_chunked}) {
    Server server(mode, std::string(2048, 'x'));
    http::Connection c(server.endpoint(), {http::DEFAULT_TIMEOUT, 1024});
    try {
      c.request("GET", "/");
      FAIL("no error");
    } catch (const http::TransportError& e) {
      CHECK(e.step() == "read");
    }
    CHECK_FALSE(c.is_open());
    http::Connection roomy(server.endpoint(), {http::DEFAULT_TIMEOUT, 2048});
    CHECK(roomy.request("GET", "/").body.size() == 2048);
  }
}

// ------------------------------------------------ the consumers' key sources

TEST_CASE("data keys: a key source asks every batch over one kept-alive connection",
          "[http_client][shred]") {
  // Given a key service that knows none of the ids asked
  Server server(Server::Mode::answer, R"({"unknown":["r-1"]})", bhttp::status::ok);
  henvis::data_keys::IntakeSource intake("http://127.0.0.1:" + server.endpoint().port, "token");
  // When two batches ask for their keys
  for (int batch = 0; batch < 2; ++batch) {
    const auto keys = intake.keys({"r-1"});
    REQUIRE(keys.size() == 1);
    CHECK_FALSE(keys.at("r-1").has_value());
  }
  // Then both requests went over the same connection, which was kept alive
  const auto seen = server.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].target == "/v1/internal/data-keys");
  CHECK(seen[0].connection_no == seen[1].connection_no);
  CHECK(seen[1].connection != "close");
}

TEST_CASE(
    "data keys: a kept-alive connection the server closed meanwhile is opened again for the same "
    "request",
    "[http_client][shred]") {
  // Given a key service that closes each connection after its answer
  Server server(Server::Mode::answer_then_close, R"({"unknown":["r-1"]})", bhttp::status::ok);
  henvis::data_keys::IntakeSource intake("http://127.0.0.1:" + server.endpoint().port, "token");
  REQUIRE(intake.keys({"r-1"}).size() == 1);
  // When the next batch asks on the connection the server has closed
  const auto keys = intake.keys({"r-1"});
  // Then it gets its answer, on a new connection, without an error
  CHECK(keys.size() == 1);
  const auto seen = server.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].connection_no != seen[1].connection_no);
}

TEST_CASE(
    "http::Connection: a request on a connection the server has closed is a peer_closed error",
    "[http_client]") {
  Server server(Server::Mode::answer_then_close);
  http::Connection c(server.endpoint());
  REQUIRE(c.request("GET", "/one").status == 201);
  REQUIRE(c.is_open());  // the answer said keep-alive
  try {
    c.request("GET", "/two");
    FAIL("no error");
  } catch (const http::TransportError& e) {
    CHECK(e.peer_closed());
  }
}
