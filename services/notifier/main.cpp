// henvis-notifier: flags, config, wiring. The logic is in notifier.cpp
// (inbox, consumer), dispatcher.cpp (delayed deliveries and push channels)
// and channels.cpp (per-recipient channel settings, signing, CSV).
#include <iostream>

#include "dispatcher.hpp"
#include "henvis/service.hpp"
#include "henvis/topics.hpp"
#include "notifier.hpp"

int main(int argc, char** argv) {
  using namespace henvis;
  ServiceSetup setup = setup_service("notifier", argc, argv);
  notifier::Settings settings;
  try {
    // Daily list times, webhook URLs and keys, drop directories: a bad one
    // stops the service at start, naming the recipient.
    settings = notifier::Settings(Directory(setup.directory), setup.config, setup.config_dir);
  } catch (const std::exception& e) {
    std::cerr << "henvis-notifier: configuration error: " << e.what() << "\n";
    return 2;
  }
  kafka::Health health;
  http::Metrics metrics;
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  notifier::Api api(setup.database, Directory(setup.directory), &relay, settings);  // migrates
  notifier::Applier applier{Directory(setup.directory), settings};
  notifier::Dispatcher dispatcher(setup.database, Directory(setup.directory), settings, &relay,
                                  notifier::system_clock(), &metrics);
  // The consumer is declared last: it stops before what its handler uses.
  ConsumerLoop consumer(
      "notifier", setup.database, setup.bootstrap,
      {{topics::NOTIFICATIONS, dlq_topic(topics::NOTIFICATIONS, "notifier")}},
      [&](const kafka::Message& m, sqlite::Db& db) { applier.apply(m, db); }, &relay, &health);
  // Erased personal data must leave the WAL and the file at once.
  consumer.after_commit([&](sqlite::Db& db) {
    if (applier.take_erased()) db.checkpoint_truncate();
  });
  http::Router routes;
  api.register_routes(routes);
  RunSpec spec{"notifier", &setup, std::move(routes), &metrics, &relay, &consumer, &health, {}};
  spec.workers.push_back([&](const std::atomic<bool>& stop) { dispatcher.run(stop); });
  return run_service(std::move(spec));
}
