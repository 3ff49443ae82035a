// The notifier as the host runs it: channel settings per recipient (a bad
// daily time, webhook URL or key, or drop directory stops it at start,
// naming the recipient), the inbox API, the applier of requested
// notifications and the dispatcher of delayed and pushed deliveries.
#include "henvis/service.hpp"
#include "dispatcher.hpp"
#include "notifier.hpp"

namespace henvis::notifier {

namespace {
class NotifierService final : public henvis::Service {
 public:
  explicit NotifierService(ServiceContext& c)
      : settings_(Directory(c.setup.directory), c.setup.config, c.setup.config_dir),
        api_(c.setup.database, Directory(c.setup.directory), &c.relay, settings_, c.clock),
        applier_(Directory(c.setup.directory), settings_, c.clock),
        dispatcher_(c.setup.database, Directory(c.setup.directory), settings_, &c.relay, c.clock,
                    &c.metrics),
        retention_(c.setup.database, c.setup.config.notifier(), c.clock, &c.metrics),
        keys_(data_keys::source_from(c.setup.config.data_keys(), c.setup.config_dir,
                                     c.setup.config.dev())),
        underretning_keys_(data_keys::source_from(c.setup.config.underretning_keys(),
                                                  c.setup.config_dir, c.setup.config.dev())) {
    applier_.use_data_keys(keys_.get());
    applier_.use_underretning_keys(underretning_keys_.get());
    c.metrics.counter_reading("henvis_notifier_shredded_events_total",
                              "Notifications dropped because their data key (a referral's or "
                              "an underretning's) was destroyed",
                              [this] { return static_cast<double>(applier_.shredded()); });
  }
  void routes(http::Router& r) override { api_.register_routes(r); }
  const Subscriptions* subscriptions() const override { return &applier_.subscriptions(); }
  std::vector<BackgroundLoop> workers() override {
    return {[this](const std::atomic<bool>& stop) { dispatcher_.run(stop); },
            [this](const std::atomic<bool>& stop) { retention_.run(stop); }};
  }

 private:
  Settings settings_;
  Api api_;
  Applier applier_;
  Dispatcher dispatcher_;
  InboxRetention retention_;
  std::unique_ptr<data_keys::Source> keys_;
  std::unique_ptr<data_keys::Source> underretning_keys_;
};
}  // namespace

// The service's OpenAPI document (openapi.json, embedded by CMake).
std::string_view openapi_document();

ServiceDeclaration service() {
  return {"notifier",
          migrations,
          {},
          [](ServiceContext& c) { return std::make_unique<NotifierService>(c); },
          openapi_document()};
}

}  // namespace henvis::notifier
