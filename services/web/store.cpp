// henvis-web's store: schema, migrations and every statement (store.hpp).
#include "store.hpp"

namespace henvis::web {

std::vector<std::string> migrations() {
  return {R"sql(
CREATE TABLE sessions (
  id_sha256 TEXT PRIMARY KEY,      -- SHA-256 (hex) of the cookie's session id
  username TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,     -- Unix ms
  last_seen_at INTEGER NOT NULL    -- Unix ms
) WITHOUT ROWID;
CREATE INDEX sessions_last_seen ON sessions(last_seen_at);
CREATE INDEX sessions_created ON sessions(created_at);
-- One row per failed log-in and what it counts against (user, address).
CREATE TABLE login_failures (
  key_sha256 TEXT NOT NULL,
  at INTEGER NOT NULL              -- Unix ms
);
CREATE INDEX login_failures_key ON login_failures(key_sha256, at);
CREATE INDEX login_failures_at ON login_failures(at);
)sql",
          // What the user was granted at log-in (users.hpp grant_of): a session
          // ends when the user's password, role or scope changes. Sessions from
          // before this step have '' and end at their next request.
          "ALTER TABLE sessions ADD COLUMN grant_sha256 TEXT NOT NULL DEFAULT '';\n"};
}

namespace store {

namespace {
constexpr const char* INSERT_SESSION =
    "INSERT INTO sessions (id_sha256, username, csrf_token, created_at, last_seen_at, "
    "grant_sha256) VALUES (?, ?, ?, ?, ?, ?)";
constexpr const char* FIND_SESSION =
    "SELECT username, csrf_token, created_at, last_seen_at, grant_sha256 FROM sessions "
    "WHERE id_sha256 = ?";
constexpr const char* TOUCH_SESSION = "UPDATE sessions SET last_seen_at = ? WHERE id_sha256 = ?";
constexpr const char* DELETE_SESSION = "DELETE FROM sessions WHERE id_sha256 = ?";
constexpr const char* DELETE_EXPIRED =
    "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?";
constexpr const char* INSERT_FAILURE = "INSERT INTO login_failures (key_sha256, at) VALUES (?, ?)";
constexpr const char* FAILURES_SINCE =
    "SELECT at FROM login_failures WHERE key_sha256 = ? AND at > ? ORDER BY at";
constexpr const char* CLEAR_FAILURES = "DELETE FROM login_failures WHERE key_sha256 = ?";
constexpr const char* DELETE_FAILURE =
    "DELETE FROM login_failures WHERE rowid = "
    "(SELECT rowid FROM login_failures WHERE key_sha256 = ? AND at = ? LIMIT 1)";
constexpr const char* DELETE_FAILURES_BEFORE = "DELETE FROM login_failures WHERE at < ?";
}  // namespace

void insert_session(sqlite::Db& db, const SessionRow& s) {
  auto q = db.query(INSERT_SESSION);
  q->bind(1, s.id_sha256)
      .bind(2, s.username)
      .bind(3, s.csrf_token)
      .bind(4, s.created_at)
      .bind(5, s.last_seen_at)
      .bind(6, s.grant_sha256)
      .run();
}

std::optional<SessionRow> find_session(sqlite::Db& db, const std::string& id_sha256) {
  auto q = db.query(FIND_SESSION);
  q->bind(1, id_sha256);
  if (!q->step()) return std::nullopt;
  return SessionRow{id_sha256, q->text(0), q->text(1), q->instant(2), q->instant(3), q->text(4)};
}

void touch_session(sqlite::Db& db, const std::string& id_sha256, sqlite::Instant at) {
  db.query(TOUCH_SESSION)->bind(1, at).bind(2, id_sha256).run();
}

void delete_session(sqlite::Db& db, const std::string& id_sha256) {
  db.query(DELETE_SESSION)->bind(1, id_sha256).run();
}

int delete_expired_sessions(sqlite::Db& db, sqlite::Instant idle_before,
                            sqlite::Instant created_before) {
  db.query(DELETE_EXPIRED)->bind(1, idle_before).bind(2, created_before).run();
  return static_cast<int>(db.changes());
}

void record_failure(sqlite::Db& db, const std::string& key_sha256, sqlite::Instant at) {
  db.query(INSERT_FAILURE)->bind(1, key_sha256).bind(2, at).run();
}

std::vector<sqlite::Instant> failures_since(sqlite::Db& db, const std::string& key_sha256,
                                            sqlite::Instant since) {
  auto q = db.query(FAILURES_SINCE);
  q->bind(1, key_sha256).bind(2, since);
  std::vector<sqlite::Instant> out;
  while (q->step()) out.push_back(q->instant(0));
  return out;
}

void clear_failures(sqlite::Db& db, const std::string& key_sha256) {
  db.query(CLEAR_FAILURES)->bind(1, key_sha256).run();
}

void delete_failure(sqlite::Db& db, const std::string& key_sha256, sqlite::Instant at) {
  db.query(DELETE_FAILURE)->bind(1, key_sha256).bind(2, at).run();
}

void delete_failures_before(sqlite::Db& db, sqlite::Instant before) {
  db.query(DELETE_FAILURES_BEFORE)->bind(1, before).run();
}

}  // namespace store
}  // namespace henvis::web
