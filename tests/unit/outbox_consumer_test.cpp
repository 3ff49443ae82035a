// The transactional outbox and the consumer loop's schema (docs/design.md
// "Exactly-once effect"). ConsumerLoop::run needs a broker and is covered by
// the integration tests.

#include "henvis/outbox.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "henvis/consumer_loop.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"
#include "support.hpp"

namespace {

using henvis::test::scalar;
using henvis::test::TempDir;

bool table_exists(henvis::sqlite::Db& db, const std::string& name) {
  henvis::sqlite::Stmt s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  s.bind(1, name);
  return s.step();
}

henvis::kafka::Event sample_event() {
  auto e = henvis::kafka::make_event("/henvis/test", "henvis.test.happened", "key-1", "payload-1");
  e.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  e.extra.emplace_back("x-extra", "extra-value");
  return e;
}

}  // namespace

TEST_CASE("outbox::add in a rolled-back transaction leaves no row", "[outbox]") {
  // Given a database with the outbox schema
  TempDir tmp("henvis-outbox-test");
  const auto db_path = tmp.file("svc.db");
  henvis::sqlite::Db db(db_path);
  db.migrate({henvis::outbox::MIGRATION});
  // When an event is added inside a transaction that is destroyed uncommitted
  {
    henvis::sqlite::Transaction tx(db);
    henvis::outbox::add(db, "henvis.test.v1", sample_event());
    REQUIRE(henvis::outbox::pending(db) == 1);  // visible inside the transaction
  }
  // Then nothing is pending, also for another connection
  CHECK(henvis::outbox::pending(db) == 0);
  henvis::sqlite::Db other(db_path);
  CHECK(henvis::outbox::pending(other) == 0);
}

TEST_CASE("outbox::add in a committed transaction stores one row with CloudEvents headers",
          "[outbox]") {
  // Given a database with the outbox schema
  TempDir tmp("henvis-outbox-test");
  const auto db_path = tmp.file("svc.db");
  henvis::sqlite::Db db(db_path);
  db.migrate({henvis::outbox::MIGRATION});
  const auto ev = sample_event();
  // When an event is added and the transaction committed
  {
    henvis::sqlite::Transaction tx(db);
    henvis::outbox::add(db, "henvis.test.v1", ev);
    tx.commit();
  }
  // Then one row, readable from another connection, holding topic, key, payload
  henvis::sqlite::Db other(db_path);
  CHECK(henvis::outbox::pending(other) == 1);
  henvis::sqlite::Stmt s(other, "SELECT topic, key, payload, headers, created_at FROM outbox");
  REQUIRE(s.step());
  CHECK(s.text(0) == "henvis.test.v1");
  CHECK(s.blob(1) == "key-1");
  CHECK(s.blob(2) == "payload-1");
  CHECK_FALSE(s.text(4).empty());
  // And the headers column is a serialized v1::Headers with the CloudEvents envelope
  henvis::v1::Headers hs;
  REQUIRE(hs.ParseFromString(s.blob(3)));
  std::map<std::string, std::string> h;
  std::vector<std::string> order;
  for (const auto& x : hs.header()) {
    h[x.key()] = x.value();
    order.push_back(x.key());
  }
  CAPTURE(order);
  CHECK(h["ce_id"] == ev.id);
  CHECK(h["ce_id"].size() == 36);
  CHECK(h["ce_type"] == "henvis.test.happened");
  CHECK(h["ce_specversion"] == "1.0");
  CHECK(h["ce_source"] == "/henvis/test");
  CHECK(h["ce_time"] == ev.time);
  CHECK(h["content-type"] == "application/protobuf");
  CHECK(h["traceparent"] == ev.traceparent);
  CHECK(h["x-extra"] == "extra-value");
  CHECK_FALSE(s.step());
}

TEST_CASE("outbox::add keeps binary keys and payloads intact", "[outbox]") {
  // Given a payload with NUL bytes (serialized protobuf often has them)
  TempDir tmp("henvis-outbox-test");
  const auto db_path = tmp.file("svc.db");
  henvis::sqlite::Db db(db_path);
  db.migrate({henvis::outbox::MIGRATION});
  const std::string payload(
      "\x08\x00\x12\x03"
      "a\0b",
      7);
  auto ev = henvis::kafka::make_event("/s", "t", std::string("k\0y", 3), payload);
  // When committed
  henvis::sqlite::Transaction tx(db);
  henvis::outbox::add(db, "topic", ev);
  tx.commit();
  // Then the bytes come back unchanged
  henvis::sqlite::Stmt s(db, "SELECT key, payload FROM outbox");
  REQUIRE(s.step());
  CHECK(s.blob(0) == std::string("k\0y", 3));
  CHECK(s.blob(1) == payload);
}

TEST_CASE("make_event gives every event a fresh id and the current time", "[outbox][kafka]") {
  // Given / When two events are made from the same arguments
  // Then their ids differ and each has an RFC 3339 UTC time
  const auto a = henvis::kafka::make_event("/s", "t", "k", "p");
  const auto b = henvis::kafka::make_event("/s", "t", "k", "p");
  CHECK(a.id != b.id);
  CHECK_FALSE(a.time.empty());
  CHECK(a.time.back() == 'Z');
}

TEST_CASE("ConsumerLoop::MIGRATION creates consumer_offsets and processed_events", "[consumer]") {
  // Given a fresh database
  TempDir tmp("henvis-outbox-test");
  const auto db_path = tmp.file("svc.db");
  henvis::sqlite::Db db(db_path);
  // When the outbox and consumer-loop schema are migrated
  db.migrate({std::string(henvis::outbox::MIGRATION) + henvis::ConsumerLoop::MIGRATION});
  // Then both tables exist with their keys
  CHECK(table_exists(db, "consumer_offsets"));
  CHECK(table_exists(db, "processed_events"));
  CHECK(table_exists(db, "outbox"));
  CHECK(scalar(db, "PRAGMA user_version") == 1);
  db.exec("INSERT INTO consumer_offsets(topic, partition, next_offset) VALUES ('t', 0, 5)");
  CHECK_THROWS_AS(
      db.exec("INSERT INTO consumer_offsets(topic, partition, next_offset) VALUES ('t', 0, 6)"),
      henvis::sqlite::Error);
  db.exec("INSERT INTO consumer_offsets(topic, partition, next_offset) VALUES ('t', 1, 6)");
  db.exec("INSERT INTO processed_events(ce_id, processed_at) VALUES ('id-1', 'x')");
  CHECK_THROWS_AS(db.exec("INSERT INTO processed_events(ce_id, processed_at) VALUES ('id-1', 'y')"),
                  henvis::sqlite::Error);
  // And migrating again changes nothing
  db.migrate({std::string(henvis::outbox::MIGRATION) + henvis::ConsumerLoop::MIGRATION});
  CHECK(scalar(db, "SELECT count(*) FROM consumer_offsets") == 2);
}

TEST_CASE("sqlite: a database is opened in WAL mode with synchronous=FULL", "[sqlite]") {
  // Given / When a fresh database is opened
  // Then the durability pragmas of docs/design.md are in force
  TempDir tmp("henvis-outbox-test");
  const auto db_path = tmp.file("svc.db");
  henvis::sqlite::Db db(db_path);
  henvis::sqlite::Stmt j(db, "PRAGMA journal_mode");
  REQUIRE(j.step());
  CHECK(j.text(0) == "wal");
  CHECK(scalar(db, "PRAGMA synchronous") == 2);  // FULL
}

namespace {
henvis::kafka::Message numbered(std::int32_t partition, std::int64_t offset,
                                const std::string& topic = "henvis.test.v1") {
  henvis::kafka::Message m;
  m.topic = topic;
  m.partition = partition;
  m.offset = offset;
  m.headers = {{henvis::kafka::header::ID,
                "id-" + topic + "-" + std::to_string(partition) + "-" + std::to_string(offset)}};
  return m;
}
}  // namespace

TEST_CASE("ConsumerLoop applies a batch with its savepoints' journals in memory, not temp files",
          "[consumer]") {
  // Given a consumer loop whose handler reads its connection's temp_store
  TempDir tmp("henvis-outbox-test");
  henvis::sqlite::Db db(tmp.file("svc.db"));
  db.migrate({std::string(henvis::outbox::MIGRATION) + henvis::ConsumerLoop::MIGRATION});
  REQUIRE(scalar(db, "PRAGMA temp_store") == 0);  // SQLite's default: compiled in (files)
  std::int64_t seen = -1;
  henvis::ConsumerLoop loop(
      "test", "", "", {{"henvis.test.v1", "henvis.test.v1.dlq.test"}},
      [&](const henvis::kafka::Message&, henvis::sqlite::Db& d) {
        seen = scalar(d, "PRAGMA temp_store");
      },
      nullptr, nullptr);
  // When it applies a batch
  loop.apply_batch(db, {numbered(0, 0)});
  // Then the event ran with temp_store MEMORY (2), and the event was applied
  CHECK(seen == 2);
  CHECK(loop.applied() == 1);
}

TEST_CASE("ConsumerLoop counts offsets it jumped over instead of losing them silently",
          "[consumer]") {
  // Given a consumer loop whose handler applies every event
  TempDir tmp("henvis-outbox-test");
  henvis::sqlite::Db db(tmp.file("svc.db"));
  db.migrate({std::string(henvis::outbox::MIGRATION) + henvis::ConsumerLoop::MIGRATION});
  int handled = 0;
  // (and a topic written by others, whose offsets may have holes)
  henvis::ConsumerLoop loop(
      "test", "", "",
      {{"henvis.test.v1", "henvis.test.v1.dlq.test"},
       {"police.test.v1", "police.test.v1.dlq.test", false}},
      [&](const henvis::kafka::Message&, henvis::sqlite::Db&) { ++handled; }, nullptr, nullptr);
  // When partition 0 is read from its start without holes, and partition 1
  // starts wherever the log starts (nothing stored yet for it)
  loop.apply_batch(db, {numbered(0, 0), numbered(0, 1), numbered(1, 40)});
  // Then nothing is counted as skipped
  CHECK(loop.skipped_offsets() == 0);
  // When the next batch jumps from offset 2 to offset 5 on partition 0 (the
  // log lost 2, 3 and 4 before they were read) and re-reads partition 1's 40
  loop.apply_batch(db, {numbered(0, 5), numbered(1, 40), numbered(1, 41)});
  // Then exactly the three missing offsets are counted, the events present
  // are applied once, and the stored offsets move on
  CHECK(loop.skipped_offsets() == 3);
  CHECK(handled == 5);
  CHECK(loop.duplicates() == 1);
  CHECK(scalar(db, "SELECT next_offset FROM consumer_offsets WHERE partition = 0") == 6);
  CHECK(scalar(db, "SELECT next_offset FROM consumer_offsets WHERE partition = 1") == 42);
  // When the other writer's topic jumps (a transaction marker took offset 1)
  loop.apply_batch(db, {numbered(0, 0, "police.test.v1")});
  loop.apply_batch(db, {numbered(0, 2, "police.test.v1")});
  // Then that is not counted as loss
  CHECK(loop.skipped_offsets() == 3);
  CHECK(handled == 7);
}
