// The Kafka flags of henvisctl's Kafka commands (dlq, incidents import):
// --bootstrap, --bootstrap-file and --kafka-config, a henvis.v1.KafkaSettings
// file holding the cluster's address and the security settings the services
// use (docs/production.md "Kafka security").
#include "henvis/config.hpp"
#include "henvis/kafka.hpp"
#include "henvis/v1/config.pb.h"
#include "henvisctl/cli.hpp"

namespace henvis::ctl {

std::string kafka_bootstrap(const Args& a, int wait_ms) {
  if (!a.has("bootstrap") && !a.has("bootstrap-file") && !a.has("kafka-config"))
    throw UsageError("give --bootstrap HOST:PORT, --bootstrap-file FILE or --kafka-config FILE");
  try {
    v1::KafkaSettings k;
    std::string dir;
    if (a.has("kafka-config")) {
      config::load(a.get("kafka-config"), k);
      dir = config::dir_of(a.get("kafka-config"));
      kafka::set_client_properties(config::kafka_client_properties(k, dir));
    }
    if (a.has("bootstrap") || a.has("bootstrap-file"))
      return kafka::resolve_bootstrap(a.get("bootstrap"), a.get("bootstrap-file"), wait_ms);
    return kafka::resolve_bootstrap(k.bootstrap_servers(), config::resolve(dir, k.bootstrap_file()),
                                    wait_ms);
  } catch (const std::exception& e) {
    throw UsageError(std::string("kafka: ") + e.what());
  }
}

}  // namespace henvis::ctl
