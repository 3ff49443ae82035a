#pragma once
// Test stacks on a real Apache Kafka instead of henvis-devbroker: the kafka
// ctest fixture (scripts/kafka up) starts a 3-node KRaft cluster and sets
// HENVIS_KAFKA_BOOTSTRAP_FILE for the tests labelled kafka.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace henvis::testing {

// The bootstrap address in $HENVIS_KAFKA_BOOTSTRAP_FILE, nullopt if unset
// (the stack then starts henvis-devbroker). Throws if set but unreadable.
std::optional<std::string> real_kafka_bootstrap();

// On a secured cluster (scripts/kafka up --secure; $HENVIS_KAFKA_TLS_DIR names
// its certificates): the henvis.v1.KafkaSettings fields for mutual TLS as
// `principal` (its P.pem and P.key), "" without one.
std::string kafka_tls_fields(const std::string& principal);
// The same as librdkafka properties (empty without a secured cluster).
std::vector<std::pair<std::string, std::string>> kafka_tls_properties(const std::string& principal);

// Deletes and recreates the topics of deploy/topics.tsv (partitions,
// replication factor min(3, brokers), min.insync.replicas min(2, brokers),
// 14-day retention on personal topics) and waits until every partition has a
// leader, so that a stack whose services start from empty databases reads
// only its own events. Throws on failure or after `timeout_s`.
void reset_topics(const std::string& bootstrap, int timeout_s = 120);

// Creates one topic of `partitions` (replicated as reset_topics does) and
// waits until each partition has a leader: a benchmark's own topic, since the
// cluster creates none on first use. Throws on failure or after `timeout_s`.
void create_topic(const std::string& bootstrap, const std::string& name, int partitions,
                  int timeout_s = 60);
// For a stack in `dir`: with a real Kafka, resets its topics and writes its
// bootstrap to dir/bootstrap.txt; returns false (nothing done) without one.
bool use_real_kafka(const std::filesystem::path& dir);

}  // namespace henvis::testing
