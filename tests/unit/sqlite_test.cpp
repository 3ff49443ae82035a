// The SQLite kit a store is built on: statements prepared once per
// connection, and the one stored time format (docs/decisions.md 16, 17).

#include "henvis/sqlite.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "henvis/ids.hpp"
#include "support.hpp"

namespace {

using henvis::test::scalar;
using henvis::test::TempDir;
using namespace std::chrono_literals;

henvis::sqlite::Instant at(const std::string& rfc3339) {
  return std::chrono::system_clock::time_point(std::chrono::microseconds(
      google::protobuf::util::TimeUtil::TimestampToMicroseconds(henvis::parse_timestamp(rfc3339))));
}

}  // namespace

TEST_CASE("Db::query prepares a statement once and lends it out reset", "[sqlite]") {
  // Given a table with two rows
  TempDir tmp("henvis-sqlite-test");
  henvis::sqlite::Db db(tmp.file("t.db"));
  db.exec(
      "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2)");
  constexpr std::string_view FIND = "SELECT v FROM t WHERE k = ?";
  // When the same named statement is used twice, the first loan stepped only once
  henvis::sqlite::Stmt* first = nullptr;
  {
    auto q = db.query(FIND);
    first = &*q;
    REQUIRE(q->bind(1, "a").step());
    CHECK(q->i64(0) == 1);
  }
  auto q = db.query(FIND);
  // Then it is the same prepared statement, with its old binding cleared
  CHECK(&*q == first);
  CHECK_FALSE(q->step());  // NULL key matches nothing
}

TEST_CASE("Db::query lends a second statement when the first is still in use", "[sqlite]") {
  // Given a table and one loan of a statement being stepped through
  TempDir tmp("henvis-sqlite-test");
  henvis::sqlite::Db db(tmp.file("t.db"));
  db.exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2)");
  constexpr std::string_view ALL = "SELECT v FROM t ORDER BY v";
  auto outer = db.query(ALL);
  REQUIRE(outer->step());
  // When the same statement is asked for again inside that loop
  auto inner = db.query(ALL);
  // Then it is a separate statement and both read from their own position
  CHECK(&*inner != &*outer);
  REQUIRE(inner->step());
  CHECK(inner->i64(0) == 1);
  REQUIRE(outer->step());
  CHECK(outer->i64(0) == 2);
}

TEST_CASE("A finished loan leaves no read snapshot that would block a WAL checkpoint", "[sqlite]") {
  // Given a database with a row, read through a kept statement that stopped mid-result
  TempDir tmp("henvis-sqlite-test");
  henvis::sqlite::Db db(tmp.file("t.db"));
  db.exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2)");
  {
    auto q = db.query("SELECT v FROM t");
    REQUIRE(q->step());
  }
  // When another connection writes and the first truncates the WAL
  henvis::sqlite::Db other(tmp.file("t.db"));
  other.exec("DELETE FROM t");
  // Then the checkpoint is not held up by the first loan
  CHECK(db.checkpoint_truncate());
}

TEST_CASE("Instants are stored as Unix milliseconds and read back", "[sqlite][time]") {
  TempDir tmp("henvis-sqlite-test");
  henvis::sqlite::Db db(tmp.file("t.db"));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER)");
  const auto t = at("2025-05-16T14:00:00.123456Z");
  db.query("INSERT INTO t(id, at) VALUES (1, ?)")->bind(1, t).run();
  db.query("INSERT INTO t(id, at) VALUES (2, ?)")
      ->bind(1, std::optional<henvis::sqlite::Instant>{})
      .run();
  CHECK(scalar(db, "SELECT at FROM t WHERE id = 1") == 1747404000123);
  auto q = db.query("SELECT at FROM t ORDER BY id");
  REQUIRE(q->step());
  CHECK(q->instant(0) == at("2025-05-16T14:00:00.123Z"));  // below a millisecond is dropped
  REQUIRE(q->step());
  CHECK_FALSE(q->maybe_instant(0).has_value());
}

TEST_CASE("to_unix_ms converts RFC 3339 text and seconds in place, keeping NULLs",
          "[sqlite][time]") {
  // Given a table with RFC 3339 text in every precision protobuf writes, and Unix seconds
  TempDir tmp("henvis-sqlite-test");
  henvis::sqlite::Db db(tmp.file("t.db"));
  db.exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT NOT NULL DEFAULT '', s INTEGER);"
      "INSERT INTO t VALUES (1, '2025-05-16T14:00:00Z', 1747404000),"
      " (2, '2025-05-16T14:00:00.5Z', NULL), (3, '2025-05-16T14:00:00.123456789Z', 0)");
  // When the columns are converted
  db.migrate({henvis::sqlite::to_unix_ms("t", "at", "rfc3339") +
              henvis::sqlite::to_unix_ms("t", "s", "seconds")});
  // Then they hold Unix milliseconds, in time order, and NULL stays NULL
  CHECK(scalar(db, "SELECT at FROM t WHERE id = 1") == 1747404000000);
  CHECK(scalar(db, "SELECT at FROM t WHERE id = 2") == 1747404000500);
  CHECK(scalar(db, "SELECT at FROM t WHERE id = 3") == 1747404000123);
  CHECK(scalar(db, "SELECT s FROM t WHERE id = 1") == 1747404000000);
  CHECK(scalar(db, "SELECT count(*) FROM t WHERE s IS NULL") == 1);
  CHECK(scalar(db, "SELECT count(*) FROM t WHERE typeof(at) = 'integer'") == 3);
  CHECK_THROWS_AS(henvis::sqlite::to_unix_ms("t", "at", "minutes"), std::invalid_argument);
}

TEST_CASE("An erasure noted in a transaction leaves the WAL when it commits", "[sqlite][erasure]") {
  // Given a person's data written and then deleted in a transaction that notes the erasure
  TempDir tmp("henvis-sqlite-test");
  const std::string path = tmp.file("t.db");
  henvis::sqlite::Db db(path);
  db.exec("CREATE TABLE p (cpr TEXT)");
  db.exec("INSERT INTO p VALUES ('0101901234')");
  {
    henvis::sqlite::Transaction tx(db);
    db.exec("DELETE FROM p");
    db.note_erasure();
    tx.commit();
  }
  // Then nothing is pending, the WAL is empty and no file holds the CPR
  CHECK_FALSE(db.erasure_pending());
  CHECK(std::filesystem::file_size(path + "-wal") == 0);
  std::ifstream f(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  CHECK(bytes.find("0101901234") == std::string::npos);
}

TEST_CASE("An erasure a reader holds up stays pending and is settled later", "[sqlite][erasure]") {
  // Given another connection in the middle of a read
  TempDir tmp("henvis-sqlite-test");
  const std::string path = tmp.file("t.db");
  henvis::sqlite::Db db(path);
  db.exec("CREATE TABLE p (cpr TEXT); INSERT INTO p VALUES ('0101901234'), ('0202902345')");
  sqlite3_busy_timeout(db.raw(), 0);  // do not wait out the reader in this test
  henvis::sqlite::Db reader(path);
  henvis::sqlite::Stmt read(reader, "SELECT cpr FROM p");
  REQUIRE(read.step());
  // When an erasure commits
  {
    henvis::sqlite::Transaction tx(db);
    db.exec("DELETE FROM p");
    db.note_erasure();
    tx.commit();
  }
  // Then it is still pending while the reader holds the WAL
  CHECK(db.erasure_pending());
  // And settled once the reader is done
  read.reset();
  CHECK(db.settle_erasure());
  CHECK(std::filesystem::file_size(path + "-wal") == 0);
}

TEST_CASE(
    "erase runs a purge in its own transaction and truncates the WAL only when it erased rows - "
    "every connection to the file sees the erasure counted",
    "[sqlite][erasure]") {
  TempDir tmp("henvis-sqlite-test");
  const std::string path = tmp.file("t.db");
  henvis::sqlite::Db db(path);
  henvis::sqlite::Db relay(tmp.path.string() + "/./t.db");  // the same file by another name
  db.exec("CREATE TABLE p (cpr TEXT); INSERT INTO p VALUES ('0101901234')");
  const auto before = relay.erasures_committed();
  // When a purge finds nothing due / Then nothing is counted and the WAL stays
  CHECK(henvis::sqlite::erase(db, [] { return 0; }) == 0);
  CHECK(relay.erasures_committed() == before);
  CHECK(std::filesystem::file_size(path + "-wal") > 0);
  // When it erases a row / Then it is counted for every connection, and no file holds it
  CHECK(henvis::sqlite::erase(db, [&] {
          db.exec("DELETE FROM p");
          return static_cast<int>(db.changes());
        }) == 1);
  CHECK(relay.erasures_committed() == before + 1);
  CHECK(std::filesystem::file_size(path + "-wal") == 0);
  std::ifstream f(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  CHECK(bytes.find("0101901234") == std::string::npos);
}

TEST_CASE("A database, its WAL and -shm file are readable by the owner only, old ones narrowed",
          "[sqlite][security]") {
  namespace fs = std::filesystem;
  TempDir tmp("henvis-sqlite-mode");
  const fs::path path = tmp.file("modes.db");
  {
    henvis::sqlite::Db db(path.string());
    db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    for (const fs::path& f :
         {path, fs::path(path.string() + "-wal"), fs::path(path.string() + "-shm")}) {
      INFO(f.string());
      REQUIRE(fs::exists(f));
      CHECK((fs::status(f).permissions() & fs::perms::all) ==
            (fs::perms::owner_read | fs::perms::owner_write));
    }
  }
  // A file an older version left world-readable is narrowed when opened
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
  henvis::sqlite::Db again(path.string());
  CHECK((fs::status(path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("Connections gives each thread its own connection and the same one on every call",
          "[sqlite][threads]") {
  TempDir tmp("henvis-sqlite-conns");
  henvis::sqlite::Connections dbs(tmp.file("c.db"));
  henvis::sqlite::Db* mine = &dbs.get();
  CHECK(&dbs.get() == mine);
  henvis::sqlite::Db* theirs = nullptr;
  std::thread([&] { theirs = &dbs.get(); }).join();
  CHECK(theirs != nullptr);
  CHECK(theirs != mine);
  CHECK(dbs.open() == 2);
}

TEST_CASE("Writers on several threads and connections of one file lose no update",
          "[sqlite][threads]") {
  // Each thread increments one counter 200 times, each in its own
  // transaction on its own connection: the writer lock queues them, none
  // fails with SQLITE_BUSY and no increment is lost.
  TempDir tmp("henvis-sqlite-writers");
  henvis::sqlite::Connections dbs(tmp.file("w.db"));
  dbs.get().exec("CREATE TABLE n(v INTEGER); INSERT INTO n VALUES (0)");
  constexpr int THREADS = 6, EACH = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < THREADS; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < EACH; ++i) {
        try {
          auto& db = dbs.get();
          henvis::sqlite::Transaction tx(db);
          henvis::sqlite::Stmt read(db, "SELECT v FROM n");
          read.step();
          const auto v = read.i64(0);
          read.reset();
          henvis::sqlite::Stmt write(db, "UPDATE n SET v = ?");
          write.bind(1, v + 1).run();
          tx.commit();
        } catch (const henvis::sqlite::Error&) {
          ++failures;
        }
      }
    });
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(scalar(dbs.get(), "SELECT v FROM n") == THREADS * EACH);
}

TEST_CASE(
    "A thread that holds a file's writer lock gets SQLITE_BUSY at once on a second connection",
    "[sqlite][threads]") {
  TempDir tmp("henvis-sqlite-self");
  const std::string path = tmp.file("s.db");
  henvis::sqlite::Db a(path), b(path);
  a.exec("CREATE TABLE t(x)");
  henvis::sqlite::Transaction holding(a);
  try {
    henvis::sqlite::Transaction second(b);
    FAIL("a second writer of the same thread was let in");
  } catch (const henvis::sqlite::Error& e) {
    CHECK(e.retryable());
    // It did not wait out the busy timeout for itself.
    CHECK(std::string(e.what()).find("this thread's own transaction") != std::string::npos);
  }
  holding.commit();
  henvis::sqlite::Transaction after(b);  // released by the commit
  after.commit();
}

TEST_CASE("A writer waiting for another thread's transaction goes on once that one commits",
          "[sqlite][threads]") {
  TempDir tmp("henvis-sqlite-wait");
  const std::string path = tmp.file("q.db");
  henvis::sqlite::Db a(path);
  a.exec("CREATE TABLE t(x)");
  auto tx = std::make_unique<henvis::sqlite::Transaction>(a);
  a.exec("INSERT INTO t VALUES (1)");
  std::atomic<bool> wrote{false};
  std::thread other([&] {
    henvis::sqlite::Db b(path);
    henvis::sqlite::Transaction t(b);
    b.exec("INSERT INTO t VALUES (2)");
    t.commit();
    wrote = true;
  });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(wrote.load());  // it waits for the first writer
  tx->commit();
  other.join();
  CHECK(wrote.load());
  CHECK(scalar(a, "SELECT count(*) FROM t") == 2);
}
