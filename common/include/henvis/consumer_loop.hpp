#pragma once
// The exactly-once-effect consumer loop of docs/design.md.
//
// Reads a batch, and in ONE SQLite transaction: skips events whose ce_id was
// already processed, applies each new event through the handler, sends events
// the handler refuses to the topic's dead-letter topic (through the outbox,
// so the DLQ entry is as durable as the state change), records the ce_ids and
// the next offset of every partition. On start it seeks to the stored offsets,
// never to Kafka's committed offsets.
//
// Each event is applied inside a SAVEPOINT: a refused event leaves no partial
// state behind. Any other exception rolls back the whole batch, which is
// applied again after a backoff; after MAX_BATCH_ATTEMPTS the loop stops with
// an error and the process exits non-zero (crash-only: the supervisor
// restarts it and the batch is read again from the stored offsets).

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"

namespace prometheus {
class Histogram;
}
namespace henvis::http {
class Metrics;
}

namespace henvis {

// Thrown by a handler for an event that can never be applied (undecodable,
// invalid). The reason names the rule and the field, never personal data.
class Rejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The event's payload as an `M`, or Rejected("payload is not a valid
// <full message name>") when it does not decode.
template <class M>
M decode_or_reject(const kafka::Message& m) {
  M out;
  if (!out.ParseFromString(m.payload))
    throw Rejected("payload is not a valid " + out.GetDescriptor()->full_name());
  return out;
}

// "<topic>.dlq.<service>": where `service` sends the events of `topic` it
// cannot apply.
std::string dlq_topic(const std::string& topic, const std::string& service);

class Subscriptions;  // henvis/events.hpp

struct ConsumedTopic {
  std::string topic;
  std::string dlq_topic;  // "<topic>.dlq.<service>"
  // Offsets have no holes: written only by henvis's idempotent, not
  // transactional producers, never compacted. A jump over offsets is then
  // events removed before they were read, counted as skipped. False for a
  // topic written by others (a transactional producer's commit markers take
  // offsets too).
  bool contiguous_offsets = true;
};

class ConsumerLoop {
 public:
  // Applies one event; the Db is inside the batch transaction.
  using Handler = std::function<void(const kafka::Message&, sqlite::Db&)>;

  // Schema the loop needs; part of every consuming service's migrations.
  static const char* const MIGRATION;
  // A later step for databases made with MIGRATION: processed_at as Unix ms.
  static std::string migration_unix_ms();

  ConsumerLoop(std::string service, std::string db_path, std::string bootstrap,
               std::vector<ConsumedTopic> topics, Handler handler, outbox::Relay* relay,
               kafka::Health* health);
  // Consumes the subscriptions' topics and dispatches each event to them;
  // `subs` must outlive the loop.
  ConsumerLoop(std::string service, std::string db_path, std::string bootstrap,
               const Subscriptions& subs, outbox::Relay* relay, kafka::Health* health);

  // Consume only these partitions of each topic (KafkaSettings.partitions:
  // a partition-aligned instance); empty (the default) = all. Before run().
  void own_partitions(std::vector<std::int32_t> partitions) { owned_ = std::move(partitions); }
  // Runs until `stop` is set; finishes the batch in hand first. Throws if a
  // batch keeps failing.
  void run(const std::atomic<bool>& stop);
  // Exposes the loop's counters, its batch apply latency and its lag per
  // partition in `metrics` (which must outlive the loop). Call before run().
  void report_to(http::Metrics& metrics);
  // True once partitions are assigned.
  bool ready() const { return ready_.load(); }
  std::uint64_t applied() const { return applied_.load(); }
  std::uint64_t duplicates() const { return duplicates_.load(); }
  std::uint64_t dead_lettered() const { return dead_lettered_.load(); }
  // Offsets jumped over: events removed from Kafka before they were read
  // (0 unless data was lost upstream of this service; logged as an error).
  std::uint64_t skipped_offsets() const { return skipped_offsets_.load(); }

  // One batch in one transaction, as run() does it (throws if it failed and
  // was rolled back). Sets the connection's temp_store to MEMORY (statement
  // journals of the per-event savepoints, temp tables and sorts in memory). Public so that tests
  // can drive it without a broker (tests/unit/disk_fault_test.cpp fails the Nth write or sync under
  // it).
  void apply_batch(sqlite::Db& db, const std::vector<kafka::Message>& batch);

 private:
  struct Outcome;
  struct Seen;
  // One event inside the batch transaction: de-duplicated by ce_id, applied
  // in a SAVEPOINT, its ce_id recorded.
  void settle_erasure(sqlite::Db& db);
  Outcome apply_event(sqlite::Db& db, Seen& ids, const kafka::Message& m, sqlite::Instant now);
  // Sends a refused event to its topic's DLQ through the outbox.
  void dead_letter(sqlite::Db& db, const kafka::Message& m, const std::string& reason,
                   const std::string& now);
  bool contiguous(const std::string& topic) const;
  void report_lag(const kafka::Consumer& consumer, const kafka::Consumer::Offsets& next) const;
  std::string service_;
  std::string db_path_;
  std::string bootstrap_;
  std::vector<ConsumedTopic> topics_;
  Handler handler_;
  std::function<void(const std::vector<kafka::Message>&, sqlite::Db&)> before_batch_;
  std::function<void()> after_batch_;
  outbox::Relay* relay_;
  kafka::Health* health_;
  std::vector<std::int32_t> owned_;  // empty = every partition
  http::Metrics* metrics_ = nullptr;
  prometheus::Histogram* batch_seconds_ = nullptr;
  std::atomic<bool> ready_{false};
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> dead_lettered_{0};
  std::atomic<std::uint64_t> skipped_offsets_{0};
};

}  // namespace henvis
