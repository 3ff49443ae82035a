#include "henvis/http.hpp"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <sstream>

namespace henvis::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
// An idle keep-alive connection is closed after this long.
constexpr auto IDLE_TIMEOUT = std::chrono::seconds(30);

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

void Metrics::inc(const std::string& name_with_labels, std::uint64_t by) {
  std::lock_guard lock(mu_);
  counters_[name_with_labels] += by;
}

void Metrics::gauge(const std::string& name, std::function<double()> read) {
  std::lock_guard lock(mu_);
  gauges_[name] = std::move(read);
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::ostringstream os;
  std::string last;
  for (const auto& [k, v] : counters_) {
    std::string base = k.substr(0, k.find('{'));
    if (base != last) os << "# TYPE " << base << " counter\n";
    last = base;
    os << k << " " << v << "\n";
  }
  for (const auto& [k, read] : gauges_)
    os << "# TYPE " << k << " gauge\n" << k << " " << read() << "\n";
  return os.str();
}

void Router::add(const std::string& method, const std::string& pattern, std::set<v1::Role> roles,
                 Handler handler) {
  routes_.push_back(
      Route{method, split_path(pattern), pattern, std::move(roles), std::move(handler)});
}

struct Server::Impl {
  ServerOptions options;
  const auth::TokenStore& tokens;
  Router router;
  Metrics& metrics;
  std::function<bool()> ready;
  asio::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  int bound_port = 0;

  Impl(ServerOptions o, const auth::TokenStore& t, Router r, Metrics& m, std::function<bool()> rd)
      : options(std::move(o)), tokens(t), router(std::move(r)), metrics(m), ready(std::move(rd)) {}

  Response dispatch(Request& req) {
    if (req.method == "GET" && req.path == "/healthz") return Response{200, "text/plain", "ok\n"};
    if (req.method == "GET" && req.path == "/readyz") {
      return ready() ? Response{200, "text/plain", "ready\n"}
                     : Response{503, "text/plain", "not ready\n"};
    }
    if (req.method == "GET" && req.path == "/metrics")
      return Response{200, "text/plain; version=0.0.4", metrics.render()};

    auto segs = split_path(req.path);
    const Router::Route* match = nullptr;
    bool path_matched = false;
    std::map<std::string, std::string> params;
    for (const auto& r : router.routes()) {
      if (r.segments.size() != segs.size()) continue;
      std::map<std::string, std::string> p;
      bool ok = true;
      for (std::size_t i = 0; i < segs.size() && ok; ++i) {
        const auto& s = r.segments[i];
        if (s.size() > 2 && s.front() == '{' && s.back() == '}')
          p[s.substr(1, s.size() - 2)] = url_decode(segs[i]);
        else
          ok = s == segs[i];
      }
      if (!ok) continue;
      path_matched = true;
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
    auto principal = tokens.authenticate(req.header("authorization"));
    if (!principal) {
      Response r = problem(401, "Unauthorized", "a valid bearer token is required");
      return r;
    }
    if (!match->roles.count(principal->role))
      return problem(
          403, "Forbidden",
          "role " + std::string(auth::role_name(principal->role)) + " may not use this resource");
    req.principal = *principal;
    req.params = std::move(params);
    try {
      return match->handler(req);
    } catch (const Problem& p) {
      return p.response;
    }
  }

  Response handle_safe(Request& req, const std::string& route_label) {
    Response res;
    try {
      res = dispatch(req);
    } catch (const std::exception& e) {
      // Exception texts from our code name rules and ids, never personal data.
      spdlog::error("http handler failed method={} route={} error={}", req.method, route_label,
                    e.what());
      res = problem(500, "Internal Server Error", "the request could not be completed");
    }
    metrics.inc("henvis_http_requests_total{status=\"" + std::to_string(res.status) + "\"}");
    return res;
  }
};

namespace {
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server::Impl& impl) : stream_(std::move(socket)), impl_(impl) {}
  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(impl_.options.body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(IDLE_TIMEOUT);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted)
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
    keep_alive_ = msg.keep_alive();
    write(impl_.handle_safe(req, req.path), msg.version());
  }

  void write(Response r, unsigned version) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(r.status), version);
    res->set(bhttp::field::server, "henvis");
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::cache_control, "no-store");
    if (r.status == 401) res->set(bhttp::field::www_authenticate, "Bearer");
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
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Server::Impl& impl_;
  bool keep_alive_ = false;
};

void do_accept(Server::Impl& impl) {
  impl.acceptor->async_accept([&impl](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), impl)->start();
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
  });
  // Let in-flight responses finish, then stop the loop.
  asio::post(i.ioc, [&i] { i.ioc.stop(); });
  i.thread.join();
}

int Server::port() const { return impl_->bound_port; }

Response Server::handle(Request& req) { return impl_->handle_safe(req, req.path); }

}  // namespace henvis::http
