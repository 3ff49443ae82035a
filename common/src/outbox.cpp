#include "henvis/outbox.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "henvis/http.hpp"
#include "henvis/ids.hpp"
#include "henvis/v1/events.pb.h"

namespace henvis::outbox {

namespace {
// Rows sent per round; bounded so one round's delivery reports stay small.
constexpr int BATCH_ROWS = 1000;
// Idle wait between rounds when nobody notifies; bounds publish latency for
// rows added by another process (henvisctl dlq replay) or after an error.
constexpr int IDLE_WAIT_MS = 200;
// How long to wait for delivery reports of one round before the next.
constexpr int DELIVERY_POLL_MS = 50;
// Backoff after a failed delivery before the rows are sent again.
constexpr int RETRY_BACKOFF_MS = 500;
// On stop, how long to wait for the last deliveries.
constexpr int FLUSH_TIMEOUT_MS = 10000;
}  // namespace

const char* const MIGRATION = R"sql(
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  key BLOB NOT NULL,
  payload BLOB NOT NULL,
  headers BLOB NOT NULL,
  created_at TEXT NOT NULL
);
)sql";

void add(sqlite::Db& db, const std::string& topic, const kafka::Event& event) {
  v1::Headers hs;
  for (const auto& [k, v] : event.headers()) {
    auto* h = hs.add_header();
    h->set_key(k);
    h->set_value(v);
  }
  sqlite::Stmt s(db,
                 "INSERT INTO outbox(topic, key, payload, headers, created_at) VALUES (?,?,?,?,?)");
  s.bind(1, topic).bind_blob(2, event.key).bind_blob(3, event.payload);
  s.bind_blob(4, hs.SerializeAsString()).bind(5, now_rfc3339());
  s.run();
}

std::int64_t pending(sqlite::Db& db) {
  sqlite::Stmt s(db, "SELECT count(*) FROM outbox");
  s.step();
  return s.i64(0);
}

Relay::Relay(std::string db_path, std::string bootstrap, kafka::Health* health)
    : db_path_(std::move(db_path)), bootstrap_(std::move(bootstrap)), health_(health) {}

Relay::~Relay() { stop(); }

void Relay::start() {
  thread_ = std::thread([this] { run(); });
}

void Relay::notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void Relay::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  notify();
  thread_.join();
}

// The relay's own atomics, read at scrape time, rather than a second count
// kept inside run().
void Relay::report_to(http::Metrics& metrics) const {
  metrics.counter_reading("henvis_outbox_published_total", "Outbox rows published and confirmed",
                          [this] { return static_cast<double>(published()); });
  metrics.counter_reading("henvis_outbox_producer_restarts_total",
                          "Producers replaced after a fatal error",
                          [this] { return static_cast<double>(producer_restarts()); });
}

void Relay::run() {
  sqlite::Db db(db_path_);
  std::vector<std::int64_t> delivered;
  bool failed = false;
  auto new_producer = [&] {
    return std::make_unique<kafka::Producer>(
        bootstrap_,
        [&](std::int64_t id, bool ok, const std::string& error) {
          if (ok) {
            delivered.push_back(id);
          } else {
            failed = true;
            spdlog::warn("outbox delivery failed row={} error={}", id, error);
          }
        },
        health_);
  };
  std::unique_ptr<kafka::Producer> producer;

  std::int64_t sent_up_to = 0;  // highest row id handed to the producer
  auto forget_delivered = [&] {
    if (delivered.empty()) return;
    sqlite::Transaction tx(db);
    sqlite::Stmt del(db, "DELETE FROM outbox WHERE id = ?");
    for (auto id : delivered) {
      del.bind(1, id).run();
      del.reset();
    }
    tx.commit();
    published_ += delivered.size();
    delivered.clear();
  };

  while (true) {
    bool stopping = stop_.load();
    // An idempotent producer with a fatal error refuses every message from
    // then on; without a new one the outbox would grow until a restart.
    // Rows it confirmed are forgotten first; every other row is sent again
    // by the new producer (consumers drop the copies by ce_id).
    if (producer) {
      if (auto fatal = producer->fatal_error()) {
        producer->poll(0);
        try {
          forget_delivered();
        } catch (const std::exception& e) {
          // Not forgotten: they are sent again, and de-duplicated.
          spdlog::error("outbox relay error={}", e.what());
          delivered.clear();
        }
        spdlog::error(
            "outbox producer fatal error={}; replacing it and re-sending unconfirmed rows", *fatal);
        producer.reset();  // what it still held stays unconfirmed
        ++producer_restarts_;
        failed = false;
        sent_up_to = 0;
      }
    }
    if (!producer) {
      try {
        producer = new_producer();
      } catch (const std::exception& e) {
        spdlog::error("outbox producer could not be created error={}", e.what());
        if (stopping) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(RETRY_BACKOFF_MS));
        continue;
      }
    }
    try {
      int sent = 0;
      sqlite::Stmt sel(
          db,
          "SELECT id, topic, key, payload, headers FROM outbox WHERE id > ? ORDER BY id "
          "LIMIT ?");
      sel.bind(1, sent_up_to).bind(2, BATCH_ROWS);
      while (sel.step()) {
        v1::Headers hs;
        hs.ParseFromString(sel.blob(4));
        kafka::HeaderList headers;
        for (const auto& h : hs.header()) headers.emplace_back(h.key(), h.value());
        std::int64_t id = sel.i64(0);
        producer->produce(sel.text(1), sel.blob(2), sel.blob(3), headers, id);
        sent_up_to = id;
        ++sent;
      }
      producer->poll(DELIVERY_POLL_MS);
      if (stopping) producer->flush(FLUSH_TIMEOUT_MS);
      forget_delivered();
      if (failed) {
        // Re-send everything not yet confirmed, after a pause. Rows already
        // delivered were deleted, so only the failed ones (and any still in
        // flight, which consumers de-duplicate) go again.
        failed = false;
        producer->flush(FLUSH_TIMEOUT_MS);
        forget_delivered();
        sent_up_to = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(RETRY_BACKOFF_MS));
        continue;
      }
      if (stopping) break;
      if (sent == BATCH_ROWS) continue;
    } catch (const std::exception& e) {
      spdlog::error("outbox relay error={}", e.what());
      if (stopping) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(RETRY_BACKOFF_MS));
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(
        lock,
        std::chrono::milliseconds(producer->outstanding() > 0 ? DELIVERY_POLL_MS : IDLE_WAIT_MS),
        [&] { return wake_ || stop_.load(); });
    wake_ = false;
  }
  if (producer && producer->outstanding() > 0)
    spdlog::warn("outbox relay stopped with {} unconfirmed messages; they are re-sent on start",
                 producer->outstanding());
}

}  // namespace henvis::outbox
