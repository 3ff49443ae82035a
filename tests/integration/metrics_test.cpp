// What a consuming service's /metrics shows with a real broker: counters as
// counters, the batch apply latency and the lag of each partition it reads.

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace henvis::testing;

namespace {
// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  return out;
}
}  // namespace

TEST_CASE("A consumer shows its lag per partition and its batch latency on /metrics",
          "[integration]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  // Given an offer the router has read and applied
  auto r = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                offer_json("it-metrics-1", 657, true));
  REQUIRE(r.status == 201);
  REQUIRE(eventually([&] { return s.metric("router", "henvis_consumer_applied_total") >= 1; }));

  // When its /metrics is read (the lag is set just after the batch commits)
  std::string text;
  REQUIRE(eventually([&] {
    text = http("GET", s.port("router"), "/metrics").body;
    return !lines_starting(text, "henvis_consumer_lag{").empty();
  }));

  // Then the partition it read shows lag 0, labelled by topic and partition
  const auto lag = lines_starting(text, "henvis_consumer_lag{");
  for (const auto& line : lag) {
    INFO(line);
    CHECK(line.find("partition=\"") != std::string::npos);
    CHECK(line.find("topic=\"") != std::string::npos);
    CHECK(line.substr(line.rfind(' ') + 1) == "0");
  }
  // And the batch it applied was timed
  CHECK(s.metric("router", "henvis_consumer_batch_apply_seconds_count") >= 1);
  // And the applied events are a counter
  CHECK(!lines_starting(text, "# TYPE henvis_consumer_applied_total counter").empty());
  // And no line holds the person's data
  CHECK(text.find("0101901234") == std::string::npos);
  CHECK(text.find("010190-1234") == std::string::npos);
  CHECK(text.find("Jens") == std::string::npos);
}
