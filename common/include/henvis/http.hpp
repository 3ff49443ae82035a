#pragma once
// HTTP/1.1 server on Boost.Beast for the services' JSON APIs.
//
// Every route but the kit's own (kit_routes(): /healthz, /readyz, /metrics,
// /openapi.json) requires a bearer token whose
// role is one the route allows (401 without a valid token, 403 for another
// role); scope checks are the handler's (403 or 404). Errors are
// application/problem+json (RFC 9457) with an `errors` array naming each bad
// field. Bodies over the limit get 413 before they are read.
//
// Limits (docs/security.md "Limits"): token buckets per remote address and
// per principal (token label) answer 429 with Retry-After; failed
// authentications draw from a stricter per-address bucket, are counted
// (henvis_http_auth_failures_total) and logged in summaries. The kit's own
// routes are not limited. Connections beyond max_connections are answered
// 503 and closed; accept errors (EMFILE) back off instead of spinning.
//
// TLS (ServerOptions::tls, henvis/tls.hpp): HTTPS only on that port, TLS 1.2+,
// a handshake timeout; failed handshakes counted in
// henvis_http_tls_handshake_failures_total.
//
// Threading: one I/O thread runs every connection; handlers are synchronous
// and run there, or on a pool (ServerOptions::handler_threads), where they
// must be thread-safe (a service's handlers use one SQLite connection per
// thread, sqlite::Connections).

#include <google/protobuf/message.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "henvis/auth.hpp"
#include "henvis/clock.hpp"

namespace boost::asio::ssl {
class context;
}

namespace henvis::http {

struct FieldError {
  std::string field;   // JSON path, lowerCamelCase, e.g. "person.cpr"
  std::string reason;  // the rule broken; never the value
};

struct Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> params;   // from {name} in the route
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  auth::Principal principal;
  std::string remote_address;  // the peer's IP address, for the rate limits
  std::string raw_query;       // the target after '?', as sent (for forwarding)
  std::string header(const std::string& lower_name) const;
};

struct Response {
  Response() = default;
  Response(int s, std::string type, std::string b)
      : status(s), content_type(std::move(type)), body(std::move(b)) {}
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra ones, e.g. Retry-After
};

Response problem(int status, const std::string& title, const std::string& detail = {},
                 const std::vector<FieldError>& errors = {});
Response json(int status, const google::protobuf::Message& m);

// Handlers throw this to answer with a problem.
class Problem : public std::exception {
 public:
  explicit Problem(Response r) : response(std::move(r)) {}
  Problem(int status, const std::string& title, const std::string& detail = {},
          std::vector<FieldError> errors = {})
      : response(problem(status, title, detail, errors)) {}
  const char* what() const noexcept override { return "http problem"; }
  Response response;
};

// Parses a proto3 JSON body into `out`; unknown fields refused. Throws Problem
// 400 naming the field where one can be told, never echoing values.
void parse_json(const std::string& body, google::protobuf::Message& out);

// A service's Prometheus metrics: prometheus-cpp's core registry, rendered by
// its text serializer at GET /metrics. Names and label values are fixed
// strings chosen by the code (route patterns, status classes, topic names):
// never personal data, never a raw request path. A name ending in _total is a
// counter.
//
// Threading: every member may be called from any thread.
class Metrics {
 public:
  using Labels = std::map<std::string, std::string>;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The metric of family `name` with these labels, created on first use; the
  // same name and labels give the same metric. Throws std::invalid_argument
  // for a name already used by another type.
  prometheus::Counter& counter(const std::string& name, const std::string& help,
                               const Labels& labels = {});
  prometheus::Gauge& gauge(const std::string& name, const std::string& help,
                           const Labels& labels = {});
  prometheus::Histogram& histogram(const std::string& name, const std::string& help,
                                   const std::vector<double>& buckets, const Labels& labels = {});
  // A counter another object keeps anyway (an atomic), read at scrape time and
  // exposed as TYPE counter.
  void counter_reading(const std::string& name, const std::string& help,
                       std::function<double()> read);
  // The same for a value that goes up and down, exposed as TYPE gauge.
  void gauge_reading(const std::string& name, const std::string& help,
                     std::function<double()> read);

  // The Prometheus text exposition format (0.0.4).
  std::string render() const;

 private:
  class Readings;
  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Readings> readings_;
};

using Handler = std::function<Response(Request&)>;

class Router {
 public:
  // `pattern` segments in braces bind params: "/v1/referrals/{id}".
  void add(const std::string& method, const std::string& pattern, std::set<v1::Role> roles,
           Handler handler);
  // A route without a bearer token: the handler authenticates the request
  // itself (henvis-web's session cookie) or needs none. With `rest`, the
  // pattern's last {param} takes the rest of the path, one segment or more
  // ("/api/{service}/{path}" matches /api/router/v1/referrals; params hold
  // it url-decoded; Request::path keeps it as sent).
  void add_open(const std::string& method, const std::string& pattern, Handler handler,
                bool rest = false);

  struct Route {
    std::string method;
    std::vector<std::string> segments;
    std::string pattern;
    std::set<v1::Role> roles;
    Handler handler;
    bool open = false;  // add_open: no token
    bool rest = false;  // the last {param} takes the rest of the path
  };
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Requests a second (refill) and burst (bucket size); see docs/security.md.
struct RateLimits {
  double per_address_per_second = 1000;
  double per_address_burst = 2000;
  double per_principal_per_second = 500;
  double per_principal_burst = 1000;
  // Failed authentications (401) an address may make; a minute's worth is
  // the burst. Once spent, every authenticated route answers that address
  // 429 without looking at its token, so guessing gets no answers.
  double failed_auth_per_minute = 30;
  // Buckets kept per kind; idle ones are dropped first.
  std::size_t max_tracked = 10000;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0 = any free port
  std::size_t body_limit = 64 * 1024;
  // The service's OpenAPI document (JSON), served at GET /openapi.json.
  std::string openapi;
  RateLimits rate_limits;
  // Concurrent connections; more are answered 503 and closed. 0 = 1024, or
  // half the file-descriptor limit if that is less.
  std::size_t max_connections = 0;
  // Concurrent connections from one remote address; more are answered 503
  // and closed, so one client cannot take every slot (and the probes' with
  // them). 0 = a quarter of max_connections, at least 64.
  std::size_t max_connections_per_address = 0;
  // The rate limits' clock; nullptr = the system clock. Tests move a
  // ManualClock.
  const Clock* clock = nullptr;
  // 0: handlers run on the I/O thread. N > 0: on a pool of N threads, so
  // that a slow handler holds up neither the I/O thread nor GET /healthz,
  // /readyz and /metrics, which are then still answered on the I/O thread;
  // with N > 1 the handlers must be thread-safe.
  std::size_t handler_threads = 0;
  // Set on every response (before the handler's own headers, which win):
  // henvis-web's Content-Security-Policy and friends.
  std::map<std::string, std::string> default_headers;
  // HTTPS (tls::server_context): every connection handshakes first, within
  // tls_handshake_timeout (a connection that opens and says nothing holds a
  // slot only that long); plain HTTP on the port gets no answer. nullptr =
  // plain HTTP, which only a dev config may use (config::server_tls).
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::chrono::milliseconds tls_handshake_timeout{10000};
};

// The routes the server answers itself, without a token, before the
// Router's: GET /healthz, /readyz, /metrics and /openapi.json.
struct KitRoute {
  std::string method;
  std::string path;
};
const std::vector<KitRoute>& kit_routes();

class Server {
 public:
  Server(ServerOptions options, const auth::TokenStore& tokens, Router router, Metrics& metrics,
         std::function<bool()> ready);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on a thread of its own.
  void start();
  // Stops accepting and closes connections; joins the thread.
  void stop();
  int port() const;

  // Dispatches one request (also used by tests without sockets).
  Response handle(Request& req);

  struct Impl;  // public so the connection code in http.cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace henvis::http
