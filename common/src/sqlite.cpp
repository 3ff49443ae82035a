#include "henvis/sqlite.hpp"

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>

#include "henvis/digest.hpp"

namespace henvis::sqlite {

namespace {
// Long enough to ride out another thread's batch commit; short enough that a
// stuck writer surfaces as an error instead of a hang.
constexpr int BUSY_TIMEOUT_MS = 10000;
}  // namespace

// One database file's writers in this process, in turn (Transaction). Not a
// std::timed_mutex: a thread that already holds it (through a second
// connection to the same file) must get an error, not undefined behaviour.
class WriterLock {
 public:
  enum class Got { lock, timeout, own };
  // `own` at once if this thread holds it already; `timeout` after `timeout`.
  Got acquire(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    const auto me = std::this_thread::get_id();
    if (held_ && owner_ == me) return Got::own;
    if (!free_.wait_for(lock, timeout, [this] { return !held_; })) return Got::timeout;
    held_ = true;
    owner_ = me;
    return Got::lock;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    free_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable free_;
  bool held_ = false;
  std::thread::id owner_;
};

// What the connections of this process to one database file share, kept for
// the life of the process (file_state, by canonical path).
struct FileState {
  WriterLock writer;                       // Transaction
  std::atomic<std::uint64_t> erasures{0};  // Db::erasures_committed
};

bool Error::retryable() const {
  const int primary = code_ & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR;
}

namespace {
FileState& file_state(const std::string& path) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::unique_ptr<FileState>> files;
  std::lock_guard lock(mu);
  auto& f = files[path];
  if (!f) f = std::make_unique<FileState>();
  return *f;
}

// The database, its WAL and shared-memory file readable by the service's own
// user only: they hold CPR numbers. SQLite gives the WAL and -shm files the
// mode of the database file; a file created by an older version (0644) is
// narrowed too. By path (chmod), never by opening the file: closing any
// descriptor of a database file drops every POSIX lock this process holds on
// it, which would break the other connections' locking. A path SQLite treats
// specially (":memory:", "") is left alone.
void owner_only(const std::string& path) {
  if (path.empty() || path.front() == ':') return;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    (void)::chmod((path + suffix).c_str(), 0600);  // absent: nothing to narrow
}
// henvis_sha256(x): SHA-256 of x's bytes (text as UTF-8) as lowercase hex;
// NULL for NULL. The access log's hash chain is computed with it in SQL
// (access_log.cpp), so its rows are hashed the same way wherever they are.
void sha256_function(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(ctx);
  const auto* p = static_cast<const char*>(sqlite3_value_blob(argv[0]));
  const auto n = static_cast<std::size_t>(sqlite3_value_bytes(argv[0]));
  const std::string hex = sha256_hex(std::string_view(p ? p : "", n));
  sqlite3_result_text(ctx, hex.data(), static_cast<int>(hex.size()), SQLITE_TRANSIENT);
}
}  // namespace

Db::Db(const std::string& path) {
  int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(rc, "cannot open database: " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, BUSY_TIMEOUT_MS);
  rc = sqlite3_create_function_v2(db_, "henvis_sha256", 1,
                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                  sha256_function, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(rc, "cannot register henvis_sha256");
  }
  exec("PRAGMA journal_mode=WAL");  // creates the file if it is new
  owner_only(path);                 // before any data is written to it
  std::error_code ec;               // one name per file for erasures_committed
  path_ = (path.empty() || path.front() == ':')
              ? path
              : std::filesystem::weakly_canonical(path, ec).string();
  file_ = &file_state(path_);
  // ":memory:" and temporary databases are each their own: no writer shares them.
  if (!path_.empty() && path_.front() != ':') writer_ = &file_->writer;
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON");
  // Deleted personal data must not linger in free pages.
  exec("PRAGMA secure_delete=ON");
}

Db::~Db() {
  cache_.clear();  // finalize the kept statements before the connection
  if (db_) sqlite3_close_v2(db_);
}

Query Db::query(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end())
    it = cache_.emplace(std::string(sql), Cached{std::make_unique<Stmt>(*this, sql), false}).first;
  Cached& c = it->second;
  if (c.busy) return Query(*c.stmt, std::make_unique<Stmt>(*this, sql), nullptr);
  c.busy = true;
  return Query(*c.stmt, nullptr, &c.busy);
}

Query::~Query() {
  if (!s_) return;
  if (!own_) s_->reset();
  if (busy_) *busy_ = false;
}

std::int64_t unix_ms(Instant t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Instant from_unix_ms(std::int64_t ms) {
  return Instant(std::chrono::duration_cast<Instant::duration>(std::chrono::milliseconds(ms)));
}

std::string to_unix_ms(std::string_view table, std::string_view column, std::string_view from) {
  const std::string t(table);
  const std::string c(column);
  const std::string tmp = c + "__unix_ms";
  std::string convert;
  if (from == "rfc3339")
    // julianday() reads RFC 3339 with any fractional digits and a Z suffix.
    convert = "CAST(round((julianday(" + c + ") - 2440587.5) * 86400000.0) AS INTEGER)";
  else if (from == "seconds")
    convert = c + " * 1000";
  else
    throw std::invalid_argument("to_unix_ms: from must be rfc3339 or seconds");
  return "ALTER TABLE " + t + " ADD COLUMN " + tmp + " INTEGER;\n" + "UPDATE " + t + " SET " + tmp +
         " = " + convert + ";\n" + "ALTER TABLE " + t + " DROP COLUMN " + c + ";\n" +
         "ALTER TABLE " + t + " RENAME COLUMN " + tmp + " TO " + c + ";\n";
}

void Db::fail(int rc, std::string_view what) const {
  throw Error(rc, std::string(what) + ": " + sqlite3_errmsg(db_));
}

void Db::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error(rc, "sqlite exec failed: " + msg);
  }
}

void Db::migrate(const std::vector<std::string>& migrations) {
  std::int64_t version = 0;
  {
    Stmt s(*this, "PRAGMA user_version");
    if (s.step()) version = s.i64(0);
  }
  for (auto i = static_cast<std::size_t>(version); i < migrations.size(); ++i) {
    Transaction tx(*this);
    exec(migrations[i]);
    exec("PRAGMA user_version=" + std::to_string(i + 1));
    tx.commit();
  }
}

bool Db::checkpoint_truncate() {
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return false;
  if (rc != SQLITE_OK) fail(rc, "checkpoint failed");
  return true;
}

void Db::committed() {
  if (erasure_uncommitted_) ++file_->erasures;
  erasure_uncommitted_ = false;
  settle_erasure();
}

std::uint64_t Db::erasures_committed() const { return file_->erasures.load(); }

int erase(Db& db, const std::function<int()>& erase) {
  Transaction tx(db);
  const int erased = erase();
  if (erased > 0) db.note_erasure();
  tx.commit();
  db.settle_erasure();  // one a reader held up earlier
  return erased;
}

bool Db::settle_erasure() {
  if (erasure_pending_ && checkpoint_truncate()) erasure_pending_ = false;
  return !erasure_pending_;
}

std::int64_t Db::changes() const { return sqlite3_changes64(db_); }

std::int64_t Db::full_scan_steps() const {
  std::int64_t steps = 0;
  for (sqlite3_stmt* s = sqlite3_next_stmt(db_, nullptr); s; s = sqlite3_next_stmt(db_, s))
    steps += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
  return steps;
}

Stmt::Stmt(Db& db, std::string_view sql) : db_(&db) {
  int rc = sqlite3_prepare_v2(db.raw(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, "prepare failed");
}

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK) db_->fail(rc, "bind failed");
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  int rc = sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "bind failed");
  return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view v) {
  int rc = sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "bind failed");
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  int rc = sqlite3_bind_null(stmt_, i);
  if (rc != SQLITE_OK) db_->fail(rc, "bind failed");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(rc, "step failed");
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Stmt::i64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

std::string Stmt::blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Transaction::Transaction(Db& db) : db_(db) {
  if (auto* w = db_.writer()) {
    switch (w->acquire(std::chrono::milliseconds(BUSY_TIMEOUT_MS))) {
      case WriterLock::Got::lock:
        break;
      case WriterLock::Got::own:
        throw Error(SQLITE_BUSY, "database is locked by this thread's own transaction");
      case WriterLock::Got::timeout:
        throw Error(SQLITE_BUSY, "database is locked by another writer of this process");
    }
    locked_ = true;
  }
  try {
    db_.exec("BEGIN IMMEDIATE");
  } catch (...) {
    release();
    throw;
  }
}

void Transaction::release() {
  if (!locked_) return;
  locked_ = false;
  db_.writer()->release();
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // Nothing more can be done; the connection rolls back on close.
    }
  }
  release();
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
  release();
  db_.committed();
}

Db& Connections::get() {
  std::lock_guard lock(mu_);
  auto& db = dbs_[std::this_thread::get_id()];
  if (!db) db = std::make_unique<Db>(path_);
  return *db;
}

std::size_t Connections::open() const {
  std::lock_guard lock(mu_);
  return dbs_.size();
}

}  // namespace henvis::sqlite
