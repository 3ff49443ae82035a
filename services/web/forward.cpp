// Forwarding to the services (forward.hpp).
#include "forward.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "henvis/tls.hpp"
#include "henvisctl/client.hpp"

namespace henvis::web {

Upstreams::Upstreams(const v1::WebSettings& settings, bool plain_allowed,
                     const std::string& ca_file) {
  options_.ca_file = ca_file;
  for (const auto& u : settings.upstreams()) {
    const std::string who = "web.upstreams '" + u.service() + "'";
    if (std::find(std::begin(FORWARDED_SERVICES), std::end(FORWARDED_SERVICES), u.service()) ==
        std::end(FORWARDED_SERVICES))
      throw std::invalid_argument(who + ": not a service henvis-web forwards to");
    client::Url url;
    try {
      url = client::parse_url(u.url());
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(who + ": " + e.what());
    }
    if (!url.base_path.empty())
      throw std::invalid_argument(who + ": the URL must be https://host:port without a path");
    if (!url.tls && !plain_allowed)
      throw std::invalid_argument(who + ": the URL must be https:// (http:// only with dev: true)");
    if (!by_service_.emplace(u.service(), http::Endpoint{url.host, url.port, url.tls}).second)
      throw std::invalid_argument(who + ": listed twice");
  }
  try {
    if (!ca_file.empty()) tls::client_context(ca_file);  // loaded once, checked now
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("web.upstream_ca_file: ") + e.what());
  }
}

const http::Endpoint* Upstreams::find(const std::string& service) const {
  const auto it = by_service_.find(service);
  return it == by_service_.end() ? nullptr : &it->second;
}

std::optional<std::string> upstream_target(const http::Request& req, const std::string& service) {
  const std::string prefix = "/api/" + service + "/";
  if (req.path.rfind(prefix, 0) != 0) return std::nullopt;
  std::string target = req.path.substr(prefix.size() - 1);
  // Only the services' API: their /metrics, /readyz and /openapi.json need no
  // token and are for operators, not for the browser.
  if (target.rfind("/v1/", 0) != 0) return std::nullopt;
  if (!req.raw_query.empty()) target += "?" + req.raw_query;
  return target;
}

http::Headers upstream_headers(const http::Request& req, const std::string& bearer_token,
                               const Person& person) {
  http::Headers out;
  for (const auto& [lower, name] :
       {std::pair{"content-type", "Content-Type"}, std::pair{"accept", "Accept"},
        std::pair{"idempotency-key", "Idempotency-Key"}}) {
    const auto it = req.headers.find(lower);
    if (it != req.headers.end()) out.emplace_back(name, it->second);
  }
  out.emplace_back("Authorization", "Bearer " + bearer_token);
  out.emplace_back("Henvis-Person", person.username);
  out.emplace_back("Henvis-Person-Role", person.role);
  out.emplace_back("Henvis-Person-Scope", person.scope);
  return out;
}

http::Response to_browser(const http::ClientResponse& r) {
  http::Response out(r.status, r.content_type, r.body);
  if (out.content_type.empty()) out.content_type = "application/octet-stream";
  for (const char* name : {"Content-Disposition", "Retry-After"}) {
    const std::string v = r.header(name);
    if (!v.empty()) out.headers[name] = v;
  }
  return out;
}

}  // namespace henvis::web
