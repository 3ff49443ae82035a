// henvis-web as the host runs it (web.hpp): no Kafka, handlers on a pool so
// that a request waiting on a service holds up no other.
#include <spdlog/spdlog.h>

#include <fstream>
#include <stdexcept>

#include "henvis/config.hpp"
#include "henvis/digest.hpp"
#include "henvis/directory.hpp"
#include "web.hpp"

namespace henvis::web {

namespace {
// Requests forwarded at once; each waits on a service for at most the
// client's timeout (http_client.hpp).
constexpr std::size_t HANDLER_THREADS = 8;
constexpr std::chrono::seconds PRUNE_INTERVAL{60};

std::string required(const std::string& value, const char* name) {
  if (value.empty()) throw std::invalid_argument(std::string("web.") + name + " is required");
  return value;
}

// Refused at start: without the flag the services would ignore the person
// headers and every browser user would act with the token's own role.
void check_delegating(const ServiceSetup& setup, const std::string& token) {
  v1::Tokens tokens;
  config::load(config::resolve(setup.config_dir, setup.config.tokens_file()), tokens);
  const std::string hash = sha256_hex(token);
  for (const auto& t : tokens.tokens())
    if (t.sha256_hex() == hash && t.delegating()) return;
  throw std::invalid_argument(
      "web.delegation_token_file: the token is not a token of tokens_file with delegating: true");
}

std::chrono::seconds seconds_or(std::int32_t configured, std::chrono::seconds fallback) {
  if (configured < 0) throw std::invalid_argument("web: a session timeout must not be negative");
  return configured > 0 ? std::chrono::seconds(configured) : fallback;
}
}  // namespace

Settings load_settings(const ServiceSetup& setup) {
  const v1::WebSettings& w = setup.config.web();
  const auto path = [&](const std::string& p) { return config::resolve(setup.config_dir, p); };
  Settings s;
  s.users =
      std::make_unique<Users>(config::load<v1::Users>(path(required(w.users_file(), "users_file"))),
                              Directory(setup.directory));
  s.upstreams = std::make_unique<Upstreams>(w, setup.config.dev(), path(w.upstream_ca_file()));
  s.delegation_token =
      config::read_secret_file(path(required(w.delegation_token_file(), "delegation_token_file")),
                               "web.delegation_token_file");
  check_delegating(setup, s.delegation_token);
  s.assets_dir = path(required(w.assets_dir(), "assets_dir"));
  std::error_code ec;
  if (auto canonical = std::filesystem::canonical(s.assets_dir, ec); !ec)
    s.assets_dir = canonical;
  else
    spdlog::warn("web.assets_dir does not exist (is the frontend built?) path={}",
                 s.assets_dir.string());
  s.insecure_cookies = w.insecure_cookies();
  s.origin = w.origin();
  s.trusted_proxies.assign(w.trusted_proxies().begin(), w.trusted_proxies().end());
  s.timeouts = {seconds_or(w.session_idle_seconds(), DEFAULT_IDLE_TIMEOUT),
                seconds_or(w.session_absolute_seconds(), DEFAULT_ABSOLUTE_TIMEOUT)};
  return s;
}

namespace {
class WebService final : public Service {
 public:
  explicit WebService(ServiceContext& c)
      : api_(load_settings(c.setup), c.setup.database, c.clock, c.metrics) {}
  void routes(http::Router& r) override { api_.register_routes(r); }
  std::vector<BackgroundLoop> workers() override {
    return {[this](const std::atomic<bool>& stop) {
      every(PRUNE_INTERVAL, stop, "session pruning", [this] { api_.sessions().prune(); });
    }};
  }
  void server_options(http::ServerOptions& o) const override {
    o.handler_threads = HANDLER_THREADS;
    o.default_headers = security_headers();
  }

 private:
  Api api_;
};
}  // namespace

// The service's OpenAPI document (openapi.json, embedded by CMake).
std::string_view openapi_document();

ServiceDeclaration service() {
  ServiceDeclaration d{SERVICE,
                       migrations,
                       {},
                       [](ServiceContext& c) { return std::make_unique<WebService>(c); },
                       openapi_document()};
  d.kafka = false;
  return d;
}

}  // namespace henvis::web
