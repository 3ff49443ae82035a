// A secured Apache Kafka (scripts/kafka up --secure: mutual TLS, StandardAuthorizer,
// deploy/kafka/acls.tsv): each service's principal is held to its own topics, a
// client without a certificate gets nothing, and henvisctl reaches the cluster
// with a KafkaSettings file. Run by the kafka label on a cluster of its own
// ($HENVIS_KAFKA_TLS_DIR, $HENVIS_KAFKA_BOOTSTRAP_FILE: its TLS listener,
// $HENVIS_KAFKA_PLAINTEXT_FILE: its plaintext one).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

#include "harness.hpp"
#include "henvis/kafka.hpp"
#include "real_kafka.hpp"

using namespace henvis::testing;

namespace {

std::string first_line_of_env_file(const char* var) {
  const char* f = std::getenv(var);
  if (!f || !*f) FAIL(std::string("needs ") + var + " (ctest -L kafka runs it)");
  std::ifstream in(f);
  std::string line;
  std::getline(in, line);
  return line;
}

// The error name of producing one event to `topic` as `principal`.
std::string produce_as(const std::string& principal, const std::string& topic) {
  henvis::kafka::set_client_properties(kafka_tls_properties(principal));
  std::string error = "no delivery report";
  {
    henvis::kafka::Producer p(
        *real_kafka_bootstrap(),
        [&](std::int64_t, bool ok, const std::string& e) { error = ok ? "" : e; });
    auto e = henvis::kafka::make_event("/test/acl", "test.acl", "k", "x");
    p.produce(topic, e.key, e.payload, e.headers(), 1);
    p.flush(30000);
  }
  henvis::kafka::set_client_properties({});
  return error;
}

// A KafkaSettings file in `dir` for mutual TLS as `principal`.
std::string kafka_config_file(const std::filesystem::path& dir, const std::string& principal) {
  const auto path = dir / (principal + "-kafka.textproto");
  std::ofstream(path) << "bootstrap_file: \"" << std::getenv("HENVIS_KAFKA_BOOTSTRAP_FILE") << "\""
                      << kafka_tls_fields(principal) << "\n";
  return path.string();
}

}  // namespace

TEST_CASE("Secured Kafka: the router's principal is refused on police.incidents.v1",
          "[.][kafka][kafka-secure]") {
  REQUIRE(real_kafka_bootstrap());
  CHECK(produce_as("router", "police.incidents.v1") == "TOPIC_AUTHORIZATION_FAILED");
  CHECK(produce_as("router", "henvis.referrals.v1").empty());
}

TEST_CASE("Secured Kafka: a client without a certificate gets nothing",
          "[.][kafka][kafka-secure]") {
  const auto tls = *real_kafka_bootstrap();
  const auto plain = first_line_of_env_file("HENVIS_KAFKA_PLAINTEXT_FILE");
  // On the TLS listener: the handshake fails, no metadata at all
  auto props = kafka_tls_properties("router");
  props.resize(2);  // security.protocol and the CA only
  henvis::kafka::set_client_properties(props);
  CHECK_THROWS(henvis::kafka::list_topics(tls, 10000));
  // On the plaintext listener: anonymous, so no topic is even described
  henvis::kafka::set_client_properties({});
  CHECK(henvis::kafka::list_topics(plain, 10000).empty());
}

TEST_CASE("Secured Kafka: henvisctl dlq list and incidents import with --kafka-config",
          "[.][kafka][kafka-secure]") {
  REQUIRE(real_kafka_bootstrap());
  const auto dir = make_temp_dir("henvis-kafka-secure");
  const auto admin = kafka_config_file(dir, "admin");
  auto list = henvisctl(dir, "--json dlq list --kafka-config " + admin);
  INFO(list.err);
  CHECK(list.status == 0);
  CHECK(list.out.find("henvis.offers.v1.dlq.router") != std::string::npos);
  // The police's principal may write incidents; the router's may not
  const auto file = dir / "incidents.jsonl";
  std::ofstream(file) << "{\"incidentId\":\"sec-1\",\"journalNumber\":\"4100-84123-00042-26\","
                         "\"districtId\":\"mvj\",\"occurredAt\":\"2026-01-05T10:00:00Z\","
                         "\"locationKommunekode\":657,\"offenceCodes\":[\"PH-G-GROV-VOLD\"],"
                         "\"involved\":[{\"role\":\"PERSON_ROLE_SUSPECT\",\"cpr\":\"150580-1235\","
                         "\"homeKommunekode\":657,\"children\":[{\"cpr\":\"010315-4123\","
                         "\"homeKommunekode\":657}]}]}\n";
  auto police = henvisctl(dir, "incidents import " + file.string() + " --kafka-config " +
                                   kafka_config_file(dir, "police"));
  INFO(police.out + police.err);
  CHECK(police.status == 0);
  auto router = henvisctl(dir, "incidents import " + file.string() + " --kafka-config " +
                                   kafka_config_file(dir, "router"));
  CHECK(router.status != 0);
  std::filesystem::remove_all(dir);
}
