// Every service, as a running binary, serves its checked-in OpenAPI document
// at /openapi.json without a token, and declares every *_total family on its
// /metrics a counter (docs/api.md).

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include "harness.hpp"

using namespace henvis::testing;

namespace {
const std::vector<std::string> SERVICES = {"intake", "router", "socialsog", "notifier",
                                           "evaluation"};

// The metric names in `text` (Prometheus text format) that end in _total,
// from the samples, and the families `# TYPE`d counter.
void totals_and_counters(const std::string& text, std::set<std::string>& totals,
                         std::set<std::string>& counters) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream l(line.substr(7));
      std::string name, type;
      l >> name >> type;
      if (type == "counter") counters.insert(name);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    if (name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0) totals.insert(name);
  }
}
}  // namespace

TEST_CASE("Each service serves its checked-in OpenAPI document at /openapi.json without a token",
          "[integration][openapi]") {
  Stack s;
  s.start_broker();
  for (const auto& name : SERVICES) {
    s.start(name);
    INFO("service " << name);
    const auto r = http("GET", s.port(name), "/openapi.json");
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    CHECK(r.body ==
          slurp(std::filesystem::path(HENVIS_SOURCE_DIR) / "services" / name / "openapi.json"));
  }
}

TEST_CASE("Every *_total family on each service's /metrics is declared a counter",
          "[integration][metrics]") {
  Stack s;
  s.start_broker();
  for (const auto& name : SERVICES) {
    s.start(name);
    INFO("service " << name);
    REQUIRE(http("GET", s.port(name), "/healthz").status == 200);  // an HTTP request counted
    std::set<std::string> totals, counters;
    totals_and_counters(http("GET", s.port(name), "/metrics").body, totals, counters);
    CHECK(totals.count("henvis_http_requests_total") == 1);
    for (const auto& t : totals) {
      INFO(t << " has no `# TYPE " << t << " counter`");
      CHECK(counters.count(t) == 1);
    }
  }
}
