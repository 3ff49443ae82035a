#include "henvis/consumer_loop.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "henvis/events.hpp"
#include "henvis/http.hpp"
#include "henvis/ids.hpp"

namespace henvis {

namespace {
// Large values are fine but make shutdown take longer.
constexpr int POLL_TIMEOUT_MS = 200;
// Events per batch = per SQLite transaction (docs/style.md: commit per batch, never per row).
constexpr std::size_t BATCH_MAX = 500;
// How long to wait for topics to exist at start.
constexpr int ASSIGN_TIMEOUT_MS = 60000;
constexpr int MAX_BATCH_ATTEMPTS = 8;
constexpr int BATCH_BACKOFF_MS = 250;
// De-duplication horizon: far longer than any outbox can stay unpublished.
constexpr auto DEDUP_HORIZON = std::chrono::hours(24 * 30);
// Prune the processed-ids table about once in this many batches.
constexpr int PRUNE_EVERY_BATCHES = 1000;
// Batch apply latency buckets, in seconds: one event in one transaction takes
// about a millisecond, a full batch of BATCH_MAX with its disk sync tens to
// hundreds; the top buckets catch a database waiting on a lock or a slow disk.
const std::vector<double> BATCH_SECONDS_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
}  // namespace

const char* const ConsumerLoop::MIGRATION = R"sql(
CREATE TABLE IF NOT EXISTS consumer_offsets (
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS processed_events (
  ce_id TEXT PRIMARY KEY,
  processed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_events_at ON processed_events(processed_at);
)sql";

std::string ConsumerLoop::migration_unix_ms() {
  return "DROP INDEX processed_events_at;\n" +
         sqlite::to_unix_ms("processed_events", "processed_at", "rfc3339") +
         "CREATE INDEX processed_events_at ON processed_events(processed_at);\n";
}

ConsumerLoop::ConsumerLoop(std::string service, std::string db_path, std::string bootstrap,
                           std::vector<ConsumedTopic> topics, Handler handler, outbox::Relay* relay,
                           kafka::Health* health)
    : service_(std::move(service)),
      db_path_(std::move(db_path)),
      bootstrap_(std::move(bootstrap)),
      topics_(std::move(topics)),
      handler_(std::move(handler)),
      relay_(relay),
      health_(health) {}

ConsumerLoop::ConsumerLoop(std::string service, std::string db_path, std::string bootstrap,
                           const Subscriptions& subs, outbox::Relay* relay, kafka::Health* health)
    : ConsumerLoop(
          std::move(service), std::move(db_path), std::move(bootstrap), subs.topics(),
          [&subs](const kafka::Message& m, sqlite::Db& db) { subs.dispatch(m, db); }, relay,
          health) {
  before_batch_ = subs.before_batch();
  after_batch_ = subs.after_batch();
}

std::string dlq_topic(const std::string& topic, const std::string& service) {
  return topic + ".dlq." + service;
}

// The counters are the loop's own atomics, read at scrape time: its log lines
// and tests read the same numbers, and one count cannot drift from another.
void ConsumerLoop::report_to(http::Metrics& metrics) {
  metrics_ = &metrics;
  metrics.counter_reading("henvis_consumer_applied_total", "Events applied",
                          [this] { return static_cast<double>(applied()); });
  metrics.counter_reading("henvis_consumer_duplicates_total", "Events skipped as already applied",
                          [this] { return static_cast<double>(duplicates()); });
  metrics.counter_reading("henvis_consumer_dead_lettered_total",
                          "Events sent to a dead-letter topic",
                          [this] { return static_cast<double>(dead_lettered()); });
  metrics.counter_reading("henvis_consumer_skipped_offsets_total",
                          "Offsets jumped over: events removed from Kafka before they were read",
                          [this] { return static_cast<double>(skipped_offsets()); });
  batch_seconds_ = &metrics.histogram("henvis_consumer_batch_apply_seconds",
                                      "Time to apply and commit one batch", BATCH_SECONDS_BUCKETS);
}

// Once per batch from librdkafka's cached watermarks: no broker round trip.
void ConsumerLoop::report_lag(const kafka::Consumer& consumer,
                              const kafka::Consumer::Offsets& next) const {
  if (!metrics_) return;
  for (const auto& [tp, offset] : next) {
    auto high = consumer.high_watermark(tp.first, tp.second);
    if (!high) continue;
    metrics_
        ->gauge("henvis_consumer_lag",
                "Events in the partition not yet read (high watermark - next offset)",
                {{"topic", tp.first}, {"partition", std::to_string(tp.second)}})
        .Set(static_cast<double>(std::max<std::int64_t>(*high - offset, 0)));
  }
}

void ConsumerLoop::run(const std::atomic<bool>& stop) {
  sqlite::Db db(db_path_);
  kafka::Consumer consumer(bootstrap_, "henvis-" + service_, health_);

  kafka::Consumer::Offsets stored;
  {
    sqlite::Stmt s(db, "SELECT topic, partition, next_offset FROM consumer_offsets");
    while (s.step()) stored[{s.text(0), static_cast<std::int32_t>(s.i64(1))}] = s.i64(2);
  }
  std::vector<std::string> names;
  for (const auto& t : topics_) names.push_back(t.topic);
  consumer.assign(names, stored, ASSIGN_TIMEOUT_MS, owned_);
  ready_.store(true);
  spdlog::info("consumer assigned service={} topics={} stored_partitions={} owned_partitions={}",
               service_, names.size(), stored.size(),
               owned_.empty() ? std::string("all") : fmt::format("{}", fmt::join(owned_, ",")));

  int batches = 0;
  kafka::Consumer::Offsets next = stored;  // per partition, the next offset to read
  while (!stop.load()) {
    std::vector<kafka::Message> batch = consumer.poll_batch(BATCH_MAX, POLL_TIMEOUT_MS);
    if (batch.empty()) {
      settle_erasure(db);
      continue;
    }
    for (int attempt = 1;; ++attempt) {
      try {
        const auto started = std::chrono::steady_clock::now();
        apply_batch(db, batch);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
        if (batch_seconds_) batch_seconds_->Observe(took.count());
        break;
      } catch (const std::exception& e) {
        spdlog::error("batch failed service={} attempt={} error={}", service_, attempt, e.what());
        if (attempt >= MAX_BATCH_ATTEMPTS) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(BATCH_BACKOFF_MS * attempt));
      }
    }
    for (const auto& m : batch) next[{m.topic, m.partition}] = m.offset + 1;
    report_lag(consumer, next);
    if (relay_) relay_->notify();
    if (++batches % PRUNE_EVERY_BATCHES == 0) {
      auto prune = db.query("DELETE FROM processed_events WHERE processed_at < ?");
      prune->bind(1, std::chrono::system_clock::now() - DEDUP_HORIZON).run();
    }
  }
  spdlog::info("consumer stopped service={} applied={} duplicates={} dead_lettered={}", service_,
               applied_.load(), duplicates_.load(), dead_lettered_.load());
}

void ConsumerLoop::settle_erasure(sqlite::Db& db) {
  // An erasure whose checkpoint a reader held up at its commit is retried
  // while the topics are quiet, not only at the next batch.
  try {
    db.settle_erasure();
  } catch (const sqlite::Error& e) {
    spdlog::warn("WAL checkpoint after an erasure failed service={} error={}", service_, e.what());
  }
}

bool ConsumerLoop::contiguous(const std::string& topic) const {
  for (const auto& t : topics_)
    if (t.topic == topic) return t.contiguous_offsets;
  return true;
}

namespace {

// A partition's offsets have no holes on henvis's topics (no transactions,
// no compaction; ConsumedTopic::contiguous_offsets). A message beyond the
// stored next offset means events were removed from Kafka before this
// service read them (retention, a truncated log) and the consumer's offset
// reset jumped over them: that is loss, and it must not be silent. Logged
// and counted after the commit.
class GapDetector {
 public:
  struct Gap {
    std::string topic;
    std::int32_t partition;
    std::int64_t expected, got;
  };
  explicit GapDetector(sqlite::Db& db)
      : stored_(db.query(
            "SELECT next_offset FROM consumer_offsets WHERE topic = ? AND partition = ?")) {}
  void see(const kafka::Message& m, bool contiguous) {
    auto [next, fresh] = next_.try_emplace({m.topic, m.partition});
    if (fresh) {
      stored_->bind(1, m.topic).bind(2, m.partition);
      if (stored_->step()) next->second = stored_->i64(0);
      stored_->reset();
    }
    if (next->second && m.offset > *next->second && contiguous) {
      gaps_.push_back({m.topic, m.partition, *next->second, m.offset});
      skipped_ += static_cast<std::uint64_t>(m.offset - *next->second);
    }
    next->second = m.offset + 1;
  }
  std::uint64_t skipped() const { return skipped_; }
  void log(const std::string& service) const {
    for (const auto& g : gaps_)
      spdlog::error(
          "consumer offsets skipped service={} topic={} partition={} expected={} got={} "
          "missing={}: events were removed from Kafka before this service read them",
          service, g.topic, g.partition, g.expected, g.got, g.got - g.expected);
  }

 private:
  sqlite::Query stored_;
  std::map<std::pair<std::string, std::int32_t>, std::optional<std::int64_t>> next_;
  std::vector<Gap> gaps_;
  std::uint64_t skipped_ = 0;
};

// The dead-letter entry for `m`: its key and payload, its original envelope
// kept as orig_* headers (so that a replay can restore it), why and where
// from. The reason names a rule or field, never a value.
kafka::Event dead_letter_event(const kafka::Message& m, const std::string& service,
                               const std::string& reason, const std::string& now) {
  kafka::Event e;
  e.id = new_uuid();
  e.source = "/henvis/" + service;
  e.type = "henvis.deadletter";
  e.time = now;
  e.key = m.key;
  e.payload = m.payload;
  for (const auto& [k, v] : m.headers) e.extra.emplace_back("orig_" + k, v);
  e.extra.emplace_back(kafka::header::DLQ_REASON, reason);
  e.extra.emplace_back(kafka::header::DLQ_SERVICE, service);
  e.extra.emplace_back(kafka::header::DLQ_TOPIC, m.topic);
  e.extra.emplace_back(kafka::header::DLQ_PARTITION, std::to_string(m.partition));
  e.extra.emplace_back(kafka::header::DLQ_OFFSET, std::to_string(m.offset));
  return e;
}

}  // namespace

// What became of one event in a batch.
struct ConsumerLoop::Outcome {
  enum { applied, duplicate, rejected } kind;
  std::string reason;  // for rejected
};

// The de-duplication statements (cached on the connection).
struct ConsumerLoop::Seen {
  explicit Seen(sqlite::Db& db)
      : seen(db.query("SELECT 1 FROM processed_events WHERE ce_id = ?")),
        mark(db.query("INSERT INTO processed_events(ce_id, processed_at) VALUES (?, ?)")) {}
  sqlite::Query seen, mark;
};

ConsumerLoop::Outcome ConsumerLoop::apply_event(sqlite::Db& db, Seen& ids, const kafka::Message& m,
                                                sqlite::Instant now) {
  const auto id = m.header(kafka::header::ID);
  if (!id || id->empty()) return {Outcome::rejected, "missing header ce_id"};
  const bool dup = ids.seen->bind(1, *id).step();
  ids.seen->reset();
  if (dup) return {Outcome::duplicate, {}};
  // A refused event leaves no partial state behind: its savepoint is undone.
  Outcome out{Outcome::applied, {}};
  // Cached like the loop's other statements: sqlite3_exec would compile
  // them again for every event.
  db.query("SAVEPOINT event")->run();
  try {
    handler_(m, db);
    db.query("RELEASE event")->run();
  } catch (const Rejected& r) {
    db.exec("ROLLBACK TO event");
    db.exec("RELEASE event");
    out = {Outcome::rejected, r.what()};
  }
  ids.mark->bind(1, *id).bind(2, now).run();
  ids.mark->reset();
  return out;
}

void ConsumerLoop::dead_letter(sqlite::Db& db, const kafka::Message& m, const std::string& reason,
                               const std::string& now) {
  std::string dlq = dlq_topic(m.topic, service_);
  for (const auto& t : topics_)
    if (t.topic == m.topic) dlq = t.dlq_topic;
  outbox::add(db, dlq, dead_letter_event(m, service_, reason, now));
  spdlog::warn("dead-lettered service={} topic={} partition={} offset={} reason={}", service_,
               m.topic, m.partition, m.offset, reason);
}

void ConsumerLoop::apply_batch(sqlite::Db& db, const std::vector<kafka::Message>& batch) {
  struct After {
    const std::function<void()>& fn;
    ~After() {
      if (fn) fn();
    }
  } after{after_batch_};
  // Each event runs in a savepoint, whose undo SQLite keeps in a statement
  // journal: a temp file once it passes 64 KiB, so with the default
  // temp_store every page an event first touched was also written there
  // (22 % of the router's CPU, docs/performance.md). In memory it holds one
  // event's pages at a time. (A no-op after the first batch.)
  db.exec("PRAGMA temp_store=MEMORY");
  if (before_batch_) before_batch_(batch, db);
  std::uint64_t applied = 0, dups = 0, dlq = 0;
  sqlite::Transaction tx(db);
  GapDetector gaps(db);
  Seen ids(db);
  auto offset = db.query(
      "INSERT INTO consumer_offsets(topic, partition, next_offset) VALUES (?,?,?) "
      "ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset");
  const auto now_tp = std::chrono::system_clock::now();
  const std::string now = rfc3339(now_tp);
  for (const auto& m : batch) {
    gaps.see(m, contiguous(m.topic));
    const Outcome o = apply_event(db, ids, m, now_tp);
    if (o.kind == Outcome::rejected) {
      dead_letter(db, m, o.reason, now);
      ++dlq;
    } else {
      ++(o.kind == Outcome::applied ? applied : dups);
    }
    offset->bind(1, m.topic).bind(2, m.partition).bind(3, m.offset + 1).run();
    offset->reset();
  }
  tx.commit();
  applied_ += applied;
  duplicates_ += dups;
  dead_lettered_ += dlq;
  skipped_offsets_ += gaps.skipped();
  gaps.log(service_);
}

}  // namespace henvis
