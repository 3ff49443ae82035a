// henvis-notifier: the notifier service (service.cpp) run by the common host.
#include "henvis/service.hpp"
#include "notifier.hpp"

int main(int argc, char** argv) {
  return henvis::run_service(henvis::notifier::service(), argc, argv);
}
