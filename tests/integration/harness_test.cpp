// The harness itself: what every integration, robustness and kafka test
// relies on when it starts the services as processes.

#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "harness.hpp"

using namespace henvis::testing;

TEST_CASE("harness: a started process is killed when the thread that started it ends",
          "[integration][harness]") {
  // A test that aborts (or that ctest kills) must leave no service behind:
  // on a shared Kafka cluster a leftover router consumes the next test's
  // events in the same consumer group.
  const auto dir = make_temp_dir("henvis-harness");
  std::unique_ptr<Process> p;
  std::thread([&] {
    p = std::make_unique<Process>("/bin/sleep", std::vector<std::string>{"600"}, dir / "sleep.log");
  }).join();
  REQUIRE(p->pid() > 0);
  CHECK(eventually([&] { return !p->running(); }));
  // And one started on the test's thread runs until it is stopped.
  Process q("/bin/sleep", {"600"}, dir / "sleep2.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(q.running());
  std::filesystem::remove_all(dir);
}
