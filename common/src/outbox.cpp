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
// With messages in flight and no new rows, how long the relay sleeps before
// it serves their delivery reports (and deletes the confirmed rows). It never
// blocks on the reports themselves: new rows are sent as soon as notify()
// says they are there, not after the previous round's acknowledgements
// (acks=all, a round trip through every replica), which would add that round
// trip to every hop at a steady rate (docs/performance.md, latency).
constexpr int DELIVERY_POLL_MS = 50;
// Messages handed to the producer and not yet confirmed, at most; beyond it
// the relay waits for acknowledgements before it sends more.
constexpr int MAX_IN_FLIGHT = 10 * BATCH_ROWS;
// Backoff after a failed delivery before the rows are sent again.
constexpr int RETRY_BACKOFF_MS = 500;
// On stop, how long to wait for the last deliveries.
constexpr int FLUSH_TIMEOUT_MS = 10000;
// How often at most the WAL is truncated when the outbox has drained.
constexpr auto WAL_TRUNCATE_INTERVAL = std::chrono::seconds(2);
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

std::string migration_unix_ms() { return sqlite::to_unix_ms("outbox", "created_at", "rfc3339"); }

void add(sqlite::Db& db, const std::string& topic, const kafka::Event& event) {
  v1::Headers hs;
  for (const auto& [k, v] : event.headers()) {
    auto* h = hs.add_header();
    h->set_key(k);
    h->set_value(v);
  }
  auto s =
      db.query("INSERT INTO outbox(topic, key, payload, headers, created_at) VALUES (?,?,?,?,?)");
  s->bind(1, topic).bind_blob(2, event.key).bind_blob(3, event.payload);
  s->bind_blob(4, hs.SerializeAsString()).bind(5, std::chrono::system_clock::now());
  s->run();
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
  metrics.gauge_reading("henvis_outbox_in_flight",
                        "Outbox rows handed to Kafka and not yet confirmed",
                        [this] { return static_cast<double>(in_flight()); });
}

namespace {
enum class Next { wait, again, stop };

void back_off() { std::this_thread::sleep_for(std::chrono::milliseconds(RETRY_BACKOFF_MS)); }

// The relay thread's side: its connection, its producer, and what that
// producer has sent and confirmed.
class Publisher {
 public:
  Publisher(const std::string& db_path, const std::string& bootstrap, kafka::Health* health,
            std::atomic<std::uint64_t>& published, std::atomic<std::uint64_t>& restarts,
            std::atomic<int>& in_flight)
      : db_(db_path),
        bootstrap_(bootstrap),
        health_(health),
        published_(published),
        restarts_(restarts),
        in_flight_(in_flight) {}
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // An idempotent producer with a fatal error refuses every message from
  // then on; without a new one the outbox would grow until a restart.
  // Rows it confirmed are forgotten first; every other row is sent again
  // by the new producer (consumers drop the copies by ce_id).
  void drop_if_fatal() {
    if (!producer_) return;
    auto fatal = producer_->fatal_error();
    if (!fatal) return;
    producer_->poll(0);
    try {
      forget_delivered();
    } catch (const std::exception& e) {
      // Not forgotten: they are sent again, and de-duplicated.
      spdlog::error("outbox relay error={}", e.what());
      delivered_.clear();
    }
    spdlog::error("outbox producer fatal error={}; replacing it and re-sending unconfirmed rows",
                  *fatal);
    producer_.reset();  // what it still held stays unconfirmed
    ++restarts_;
    failed_ = false;
    sent_up_to_ = 0;
  }

  // Creates a producer if there is none; false (logged) if it cannot.
  bool ensure_producer() {
    if (producer_) return true;
    try {
      producer_ = std::make_unique<kafka::Producer>(
          bootstrap_,
          [this](std::int64_t id, bool ok, const std::string& error) {
            on_delivery(id, ok, error);
          },
          health_);
      return true;
    } catch (const std::exception& e) {
      spdlog::error("outbox producer could not be created error={}", e.what());
      return false;
    }
  }

  // Sends the next rows, serves the delivery reports that have arrived (on
  // `stopping` waiting for all of them) and forgets what was confirmed. Says
  // whether to wait for more rows, go again at once, or stop.
  Next round(bool stopping) {
    try {
      // With MAX_IN_FLIGHT unconfirmed (a backlog after Kafka was away),
      // wait for acknowledgements instead of handing librdkafka more: its
      // queue would otherwise take the whole outbox into memory.
      const bool saturated = producer_->outstanding() >= MAX_IN_FLIGHT;
      const int sent = saturated ? 0 : produce_batch();
      producer_->poll(saturated ? DELIVERY_POLL_MS : 0);
      in_flight_ = producer_->outstanding();
      if (stopping) producer_->flush(FLUSH_TIMEOUT_MS);
      forget_delivered();
      settle_wal();
      if (failed_) {
        resend_unconfirmed();
        return Next::again;
      }
      if (stopping) return Next::stop;
      return saturated || sent == BATCH_ROWS ? Next::again : Next::wait;
    } catch (const std::exception& e) {
      spdlog::error("outbox relay error={}", e.what());
      if (stopping) return Next::stop;
      back_off();
      return Next::wait;
    }
  }

  int outstanding() const { return producer_ ? producer_->outstanding() : 0; }

 private:
  void on_delivery(std::int64_t id, bool ok, const std::string& error) {
    if (ok) {
      delivered_.push_back(id);
    } else {
      failed_ = true;
      spdlog::warn("outbox delivery failed row={} error={}", id, error);
    }
  }

  // Hands the rows after the last one sent to the producer; returns how many.
  int produce_batch() {
    int sent = 0;
    sqlite::Stmt sel(db_,
                     "SELECT id, topic, key, payload, headers FROM outbox WHERE id > ? ORDER BY id "
                     "LIMIT ?");
    sel.bind(1, sent_up_to_).bind(2, BATCH_ROWS);
    while (sel.step()) {
      v1::Headers hs;
      hs.ParseFromString(sel.blob(4));
      kafka::HeaderList headers;
      for (const auto& h : hs.header()) headers.emplace_back(h.key(), h.value());
      std::int64_t id = sel.i64(0);
      producer_->produce(sel.text(1), sel.blob(2), sel.blob(3), headers, id);
      sent_up_to_ = id;
      ++sent;
    }
    return sent;
  }

  // Re-sends everything not yet confirmed, after a pause. Rows already
  // delivered were deleted, so only the failed ones (and any still in
  // flight, which consumers de-duplicate) go again.
  void resend_unconfirmed() {
    failed_ = false;
    producer_->flush(FLUSH_TIMEOUT_MS);
    forget_delivered();
    sent_up_to_ = 0;
    back_off();
  }

  // Deletes the confirmed rows.
  void forget_delivered() {
    if (delivered_.empty()) return;
    sqlite::Transaction tx(db_);
    sqlite::Stmt del(db_, "DELETE FROM outbox WHERE id = ?");
    for (auto id : delivered_) {
      del.bind(1, id).run();
      del.reset();
    }
    tx.commit();
    deleted_since_truncate_ = true;
    published_ += delivered_.size();
    delivered_.clear();
  }

  // Published rows hold personal data (an offer, a notification): deleting
  // one zeroes its page (secure_delete) but leaves its bytes in older WAL
  // frames, and in the database file if a checkpoint copied it there first.
  // So the WAL is truncated once the outbox has drained, at most every
  // WAL_TRUNCATE_INTERVAL; and after an erasure (a withdrawn person's offer or
  // notification may have stood in the outbox when its checkpoint ran) after
  // each round of deletes, until every row that stood then is gone.
  void settle_wal() {
    const std::uint64_t erasures = db_.erasures_committed();
    if (erasures != erasures_seen_) {
      erasures_seen_ = erasures;
      erased_up_to_ = id_of("SELECT coalesce(max(id), 0) FROM outbox");
      erasure_due_ = deleted_since_truncate_ = true;
    }
    if (!deleted_since_truncate_) return;
    const auto now = std::chrono::steady_clock::now();
    const std::int64_t oldest = id_of("SELECT coalesce(min(id), 0) FROM outbox");
    if (!erasure_due_ && (oldest != 0 || now - last_truncate_ < WAL_TRUNCATE_INTERVAL)) return;
    if (!db_.checkpoint_truncate()) return;  // a reader: next round
    last_truncate_ = now;
    deleted_since_truncate_ = false;
    erasure_due_ = oldest != 0 && oldest <= erased_up_to_;
  }

  std::int64_t id_of(std::string_view sql) {
    auto q = db_.query(sql);
    q->step();
    return q->i64(0);
  }

  sqlite::Db db_;
  const std::string& bootstrap_;
  kafka::Health* health_;
  std::atomic<std::uint64_t>& published_;
  std::atomic<std::uint64_t>& restarts_;
  std::atomic<int>& in_flight_;
  std::vector<std::int64_t> delivered_;
  bool failed_ = false;
  // Declared after what its delivery reports write to: destroyed first.
  std::unique_ptr<kafka::Producer> producer_;
  std::int64_t sent_up_to_ = 0;  // highest row id handed to the producer
  std::uint64_t erasures_seen_ = 0;
  std::int64_t erased_up_to_ = 0;  // the highest row id when an erasure was seen
  bool erasure_due_ = false;
  bool deleted_since_truncate_ = false;
  std::chrono::steady_clock::time_point last_truncate_{};
};
}  // namespace

void Relay::run() {
  Publisher publisher(db_path_, bootstrap_, health_, published_, producer_restarts_, in_flight_);
  while (true) {
    bool stopping = stop_.load();
    publisher.drop_if_fatal();
    if (!publisher.ensure_producer()) {
      if (stopping) break;
      back_off();
      continue;
    }
    const Next next = publisher.round(stopping);
    if (next == Next::stop) break;
    if (next == Next::again) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(
        lock,
        std::chrono::milliseconds(publisher.outstanding() > 0 ? DELIVERY_POLL_MS : IDLE_WAIT_MS),
        [&] { return wake_ || stop_.load(); });
    wake_ = false;
  }
  if (publisher.outstanding() > 0)
    spdlog::warn("outbox relay stopped with {} unconfirmed messages; they are re-sent on start",
                 publisher.outstanding());
}

}  // namespace henvis::outbox
