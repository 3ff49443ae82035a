#pragma once
// henvis-web: the browser's only door to henvis (docs/decisions.md 19). It
// serves the built frontend, logs people in (users file, Argon2id), keeps
// their sessions (cookie henvis_session; CSRF token per session) and
// forwards /api/<service>/<path> to the services with its own delegating
// token and the acting person's Henvis-Person* headers. It has no Kafka.

#include <filesystem>
#include <memory>
#include <string>

#include "assets.hpp"
#include "forward.hpp"
#include "henvis/clock.hpp"
#include "henvis/http.hpp"
#include "henvis/service.hpp"
#include "sessions.hpp"
#include "store.hpp"
#include "users.hpp"

namespace henvis::web {

inline constexpr const char* SERVICE = "web";
inline constexpr const char* SESSION_COOKIE = "henvis_session";
// The Content-Security-Policy and the other headers on every response.
inline constexpr const char* CONTENT_SECURITY_POLICY =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";
std::map<std::string, std::string> security_headers();

// The ServiceDeclaration run_service runs (service.cpp).
ServiceDeclaration service();

// What henvis-web is configured with, loaded and checked (throws naming the
// setting on a bad one).
struct Settings {
  std::unique_ptr<Users> users;
  std::unique_ptr<Upstreams> upstreams;
  std::string delegation_token;
  std::filesystem::path assets_dir;
  bool insecure_cookies = false;
  std::string origin;
  SessionTimeouts timeouts;
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For is believed
};
Settings load_settings(const ServiceSetup& setup);

// The value of the cookie `name` in a Cookie header; "" if absent.
std::string cookie_value(const std::string& cookie_header, const std::string& name);
// The browser's address for the log-in throttle: the peer's, or, when the peer
// is a trusted proxy, the last X-Forwarded-For entry (the one it appended).
std::string client_address(const http::Request& req, const std::vector<std::string>& trusted);
// Whether a request's Origin (if any) is the web's own.
bool origin_allowed(const http::Request& req, const std::string& configured_origin, bool insecure);

// The /auth endpoints, the forwarding and the static files.
class Api {
 public:
  Api(Settings settings, const std::string& database, const Clock& clock, http::Metrics& metrics);
  void register_routes(http::Router& r);
  Sessions& sessions() { return sessions_; }

 private:
  http::Response login(http::Request& req);
  http::Response session(http::Request& req);
  http::Response logout(http::Request& req);
  http::Response forward(http::Request& req);
  http::Response asset(http::Request& req);

  // The request's live session and its user; throws Problem 401
  // session-expired. A state change also needs the CSRF token and the own
  // Origin (else Problem 403).
  std::pair<Session, const v1::User*> require_session(const http::Request& req);
  std::string set_cookie(const std::string& value, bool clear) const;
  http::Response file_response(const std::filesystem::path& p) const;

  Settings settings_;
  Sessions sessions_;
  http::Metrics& metrics_;
};

}  // namespace henvis::web
