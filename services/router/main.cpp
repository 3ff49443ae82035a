// henvis-router: flags, config, wiring. The logic is in router.cpp.
#include "henvis/service.hpp"
#include "henvis/topics.hpp"
#include "router.hpp"

int main(int argc, char** argv) {
  using namespace henvis;
  ServiceSetup setup = setup_service("router", argc, argv);
  kafka::Health health;
  http::Metrics metrics;
  router::Api api(setup.database, Directory(setup.directory));  // migrates the database
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  router::Applier applier{Directory(setup.directory)};
  // The consumer is declared last: it stops before what its handler uses.
  ConsumerLoop consumer(
      "router", setup.database, setup.bootstrap,
      {{topics::OFFERS, dlq_topic(topics::OFFERS, "router")},
       {topics::DELIVERIES, dlq_topic(topics::DELIVERIES, "router")}},
      [&](const kafka::Message& m, sqlite::Db& db) { applier.apply(m, db); }, &relay, &health);
  http::Router routes;
  api.register_routes(routes);
  return run_service(
      RunSpec{"router", &setup, std::move(routes), &metrics, &relay, &consumer, &health});
}
