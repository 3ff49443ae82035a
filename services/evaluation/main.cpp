// henvis-evaluation: the evaluation service (service.cpp) run by the common host.
#include "evaluation.hpp"
#include "henvis/service.hpp"

int main(int argc, char** argv) {
  return henvis::run_service(henvis::evaluation::service(), argc, argv);
}
