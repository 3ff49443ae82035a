// Interop with Apache Kafka's own tools (issue 13, item 6), on the real
// cluster of the kafka ctest fixture (HENVIS_KAFKA_BOOTSTRAP_FILE): Kafka's
// console consumer, from the same jars as the brokers (deploy/kafka/pom.xml),
// reads henvis.referrals.v1 and shows the CloudEvents headers henvis writes.
// Hidden ([.]): it runs only as the ctest "kafka: ..." entry.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "harness.hpp"
#include "real_kafka.hpp"

using namespace henvis::testing;

TEST_CASE("Kafka's console consumer reads henvis.referrals.v1 with the CloudEvents headers",
          "[.][kafka]") {
  REQUIRE(real_kafka_bootstrap());
  Stack s;
  s.start_broker();
  for (const char* svc : {"intake", "router", "notifier"}) s.start(svc);
  // Given an accepted offer routed to Herning's centre
  REQUIRE(http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
               offer_json("it-interop-1", 657, true))
              .status == 201);
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 1; }));
  // When Kafka's console consumer reads the referrals topic with headers
  const auto out = s.dir() / "console.out";
  const std::string cmd =
      std::string(HENVIS_SOURCE_DIR) +
      "/scripts/kafka tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server " +
      s.bootstrap() +
      " --topic henvis.referrals.v1 --from-beginning --max-messages 3 --timeout-ms 60000"
      " --property print.headers=true --property print.key=true >" +
      out.string() + " 2>" + (s.dir() / "console.err").string();
  const int rc = std::system(cmd.c_str());
  const std::string text = slurp(out);
  INFO(text << slurp(s.dir() / "console.err"));
  CHECK(rc == 0);
  // Then every referral event shows its CloudEvents attributes as headers
  CHECK(text.find("ce_specversion:1.0") != std::string::npos);
  CHECK(text.find("ce_type:henvis.referral.received") != std::string::npos);
  CHECK(text.find("ce_type:henvis.referral.routed") != std::string::npos);
  CHECK(text.find("ce_source:/henvis/router") != std::string::npos);
  CHECK(text.find("ce_id:") != std::string::npos);
  CHECK(text.find("content-type:application/protobuf") != std::string::npos);
}
