#pragma once
// Disclosure log: every read or write of a person's data (who, when, which
// referral or underretning, why, to which recipient) is recorded in the
// service's own database, in the same transaction that read or wrote it. The
// log holds ids, never the data itself.
//
// The log proves itself (docs/decisions.md 23, docs/security.md "Access
// log"): rows are append-only (triggers refuse UPDATE and DELETE) and
// hash-chained, row_hash = SHA-256(prev_hash || the row's canonical
// encoding), the first row's prev_hash 64 zeros. verify() finds the first
// edited, deleted or reordered row; the head hash it reports, kept outside
// the database, also exposes a log rewritten from some row on.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "henvis/auth.hpp"
#include "henvis/http.hpp"
#include "henvis/sqlite.hpp"

namespace henvis::access_log {

extern const char* const MIGRATION;
// A later step for databases made with MIGRATION: `at` as Unix ms.
std::string migration_unix_ms();
// A later step: the acting person (auth::Principal::person; "" for a token
// used directly). Every service that records appends it to its migrations.
extern const char* const MIGRATION_PERSON;
// A later step: the hash chain. Adds prev_hash and row_hash, chains the rows
// already there in id order and creates the append-only triggers. Its text is
// part of shipped migrations: never change it.
std::string migration_chain();
// For a service that starts logging now: all of the above as one step.
std::string migration_all();

// Appends a row, chained to the last, atomically (one INSERT statement): in
// the caller's transaction when there is one.
void record(sqlite::Db& db, const auth::Principal& who, const std::string& referral_id,
            const std::string& purpose);

// A stored answer given again (an idempotent replay) discloses the data
// again: when `r` is a success, records `purpose` + "_replay" and commits
// `tx`; a refusal discloses nothing. Returns `r`.
http::Response replayed(sqlite::Db& db, sqlite::Transaction& tx, const auth::Principal& who,
                        const std::string& referral_id, const std::string& purpose,
                        http::Response r);
// The same inside a transaction the caller commits (a group commit's job,
// sqlite::GroupCommit): records the row when `r` is a success.
http::Response replayed(sqlite::Db& db, const auth::Principal& who, const std::string& referral_id,
                        const std::string& purpose, http::Response r);

struct Verification {
  bool ok = true;
  std::int64_t rows = 0;
  std::int64_t head_id = 0;
  std::string head_hash;
  // When !ok: the first wrong row (for a deletion the first missing id), the
  // reason ("edited", "deleted", "reordered") and a sentence (ids only).
  std::int64_t broken_row_id = 0;
  std::string reason;
  std::string detail;
};
// Walks the whole log in id order.
Verification verify(sqlite::Db& db);

struct Entry {
  std::int64_t id = 0;
  sqlite::Instant at;
  std::string who, role, recipient, subject_id, purpose, person, prev_hash, row_hash;
};
struct Filter {
  std::optional<sqlite::Instant> from, to;  // [from, to)
  std::string person;                       // exact; "" = any
  std::string subject_id;                   // exact; "" = any
};
// Rows after id `after_id` matching `filter`, oldest first, at most `limit`.
std::vector<Entry> entries(sqlite::Db& db, const Filter& filter, std::int64_t after_id,
                           std::size_t limit);

// GET /v1/audit/verify and GET /v1/audit/log for the admin role (the
// data-protection officer's tools, `henvisctl audit`), each request on its
// handler thread's connection of `dbs` (the service's HTTP connections).
void add_routes(http::Router& router, sqlite::Connections& dbs);

}  // namespace henvis::access_log
