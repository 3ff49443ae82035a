// A real service's limits with the default configuration: a token-guessing
// client is answered 429 after a few dozen 401s, counted on /metrics and
// logged without its tokens, while /healthz keeps answering.

#include <catch2/catch.hpp>
#include <string>

#include "harness.hpp"

using namespace henvis::testing;

TEST_CASE(
    "A client guessing tokens gets 429 with Retry-After after the failed-authentication "
    "burst, and the failures are counted and logged without the tokens",
    "[integration][limits]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  const int port = s.port("intake");
  int unauthorized = 0, limited = 0;
  for (int i = 0; i < 200; ++i) {
    const auto r = http("POST", port, "/v1/offers", "guessed-token-" + std::to_string(i), "{}");
    if (r.status == 401) ++unauthorized;
    if (r.status == 429) {
      ++limited;
      CHECK(r.content_type == "application/problem+json");
    }
  }
  // The default: 30 failures a minute, a minute's worth at once.
  CHECK(unauthorized >= 30);
  CHECK(unauthorized < 60);
  CHECK(limited == 200 - unauthorized);
  // A valid token from the same address waits too (guessing gets no answers)
  CHECK(http("POST", port, "/v1/offers", "dev-officer-mvj", "{}").status == 429);
  CHECK(http("GET", port, "/healthz").status == 200);
  CHECK(metric(port, "henvis_http_auth_failures_total{reason=\"invalid\"}") == unauthorized);
  CHECK(metric(port, "henvis_http_rate_limited_total{limit=\"failed_auth\"}") == limited + 1);
  const std::string log = slurp(s.dir() / "intake.log");
  CHECK(log.find("http authentication failed") != std::string::npos);
  CHECK(log.find("guessed-token") == std::string::npos);
}
