// sqlite::GroupCommit (issue 14): concurrent writers share one durable
// transaction; nobody returns before its commit; a failing job is undone
// alone; a failed commit fails the whole group.

#include "henvis/group_commit.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using henvis::sqlite::Db;
using henvis::sqlite::GroupCommit;
using henvis::test::scalar;
using henvis::test::TempDir;
using namespace std::chrono_literals;

namespace {
void insert(Db& db, const std::string& v) {
  henvis::sqlite::Stmt s(db, "INSERT INTO t(v) VALUES (?)");
  s.bind(1, v).run();
}

// Holds the committer inside a job until released, so that the jobs handed
// over meanwhile all land in the next group together.
class Blocker {
 public:
  explicit Blocker(GroupCommit& gc)
      : thread_([this, &gc] {
          gc.run([this](Db&) {
            std::unique_lock lock(mu_);
            entered_ = true;
            cv_.notify_all();
            cv_.wait(lock, [this] { return released_; });
          });
        }) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return entered_; });
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, released_ = false;
  std::thread thread_;
};

void wait_queued(GroupCommit& gc, std::size_t n) {
  while (gc.queued() < n) std::this_thread::sleep_for(1ms);
}
}  // namespace

TEST_CASE("Group commit: every job of many threads is committed before its run() returns",
          "[group_commit]") {
  TempDir tmp("henvis-group-commit");
  const std::string path = tmp.file("g.db");
  Db reader(path);
  reader.exec("CREATE TABLE t(v TEXT UNIQUE)");
  GroupCommit gc(path);
  constexpr int THREADS = 8, EACH = 50;
  std::atomic<int> unseen{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < THREADS; ++t)
    ts.emplace_back([&, t] {
      Db mine(path);  // a reader of its own, outside the group's connection
      for (int i = 0; i < EACH; ++i) {
        const std::string v = std::to_string(t) + "-" + std::to_string(i);
        gc.run([&](Db& db) { insert(db, v); });
        if (scalar(mine, "SELECT count(*) FROM t WHERE v = ?", v) != 1) ++unseen;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(unseen.load() == 0);
  CHECK(scalar(reader, "SELECT count(*) FROM t") == THREADS * EACH);
  CHECK(gc.jobs() == THREADS * EACH);
  CHECK(gc.groups() <= gc.jobs());
}

TEST_CASE("Group commit: a job that throws is undone alone and its caller gets the exception",
          "[group_commit]") {
  TempDir tmp("henvis-group-commit-throw");
  const std::string path = tmp.file("g.db");
  Db reader(path);
  reader.exec("CREATE TABLE t(v TEXT UNIQUE)");
  GroupCommit gc(path);
  Blocker blocker(gc);
  bool threw = false;
  std::thread good([&] { gc.run([](Db& db) { insert(db, "kept"); }); });
  wait_queued(gc, 1);
  std::thread bad([&] {
    try {
      gc.run([](Db& db) {
        insert(db, "undone");
        throw std::invalid_argument("field x is bad");
      });
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()) == "field x is bad";
    }
  });
  wait_queued(gc, 2);
  const auto groups_before = gc.groups();
  blocker.release();
  good.join();
  bad.join();
  CHECK(threw);
  CHECK(gc.groups() == groups_before + 2);  // the blocker's, then both in one
  CHECK(scalar(reader, "SELECT count(*) FROM t WHERE v = 'kept'") == 1);
  CHECK(scalar(reader, "SELECT count(*) FROM t WHERE v = 'undone'") == 0);
}

TEST_CASE("Group commit: a commit that fails fails every job of its group, none is kept",
          "[group_commit]") {
  TempDir tmp("henvis-group-commit-fail");
  const std::string path = tmp.file("g.db");
  Db reader(path);
  // A deferred foreign key: the violation passes the job and fails COMMIT.
  reader.exec(
      "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
      "CREATE TABLE t(v TEXT UNIQUE, p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY "
      "DEFERRED)");
  GroupCommit gc(path);
  Blocker blocker(gc);
  std::atomic<int> failed{0};
  std::thread innocent([&] {
    try {
      gc.run([](Db& db) { insert(db, "innocent"); });
    } catch (const henvis::sqlite::Error&) {
      ++failed;
    }
  });
  wait_queued(gc, 1);
  std::thread violating([&] {
    try {
      gc.run([](Db& db) { db.exec("INSERT INTO t(v, p) VALUES ('orphan', 42)"); });
    } catch (const henvis::sqlite::Error&) {
      ++failed;
    }
  });
  wait_queued(gc, 2);
  blocker.release();
  innocent.join();
  violating.join();
  CHECK(failed.load() == 2);
  CHECK(scalar(reader, "SELECT count(*) FROM t") == 0);
  // And the committer goes on with the next group.
  gc.run([](Db& db) { insert(db, "after"); });
  CHECK(scalar(reader, "SELECT count(*) FROM t WHERE v = 'after'") == 1);
}
