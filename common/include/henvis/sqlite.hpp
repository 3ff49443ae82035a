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

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace henvis::sqlite {

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

  // True when a row is available; false when done.
  bool step();
  // Step to completion (for statements that return no rows).
  void run();
  void reset();

  std::int64_t i64(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  bool is_null(int col) const;

 private:
  Db* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  // Opens (creating if needed) and applies the durability pragmas.
  explicit Db(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(std::string_view sql);
  // Applies migrations[user_version..] each in its own transaction and bumps
  // PRAGMA user_version. Migrations are append-only: never edit a shipped one.
  void migrate(const std::vector<std::string>& migrations);
  std::int64_t changes() const;
  // Copies the WAL into the database file and truncates the WAL, so that
  // erased data is gone from both files (with secure_delete on). Waits for
  // readers through the busy timeout; false if a reader was still in the way
  // (then erased bytes may remain in the WAL: try again later).
  bool checkpoint_truncate();
  sqlite3* raw() { return db_; }
  [[noreturn]] void fail(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace henvis::sqlite
