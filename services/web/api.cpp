// henvis-web's HTTP side: /auth, the forwarding and the static files (web.hpp).
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "henvis/auth.hpp"
#include "henvis/v1/web.pb.h"
#include "web.hpp"

namespace henvis::web {

namespace {
// A problem of type session-expired: the frontend shows the login again and
// then resumes (web/src).
http::Response session_expired() {
  http::Response r =
      http::problem(401, "Unauthorized", "no session, or it has expired: log in again");
  const std::string blank = "\"type\":\"about:blank\"";
  r.body.replace(r.body.find(blank), blank.size(), "\"type\":\"/problems/session-expired\"");
  return r;
}

bool is_state_change(const std::string& method) { return method != "GET" && method != "HEAD"; }

// The longest user name and password looked at: longer ones are refused
// before any hashing.
constexpr std::size_t MAX_USERNAME = 128;
constexpr std::size_t MAX_PASSWORD = 1024;

void check_login(const v1::LoginRequest& in) {
  std::vector<http::FieldError> errors;
  if (in.username().empty()) errors.push_back({"username", "required"});
  if (in.username().size() > MAX_USERNAME) errors.push_back({"username", "too long"});
  if (in.password().empty()) errors.push_back({"password", "required"});
  if (in.password().size() > MAX_PASSWORD) errors.push_back({"password", "too long"});
  if (!errors.empty()) throw http::Problem(400, "Bad Request", "the log-in is incomplete", errors);
}

v1::WebSession session_body(const v1::User& u, const std::string& csrf) {
  v1::WebSession s;
  auto& w = *s.mutable_user();
  w.set_username(u.username());
  w.set_display_name(u.display_name());
  w.set_role(std::string(auth::role_name(u.role())));
  w.set_scope(u.scope());
  s.set_csrf_token(csrf);
  return s;
}

http::Response forbidden(const std::string& detail) {
  return http::problem(403, "Forbidden", detail);
}
}  // namespace

std::map<std::string, std::string> security_headers() {
  return {{"Content-Security-Policy", CONTENT_SECURITY_POLICY},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"}};
}

std::string cookie_value(const std::string& header, const std::string& name) {
  std::size_t i = 0;
  while (i < header.size()) {
    auto end = header.find(';', i);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(i, end - i);
    i = end + 1;
    const auto b = part.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    part.erase(0, b);
    const auto eq = part.find('=');
    if (eq != std::string::npos && part.compare(0, eq, name) == 0 && eq == name.size())
      return part.substr(eq + 1);
  }
  return {};
}

bool origin_allowed(const http::Request& req, const std::string& configured, bool insecure) {
  const std::string origin = req.header("origin");
  if (origin.empty()) return true;
  if (!configured.empty()) return origin == configured;
  const std::string host = req.header("host");
  if (host.empty()) return false;
  return origin == "https://" + host || (insecure && origin == "http://" + host);
}

std::string client_address(const http::Request& req, const std::vector<std::string>& trusted) {
  const std::string peer = req.remote_address.empty() ? "unknown" : req.remote_address;
  if (std::find(trusted.begin(), trusted.end(), peer) == trusted.end()) return peer;
  // The proxy appends the address it saw: the last entry is the one to trust.
  std::string forwarded = req.header("x-forwarded-for");
  const auto comma = forwarded.rfind(',');
  if (comma != std::string::npos) forwarded.erase(0, comma + 1);
  const auto first = forwarded.find_first_not_of(" \t");
  const auto last = forwarded.find_last_not_of(" \t");
  if (first == std::string::npos) return peer;
  return forwarded.substr(first, last - first + 1);
}

Api::Api(Settings settings, const std::string& database, const Clock& clock, http::Metrics& metrics)
    : settings_(std::move(settings)),
      sessions_(database, clock, settings_.timeouts),
      metrics_(metrics) {}

void Api::register_routes(http::Router& r) {
  r.add_open("POST", "/auth/login", [this](http::Request& q) { return login(q); });
  r.add_open("GET", "/auth/session", [this](http::Request& q) { return session(q); });
  r.add_open("POST", "/auth/logout", [this](http::Request& q) { return logout(q); });
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"})
    r.add_open(
        method, "/api/{service}/{path}", [this](http::Request& q) { return forward(q); }, true);
  r.add_open("GET", "/", [this](http::Request& q) { return asset(q); });
  r.add_open(
      "GET", "/{path}", [this](http::Request& q) { return asset(q); }, true);
}

std::string Api::set_cookie(const std::string& value, bool clear) const {
  std::string c = std::string(SESSION_COOKIE) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict";
  if (!settings_.insecure_cookies) c += "; Secure";
  if (clear) c += "; Max-Age=0";
  return c;
}

std::pair<Session, const v1::User*> Api::require_session(const http::Request& req) {
  const auto s = sessions_.resume(cookie_value(req.header("cookie"), SESSION_COOKIE));
  if (!s) throw http::Problem(session_expired());
  const v1::User* user = settings_.users->find(s->username);
  // Removed from the users file since, or given another password, role or
  // scope: a session stolen before the change must not outlive it.
  if (!user || Users::grant_of(*user) != s->grant_sha256) {
    sessions_.end(s->id_sha256);
    throw http::Problem(session_expired());
  }
  if (!is_state_change(req.method)) return {*s, user};
  if (!origin_allowed(req, settings_.origin, settings_.insecure_cookies))
    throw http::Problem(forbidden("the request comes from another origin"));
  if (!same_secret(req.header("x-csrf-token"), s->csrf_token))
    throw http::Problem(forbidden("the X-CSRF-Token header is missing or wrong"));
  return {*s, user};
}

http::Response Api::login(http::Request& req) {
  if (!origin_allowed(req, settings_.origin, settings_.insecure_cookies))
    return forbidden("the request comes from another origin");
  v1::LoginRequest in;
  http::parse_json(req.body, in);
  check_login(in);
  const auto count = [this](const char* outcome) {
    metrics_
        .counter("henvis_web_logins_total", "Log-ins to henvis-web, by outcome",
                 {{"outcome", outcome}})
        .Increment();
  };
  const LoginAttempt attempt =
      sessions_.attempt_login(in.username(), client_address(req, settings_.trusted_proxies));
  if (const int wait = attempt.wait_seconds) {
    count("throttled");
    http::Response r =
        http::problem(429, "Too Many Requests",
                      "too many failed log-ins; retry after " + std::to_string(wait) + " s");
    r.headers["Retry-After"] = std::to_string(wait);
    return r;
  }
  const auto user = settings_.users->verify(in.username(), in.password());
  if (!user) {
    count("failed");  // counted as a failure by attempt_login
    return http::problem(401, "Unauthorized", "wrong user name or password");
  }
  sessions_.login_succeeded(attempt);
  const NewSession s = sessions_.create(user->username(), Users::grant_of(*user));
  count("succeeded");
  http::Response r = http::json(200, session_body(*user, s.session.csrf_token));
  r.headers["Set-Cookie"] = set_cookie(s.id, false);
  return r;
}

http::Response Api::session(http::Request& req) {
  const auto [s, user] = require_session(req);
  return http::json(200, session_body(*user, s.csrf_token));
}

http::Response Api::logout(http::Request& req) {
  const auto [s, user] = require_session(req);
  sessions_.end(s.id_sha256);
  http::Response r(204, "text/plain", "");
  r.headers["Set-Cookie"] = set_cookie("", true);
  return r;
}

http::Response Api::forward(http::Request& req) {
  const auto [s, user] = require_session(req);
  const std::string service = req.params["service"];
  const http::Endpoint* upstream = settings_.upstreams->find(service);
  const auto target = upstream ? upstream_target(req, service) : std::nullopt;
  if (!target) return http::problem(404, "Not Found", "no such service");
  const Person person{user->username(), std::string(auth::role_name(user->role())), user->scope()};
  try {
    return to_browser(http::request(*upstream, req.method, *target,
                                    upstream_headers(req, settings_.delegation_token, person),
                                    req.body, settings_.upstreams->client_options()));
  } catch (const http::TransportError& e) {
    metrics_
        .counter("henvis_web_upstream_failures_total",
                 "Forwarded requests the service did not answer, by service",
                 {{"service", service}})
        .Increment();
    spdlog::warn("upstream failed service={} step={} error={}", service, e.step(), e.message());
    return http::problem(502, "Bad Gateway", "the " + service + " service did not answer");
  }
}

http::Response Api::file_response(const std::filesystem::path& p) const {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  if (!in) return http::problem(404, "Not Found", "no such file");
  return http::Response(200, content_type_of(p.filename().string()), body.str());
}

http::Response Api::asset(http::Request& req) {
  for (const std::string reserved : {"/api", "/auth"})
    if (req.path == reserved || req.path.rfind(reserved + "/", 0) == 0)
      return http::problem(404, "Not Found", "no such resource");
  if (!is_safe_path(req.path)) return http::problem(404, "Not Found", "no such file");
  if (const auto p = asset_path(settings_.assets_dir, req.path)) return file_response(*p);
  if (is_app_route(req.path))
    if (const auto index = asset_path(settings_.assets_dir, "/index.html"))
      return file_response(*index);
  return http::problem(404, "Not Found", "no such file");
}

}  // namespace henvis::web
