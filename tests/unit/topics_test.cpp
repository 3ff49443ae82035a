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
  const henvis::evaluation::CellKey cell_key(
      std::string(henvis::evaluation::CellKey::KEY_BYTES, 'k'));
  henvis::evaluation::Applier evaluation{cell_key};
  check_listed(router.subscriptions(), listed);
  check_listed(notifier.subscriptions(), listed);
  check_listed(socialsog.subscriptions(), listed);
  check_listed(evaluation.subscriptions(), listed);
  namespace t = henvis::topics;
  for (const char* produced :
       {t::OFFERS, t::REFERRALS, t::NOTIFICATIONS, t::DELIVERIES, t::INCIDENTS, t::UNDERRETNINGER})
    CHECK(listed.count(produced) == 1);
}

namespace {
// deploy/kafka/acls.tsv as "principal operation resource name" strings.
std::set<std::string> acl_rows() {
  std::ifstream in(std::string(HENVIS_SOURCE_DIR) + "/deploy/kafka/acls.tsv");
  REQUIRE(in);
  std::set<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string principal, op, resource, name;
    fields >> principal >> op >> resource >> name;
    out.insert(principal + " " + op + " " + resource + " " + name);
  }
  return out;
}

void check_acls(const henvis::Subscriptions& subs, const std::set<std::string>& acls) {
  const std::string svc = subs.service();
  CHECK(acls.count(svc + " Read group henvis-" + svc) == 1);
  for (const auto& t : subs.topics()) {
    INFO(svc << " consumes " << t.topic);
    CHECK(acls.count(svc + " Read topic " + t.topic) == 1);
    CHECK(acls.count(svc + " Write topic " + t.dlq_topic) == 1);
  }
}
}  // namespace

TEST_CASE("deploy/kafka/acls.tsv lets each service read what it consumes and write its DLQs",
          "[topics]") {
  const auto acls = acl_rows();
  henvis::ManualClock clock{std::chrono::system_clock::time_point(std::chrono::hours(1))};
  henvis::router::Settings router_settings;
  router_settings.person_key = "topics-test-person-key";
  check_acls(henvis::router::Applier{henvis::test::dev_directory(), router_settings, clock}
                 .subscriptions(),
             acls);
  check_acls(henvis::notifier::Applier{henvis::test::dev_directory()}.subscriptions(), acls);
  check_acls(henvis::socialsog::Applier{henvis::socialsog::Settings{}, clock}.subscriptions(),
             acls);
  const henvis::evaluation::CellKey cell_key(
      std::string(henvis::evaluation::CellKey::KEY_BYTES, 'k'));
  check_acls(henvis::evaluation::Applier{cell_key}.subscriptions(), acls);
  // And no service may touch police.incidents.v1 but socialsog (read) and police (write)
  for (const auto& row : acls)
    if (row.find(" police.incidents.v1") != std::string::npos && row.rfind("socialsog ", 0) != 0)
      CHECK(row == "police Write topic police.incidents.v1");
}
