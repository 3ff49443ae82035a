// henvis-router: the router service (service.cpp) run by the common host.
#include "henvis/service.hpp"
#include "router.hpp"

int main(int argc, char** argv) {
  return henvis::run_service(henvis::router::service(), argc, argv);
}
