// KafkaSettings: librdkafka's security settings and pass-through properties,
// checked as librdkafka checks them (config::kafka_client_properties).

#include <catch2/catch.hpp>

#include <string>

#include "../test_ca.hpp"
#include "henvis/config.hpp"
#include "henvis/v1/config.pb.h"
#include "support.hpp"

namespace {

using henvis::test::TempDir;
using Properties = std::vector<std::pair<std::string, std::string>>;

std::string error_of(const henvis::v1::KafkaSettings& k, const std::string& dir = ".") {
  try {
    henvis::config::kafka_client_properties(k, dir);
  } catch (const henvis::config::Error& e) {
    return e.what();
  }
  return "";
}

// Mutual TLS with a test CA made in tmp/tls (its server certificate as the
// client's), the key file `key` (relative to tmp).
henvis::v1::KafkaSettings mutual_tls(const TempDir& tmp, const std::string& key) {
  henvis::testing::make_test_ca(tmp.path / "tls");
  henvis::v1::KafkaSettings k;
  k.set_security_protocol("ssl");
  k.set_ssl_ca_location("tls/ca.pem");
  k.set_ssl_certificate_location("tls/server.pem");
  k.set_ssl_key_location(key);
  return k;
}

}  // namespace

TEST_CASE("kafka settings: a property librdkafka does not know is refused, naming it",
          "[config][kafka]") {
  henvis::v1::KafkaSettings k;
  (*k.mutable_properties())["linger.ms"] = "5";
  (*k.mutable_properties())["lingr.ms"] = "5";
  CHECK(error_of(k) == "kafka property lingr.ms: not a librdkafka property");
}

TEST_CASE("kafka settings: a value librdkafka refuses is refused without echoing it",
          "[config][kafka]") {
  henvis::v1::KafkaSettings k;
  k.set_security_protocol("tls-please");
  const std::string e = error_of(k);
  CHECK(e == "kafka property security.protocol: librdkafka refuses its value");
}

TEST_CASE("kafka settings: a password, secret or inline PEM in properties is refused",
          "[config][kafka]") {
  for (const char* key : {"ssl.keystore.password", "sasl.oauthbearer.client.secret", "ssl.key.pem",
                          "sasl.oauthbearer.config"}) {
    henvis::v1::KafkaSettings k;
    (*k.mutable_properties())[key] = "hunter2";
    const std::string e = error_of(k);
    CHECK(e.find(std::string("kafka.properties[") + key + "]: secrets are never inline") == 0);
    CHECK(e.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("kafka settings: a typed setting given in properties is refused", "[config][kafka]") {
  henvis::v1::KafkaSettings k;
  (*k.mutable_properties())["security.protocol"] = "ssl";
  CHECK(error_of(k) ==
        "kafka.properties[security.protocol]: set by a field of kafka; use that field");
}

TEST_CASE("kafka settings: mutual TLS files resolve against the config dir and load",
          "[config][kafka]") {
  TempDir tmp("henvis-kafka-settings");
  auto k = mutual_tls(tmp, "tls/server.key");
  (*k.mutable_properties())["socket.keepalive.enable"] = "true";
  const auto props = henvis::config::kafka_client_properties(k, tmp.path.string());
  const std::string dir = tmp.path.string();
  CHECK(props == Properties{{"security.protocol", "ssl"},
                            {"ssl.ca.location", dir + "/tls/ca.pem"},
                            {"ssl.certificate.location", dir + "/tls/server.pem"},
                            {"ssl.key.location", dir + "/tls/server.key"},
                            {"socket.keepalive.enable", "true"}});
}

TEST_CASE("kafka settings: a missing key file is refused when the client is made",
          "[config][kafka]") {
  TempDir tmp("henvis-kafka-settings");
  const auto k = mutual_tls(tmp, "tls/missing.key");
  CHECK(error_of(k, tmp.path.string()).find("kafka security settings: ") == 0);
}

TEST_CASE("kafka settings: the SASL password comes from its file, never inline",
          "[config][kafka]") {
  TempDir tmp("henvis-kafka-settings");
  tmp.write("sasl-password", "s3cret\n");
  henvis::v1::KafkaSettings k;
  k.set_security_protocol("sasl_plaintext");
  k.set_sasl_mechanism("SCRAM-SHA-512");
  k.set_sasl_username("router");
  k.set_sasl_password_file("sasl-password");
  const auto props = henvis::config::kafka_client_properties(k, tmp.path.string());
  CHECK(props.back() == std::pair<std::string, std::string>{"sasl.password", "s3cret"});
  k.set_sasl_password_file("nowhere");
  CHECK(error_of(k, tmp.path.string()).find("kafka.sasl_password_file: cannot read") == 0);
}
