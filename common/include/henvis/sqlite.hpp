#pragma once
// Thin RAII layer over the SQLite C API.
//
// Every database is opened in WAL mode with synchronous=FULL (a committed
// transaction survives power loss) and a busy timeout, so that a service's
// threads (HTTP, consumer, outbox relay) may each hold their own connection.
// A Db is not thread-safe: one connection per thread.
//
// Errors throw henvis::sqlite::Error carrying SQLite's message, which never
// contains bound parameter values.
//
// One time format in every database (docs/decisions.md 16): an instant is an
// INTEGER of Unix milliseconds (UTC), bound and read as a time_point through
// Stmt::bind / Stmt::instant, so no service formats a stored time by hand; a
// calendar day (Europe/Copenhagen) is TEXT 'YYYY-MM-DD'.

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace henvis::sqlite {

using Instant = std::chrono::system_clock::time_point;

// The stored form of an instant: Unix milliseconds, rounded down.
std::int64_t unix_ms(Instant t);
Instant from_unix_ms(std::int64_t ms);
// `t` as a database keeps it (whole milliseconds): a handler that answers with
// the instant it stored answers what a later read of the row returns.
inline Instant as_stored(Instant t) { return from_unix_ms(unix_ms(t)); }

class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  // SQLITE_BUSY / SQLITE_LOCKED / SQLITE_IOERR may succeed on a later attempt.
  bool retryable() const;

 private:
  int code_;
};

class Db;
class WriterLock;
struct FileState;

// A prepared statement. Bind with 1-based indexes, step, read columns.
class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, std::string_view v);
  Stmt& bind_null(int i);
  // An instant, stored as INTEGER Unix milliseconds; an empty optional is NULL.
  Stmt& bind(int i, Instant t) { return bind(i, unix_ms(t)); }
  Stmt& bind(int i, std::optional<Instant> t) { return t ? bind(i, *t) : bind_null(i); }

  // True when a row is available; false when done.
  bool step();
  // Step to completion (for statements that return no rows).
  void run();
  void reset();

  std::int64_t i64(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  bool is_null(int col) const;
  Instant instant(int col) const { return from_unix_ms(i64(col)); }
  std::optional<Instant> maybe_instant(int col) const {
    return is_null(col) ? std::nullopt : std::optional<Instant>(instant(col));
  }

 private:
  Db* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// A statement the connection prepared once and lends out for one use
// (Db::query). When the loan ends the statement is reset and its bindings
// cleared, so no half-stepped statement keeps a read snapshot open (that
// would stop the WAL from being checkpointed, and erased data with it).
class Query {
 public:
  Query(Stmt& s, std::unique_ptr<Stmt> own, bool* busy)
      : own_(std::move(own)), s_(own_ ? own_.get() : &s), busy_(busy) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query(Query&& o) noexcept : own_(std::move(o.own_)), s_(o.s_), busy_(o.busy_) {
    o.s_ = nullptr;
    o.busy_ = nullptr;
  }
  Query& operator=(Query&&) = delete;

  Stmt* operator->() { return s_; }
  Stmt& operator*() { return *s_; }

 private:
  std::unique_ptr<Stmt> own_;  // set when the cached statement was already lent out
  Stmt* s_;
  bool* busy_;
};

class Db {
 public:
  // Opens (creating if needed) and applies the durability pragmas. Every
  // connection has the SQL function henvis_sha256(x): SHA-256 of x's bytes
  // as lowercase hex (the access log's hash chain, access_log.hpp).
  explicit Db(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(std::string_view sql);
  // The statement for `sql`, prepared on first use and kept for the life of
  // the connection: a store names its statements as constants and asks for
  // them here instead of compiling SQL per call. If the same statement is
  // already lent out (a nested use), a fresh one is prepared for this loan.
  Query query(std::string_view sql);
  // Applies migrations[user_version..] each in its own transaction and bumps
  // PRAGMA user_version. Migrations are append-only: never edit a shipped one.
  void migrate(const std::vector<std::string>& migrations);
  std::int64_t changes() const;
  // Rows stepped through in full table scans so far by the statements this
  // connection has prepared and not finalized (its cached ones included;
  // SQLITE_STMTSTATUS_FULLSCAN_STEP). Tests pin with it that a periodic
  // pass or an erasure reads through an index, not the whole table.
  std::int64_t full_scan_steps() const;
  // Copies the WAL into the database file and truncates the WAL, so that
  // erased data is gone from both files (with secure_delete on). Waits for
  // readers through the busy timeout; false if a reader was still in the way
  // (then erased bytes may remain in the WAL: try again later).
  bool checkpoint_truncate();
  // Personal data was deleted in the current transaction. When it commits
  // (Transaction::commit) the WAL is checkpointed and truncated at once,
  // so the erased bytes are gone from the WAL as they are from the pages
  // (secure_delete). If a reader holds the WAL up, the next commit on this
  // connection (or settle_erasure) tries again.
  void note_erasure() { erasure_pending_ = erasure_uncommitted_ = true; }
  // Does the checkpoint note_erasure asked for; true when none is pending.
  bool settle_erasure();
  bool erasure_pending() const { return erasure_pending_; }
  // Erasures committed on any connection of this process to this database
  // file, counted. Rows another connection deletes later (the outbox relay's
  // published rows) were in place when the erasure's checkpoint copied the
  // WAL into the database file: a change in this count tells that connection
  // to truncate the WAL after its own deletes (outbox::Relay).
  std::uint64_t erasures_committed() const;
  // Transaction::commit's part: counts a noted erasure, then settles it.
  void committed();
  sqlite3* raw() { return db_; }
  [[noreturn]] void fail(int rc, std::string_view what) const;
  // The in-process writer lock of this database file (Transaction); nullptr
  // for ":memory:" and temporary databases, which no other connection shares.
  WriterLock* writer() const { return writer_; }

 private:
  struct Cached {
    std::unique_ptr<Stmt> stmt;
    bool busy = false;
  };
  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string, Cached> cache_;
  bool erasure_pending_ = false;
  bool erasure_uncommitted_ = false;  // noted, not yet counted in erasures_committed
  FileState* file_ = nullptr;         // shared with the process's other connections to the file
  WriterLock* writer_ = nullptr;      // file_->writer, unless the database is private
};

// The SQL of a migration step that turns `column` of `table` into an INTEGER
// of Unix milliseconds, converting what is stored: `from` is "rfc3339" (TEXT
// such as 2025-05-16T14:00:00.5Z) or "seconds" (INTEGER Unix seconds). The
// column keeps its name and position at the end of the table, loses NOT NULL
// and DEFAULT; indexes on it must be dropped before and created after. The
// text it returns is part of shipped migrations: never change it.
std::string to_unix_ms(std::string_view table, std::string_view column, std::string_view from);

// Runs `erase` (which returns how many rows it erased) in a transaction of
// its own; when it erased any, the WAL is truncated as the transaction
// commits (Db::note_erasure), and a checkpoint a reader held up at an earlier
// erasure is retried. The one way a purge (retention) erases: the bytes leave
// the database file, its free pages and the WAL at once. Returns the count.
int erase(Db& db, const std::function<int()>& erase);

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
//
// Writers of one database file in one process queue on an in-process lock
// (Db::writer) before BEGIN IMMEDIATE, first come first served. SQLite alone
// makes a waiting writer poll with sleeps of up to 100 ms (its busy
// handler), which with several handler threads turns every contended write
// into a sleep. The lock is waited for up to the busy timeout, then the
// transaction fails as SQLITE_BUSY would. Writers in other processes
// (henvisctl) still meet SQLite's own lock and busy timeout. A thread that
// already holds a file's lock through another connection gets SQLITE_BUSY at
// once instead of waiting for itself.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  void release();
  Db& db_;
  bool done_ = false;
  bool locked_ = false;
};

// One connection to a database file for each thread that asks: a service's
// HTTP handlers run on a pool of threads (http::ServerOptions::
// handler_threads) and a connection is one transaction at a time, so each
// handler thread reads and writes through its own. Opened on first use on
// that thread; all closed when the Connections is destroyed, which must be
// after the threads that used it have stopped (the host stops the server
// before it destroys the service).
class Connections {
 public:
  explicit Connections(std::string path) : path_(std::move(path)) {}
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;
  // The calling thread's connection.
  Db& get();
  const std::string& path() const { return path_; }
  // Connections opened so far (one per thread that asked).
  std::size_t open() const;

 private:
  std::string path_;
  mutable std::mutex mu_;
  std::unordered_map<std::thread::id, std::unique_ptr<Db>> dbs_;
};

}  // namespace henvis::sqlite
