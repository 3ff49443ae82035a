// The router as the host runs it: its settings from the config, the API for
// centres and coordinators, the applier of offers and deliveries, and the
// reminder loop.
#include "henvis/service.hpp"
#include "henvis/config.hpp"
#include "router.hpp"

namespace henvis::router {

namespace {
Settings settings_of(const ServiceContext& c) {
  Settings s = Settings::from(c.setup.config.router());
  sqlite::Db db(c.setup.database);
  s.person_key = load_person_key(
      db, config::resolve(c.setup.config_dir, c.setup.config.router().person_key_file()),
      c.setup.config.dev());
  return s;
}

class RouterService final : public Service {
 public:
  explicit RouterService(ServiceContext& c)
      : settings_(settings_of(c)),
        api_(c.setup.database, Directory(c.setup.directory), settings_, c.clock, &c.relay),
        applier_(Directory(c.setup.directory), settings_, c.clock),
        reminders_(c.setup.database, Directory(c.setup.directory), settings_, c.calendar, c.clock,
                   &c.relay),
        retention_(c.setup.database, settings_, c.clock, &c.metrics),
        keys_(data_keys::source_from(c.setup.config.data_keys(), c.setup.config_dir,
                                     c.setup.config.dev())) {
    applier_.use_data_keys(keys_.get());
    c.metrics.counter_reading("henvis_router_shredded_events_total",
                              "Offers whose data key was destroyed before they were routed",
                              [this] { return static_cast<double>(applier_.shredded()); });
  }
  void routes(http::Router& r) override { api_.register_routes(r); }
  const Subscriptions* subscriptions() const override { return &applier_.subscriptions(); }
  std::vector<BackgroundLoop> workers() override {
    return {[this](const std::atomic<bool>& stop) { reminders_.run(stop); },
            [this](const std::atomic<bool>& stop) { retention_.run(stop); }};
  }

 private:
  Settings settings_;
  Api api_;
  Applier applier_;
  Reminders reminders_;
  ContactRetention retention_;
  std::unique_ptr<data_keys::Source> keys_;
};
}  // namespace

// The service's OpenAPI document (openapi.json, embedded by CMake).
std::string_view openapi_document();

ServiceDeclaration service() {
  return {"router",
          migrations,
          {},
          [](ServiceContext& c) { return std::make_unique<RouterService>(c); },
          openapi_document()};
}

}  // namespace henvis::router
