// The consumer loop against the embedded broker (a real henvis-devbroker
// process): offsets stored with the state, de-duplication by ce_id, resume
// from stored offsets after a restart, dead-lettering without blocking.

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "harness.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"

using namespace henvis;
using namespace henvis::testing;

namespace {
constexpr const char* TOPIC = "henvis.offers.v1";
constexpr const char* DLQ = "henvis.offers.v1.dlq.looptest";

struct Loop {
  std::atomic<bool> stop{false};
  ConsumerLoop loop;
  std::thread thread;
  Loop(const std::string& db, const std::string& bootstrap)
      : loop(
            "looptest", db, bootstrap, {{TOPIC, DLQ}},
            [](const kafka::Message& m, sqlite::Db& d) {
              if (m.payload == "poison") throw Rejected("payload is poison");
              sqlite::Stmt s(d, "INSERT INTO applied(payload) VALUES (?)");
              s.bind(1, m.payload).run();
            },
            nullptr, nullptr),
        thread([this] { loop.run(stop); }) {}
  ~Loop() {
    stop = true;
    thread.join();
  }
};

std::int64_t count(sqlite::Db& db, const std::string& sql) {
  sqlite::Stmt s(db, sql);
  s.step();
  return s.i64(0);
}

void produce(const std::string& bootstrap,
             const std::vector<std::pair<std::string, std::string>>& id_payload) {
  kafka::Producer p(bootstrap, [](std::int64_t, bool ok, const std::string&) { REQUIRE(ok); });
  std::int64_t n = 0;
  for (const auto& [id, payload] : id_payload)
    p.produce(TOPIC, "key-" + id, payload, {{"ce_id", id}, {"ce_type", "t"}}, ++n);
  REQUIRE(p.flush(10000));
}
}  // namespace

TEST_CASE(
    "Consumer loop: duplicates by ce_id apply once, offsets resume after restart, poison is "
    "dead-lettered",
    "[integration]") {
  Stack s;
  s.start_broker();
  const std::string path = s.database("looptest");
  {
    sqlite::Db db(path);
    db.migrate({std::string(outbox::MIGRATION) + ConsumerLoop::MIGRATION +
                "CREATE TABLE applied(payload TEXT NOT NULL);"});
  }
  sqlite::Db db(path);

  // Given three events, one of them sent twice under the same ce_id, and a poison event
  produce(s.bootstrap(), {{"e1", "one"}, {"e2", "two"}, {"e2", "two"}, {"e3", "poison"}});
  {
    Loop loop(path, s.bootstrap());
    // Then each distinct event is applied once and the poison one is dead-lettered
    REQUIRE(eventually([&] { return count(db, "SELECT count(*) FROM applied") == 2; }));
    REQUIRE(eventually([&] { return loop.loop.dead_lettered() == 1; }));
    CHECK(loop.loop.duplicates() == 1);
    CHECK(count(db, "SELECT count(*) FROM processed_events") == 3);
    // And the DLQ entry waits in the outbox, as durable as the offset that skipped it
    CHECK(count(db, "SELECT count(*) FROM outbox WHERE topic = 'henvis.offers.v1.dlq.looptest'") ==
          1);
  }
  // The stored offsets cover every message consumed
  CHECK(count(db, "SELECT sum(next_offset) FROM consumer_offsets") == 4);

  // When more events arrive while the loop is down, one re-sending an old ce_id
  produce(s.bootstrap(), {{"e4", "four"}, {"e1", "one"}});
  {
    Loop loop(path, s.bootstrap());
    // Then after the restart only the new event is applied: nothing re-read, nothing twice
    REQUIRE(eventually(
        [&] { return count(db, "SELECT sum(next_offset) FROM consumer_offsets") == 6; }));
    CHECK(loop.loop.applied() == 1);
    CHECK(loop.loop.duplicates() == 1);
  }
  CHECK(count(db, "SELECT count(*) FROM applied") == 3);
  CHECK(count(db, "SELECT count(*) FROM applied WHERE payload = 'one'") == 1);
}

TEST_CASE("Consumer::poll_batch hands over what has arrived without waiting for a full batch",
          "[integration][latency]") {
  // A lone event must not sit out the poll timeout at every hop (issue 14:
  // rd_kafka_consume_batch_queue alone waits for `max` messages or the
  // timeout). The poll asks for 500 with no timeout at all: only a poll
  // that hands over the first events returns.
  Stack s;
  s.start_broker();
  produce(s.bootstrap(), {{"p1", "one"}, {"p2", "two"}});
  kafka::Consumer c(s.bootstrap(), "polltest");
  c.assign({TOPIC}, {}, 30000);
  std::atomic<std::size_t> got{0};
  std::atomic<bool> returned{false};
  std::thread poller([&] {
    while (got.load() < 2) got += c.poll_batch(500, -1).size();
    returned = true;
  });
  const bool done = eventually([&] { return returned.load(); });
  if (!done) {
    // Unblock the poller so that the test can end: enough events for a full batch.
    std::vector<std::pair<std::string, std::string>> fill;
    for (int i = 0; i < 500; ++i) fill.emplace_back("f" + std::to_string(i), "x");
    produce(s.bootstrap(), fill);
  }
  poller.join();
  CHECK(done);
  CHECK(got.load() >= 2);
}
