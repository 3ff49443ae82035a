// henvis-intake: the intake service (service.cpp) run by the common host.
#include "henvis/service.hpp"
#include "intake.hpp"

int main(int argc, char** argv) {
  return henvis::run_service(henvis::intake::service(), argc, argv);
}
