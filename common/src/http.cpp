#include "henvis/http.hpp"

#include <google/protobuf/util/json_util.h>
#include <prometheus/collectable.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>

#include <sys/resource.h>

#include "henvis/rate_limit.hpp"
#include "henvis/sqlite.hpp"

namespace henvis::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
// An idle keep-alive connection is closed after this long.
constexpr auto IDLE_TIMEOUT = std::chrono::seconds(30);
// The closing close_notify exchange of a TLS connection may take this long.
constexpr auto TLS_SHUTDOWN_TIMEOUT = std::chrono::seconds(5);

// Request latency buckets, in seconds. Handlers are synchronous SQLite
// reads and writes of a few milliseconds; the upper buckets catch a write
// waiting on a busy database or a slow disk sync.
const std::vector<double> REQUEST_SECONDS_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,   0.25,   0.5,   1.0,  2.5,   5.0};
// How long the acceptor waits after an accept error (EMFILE: out of file
// descriptors) before it tries again, instead of spinning.
constexpr auto ACCEPT_BACKOFF = std::chrono::milliseconds(100);
// Failed authentications are logged at most once in this period: the first
// at once, the rest as a count with the latest one's particulars.
constexpr auto AUTH_LOG_PERIOD = std::chrono::seconds(10);
constexpr std::size_t DEFAULT_MAX_CONNECTIONS = 1024;

// The route label of a request no route matched.
constexpr const char* UNMATCHED_ROUTE = "unmatched";

// The method as a label: any method string a client sends would otherwise
// become a label value of its own.
std::string method_label(const std::string& method) {
  static const std::set<std::string> known = {"GET",   "HEAD",   "POST",   "PUT",
                                              "PATCH", "DELETE", "OPTIONS"};
  return known.count(method) ? method : "other";
}

std::string status_class(int status) { return std::to_string(status / 100) + "xx"; }

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}
// "person.preferred_contact_time" -> "person.preferredContactTime" (the JSON
// names the API documents).
std::string camel_path(const std::string& path) {
  std::string out;
  bool up = false;
  for (char c : path) {
    if (c == '_') {
      up = true;
    } else {
      out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      up = false;
    }
  }
  return out;
}

bool looks_like_identifier(const std::string& s) {
  constexpr std::size_t MAX_KEY = 64;
  constexpr int MAX_DIGITS = 3;
  if (s.empty() || s.size() > MAX_KEY || !std::isalpha(static_cast<unsigned char>(s[0])))
    return false;
  int digits = 0;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)))
      ++digits;
    else if (!std::isalpha(static_cast<unsigned char>(c)) && c != '_')
      return false;
  }
  return digits <= MAX_DIGITS;
}
}  // namespace

std::string Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Response problem(int status, const std::string& title, const std::string& detail,
                 const std::vector<FieldError>& errors) {
  std::ostringstream os;
  os << "{\"type\":\"about:blank\",\"title\":\"" << json_escape(title)
     << "\",\"status\":" << status;
  if (!detail.empty()) os << ",\"detail\":\"" << json_escape(detail) << "\"";
  if (!errors.empty()) {
    os << ",\"errors\":[";
    for (std::size_t i = 0; i < errors.size(); ++i) {
      if (i) os << ",";
      os << "{\"field\":\"" << json_escape(errors[i].field) << "\",\"reason\":\""
         << json_escape(errors[i].reason) << "\"}";
    }
    os << "]";
  }
  os << "}";
  return Response{status, "application/problem+json", os.str()};
}

Response json(int status, const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = false;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, opts);
  if (!st.ok()) return problem(500, "Internal Server Error", "response could not be encoded");
  return Response{status, "application/json", out};
}

void parse_json(const std::string& body, google::protobuf::Message& out) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(body, &out, opts);
  if (st.ok()) return;
  // protobuf's message may quote the offending value (which can be a CPR
  // number): keep only the field path it names, never anything else.
  // Its forms (3.21): "(a.b_c) <detail>" and "[(path) ]key: Cannot find field."
  const std::string msg(st.message());
  std::string field;
  std::string rest = msg;
  if (msg.size() > 1 && msg.front() == '(') {
    auto close = msg.find(')');
    if (close != std::string::npos) {
      field = camel_path(msg.substr(1, close - 1));
      rest = msg.substr(close + 1);
      // An unknown key can imitate that form ("(0101901234)...: Cannot find
      // field", found by fuzzing): keep the path only if every segment looks
      // like a field name.
      for (std::size_t b = 0, e; b <= field.size(); b = e + 1) {
        e = std::min(field.find('.', b), field.size());
        if (!looks_like_identifier(field.substr(b, e - b))) {
          field.clear();
          break;
        }
      }
    }
  }
  auto unknown_at = rest.find(": Cannot find field");
  if (unknown_at != std::string::npos) {
    std::string key = rest.substr(0, unknown_at);
    while (!key.empty() && key.front() == ' ') key.erase(0, 1);
    // A key is not a value, but a client could still put personal data in
    // one: echo it only when it looks like an identifier.
    if (!looks_like_identifier(key)) key.clear();
    std::string path = key.empty() ? field : (field.empty() ? key : field + "." + key);
    throw Problem(400, "Bad Request", "the body has a field the API does not know",
                  {{path.empty() ? "body" : path, "unknown field"}});
  }
  throw Problem(400, "Bad Request", "the body is not valid JSON for this request",
                {{field.empty() ? "body" : field, "malformed JSON or wrong type"}});
}

// The readings are collected next to the registry rather than registered in
// it: a Registry only holds the metric objects it creates itself.
class Metrics::Readings : public prometheus::Collectable {
 public:
  void add(const std::string& name, const std::string& help, prometheus::MetricType type,
           std::function<double()> read) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type;
    std::lock_guard lock(mu_);
    readings_.emplace_back(std::move(family), std::move(read));
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);
    std::vector<prometheus::MetricFamily> out;
    out.reserve(readings_.size());
    for (const auto& [family, read] : readings_) {
      out.push_back(family);
      out.back().metric.resize(1);
      if (family.type == prometheus::MetricType::Gauge)
        out.back().metric[0].gauge.value = read();
      else
        out.back().metric[0].counter.value = read();
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<prometheus::MetricFamily, std::function<double()>>> readings_;
};

Metrics::Metrics()
    : registry_(std::make_unique<prometheus::Registry>()),
      readings_(std::make_unique<Readings>()) {}

Metrics::~Metrics() = default;

prometheus::Counter& Metrics::counter(const std::string& name, const std::string& help,
                                      const Labels& labels) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add(labels);
}

prometheus::Gauge& Metrics::gauge(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add(labels);
}

prometheus::Histogram& Metrics::histogram(const std::string& name, const std::string& help,
                                          const std::vector<double>& buckets,
                                          const Labels& labels) {
  return prometheus::BuildHistogram()
      .Name(name)
      .Help(help)
      .Register(*registry_)
      .Add(labels, buckets);
}

void Metrics::counter_reading(const std::string& name, const std::string& help,
                              std::function<double()> read) {
  readings_->add(name, help, prometheus::MetricType::Counter, std::move(read));
}

void Metrics::gauge_reading(const std::string& name, const std::string& help,
                            std::function<double()> read) {
  readings_->add(name, help, prometheus::MetricType::Gauge, std::move(read));
}

std::string Metrics::render() const {
  auto families = registry_->Collect();
  auto readings = readings_->Collect();
  families.insert(families.end(), std::make_move_iterator(readings.begin()),
                  std::make_move_iterator(readings.end()));
  return prometheus::TextSerializer().Serialize(families);
}

const std::vector<KitRoute>& kit_routes() {
  static const std::vector<KitRoute> routes = {
      {"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/openapi.json"}};
  return routes;
}

void Router::add(const std::string& method, const std::string& pattern, std::set<v1::Role> roles,
                 Handler handler) {
  routes_.push_back(
      Route{method, split_path(pattern), pattern, std::move(roles), std::move(handler)});
}

void Router::add_open(const std::string& method, const std::string& pattern, Handler handler,
                      bool rest) {
  Route r{method, split_path(pattern), pattern, {}, std::move(handler), true, rest};
  if (rest && (r.segments.empty() || r.segments.back().front() != '{'))
    throw std::invalid_argument("a rest route ends in a {param}: " + pattern);
  routes_.push_back(std::move(r));
}

namespace {
// The acting person a delegating token's request names (henvis-web).
auth::PersonClaim person_claim(const Request& req) {
  return {req.header("henvis-person"), req.header("henvis-person-role"),
          req.header("henvis-person-scope")};
}

// The rate limits of docs/security.md "Limits"; see RateLimits.
class Limiter {
 public:
  Limiter(const RateLimits& l, const Clock& clock, Metrics& metrics)
      : clock_(clock),
        metrics_(metrics),
        address_({l.per_address_per_second, l.per_address_burst}, l.max_tracked),
        principal_({l.per_principal_per_second, l.per_principal_burst}, l.max_tracked),
        failed_({l.failed_auth_per_minute / 60, l.failed_auth_per_minute}, l.max_tracked) {}

  // A 429 if the address has used up its requests.
  std::optional<Response> address(const std::string& address) {
    if (int wait = address_.take(address, 1, clock_.now())) return refuse("address", wait);
    return std::nullopt;
  }

  // A 429 if the address has used up its failed authentications: its token
  // is then not even looked at, so guessing gets no answers.
  std::optional<Response> failed_auth(const std::string& address) {
    if (int wait = failed_.wait(address, 1, clock_.now())) return refuse("failed_auth", wait);
    return std::nullopt;
  }

  std::optional<Response> principal(const std::string& label) {
    if (int wait = principal_.take(label, 1, clock_.now())) return refuse("principal", wait);
    return std::nullopt;
  }

  // Counts, charges (a 401) and logs a failed authentication; never the token.
  void failed(const std::string& address, const std::string& route, const char* reason) {
    metrics_
        .counter("henvis_http_auth_failures_total",
                 "Requests refused 401 (missing or invalid token, or a delegating token's "
                 "missing or invalid person) or 403 (role), by reason",
                 {{"reason", reason}})
        .Increment();
    const auto now = clock_.now();
    const std::string_view why = reason;
    if (why != "forbidden" && why != "person") failed_.charge(address, 1, now);
    std::lock_guard lock(log_mu_);
    ++unlogged_;
    if (now - last_log_ < AUTH_LOG_PERIOD) return;
    spdlog::warn(
        "http authentication failed count={} latest_remote={} latest_route={} "
        "latest_reason={}",
        unlogged_, address, route, reason);
    unlogged_ = 0;
    last_log_ = now;
  }

 private:
  Response refuse(const char* limit, int seconds) {
    metrics_
        .counter("henvis_http_rate_limited_total", "Requests answered 429, by the limit reached",
                 {{"limit", limit}})
        .Increment();
    Response r = problem(429, "Too Many Requests",
                         "too many requests; retry after " + std::to_string(seconds) + " s");
    r.headers["Retry-After"] = std::to_string(seconds);
    return r;
  }

  const Clock& clock_;
  Metrics& metrics_;
  rate_limit::Buckets address_, principal_, failed_;
  std::mutex log_mu_;
  rate_limit::TimePoint last_log_{};
  std::size_t unlogged_ = 0;
};

std::size_t max_connections(std::size_t configured) {
  if (configured > 0) return configured;
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
    return std::clamp<std::size_t>(nofile.rlim_cur / 2, 1, DEFAULT_MAX_CONNECTIONS);
  return DEFAULT_MAX_CONNECTIONS;
}
// Whether `r` matches the path's segments, binding its {params} in `p`.
bool matches(const Router::Route& r, const std::vector<std::string>& segs,
             std::map<std::string, std::string>& p) {
  const std::size_t n = r.segments.size();
  if (r.rest ? segs.size() < n : segs.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& s = r.segments[i];
    if (s.size() <= 2 || s.front() != '{' || s.back() != '}') {
      if (s != segs[i]) return false;
      continue;
    }
    std::string value = url_decode(segs[i]);
    if (r.rest && i + 1 == n)
      for (std::size_t j = i + 1; j < segs.size(); ++j) value += "/" + url_decode(segs[j]);
    p[s.substr(1, s.size() - 2)] = std::move(value);
  }
  return true;
}
}  // namespace

struct Server::Impl {
  ServerOptions options;
  const auth::TokenStore& tokens;
  Router router;
  Metrics& metrics;
  std::function<bool()> ready;
  SystemClock system_clock;
  Limiter limiter;
  // Open connections, counted on the I/O thread (declared before the
  // io_context, whose destruction ends the last sessions).
  std::size_t connections = 0;
  const std::size_t max_connections;
  const std::size_t max_per_address;
  std::unordered_map<std::string, std::size_t> per_address;
  prometheus::Gauge& open_connections;
  asio::io_context ioc{1};
  // ServerOptions::handler_threads; joined in stop(), after the I/O thread.
  std::optional<asio::thread_pool> pool;
  std::optional<tcp::acceptor> acceptor;
  asio::steady_timer accept_backoff{ioc};
  std::thread thread;
  int bound_port = 0;

  Impl(ServerOptions o, const auth::TokenStore& t, Router r, Metrics& m, std::function<bool()> rd)
      : options(std::move(o)),
        tokens(t),
        router(std::move(r)),
        metrics(m),
        ready(std::move(rd)),
        limiter(options.rate_limits, options.clock ? *options.clock : system_clock, m),
        max_connections(http::max_connections(options.max_connections)),
        max_per_address(
            options.max_connections_per_address > 0
                ? options.max_connections_per_address
                : std::min(max_connections, std::max<std::size_t>(64, max_connections / 4))),
        open_connections(m.gauge("henvis_http_connections", "Open HTTP connections")) {
    if (options.handler_threads > 0) pool.emplace(options.handler_threads);
  }

  // The answer to GET on one of kit_routes().
  Response kit_response(const std::string& path) {
    if (path == "/healthz") return Response{200, "text/plain", "ok\n"};
    if (path == "/readyz")
      return ready() ? Response{200, "text/plain", "ready\n"}
                     : Response{503, "text/plain", "not ready\n"};
    if (path == "/metrics") return Response{200, "text/plain; version=0.0.4", metrics.render()};
    if (options.openapi.empty()) return problem(404, "Not Found", "no such resource");
    return Response{200, "application/json", options.openapi};
  }

  // GET on one of kit_routes(): answered on the I/O thread even with a
  // handler pool, so that probes and scrapes never wait behind a slow handler.
  static bool answered_inline(const Request& req) {
    if (req.method != "GET") return false;
    for (const auto& k : kit_routes())
      if (req.path == k.path && k.path != "/openapi.json") return true;
    return false;
  }

  // Sets `route` to the matched route's pattern (the fixed paths are their own).
  Response dispatch(Request& req, std::string& route) {
    for (const auto& k : kit_routes()) {
      if (req.path != k.path) continue;
      route = req.path;
      if (req.method == k.method) return kit_response(req.path);
    }
    const std::string address = req.remote_address.empty() ? "unknown" : req.remote_address;
    if (auto limited = limiter.address(address)) return *limited;

    auto segs = split_path(req.path);
    const Router::Route* match = nullptr;
    bool path_matched = false;
    std::map<std::string, std::string> params;
    for (const auto& r : router.routes()) {
      std::map<std::string, std::string> p;
      if (!matches(r, segs, p)) continue;
      path_matched = true;
      route = r.pattern;
      if (r.method == req.method) {
        match = &r;
        params = std::move(p);
        break;
      }
    }
    if (!match) {
      return path_matched ? problem(405, "Method Not Allowed")
                          : problem(404, "Not Found", "no such resource");
    }
    return authorized(req, *match, address, std::move(params));
  }

  // Authenticates, checks the role and the principal's limit, and runs the
  // route's handler.
  Response authorized(Request& req, const Router::Route& match, const std::string& address,
                      std::map<std::string, std::string> params) {
    if (match.open) {
      req.params = std::move(params);
      try {
        return match.handler(req);
      } catch (const Problem& p) {
        return p.response;
      }
    }
    if (auto limited = limiter.failed_auth(address)) return *limited;
    const std::string authorization = req.header("authorization");
    auto authenticated = tokens.authenticate(authorization, person_claim(req));
    if (const auto* refusal = std::get_if<auth::Refusal>(&authenticated)) {
      if (refusal->header != "Authorization") {
        // A valid delegating token without its person: not a guess, not charged.
        limiter.failed(address, match.pattern, "person");
        return problem(401, "Unauthorized", "the acting person is required with this token",
                       {{refusal->header, refusal->reason}});
      }
      limiter.failed(address, match.pattern, authorization.empty() ? "missing" : "invalid");
      return problem(401, "Unauthorized", "a valid bearer token is required");
    }
    auto& principal = std::get<auth::Principal>(authenticated);
    if (!match.roles.count(principal.role)) {
      limiter.failed(address, match.pattern, "forbidden");
      return problem(
          403, "Forbidden",
          "role " + std::string(auth::role_name(principal.role)) + " may not use this resource");
    }
    // Each person behind a delegating token has a bucket of their own.
    const std::string bucket =
        principal.person.empty() ? principal.label : principal.label + '/' + principal.person;
    if (auto limited = limiter.principal(bucket)) return *limited;
    req.principal = std::move(principal);
    req.params = std::move(params);
    try {
      return match.handler(req);
    } catch (const Problem& p) {
      return p.response;
    }
  }

  Response handle_safe(Request& req) {
    const auto started = std::chrono::steady_clock::now();
    std::string route = UNMATCHED_ROUTE;
    Response res;
    try {
      res = dispatch(req, route);
    } catch (const std::exception& e) {
      // Exception texts from our code name rules and ids, never personal data.
      spdlog::error("http handler failed method={} route={} error={}", method_label(req.method),
                    route, e.what());
      const auto* db = dynamic_cast<const sqlite::Error*>(&e);
      if (db && db->retryable()) {
        // The database stayed locked past the busy timeout (a long scan, a
        // burst of writes): nothing was done, and the same request may be
        // sent again (every write is idempotent by its key).
        res = problem(503, "Service Unavailable", "the database is busy: try again shortly");
        res.headers["Retry-After"] = "1";
      } else {
        res = problem(500, "Internal Server Error", "the request could not be completed");
      }
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    metrics
        .counter("henvis_http_requests_total", "HTTP requests answered, by status",
                 {{"status", std::to_string(res.status)}})
        .Increment();
    metrics
        .histogram("henvis_http_request_duration_seconds",
                   "HTTP request latency by route pattern, method and status class",
                   REQUEST_SECONDS_BUCKETS,
                   {{"route", route},
                    {"method", method_label(req.method)},
                    {"status_class", status_class(res.status)}})
        .Observe(took.count());
    return res;
  }
};

namespace {
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection: plain (Stream = beast::tcp_stream) or TLS (TlsStream,
// which handshakes first).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool TLS = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<Session>::shared_from_this;

 public:
  // Counted on the I/O thread: created there, and destroyed there since the
  // handler pool hands its reference back (on_read).
  template <class... TlsContext>
  Session(tcp::socket socket, std::string remote_address, Server::Impl& impl, TlsContext&... ctx)
      : stream_(std::move(socket), ctx...),
        impl_(impl),
        remote_address_(std::move(remote_address)) {
    ++impl_.connections;
    ++impl_.per_address[remote_address_];
    impl_.open_connections.Increment();
  }
  ~Session() {
    --impl_.connections;
    impl_.open_connections.Decrement();
    auto it = impl_.per_address.find(remote_address_);
    if (it != impl_.per_address.end() && --it->second == 0) impl_.per_address.erase(it);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  void start() {
    if constexpr (TLS) {
      tcp_layer().expires_after(impl_.options.tls_handshake_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = shared_from_this()](beast::error_code ec) {
                                if (!ec) return self->read();
                                // Plain HTTP, an old protocol version, a
                                // silent client: counted, not logged each.
                                self->impl_.metrics
                                    .counter("henvis_http_tls_handshake_failures_total",
                                             "TLS handshakes that failed or timed out")
                                    .Increment();
                                self->close_tcp();
                              });
    } else {
      read();
    }
  }

 private:
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  void read() {
    parser_.emplace();
    parser_->body_limit(impl_.options.body_limit);
    parser_->header_limit(16 * 1024);
    tcp_layer().expires_after(IDLE_TIMEOUT);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::ssl::error::stream_truncated)
      return close();
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return write(
          problem(413, "Content Too Large",
                  "the body exceeds " + std::to_string(impl_.options.body_limit) + " bytes"),
          11);
    }
    if (ec) {
      keep_alive_ = false;
      return write(problem(400, "Bad Request", "malformed HTTP request"), 11);
    }
    auto msg = parser_->release();
    Request req;
    req.method = std::string(msg.method_string());
    std::string target(msg.target());
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      req.raw_query = target.substr(q + 1);
      std::string_view qs(target);
      qs.remove_prefix(q + 1);
      while (!qs.empty()) {
        auto amp = qs.find('&');
        auto part = qs.substr(0, amp);
        auto eq = part.find('=');
        if (eq == std::string_view::npos)
          req.query[url_decode(part)] = "";
        else
          req.query[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        qs.remove_prefix(amp + 1);
      }
    }
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers[name] = std::string(f.value());
    }
    req.body = std::move(msg.body());
    req.remote_address = remote_address_;
    keep_alive_ = msg.keep_alive();
    const unsigned version = msg.version();
    if (!impl_.pool || Server::Impl::answered_inline(req))
      return write(impl_.handle_safe(req), version);
    // On the handler pool; the answer is written back on the I/O thread,
    // which also gets the pool's reference, so the session ends there.
    asio::post(*impl_.pool, [self = shared_from_this(), req = std::move(req), version]() mutable {
      Response res = self->impl_.handle_safe(req);
      auto executor = self->stream_.get_executor();
      asio::post(executor, [self = std::move(self), res = std::move(res), version]() mutable {
        self->write(std::move(res), version);
      });
    });
  }

  void write(Response r, unsigned version) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(r.status), version);
    res->set(bhttp::field::server, "henvis");
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::cache_control, "no-store");
    for (const auto& [name, value] : impl_.options.default_headers) res->set(name, value);
    if (r.status == 401) res->set(bhttp::field::www_authenticate, "Bearer");
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                         if (ec || !self->keep_alive_) return self->close();
                         self->read();
                       });
  }

  void close() {
    if constexpr (TLS) {
      // close_notify, bounded; then the TCP side.
      tcp_layer().expires_after(TLS_SHUTDOWN_TIMEOUT);
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close_tcp(); });
    } else {
      close_tcp();
    }
  }
  void close_tcp() {
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Server::Impl& impl_;
  std::string remote_address_;
  bool keep_alive_ = false;
};

// Over the connection cap: a 503 if the socket takes it at once, and closed
// (on a TLS port only closed: a plain answer would mean nothing there).
void refuse_connection(tcp::socket socket, bool tls) {
  static const std::string answer = [] {
    const std::string body =
        problem(503, "Service Unavailable", "too many connections; retry later").body;
    return "HTTP/1.1 503 Service Unavailable\r\nServer: henvis\r\n"
           "Content-Type: application/problem+json\r\nRetry-After: 1\r\n"
           "Connection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  beast::error_code ec;
  socket.non_blocking(true, ec);
  if (!tls) socket.write_some(asio::buffer(answer), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void do_accept(Server::Impl& impl);

// After an accept error, waits ACCEPT_BACKOFF (logging once) instead of
// accepting again at once: with no file descriptor left, accept fails at
// once and the I/O thread would spin and starve every connection.
void back_off(Server::Impl& impl, const beast::error_code& ec) {
  impl.metrics
      .counter("henvis_http_accept_errors_total",
               "Failed accepts (e.g. out of file "
               "descriptors), each followed by a pause")
      .Increment();
  spdlog::warn("http accept failed error={} connections={} retry_in_ms={}", ec.message(),
               impl.connections, ACCEPT_BACKOFF.count());
  impl.accept_backoff.expires_after(ACCEPT_BACKOFF);
  impl.accept_backoff.async_wait([&impl](beast::error_code e) {
    if (!e && impl.acceptor->is_open()) do_accept(impl);
  });
}

void do_accept(Server::Impl& impl) {
  impl.acceptor->async_accept([&impl](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) return back_off(impl, ec);
    beast::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    std::string address = peer_ec ? "unknown" : peer.address().to_string();
    const auto from_address = impl.per_address.find(address);
    const char* full =
        impl.connections >= impl.max_connections ? "total"
        : from_address != impl.per_address.end() && from_address->second >= impl.max_per_address
            ? "address"
            : nullptr;
    if (full) {
      impl.metrics
          .counter("henvis_http_connections_refused_total",
                   "Connections answered 503 and closed: max_connections (limit=total) or "
                   "max_connections_per_address (limit=address) were open",
                   {{"limit", full}})
          .Increment();
      refuse_connection(std::move(socket), impl.options.tls != nullptr);
    } else if (impl.options.tls) {
      std::make_shared<Session<TlsStream>>(std::move(socket), std::move(address), impl,
                                           *impl.options.tls)
          ->start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), std::move(address), impl)
          ->start();
    }
    do_accept(impl);
  });
}
}  // namespace

Server::Server(ServerOptions options, const auth::TokenStore& tokens, Router router,
               Metrics& metrics, std::function<bool()> ready)
    : impl_(std::make_unique<Impl>(std::move(options), tokens, std::move(router), metrics,
                                   std::move(ready))) {}

Server::~Server() { stop(); }

void Server::start() {
  auto& i = *impl_;
  tcp::endpoint ep(asio::ip::make_address(i.options.address),
                   static_cast<unsigned short>(i.options.port));
  i.acceptor.emplace(i.ioc);
  i.acceptor->open(ep.protocol());
  i.acceptor->set_option(asio::socket_base::reuse_address(true));
  i.acceptor->bind(ep);
  i.acceptor->listen();
  i.bound_port = i.acceptor->local_endpoint().port();
  do_accept(i);
  i.thread = std::thread([&i] { i.ioc.run(); });
}

void Server::stop() {
  auto& i = *impl_;
  if (!i.thread.joinable()) return;
  asio::post(i.ioc, [&i] {
    beast::error_code ec;
    if (i.acceptor) i.acceptor->close(ec);
    i.accept_backoff.cancel();
  });
  // Let in-flight responses finish, then stop the loop.
  asio::post(i.ioc, [&i] { i.ioc.stop(); });
  i.thread.join();
  // Handlers still running finish; their answers are not written.
  if (i.pool) i.pool->join();
}

int Server::port() const { return impl_->bound_port; }

Response Server::handle(Request& req) { return impl_->handle_safe(req); }

}  // namespace henvis::http
