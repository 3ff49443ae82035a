// henvis-socialsog: the Socialsøg service (service.cpp) run by the common host.
#include "henvis/service.hpp"
#include "socialsog.hpp"

int main(int argc, char** argv) {
  return henvis::run_service(henvis::socialsog::service(), argc, argv);
}
