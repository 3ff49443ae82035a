// henvis-router: flags, config, wiring. The logic is in router.cpp and api.cpp.
#include <spdlog/spdlog.h>

#include "henvis/config.hpp"
#include "henvis/service.hpp"
#include "henvis/topics.hpp"
#include "router.hpp"

int main(int argc, char** argv) {
  using namespace henvis;
  ServiceSetup setup = setup_service("router", argc, argv);
  SystemClock clock;
  kafka::Health health;
  http::Metrics metrics;
  router::Settings settings;
  workdays::Calendar calendar;
  try {
    settings = router::Settings::from(setup.config.router());
    calendar = workdays::Calendar(setup.config.calendar());
    sqlite::Db db(setup.database);
    db.migrate(router::migrations());
    settings.person_key = router::load_person_key(
        db, config::resolve(setup.config_dir, setup.config.router().person_key_file()));
  } catch (const std::exception& e) {
    spdlog::critical("router configuration error: {}", e.what());
    return 2;
  }
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  router::Api api(setup.database, Directory(setup.directory), settings, clock, &relay);
  router::Applier applier{Directory(setup.directory), settings, clock};
  router::Reminders reminders(setup.database, Directory(setup.directory), settings, calendar, clock,
                              &relay);
  // The consumer is declared last: it stops before what its handler uses.
  ConsumerLoop consumer(
      "router", setup.database, setup.bootstrap,
      {{topics::OFFERS, dlq_topic(topics::OFFERS, "router")},
       {topics::DELIVERIES, dlq_topic(topics::DELIVERIES, "router")}},
      [&](const kafka::Message& m, sqlite::Db& db) { applier.apply(m, db); }, &relay, &health);
  // Erased personal data must leave the WAL and the file at once.
  consumer.after_commit([&](sqlite::Db& db) {
    if (applier.take_erased()) db.checkpoint_truncate();
  });
  http::Router routes;
  api.register_routes(routes);
  RunSpec spec{"router", &setup, std::move(routes), &metrics, &relay, &consumer, &health, {}};
  spec.workers.push_back([&](const std::atomic<bool>& stop) { reminders.run(stop); });
  return run_service(std::move(spec));
}
