// henvis-socialsog: flags, config, wiring. The logic is in applier.cpp (the
// incident window), scan.cpp (rules, scans, receipt clock) and api.cpp.
//
// Socialsøg's own settings (SocialsogSettings in proto/henvis/v1/socialsog.proto)
// come from `--socialsog FILE`, else from socialsog-settings.textproto next to
// the service config if it exists, else the defaults (weekly Monday 06:00
// Europe/Copenhagen, 6 working days for the receipt, the code list shipped in
// services/socialsog/default_rules.textproto). See docs/socialsog.md.
#include <spdlog/spdlog.h>

#include <iostream>
#include <vector>

#include "henvis/config.hpp"
#include "henvis/service.hpp"
#include "henvis/topics.hpp"
#include "socialsog.hpp"

int main(int argc, char** argv) {
  using namespace henvis;
  // Take out the flag the common setup does not know.
  std::string settings_file;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--socialsog") {
      if (i + 1 >= argc) {
        std::cerr << "missing value for --socialsog\n";
        return 2;
      }
      settings_file = argv[++i];
      continue;
    }
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h")
      std::cout << "  --socialsog FILE       Socialsøg settings (henvis.v1.SocialsogSettings, text "
                   "format);\n                         default: socialsog-settings.textproto "
                   "beside --config, if present\n";
    args.push_back(argv[i]);
  }
  args.push_back(nullptr);
  ServiceSetup setup = setup_service("socialsog", static_cast<int>(args.size()) - 1, args.data());
  SystemClock clock;
  kafka::Health health;
  http::Metrics metrics;
  socialsog::Settings settings;
  workdays::Calendar calendar;
  try {
    settings = socialsog::load_settings(settings_file, setup.config_dir, &settings_file);
    calendar = workdays::Calendar(setup.config.calendar());
    sqlite::Db db(setup.database);
    db.migrate(socialsog::migrations());
  } catch (const std::exception& e) {
    spdlog::critical("socialsog configuration error: {}", e.what());
    return 2;
  }
  spdlog::info(
      "socialsog rules version={} threshold={} look_back_months={} incident_retention_months={} "
      "settings={}",
      settings.rules.version(), settings.rules.threshold(), settings.rules.look_back_months(),
      settings.incident_retention_months,
      settings_file.empty() ? std::string("defaults") : settings_file);
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  socialsog::Scanner scanner(Directory(setup.directory), settings, calendar, clock);
  socialsog::Api api(setup.database, scanner, &relay);
  socialsog::Applier applier(settings, clock);
  socialsog::Worker worker(setup.database, scanner, &relay);
  // The consumer is declared last: it stops before what its handler uses.
  ConsumerLoop consumer(
      "socialsog", setup.database, setup.bootstrap,
      // police.incidents.v1 is written by the police's systems, which may
      // use transactions: its offsets may have holes.
      {{topics::INCIDENTS, dlq_topic(topics::INCIDENTS, "socialsog"), false},
       {topics::DELIVERIES, dlq_topic(topics::DELIVERIES, "socialsog")}},
      [&](const kafka::Message& m, sqlite::Db& db) { applier.apply(m, db); }, &relay, &health);
  http::Router routes;
  api.register_routes(routes);
  RunSpec spec{"socialsog", &setup, std::move(routes), &metrics, &relay, &consumer, &health, {}};
  spec.workers.push_back([&](const std::atomic<bool>& stop) { worker.run(stop); });
  return run_service(std::move(spec));
}
