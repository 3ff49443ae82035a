// KafkaSettings (proto/henvis/v1/config.proto) to the librdkafka properties
// every client of the process gets (docs/production.md "Kafka security").
#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>
#include <string_view>

#include "henvis/config.hpp"
#include "henvis/kafka.hpp"
#include "henvis/v1/config.pb.h"

namespace henvis::config {

namespace {
// Properties the typed fields set (or bootstrap_servers): one source each.
constexpr std::array<std::string_view, 11> TYPED = {
    "bootstrap.servers",        "metadata.broker.list", "security.protocol", "ssl.ca.location",
    "ssl.certificate.location", "ssl.key.location",     "ssl.key.password",  "sasl.mechanism",
    "sasl.mechanisms",          "sasl.username",        "sasl.password"};
// Parts of a property name that mean its value is a secret (a password, a
// client secret, a PEM key inline, OAuth settings): only ever in files.
constexpr std::array<std::string_view, 4> SECRET_PARTS = {"password", "secret", ".pem",
                                                          "oauthbearer.config"};

void check_pass_through(const std::string& key) {
  const std::string field = "kafka.properties[" + key + "]";
  if (std::find(TYPED.begin(), TYPED.end(), key) != TYPED.end())
    throw Error(field + ": set by a field of kafka; use that field");
  for (auto part : SECRET_PARTS)
    if (key.find(part) != std::string::npos)
      throw Error(field + ": secrets are never inline; use a *_file or *_location field");
}

std::string secret_from(const std::string& dir, const std::string& file, const char* field) {
  try {
    return read_secret_file(resolve(dir, file), field);
  } catch (const std::invalid_argument& e) {
    throw Error(e.what());
  }
}

void add_file(kafka::Properties& out, const char* property, const std::string& dir,
              const std::string& file) {
  if (!file.empty()) out.emplace_back(property, resolve(dir, file));
}
}  // namespace

kafka::Properties kafka_client_properties(const v1::KafkaSettings& k,
                                          const std::string& config_dir) {
  // Not a client property, but checked with them (at start and by `config
  // check`): whether each exists in the topics is known only at assignment.
  std::set<std::int32_t> owned;
  for (const std::int32_t p : k.partitions())
    if (p < 0 || !owned.insert(p).second)
      throw Error("kafka.partitions: " + std::to_string(p) +
                  (p < 0 ? " is not a partition number" : " is listed twice"));
  kafka::Properties out;
  if (!k.security_protocol().empty()) out.emplace_back("security.protocol", k.security_protocol());
  add_file(out, "ssl.ca.location", config_dir, k.ssl_ca_location());
  add_file(out, "ssl.certificate.location", config_dir, k.ssl_certificate_location());
  add_file(out, "ssl.key.location", config_dir, k.ssl_key_location());
  if (!k.ssl_key_password_file().empty())
    out.emplace_back("ssl.key.password", secret_from(config_dir, k.ssl_key_password_file(),
                                                     "kafka.ssl_key_password_file"));
  if (!k.sasl_mechanism().empty()) out.emplace_back("sasl.mechanism", k.sasl_mechanism());
  if (!k.sasl_username().empty()) out.emplace_back("sasl.username", k.sasl_username());
  if (!k.sasl_password_file().empty())
    out.emplace_back("sasl.password",
                     secret_from(config_dir, k.sasl_password_file(), "kafka.sasl_password_file"));
  // Sorted, so that errors and the applied order do not depend on the map's.
  std::vector<std::pair<std::string, std::string>> extra(k.properties().begin(),
                                                         k.properties().end());
  std::sort(extra.begin(), extra.end());
  for (auto& [key, value] : extra) {
    check_pass_through(key);
    out.emplace_back(key, value);
  }
  try {
    kafka::check_properties(out);
  } catch (const std::exception& e) {
    throw Error(e.what());
  }
  return out;
}

}  // namespace henvis::config
