// henvis-sim through the real stack: the evaluation's funnel must equal what
// the simulator says it did, and replaying the same seed must change nothing.

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "henvis/v1/stats.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs henvis-sim against the stack; returns its exit status.
int run_sim(Stack& s, const std::filesystem::path& out, const std::string& seed) {
  auto url = [&](const std::string& svc) {
    return "http://127.0.0.1:" + std::to_string(s.port(svc));
  };
  Process sim(
      std::string(HENVIS_BUILD_DIR) + "/tools/sim/henvis-sim",
      {"run", "--seed", seed, "--yes", "20", "--intake", url("intake"), "--router", url("router"),
       "--notifier", url("notifier"), "--evaluation", url("evaluation"), "--out", out.string()},
      s.dir() / "sim.log");
  return sim.wait(std::chrono::minutes(3));
}

google::protobuf::Struct summary(const std::filesystem::path& p) {
  google::protobuf::Struct st;
  const std::string body = read_file(p);
  INFO(body);
  REQUIRE(google::protobuf::util::JsonStringToMessage(body, &st).ok());
  return st;
}

int field(const google::protobuf::Struct& st, const std::string& name) {
  INFO(name);
  REQUIRE(st.fields().count(name));
  return static_cast<int>(st.fields().at(name).number_value());
}

v1::ReferralStats stats(Stack& s) {
  auto r = http("GET", s.port("evaluation"),
                "/v1/stats/referrals?from=2020-03-01&to=2021-01-01&format=json", "dev-evaluator");
  INFO(r.body);
  REQUIRE(r.status == 200);
  v1::ReferralStats out;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out, opts).ok());
  return out;
}

// The evaluation's total row in the simulator's terms.
std::map<std::string, int> funnel(const v1::ReferralStatsRow& t) {
  return {{"offered", t.offered()},
          {"accepted", t.accepted()},
          {"declined", t.declined()},
          {"routedExpected", t.routed()},
          {"contactAttempted", t.contact_attempted()},
          {"conversationHeld", t.conversation_held()},
          {"furtherSessionsAccepted", t.further_sessions_accepted()},
          {"withdrawn", t.withdrawn()}};
}

std::map<std::string, int> funnel(const google::protobuf::Struct& st) {
  std::map<std::string, int> out;
  for (const auto& [k, v] : funnel(v1::ReferralStatsRow{})) out[k] = field(st, k);
  return out;
}

}  // namespace

TEST_CASE("The evaluation's funnel equals what henvis-sim did", "[integration][sim]") {
  // Disclosure control off (N = 1) so that the small scenario's cells show.
  Stack s(std::map<std::string, std::string>{{"evaluation", "evaluation { min_cell: 1 }\n"}});
  s.start_broker();
  for (const std::string svc : {"intake", "router", "notifier", "evaluation"}) s.start(svc);

  const auto out = s.dir() / "summary.json";
  const int rc = run_sim(s, out, "7");
  INFO(read_file(s.dir() / "sim.log"));
  REQUIRE(rc == 0);
  auto sum = summary(out);
  const auto expected = funnel(sum);
  CHECK(expected.at("accepted") == 20);
  CHECK(expected.at("offered") == 46);  // 1.3 no per yes
  CHECK(field(sum, "errors") == 0);
  CHECK(expected.at("conversationHeld") > 0);

  // Then the evaluation, once it has consumed everything, counts the same.
  std::map<std::string, int> got;
  const bool same = eventually([&] {
    got = funnel(stats(s).total());
    return got == expected;
  });
  for (const auto& [k, v] : expected) {
    INFO(k);
    CHECK(got[k] == v);
  }
  REQUIRE(same);
  auto t = stats(s).total();
  CHECK(t.unroutable() == 0);
  CHECK(t.delivered() == expected.at("routedExpected"));

  // Replaying the same seed registers nothing new and records no outcome twice.
  const auto out2 = s.dir() / "summary2.json";
  run_sim(s, out2, "7");
  CHECK(field(summary(out2), "offered") == expected.at("offered"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(funnel(stats(s).total()) == expected);
}
