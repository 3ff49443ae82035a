#pragma once
// Kafka access for henvis services, over librdkafka's C API.
//
// Events travel in the CloudEvents Kafka binding: the envelope is in headers
// (ce_specversion, ce_id, ce_source, ce_type, ce_time, content-type,
// traceparent), the payload is a serialized henvis.v1 protobuf message.
//
// Threading: a Producer may be used from one thread at a time (its delivery
// callback runs inside poll()/flush() on the calling thread). A Consumer is
// owned by one thread.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace henvis::kafka {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

namespace header {
inline constexpr const char* SPECVERSION = "ce_specversion";
inline constexpr const char* ID = "ce_id";
inline constexpr const char* SOURCE = "ce_source";
inline constexpr const char* TYPE = "ce_type";
inline constexpr const char* TIME = "ce_time";
inline constexpr const char* CONTENT_TYPE = "content-type";
inline constexpr const char* TRACEPARENT = "traceparent";
// Dead-letter headers: why an event was refused and where it came from.
inline constexpr const char* DLQ_REASON = "dlq_reason";
inline constexpr const char* DLQ_SERVICE = "dlq_service";
inline constexpr const char* DLQ_TOPIC = "dlq_origin_topic";
inline constexpr const char* DLQ_PARTITION = "dlq_origin_partition";
inline constexpr const char* DLQ_OFFSET = "dlq_origin_offset";
}  // namespace header

// An event to publish: CloudEvents attributes plus key and payload.
struct Event {
  std::string id;      // unique event id (ce_id); de-duplication key downstream
  std::string source;  // e.g. "/henvis/intake"
  std::string type;    // e.g. "henvis.offer.recorded"
  std::string time;    // RFC 3339
  std::string traceparent;
  std::string key;
  std::string payload;
  HeaderList extra;  // further headers (DLQ reasons)

  HeaderList headers() const;
};

// Builds an Event with a fresh id and the current time.
Event make_event(std::string source, std::string type, std::string key, std::string payload);

struct Message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string payload;
  HeaderList headers;
  // The message's Kafka timestamp in Unix ms (CreateTime: when its producer
  // took it), or -1 when the broker gave none.
  std::int64_t timestamp_ms = -1;
  std::optional<std::string> header(const std::string& name) const;
};

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

// librdkafka properties (name, value) set on every client after henvis's own.
using Properties = std::vector<std::pair<std::string, std::string>>;

// Checks `props` as librdkafka itself does: each one set on a scratch
// configuration (an unknown name or a refused value throws), then a client
// created from them all, which loads the certificates and keys they name.
// Throws std::runtime_error naming the property, never its value.
void check_properties(const Properties& props);

// The properties (security, tuning) every client this process creates from
// now on gets: producers, consumers, the health probe, list_topics. Set once
// at start, before the first client (setup_service, henvisctl --kafka-config).
void set_client_properties(Properties props);

// Reads the bootstrap address: `servers` if set, else the first line of `file`
// (written by henvis-devbroker), waiting up to `wait_ms` for the file.
std::string resolve_bootstrap(const std::string& servers, const std::string& file, int wait_ms);

// Tracks whether the brokers are reachable. Feeds /readyz.
//
// Without a probe, up() follows librdkafka's error callback (down on
// ALL_BROKERS_DOWN) and successful deliveries and consumes (up). That alone is
// not enough: an idle service never has a successful round-trip, so once down
// it stayed not ready after the brokers came back, and a service with no
// request in flight noticed an outage only when librdkafka happened to report
// every broker down. start_probe() adds a thread that asks the brokers for
// metadata every few seconds on a handle of its own; while it runs, only the
// probe marks the brokers up (a consume of messages fetched before an outage
// proves nothing), and both the probe and ALL_BROKERS_DOWN mark them down.
class Health {
 public:
  Health() = default;
  ~Health();
  Health(const Health&) = delete;
  Health& operator=(const Health&) = delete;

  bool up() const { return up_.load(); }
  void set(bool up) {
    if (up && probing_.load()) return;
    up_.store(up);
  }
  // Starts the probe thread (see above). Call once; stop_probe() or the
  // destructor ends it.
  void start_probe(const std::string& bootstrap);
  void stop_probe();

 private:
  void probe_loop(rd_kafka_t* rk);
  std::atomic<bool> up_{true};
  std::atomic<bool> probing_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread probe_;
};

// Idempotent producer (enable.idempotence=true, acks=all).
class Producer {
 public:
  // Called once per produced message with its opaque id and the outcome.
  using DeliveryCallback =
      std::function<void(std::int64_t opaque, bool ok, const std::string& error)>;

  Producer(const std::string& bootstrap, DeliveryCallback on_delivery, Health* health = nullptr);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues a message. Blocks (polling) while librdkafka's local queue is
  // full. Throws std::runtime_error on any other local error.
  void produce(const std::string& topic, const std::string& key, const std::string& payload,
               const HeaderList& headers, std::int64_t opaque);
  // Serves delivery callbacks.
  void poll(int timeout_ms);
  // Waits for every outstanding message; false on timeout.
  bool flush(int timeout_ms);
  int outstanding() const;
  // The idempotent producer's fatal error (e.g. its sequence numbers and the
  // broker's disagree), if one was raised: this instance can send nothing
  // more and must be replaced. The error's name, never message content.
  std::optional<std::string> fatal_error() const;

 private:
  static void dr_cb(rd_kafka_t*, const rd_kafka_message_t*, void* opaque);
  DeliveryCallback on_delivery_;
  Health* health_;
  // Set by the destructor: purged messages' reports only free their state.
  bool destroying_ = false;
  KafkaHandle rk_;
};

// Explicitly assigned consumer (no group rebalancing): every partition of the
// given topics, each starting at the offset the caller stored, or at the
// beginning. Offsets are never committed to Kafka; the caller stores them.
class Consumer {
 public:
  using Offsets = std::map<std::pair<std::string, std::int32_t>, std::int64_t>;

  Consumer(const std::string& bootstrap, const std::string& group_id, Health* health = nullptr);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Looks up partition counts (retrying until the topics exist or
  // `timeout_ms` passes, then throws) and assigns every partition, or only
  // the `owned` ones of each topic (partition-aligned instances; throws if
  // one is missing or the topics' partition counts differ).
  void assign(const std::vector<std::string>& topics, const Offsets& next_offsets, int timeout_ms,
              const std::vector<std::int32_t>& owned = {});
  // Up to `max` messages, waiting at most `timeout_ms` for the first.
  std::vector<Message> poll_batch(std::size_t max, int timeout_ms);
  // Rewinds each partition to the given next offset (after a failed batch).
  void seek(const Offsets& next_offsets);
  // The partition's high watermark as of the last fetch (librdkafka's cache,
  // no broker round trip); nullopt before the first fetch.
  std::optional<std::int64_t> high_watermark(const std::string& topic,
                                             std::int32_t partition) const;

 private:
  Health* health_;
  KafkaHandle rk_;
  rd_kafka_queue_t* queue_ = nullptr;
};

// Number of partitions of `topic`, or throws after `timeout_ms`.
int partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms);

// A topic of the cluster and the messages its partitions hold now (high minus
// low watermark, summed over partitions).
struct TopicInfo {
  std::string name;
  int partitions = 0;
  std::int64_t messages = 0;
};
// Every topic of the cluster but Kafka's internal ones, by name. Asks for all
// topics' metadata, never for one by name, so that asking creates nothing on
// a broker that creates topics on first mention. Throws std::runtime_error
// when the brokers do not answer within `timeout_ms`.
std::vector<TopicInfo> list_topics(const std::string& bootstrap, int timeout_ms);

}  // namespace henvis::kafka
