// deploy/topics.tsv is henvis's one topic list: compose's kafka-init and
// scripts/kafka create it (deploy/kafka/create-topics) and henvis-devbroker
// has it built in. Apache Kafka runs with auto-creation off, so a topic a
// service consumes or dead-letters to that is missing from the list does not
// exist in production (the mock used to create such topics on the fly).

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "evaluation.hpp"
#include "henvis/clock.hpp"
#include "henvis/topics.hpp"
#include "notifier.hpp"
#include "router.hpp"
#include "socialsog.hpp"
#include "support.hpp"

namespace {
std::set<std::string> listed_topics() {
  std::ifstream in(std::string(HENVIS_SOURCE_DIR) + "/deploy/topics.tsv");
  REQUIRE(in);
  std::set<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name;
    int partitions = 0;
    std::string personal;
    fields >> name >> partitions >> personal;
    CHECK(partitions > 0);
    CHECK((personal == "yes" || personal == "no"));
    out.insert(name);
  }
  return out;
}

void check_listed(const henvis::Subscriptions& subs, const std::set<std::string>& listed) {
  for (const auto& t : subs.topics()) {
    INFO(subs.service() << " consumes " << t.topic);
    CHECK(listed.count(t.topic) == 1);
    CHECK(listed.count(t.dlq_topic) == 1);
  }
}
}  // namespace

TEST_CASE("deploy/topics.tsv lists every topic a service consumes, produces or dead-letters to",
          "[topics]") {
  const auto listed = listed_topics();
  henvis::ManualClock clock{std::chrono::system_clock::time_point(std::chrono::hours(1))};
  henvis::router::Settings router_settings;
  router_settings.person_key = "topics-test-person-key";
  henvis::router::Applier router{henvis::test::dev_directory(), router_settings, clock};
  henvis::notifier::Applier notifier{henvis::test::dev_directory()};
  henvis::socialsog::Applier socialsog{henvis::socialsog::Settings{}, clock};
  henvis::evaluation::Applier evaluation;
  check_listed(router.subscriptions(), listed);
  check_listed(notifier.subscriptions(), listed);
  check_listed(socialsog.subscriptions(), listed);
  check_listed(evaluation.subscriptions(), listed);
  namespace t = henvis::topics;
  for (const char* produced :
       {t::OFFERS, t::REFERRALS, t::NOTIFICATIONS, t::DELIVERIES, t::INCIDENTS, t::UNDERRETNINGER})
    CHECK(listed.count(produced) == 1);
}
