// The evaluators' statistics through the real stack: henvis-devbroker,
// intake, router and evaluation as processes; offers posted over HTTP,
// statistics read over HTTP.

#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "harness.hpp"
#include "henvis/v1/stats.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {

constexpr const char* STATS = "/v1/stats/referrals";

v1::ReferralStats stats(Stack& s, const std::string& query = "") {
  auto r = http("GET", s.port("evaluation"), std::string(STATS) + query, "dev-evaluator");
  INFO(r.body);
  REQUIRE(r.status == 200);
  v1::ReferralStats out;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok());
  return out;
}

std::string evaluation_db_bytes(const Stack& s) {
  std::string all;
  for (const auto& e : std::filesystem::directory_iterator(s.dir())) {
    if (e.path().filename().string().rfind("evaluation.db", 0) != 0) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

}  // namespace

TEST_CASE(
    "Offers registered through intake appear in the evaluators' funnel, without anyone's data",
    "[integration][evaluation]") {
  // Disclosure control off (N = 1): the funnel is checked exactly here; the
  // rules (suppression, cell-key perturbation) are pinned in the unit tests.
  Stack s(std::map<std::string, std::string>{{"evaluation", "evaluation { min_cell: 1 }\n"}});
  s.start_broker();
  s.start("intake");
  s.start("router");
  s.start("evaluation");
  // Given officers register a dozen offers for Herning residents: 7 yes, 5 no
  constexpr int YES = 7, NO = 5;
  for (int i = 0; i < YES + NO; ++i) {
    const bool yes = i < YES;
    auto r = http(
        "POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
        offer_json("it-eval-" + std::to_string(i), 657, yes, "020285-43" + std::to_string(10 + i),
                   "Ellen Statistiksen", "+45 61 62 63 " + std::to_string(10 + i)));
    INFO(r.body);
    REQUIRE(r.status == 201);
  }
  // When the router has routed every yes and the evaluation has read it all
  REQUIRE(eventually([&] {
    auto t = stats(s).total();
    return t.offered() == YES + NO && t.routed() == YES;
  }));
  // Then the funnel's counts are exact
  const auto t = stats(s).total();
  CHECK(t.offered() == 12);
  CHECK(t.accepted() == YES);
  CHECK(t.declined() == NO);
  CHECK(t.routed() == YES);
  CHECK(t.unroutable() == 0);
  CHECK(t.routed_rate() == Approx(1.0));
  // And the median is withheld: no one has been contacted
  CHECK_FALSE(t.has_median_days_to_first_contact());
  // And grouped by municipality there is one row, Herning's
  const auto g = stats(s, "?groupBy=municipality,offence");
  REQUIRE(g.rows_size() == 1);
  CHECK(g.rows(0).kommunekode() == 657);
  CHECK(g.rows(0).municipality_name() == "Herning");
  CHECK(g.rows(0).offence() == v1::OFFENCE_DRUNK);
  CHECK(g.rows(0).accepted() == YES);
  // And CSV is served as text/csv with a header and two lines
  auto csv = http("GET", s.port("evaluation"),
                  std::string(STATS) + "?groupBy=municipality&format=csv", "dev-evaluator");
  CHECK(csv.status == 200);
  CHECK(csv.content_type.rfind("text/csv", 0) == 0);
  CHECK(csv.body.rfind("row,kommunekode,municipalityName,offered,", 0) == 0);
  CHECK(csv.body.find("group,657,Herning,12,7,5,7,0,") != std::string::npos);
  // And a bad parameter is a 400 naming it
  auto bad =
      http("GET", s.port("evaluation"), std::string(STATS) + "?from=2024-13-01", "dev-evaluator");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"field\":\"from\"") != std::string::npos);
  // And an officer gets 403, no token 401; the probes need no token
  CHECK(http("GET", s.port("evaluation"), STATS, "dev-officer-mvj").status == 403);
  CHECK(http("GET", s.port("evaluation"), STATS, "dev-center-657").status == 403);
  CHECK(http("GET", s.port("evaluation"), STATS).status == 401);
  CHECK(http("GET", s.port("evaluation"), "/healthz").status == 200);
  CHECK(http("GET", s.port("evaluation"), "/metrics").status == 200);
  // And no response and no byte of the evaluation's database holds a CPR
  // number, name or phone
  const std::string all =
      stats(s, "?groupBy=municipality,month,offence,district").DebugString() + csv.body;
  CHECK(s.stop("evaluation") == 0);
  const std::string bytes = evaluation_db_bytes(s);
  REQUIRE(bytes.size() > 0);
  for (const std::string& hay : {all, bytes}) {
    CHECK(hay.find("02028543") == std::string::npos);
    CHECK(hay.find("020285-43") == std::string::npos);
    CHECK(hay.find("Statistiksen") == std::string::npos);
    CHECK(hay.find("616263") == std::string::npos);
    CHECK(hay.find("4100-84123") == std::string::npos);
  }
}
