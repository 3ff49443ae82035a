#pragma once
// Forwarding /api/<service>/<path> to the service (the backend-for-frontend's
// one job besides sessions): what is passed each way, and nothing else.
//
// Towards the service: method, path, query and body; the browser's
// Content-Type, Accept and Idempotency-Key; henvis-web's own bearer token
// (a delegating token) and the person headers naming who acts. Every other
// header the browser sent (Authorization, Cookie, Henvis-Person*, ...) is
// dropped. Back to the browser: status, body, Content-Type,
// Content-Disposition and Retry-After.

#include <map>
#include <optional>
#include <string>

#include "henvis/http.hpp"
#include "henvis/http_client.hpp"
#include "henvis/v1/config.pb.h"

namespace henvis::web {

// The services henvis-web forwards to.
inline constexpr const char* FORWARDED_SERVICES[] = {"intake", "router", "socialsog", "notifier",
                                                     "evaluation"};

class Upstreams {
 public:
  // Throws std::invalid_argument naming the entry: an unknown or repeated
  // service, or a URL that is not https://host:port (or http://host:port
  // when `plain_allowed`: a dev config). `ca_file`: what the https
  // upstreams' certificates must lead to (empty: the system trust store).
  explicit Upstreams(const v1::WebSettings& settings, bool plain_allowed = true,
                     const std::string& ca_file = {});
  const http::Endpoint* find(const std::string& service) const;
  // For every request to an upstream (the CA file).
  const http::ClientOptions& client_options() const { return options_; }

 private:
  std::map<std::string, http::Endpoint> by_service_;
  http::ClientOptions options_;
};

// The acting person, as the session's user.
struct Person {
  std::string username;
  std::string role;  // auth::role_name
  std::string scope;
};

// The path and query to ask the service for: the request's path (as sent)
// after "/api/<service>", and its query; nullopt if the path does not start
// so (a path written with empty segments).
std::optional<std::string> upstream_target(const http::Request& req, const std::string& service);
// The headers to send the service.
http::Headers upstream_headers(const http::Request& req, const std::string& bearer_token,
                               const Person& person);
// The service's answer as the browser gets it.
http::Response to_browser(const http::ClientResponse& r);

}  // namespace henvis::web
