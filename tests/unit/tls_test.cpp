// TLS on the kit's HTTP server and client (henvis/tls.hpp): what the server
// refuses (old protocol versions, plain HTTP, a silent client), what the
// client refuses (an untrusted certificate, a certificate for another name)
// before a byte of the request leaves, and the config rule (no plain HTTP
// outside dev).
#include "henvis/tls.hpp"

#include <openssl/ssl.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "../test_ca.hpp"
#include "channels.hpp"
#include "henvis/auth.hpp"
#include "henvis/config.hpp"
#include "henvis/http.hpp"
#include "henvis/http_client.hpp"
#include "henvis/v1/config.pb.h"
#include "henvisctl/client.hpp"
#include "support.hpp"

namespace {

namespace asio = boost::asio;
namespace http = henvis::http;
using henvis::test::TempDir;
using henvis::testing::make_test_ca;
using henvis::testing::TestCa;
using tcp = asio::ip::tcp;

// A kit server on loopback with `ca`'s server certificate, counting the
// requests its one route (POST /hook, no token) was given.
struct TlsServer {
  explicit TlsServer(const TestCa& ca,
                     std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10)) {
    http::Router router;
    router.add_open("POST", "/hook", [this](http::Request&) {
      ++handled;
      return http::Response(200, "text/plain", "ok\n");
    });
    http::ServerOptions o;
    o.tls = henvis::tls::server_context({ca.cert(), ca.key(), {}});
    o.tls_handshake_timeout = handshake_timeout;
    server.emplace(std::move(o), tokens, std::move(router), metrics, [] { return true; });
    server->start();
  }
  std::string port() const { return std::to_string(server->port()); }
  double handshake_failures() {
    return metrics
        .counter("henvis_http_tls_handshake_failures_total",
                 "TLS handshakes that failed or timed out")
        .Value();
  }

  henvis::auth::TokenStore tokens;
  http::Metrics metrics;
  std::atomic<int> handled{0};
  std::optional<http::Server> server;
};

http::ClientOptions trusting(const std::string& ca_file) {
  http::ClientOptions o;
  o.timeout = std::chrono::seconds(5);
  o.ca_file = ca_file;
  return o;
}

// The TransportError of a POST to https://host:port/hook; "" if it succeeded.
std::string post_error(const std::string& host, const std::string& port,
                       const http::ClientOptions& options) {
  try {
    http::request({host, port, true}, "POST", "/hook", {}, "cpr=0101901234", options);
  } catch (const http::TransportError& e) {
    return e.step() + ": " + e.message();
  }
  return {};
}

// What a raw TCP client gets back after sending `bytes` (until EOF or 3 s).
std::string raw_exchange(const std::string& port, const std::string& bytes) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port))});
  asio::write(s, asio::buffer(bytes));
  struct timeval tv {
    3, 0
  };
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
  }
  return got;
}

}  // namespace

TEST_CASE("https server: a client trusting its CA gets the answer over TLS 1.2 or newer",
          "[tls][http]") {
  // Given a kit server with a certificate from a test CA
  TempDir tmp("henvis-tls");
  const TestCa ca = make_test_ca(tmp.path / "ca");
  TlsServer server(ca);
  // When a client trusting that CA posts by IP address and by name
  for (const char* host : {"127.0.0.1", "localhost"}) {
    const auto r =
        http::request({host, server.port(), true}, "POST", "/hook", {}, "x", trusting(ca.ca()));
    // Then it is answered
    CHECK(r.status == 200);
  }
  CHECK(server.handled.load() == 2);
}

TEST_CASE("https server refuses TLS 1.1", "[tls][http]") {
  // Given a kit server with TLS
  TempDir tmp("henvis-tls");
  const TestCa ca = make_test_ca(tmp.path / "ca");
  TlsServer server(ca);
  // When a client that speaks at most TLS 1.1 (and would accept any
  // certificate and weak ciphers) handshakes
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
  SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT:@SECLEVEL=0");
  ctx.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<tcp::socket> s(ioc, ctx);
  s.next_layer().connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(server.port()))});
  boost::system::error_code ec;
  s.handshake(asio::ssl::stream_base::client, ec);
  // Then the handshake fails, and the server counts it
  CHECK(ec);
  for (int i = 0; i < 100 && server.handshake_failures() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(server.handshake_failures() >= 1);
}

TEST_CASE("https server answers plain HTTP on its port with no HTTP response", "[tls][http]") {
  // Given a kit server with TLS
  TempDir tmp("henvis-tls");
  const TestCa ca = make_test_ca(tmp.path / "ca");
  TlsServer server(ca);
  // When a plain HTTP request is sent to its port
  const std::string got =
      raw_exchange(server.port(), "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx");
  // Then no HTTP answer comes back and no handler ran
  CHECK(got.find("HTTP/") == std::string::npos);
  CHECK(server.handled.load() == 0);
}

TEST_CASE("https server drops a client that does not finish its handshake in time", "[tls][http]") {
  // Given a kit server with a 300 ms handshake timeout
  TempDir tmp("henvis-tls");
  const TestCa ca = make_test_ca(tmp.path / "ca");
  TlsServer server(ca, std::chrono::milliseconds(300));
  // When a client connects and says nothing
  const auto started = std::chrono::steady_clock::now();
  const std::string got = raw_exchange(server.port(), "");
  // Then the server closes the connection well before the client's 3 s wait ends
  CHECK(got.empty());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2500));
}

TEST_CASE("https client refuses a certificate from a CA it does not trust - nothing is sent",
          "[tls][http]") {
  // Given a server with a certificate from one test CA
  TempDir tmp("henvis-tls");
  const TestCa ca = make_test_ca(tmp.path / "ca");
  const TestCa other = make_test_ca(tmp.path / "other");
  TlsServer server(ca);
  // When a client trusting another CA, or the system's CAs, posts to it
  const std::string with_other = post_error("127.0.0.1", server.port(), trusting(other.ca()));
  const std::string with_system = post_error("127.0.0.1", server.port(), trusting(""));
  // Then the handshake fails naming the reason, and the server got no request
  CHECK(with_other.find("handshake: ") == 0);
  CHECK(with_other.find("certificate verify failed") != std::string::npos);
  CHECK(with_system.find("handshake: ") == 0);
  CHECK(server.handled.load() == 0);
}

TEST_CASE("https client refuses a trusted certificate made for another host name", "[tls][http]") {
  // Given a server whose certificate (from a CA the client trusts) names only henvis.invalid
  TempDir tmp("henvis-tls");
  const TestCa ca = make_test_ca(tmp.path / "ca", "DNS:henvis.invalid");
  TlsServer server(ca);
  // When the client reaches it as 127.0.0.1 and as localhost
  for (const char* host : {"127.0.0.1", "localhost"}) {
    const std::string e = post_error(host, server.port(), trusting(ca.ca()));
    // Then the handshake fails on the name
    INFO(e);
    CHECK(e.find("handshake: ") == 0);
    CHECK(e.find("mismatch") != std::string::npos);
  }
  CHECK(server.handled.load() == 0);
}

TEST_CASE("config: plain HTTP is refused outside dev, naming http.tls - bad TLS files are named",
          "[tls][config]") {
  TempDir tmp("henvis-tls");
  const TestCa ca = make_test_ca(tmp.path / "ca");
  const TestCa other = make_test_ca(tmp.path / "other");
  henvis::v1::ServiceConfig c;
  // Given a config without http.tls / When not dev / Then one error naming the field
  CHECK_THROWS_WITH(henvis::config::server_tls(c, "."), Catch::StartsWith("http.tls is required"));
  // And with dev: true it is plain HTTP
  c.set_dev(true);
  CHECK(henvis::config::server_tls(c, ".") == nullptr);
  // Given TLS files, relative to the config's directory / Then a context
  auto* t = c.mutable_http()->mutable_tls();
  t->set_cert_chain_file("ca/server.pem");
  t->set_key_file("ca/server.key");
  CHECK(henvis::config::server_tls(c, tmp.path.string()) != nullptr);
  // Given a key that is not the certificate's / Then an error naming key_file
  t->set_key_file((other.dir / "server.key").string());
  CHECK_THROWS_WITH(henvis::config::server_tls(c, tmp.path.string()),
                    Catch::StartsWith("http.tls.key_file") && Catch::Contains("does not match"));
  // Given a certificate file that does not exist / Then an error naming cert_chain_file
  t->set_cert_chain_file("missing.pem");
  CHECK_THROWS_WITH(
      henvis::config::server_tls(c, tmp.path.string()),
      Catch::StartsWith("http.tls.cert_chain_file") && Catch::Contains("cannot be read"));
  // Given a key file that is a certificate / Then an error naming key_file
  t->set_cert_chain_file(ca.cert());
  t->set_key_file(ca.ca());
  CHECK_THROWS_WITH(henvis::config::server_tls(c, tmp.path.string()),
                    Catch::StartsWith("http.tls.key_file"));
}

TEST_CASE("webhook and henvisctl URLs: https with port 443 by default - http only where allowed",
          "[tls][notifier][henvisctl]") {
  // Given an https webhook URL / Then TLS on 443
  const auto u = henvis::notifier::parse_http_url("https://centre.example/hook");
  CHECK(u.tls);
  CHECK(u.port == "443");
  CHECK(u.target == "/hook");
  // Given an http URL outside dev / Then refused, naming https
  CHECK_THROWS_WITH(henvis::notifier::parse_http_url("http://centre.example/hook", false),
                    Catch::Contains("https://"));
  CHECK_FALSE(henvis::notifier::parse_http_url("http://127.0.0.1:9/hook", true).tls);
  // Given henvisctl's service URLs / Then https is TLS on 443 unless a port is given
  const auto c = henvis::client::parse_url("https://henvis.example/base/");
  CHECK(c.tls);
  CHECK(c.port == "443");
  CHECK(c.base_path == "/base");
  CHECK(henvis::client::parse_url("https://127.0.0.1:8081").port == "8081");
  CHECK_THROWS(henvis::client::parse_url("ftp://x"));
}

TEST_CASE(
    "notifier settings: outside dev a webhook must be https - a recipient's CA file must be "
    "readable",
    "[tls][notifier]") {
  TempDir tmp("henvis-tls");
  tmp.write("webhook.key", "secret\n");
  const TestCa ca = make_test_ca(tmp.path / "ca");
  // The Herning centre reached by webhook at `url`, trusting `ca_file`.
  const auto settings = [&](const std::string& url, const std::string& ca_file, bool dev) {
    henvis::v1::Directory d = henvis::test::dev_directory().raw();
    for (auto& r : *d.mutable_recipients()) {
      if (r.id() != "rusmiddelcenter-657") continue;
      r.set_channel(henvis::v1::CHANNEL_WEBHOOK);
      r.set_webhook_url(url);
      r.set_webhook_secret_file("webhook.key");
      r.set_webhook_ca_file(ca_file);
    }
    henvis::v1::ServiceConfig config;
    config.set_dev(dev);
    return henvis::notifier::Settings(henvis::Directory(d), config, tmp.path.string());
  };
  // Given an http:// webhook in a production config / Then refused naming the recipient and field
  CHECK_THROWS_WITH(settings("http://centre.example/hook", "", false),
                    Catch::Contains("rusmiddelcenter-657") && Catch::Contains("webhook_url") &&
                        Catch::Contains("https://"));
  // And in a dev config it is allowed
  CHECK_NOTHROW(settings("http://127.0.0.1:9/hook", "", true));
  // Given https with the recipient's own CA file (relative to the config) / Then kept, resolved
  const auto s = settings("https://centre.example/hook", "ca/ca.pem", false);
  CHECK(s.of("rusmiddelcenter-657").webhook_ca_file == ca.ca());
  CHECK(s.of("rusmiddelcenter-657").webhook.tls);
  // Given a CA file that does not exist / Then refused naming webhook_ca_file
  CHECK_THROWS_WITH(settings("https://centre.example/hook", "missing.pem", false),
                    Catch::Contains("webhook_ca_file"));
}
