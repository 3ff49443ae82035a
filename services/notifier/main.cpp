// henvis-notifier: flags, config, wiring. The logic is in notifier.cpp.
#include "henvis/service.hpp"
#include "henvis/topics.hpp"
#include "notifier.hpp"

int main(int argc, char** argv) {
  using namespace henvis;
  ServiceSetup setup = setup_service("notifier", argc, argv);
  kafka::Health health;
  http::Metrics metrics;
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  notifier::Api api(setup.database, Directory(setup.directory), &relay);  // migrates
  notifier::Applier applier{Directory(setup.directory)};
  // The consumer is declared last: it stops before what its handler uses.
  ConsumerLoop consumer(
      "notifier", setup.database, setup.bootstrap,
      {{topics::NOTIFICATIONS, dlq_topic(topics::NOTIFICATIONS, "notifier")}},
      [&](const kafka::Message& m, sqlite::Db& db) { applier.apply(m, db); }, &relay, &health);
  http::Router routes;
  api.register_routes(routes);
  return run_service(
      RunSpec{"notifier", &setup, std::move(routes), &metrics, &relay, &consumer, &health});
}
