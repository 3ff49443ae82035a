#pragma once
// henvis-web's store: the sessions and the failed log-ins (login throttle).
// Every SQL statement henvis-web runs is here. A session is stored under
// the SHA-256 of its id (the cookie's value), never the id itself, so a
// copy of the database lets no one resume a session. Failed log-ins are
// stored under the SHA-256 of what they are counted by ("user\0<name>",
// "address\0<ip>"): a user name typed into the wrong field can be a
// password.
//
// Instants are INTEGER Unix milliseconds (docs/decisions.md 16).

#include <optional>
#include <string>
#include <vector>

#include "henvis/sqlite.hpp"

namespace henvis::web {

// The schema, oldest step first. Append-only: a shipped step is never edited.
std::vector<std::string> migrations();

namespace store {

struct SessionRow {
  std::string id_sha256;  // SHA-256 (hex) of the session id
  std::string username;
  std::string csrf_token;
  sqlite::Instant created_at;
  sqlite::Instant last_seen_at;
  std::string grant_sha256;  // users.hpp grant_of at log-in
};

void insert_session(sqlite::Db& db, const SessionRow& s);
std::optional<SessionRow> find_session(sqlite::Db& db, const std::string& id_sha256);
void touch_session(sqlite::Db& db, const std::string& id_sha256, sqlite::Instant at);
void delete_session(sqlite::Db& db, const std::string& id_sha256);
// Deletes the sessions idle since before `idle_before` or created before
// `created_before`; returns how many.
int delete_expired_sessions(sqlite::Db& db, sqlite::Instant idle_before,
                            sqlite::Instant created_before);

void record_failure(sqlite::Db& db, const std::string& key_sha256, sqlite::Instant at);
// The failures under the key after `since`, oldest first.
std::vector<sqlite::Instant> failures_since(sqlite::Db& db, const std::string& key_sha256,
                                            sqlite::Instant since);
void clear_failures(sqlite::Db& db, const std::string& key_sha256);
// One failure under the key at `at` (an attempt counted in advance that succeeded).
void delete_failure(sqlite::Db& db, const std::string& key_sha256, sqlite::Instant at);
void delete_failures_before(sqlite::Db& db, sqlite::Instant before);

}  // namespace store
}  // namespace henvis::web
