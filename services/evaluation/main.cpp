// henvis-evaluation: flags, config, wiring. The logic is in evaluation.cpp
// (read model) and stats.cpp (statistics and disclosure control).
#include <iostream>

#include "evaluation.hpp"
#include "henvis/service.hpp"
#include "henvis/topics.hpp"

int main(int argc, char** argv) {
  using namespace henvis;
  ServiceSetup setup = setup_service(evaluation::SERVICE, argc, argv);
  const int min_cell = setup.config.evaluation().min_cell();
  if (min_cell < 0) {
    std::cerr << "henvis-evaluation: configuration error: evaluation.min_cell must not be "
                 "negative\n";
    return 2;
  }
  kafka::Health health;
  http::Metrics metrics;
  // Migrates the database.
  evaluation::Api api(setup.database, Directory(setup.directory), min_cell);
  // evaluation emits no events; its outbox carries the dead letters only.
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  evaluation::Applier applier;
  const std::string svc = evaluation::SERVICE;
  // The consumer is declared last: it stops before what its handler uses.
  ConsumerLoop consumer(
      svc, setup.database, setup.bootstrap,
      {{topics::OFFERS, dlq_topic(topics::OFFERS, svc)},
       {topics::REFERRALS, dlq_topic(topics::REFERRALS, svc)},
       {topics::DELIVERIES, dlq_topic(topics::DELIVERIES, svc)},
       {topics::UNDERRETNINGER, dlq_topic(topics::UNDERRETNINGER, svc)}},
      [&](const kafka::Message& m, sqlite::Db& db) { applier.apply(m, db); }, &relay, &health);
  http::Router routes;
  api.register_routes(routes);
  RunSpec spec;
  spec.service = svc;
  spec.setup = &setup;
  spec.router = std::move(routes);
  spec.metrics = &metrics;
  spec.relay = &relay;
  spec.consumer = &consumer;
  spec.health = &health;
  return run_service(std::move(spec));
}
