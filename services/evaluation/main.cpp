// henvis-evaluation: the evaluation service (service.cpp) run by the common host.
#include <malloc.h>

#include "evaluation.hpp"
#include "henvis/service.hpp"

int main(int argc, char** argv) {
  // A large statistics answer is built in memory (the message, then its
  // JSON): buffers above 128 KiB are mapped on their own and unmapped when
  // freed, instead of growing the heap that glibc's adaptive threshold would
  // keep after the first large answer (docs/performance.md).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  return henvis::run_service(henvis::evaluation::service(), argc, argv);
}
