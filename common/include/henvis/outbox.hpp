#pragma once
// Transactional outbox.
//
// A service never produces to Kafka directly from a state change. It calls
// outbox::add() inside the SQLite transaction that makes the change; the
// OutboxRelay publishes committed rows with the idempotent producer and
// deletes each row once its delivery is confirmed. A crash between publish and
// delete re-sends the row; consumers de-duplicate by ce_id.
//
// Published rows are deleted, not flagged: outbox payloads may carry personal
// data, which should live no longer than it takes to hand it to Kafka.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"

namespace henvis::http {
class Metrics;
}

namespace henvis::outbox {

// Schema the outbox needs; part of every service's migrations.
extern const char* const MIGRATION;
// A later step for databases made with MIGRATION: created_at as Unix ms.
std::string migration_unix_ms();

// Adds an event to the outbox. Must be called inside a transaction.
void add(sqlite::Db& db, const std::string& topic, const kafka::Event& event);

// Rows not yet confirmed published.
std::int64_t pending(sqlite::Db& db);

// Publishes outbox rows on a thread of its own with its own connection.
class Relay {
 public:
  Relay(std::string db_path, std::string bootstrap, kafka::Health* health);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void start();
  // Wakes the relay after a commit that added rows.
  void notify();
  // Publishes what is left (waiting up to the flush timeout), then stops.
  void stop();
  std::uint64_t published() const { return published_.load(); }
  // Producers replaced after a fatal error (see run()).
  std::uint64_t producer_restarts() const { return producer_restarts_.load(); }
  // Messages handed to the producer and not yet confirmed, as of the last
  // round: at most the relay's cap of 10 000 and one round (11 000).
  int in_flight() const { return in_flight_.load(); }
  // Exposes the counters above in `metrics` (which must outlive the relay).
  void report_to(http::Metrics& metrics) const;

 private:
  void run();
  std::string db_path_;
  std::string bootstrap_;
  kafka::Health* health_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> producer_restarts_{0};
  std::atomic<int> in_flight_{0};
  std::thread thread_;
};

}  // namespace henvis::outbox
