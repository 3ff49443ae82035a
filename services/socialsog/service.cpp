// Socialsøg as the host runs it: its settings (`--socialsog FILE`, else
// socialsog-settings.textproto beside the service config if it exists, else
// the defaults: weekly Monday 06:00 Europe/Copenhagen, 6 working days for the
// receipt, the code list in default_rules.textproto; see docs/socialsog.md),
// the incident window, the scanner, its API and its scheduled work.
#include <spdlog/spdlog.h>

#include "henvis/service.hpp"
#include "socialsog.hpp"

namespace henvis::socialsog {

namespace {
constexpr const char* SETTINGS_FLAG = "--socialsog";

Settings settings_of(const ServiceContext& c) {
  std::string used;
  Settings s = load_settings(c.flag(SETTINGS_FLAG), c.setup.config_dir, &used);
  spdlog::info(
      "socialsog rules version={} threshold={} look_back_months={} incident_retention_months={} "
      "underretning_retention_months={} settings={}",
      s.rules.version(), s.rules.threshold(), s.rules.look_back_months(),
      s.incident_retention_months, s.underretning_retention_months,
      used.empty() ? std::string("defaults") : used);
  return s;
}

class SocialsogService final : public Service {
 public:
  explicit SocialsogService(ServiceContext& c)
      : settings_(settings_of(c)),
        scanner_(Directory(c.setup.directory), settings_, c.calendar, c.clock, &c.metrics),
        api_(c.setup.database, scanner_, &c.relay),
        applier_(settings_, c.clock),
        worker_(c.setup.database, scanner_, &c.relay) {}
  void routes(http::Router& r) override { api_.register_routes(r); }
  const Subscriptions* subscriptions() const override { return &applier_.subscriptions(); }
  std::vector<BackgroundLoop> workers() override {
    return {[this](const std::atomic<bool>& stop) { worker_.run(stop); }};
  }

 private:
  Settings settings_;
  Scanner scanner_;
  Api api_;
  Applier applier_;
  socialsog::Worker worker_;
};
}  // namespace

// The service's OpenAPI document (openapi.json, embedded by CMake).
std::string_view openapi_document();

ServiceDeclaration service() {
  return {"socialsog",
          migrations,
          {{SETTINGS_FLAG, "FILE",
            "Socialsøg settings (henvis.v1.SocialsogSettings, text format); default: "
            "socialsog-settings.textproto beside --config, if present"}},
          [](ServiceContext& c) { return std::make_unique<SocialsogService>(c); },
          openapi_document()};
}

}  // namespace henvis::socialsog
