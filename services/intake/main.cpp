// henvis-intake: flags, config, wiring. The logic is in intake.cpp.
#include "henvis/service.hpp"
#include "intake.hpp"

int main(int argc, char** argv) {
  using namespace henvis;
  ServiceSetup setup = setup_service("intake", argc, argv);
  kafka::Health health;
  http::Metrics metrics;
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  intake::Intake service(setup.database, Directory(setup.directory), &relay);
  http::Router router;
  service.register_routes(router);
  return run_service(
      RunSpec{"intake", &setup, std::move(router), &metrics, &relay, nullptr, &health, {}});
}
