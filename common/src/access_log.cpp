#include "henvis/access_log.hpp"

#include <spdlog/spdlog.h>

#include "henvis/ids.hpp"
#include "henvis/paging.hpp"
#include "henvis/v1/api.pb.h"

namespace henvis::access_log {

const char* const MIGRATION = R"sql(
CREATE TABLE IF NOT EXISTS access_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  who TEXT NOT NULL,
  role TEXT NOT NULL,
  recipient TEXT NOT NULL,
  referral_id TEXT NOT NULL,
  purpose TEXT NOT NULL
);
)sql";

const char* const MIGRATION_PERSON =
    "ALTER TABLE access_log ADD COLUMN person TEXT NOT NULL DEFAULT '';\n";

std::string migration_unix_ms() { return sqlite::to_unix_ms("access_log", "at", "rfc3339"); }

namespace {
// The first row's prev_hash.
constexpr const char* GENESIS = "0000000000000000000000000000000000000000000000000000000000000000";

// The canonical encoding of a row (alias `r`) as an SQL expression: each
// field as its length in bytes, ':', its text and ';', in a fixed order, so
// no two different rows encode alike. NULL encodes as "". It is part of
// shipped migrations (migration_chain) and of every stored hash: never change.
std::string encoding(const std::string& r) {
  std::string out;
  for (const char* column :
       {"id", "at", "who", "role", "recipient", "referral_id", "purpose", "person"}) {
    const std::string v = "ifnull(CAST(" + r + "." + column + " AS TEXT), '')";
    if (!out.empty()) out += " || ";
    out += "length(CAST(" + v + " AS BLOB)) || ':' || " + v + " || ';'";
  }
  return out;
}

// row_hash of the row `r` whose prev_hash is the expression `prev`.
std::string row_hash(const std::string& r, const std::string& prev) {
  return "henvis_sha256(" + prev + " || " + encoding(r) + ")";
}

const std::string& insert_sql() {
  static const std::string sql =
      "INSERT INTO access_log(id, at, who, role, recipient, referral_id, purpose, person, "
      "prev_hash, row_hash) SELECT r.id, r.at, r.who, r.role, r.recipient, r.referral_id, "
      "r.purpose, r.person, r.prev, " +
      row_hash("r", "r.prev") +
      " FROM (SELECT max(ifnull((SELECT max(id) FROM access_log), 0), "
      "ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'access_log'), 0)) + 1 AS id, "
      "?1 AS at, ?2 AS who, ?3 AS role, ?4 AS recipient, ?5 AS referral_id, ?6 AS purpose, "
      "?7 AS person, ifnull((SELECT row_hash FROM access_log ORDER BY id DESC LIMIT 1), '" +
      GENESIS + "') AS prev) r";
  return sql;
}

const std::string& verify_sql() {
  static const std::string sql = "SELECT r.id, r.prev_hash, r.row_hash, " +
                                 row_hash("r", "r.prev_hash") + " FROM access_log r ORDER BY r.id";
  return sql;
}

constexpr std::string_view LAST_ISSUED_ID =
    "SELECT ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'access_log'), 0)";

constexpr std::string_view ENTRIES =
    "SELECT id, at, who, role, recipient, referral_id, purpose, person, prev_hash, row_hash "
    "FROM access_log WHERE id > ?1 AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR at < ?3) "
    "AND (?4 = '' OR person = ?4) AND (?5 = '' OR referral_id = ?5) ORDER BY id LIMIT ?6";
}  // namespace

std::string migration_chain() {
  return "ALTER TABLE access_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';\n"
         "ALTER TABLE access_log ADD COLUMN row_hash TEXT NOT NULL DEFAULT '';\n"
         // The rows already there, chained in id order.
         "WITH RECURSIVE chain(id, prev, h) AS (SELECT 0, '', '" +
         std::string(GENESIS) + "' UNION ALL SELECT r.id, chain.h, " + row_hash("r", "chain.h") +
         " FROM chain JOIN access_log r ON r.id = "
         "(SELECT min(id) FROM access_log WHERE id > chain.id)) "
         "UPDATE access_log SET prev_hash = chain.prev, row_hash = chain.h FROM chain "
         "WHERE access_log.id = chain.id AND chain.id > 0;\n"
         "CREATE TRIGGER access_log_append_only_update BEFORE UPDATE ON access_log "
         "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;\n"
         "CREATE TRIGGER access_log_append_only_delete BEFORE DELETE ON access_log "
         "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;\n";
}

std::string migration_all() {
  return std::string(MIGRATION) + migration_unix_ms() + MIGRATION_PERSON + migration_chain();
}

void record(sqlite::Db& db, const auth::Principal& who, const std::string& referral_id,
            const std::string& purpose) {
  auto s = db.query(insert_sql());
  s->bind(1, std::chrono::system_clock::now()).bind(2, who.label);
  s->bind(3, std::string(auth::role_name(who.role))).bind(4, who.scope).bind(5, referral_id);
  s->bind(6, purpose).bind(7, who.person).run();
}

http::Response replayed(sqlite::Db& db, sqlite::Transaction& tx, const auth::Principal& who,
                        const std::string& referral_id, const std::string& purpose,
                        http::Response r) {
  r = replayed(db, who, referral_id, purpose, std::move(r));
  if (r.status < 300) tx.commit();
  return r;
}

http::Response replayed(sqlite::Db& db, const auth::Principal& who, const std::string& referral_id,
                        const std::string& purpose, http::Response r) {
  if (r.status < 300) record(db, who, referral_id, purpose + "_replay");
  return r;
}

namespace {
Verification broken(Verification v, std::int64_t id, const char* reason, std::string detail) {
  v.ok = false;
  v.broken_row_id = id;
  v.reason = reason;
  v.detail = std::move(detail);
  return v;
}

std::string range(std::int64_t from, std::int64_t to) {
  return from == to ? "row " + std::to_string(from) + " is"
                    : "rows " + std::to_string(from) + " to " + std::to_string(to) + " are";
}
}  // namespace

Verification verify(sqlite::Db& db) {
  Verification v;
  std::string prev = GENESIS;
  auto q = db.query(verify_sql());
  while (q->step()) {
    const std::int64_t id = q->i64(0);
    const std::string id_s = std::to_string(id);
    if (q->text(2) != q->text(3))
      return broken(v, id, "edited", "row " + id_s + " does not match its row_hash");
    // Ids are issued one by one and never reused (sqlite_sequence).
    if (id != v.head_id + 1)
      return broken(v, v.head_id + 1, "deleted",
                    range(v.head_id + 1, id - 1) + " missing before row " + id_s);
    if (q->text(1) != prev)
      return broken(v, id, "reordered",
                    "row " + id_s + " does not follow row " + std::to_string(v.head_id) +
                        " (moved, inserted, or the row before it rewritten)");
    prev = q->text(2);
    v.head_id = id;
    ++v.rows;
  }
  v.head_hash = v.rows ? prev : "";
  auto last = db.query(LAST_ISSUED_ID);
  if (last->step() && last->i64(0) > v.head_id)
    return broken(v, v.head_id + 1, "deleted",
                  range(v.head_id + 1, last->i64(0)) + " missing at the end of the log");
  return v;
}

std::vector<Entry> entries(sqlite::Db& db, const Filter& filter, std::int64_t after_id,
                           std::size_t limit) {
  auto q = db.query(ENTRIES);
  q->bind(1, after_id).bind(2, filter.from).bind(3, filter.to);
  q->bind(4, filter.person).bind(5, filter.subject_id).bind(6, static_cast<std::int64_t>(limit));
  std::vector<Entry> out;
  while (q->step())
    out.push_back({q->i64(0), q->instant(1), q->text(2), q->text(3), q->text(4), q->text(5),
                   q->text(6), q->text(7), q->text(8), q->text(9)});
  return out;
}

namespace {
std::optional<sqlite::Instant> time_param(const http::Request& req, const std::string& name,
                                          std::vector<http::FieldError>& errors) {
  auto it = req.query.find(name);
  if (it == req.query.end() || it->second.empty()) return std::nullopt;
  try {
    const auto t = parse_timestamp(it->second);
    if (valid_event_time(t)) return to_time_point(t);
  } catch (const std::invalid_argument&) {
  }
  errors.push_back({name, "must be an RFC 3339 time between 1900 and 2200"});
  return std::nullopt;
}

v1::AuditLogEntry to_proto(const Entry& e) {
  v1::AuditLogEntry p;
  p.set_id(e.id);
  *p.mutable_at() = to_timestamp(e.at);
  p.set_who(e.who);
  p.set_person(e.person);
  p.set_role(e.role);
  p.set_recipient(e.recipient);
  p.set_subject_id(e.subject_id);
  p.set_purpose(e.purpose);
  p.set_prev_hash(e.prev_hash);
  p.set_row_hash(e.row_hash);
  return p;
}

http::Response verify_response(sqlite::Db& db) {
  const Verification v = verify(db);
  v1::AuditVerification out;
  out.set_ok(v.ok);
  out.set_rows(v.rows);
  out.set_head_id(v.head_id);
  out.set_head_hash(v.head_hash);
  out.set_broken_row_id(v.broken_row_id);
  out.set_reason(v.reason);
  out.set_detail(v.detail);
  return http::json(200, out);
}

http::Response log_response(sqlite::Db& db, const http::Request& req) {
  std::vector<http::FieldError> errors;
  Filter f;
  f.from = time_param(req, "from", errors);
  f.to = time_param(req, "to", errors);
  if (f.from && f.to && *f.from >= *f.to) errors.push_back({"to", "must be after from"});
  if (!errors.empty()) return http::problem(400, "Bad Request", "invalid audit log query", errors);
  if (auto it = req.query.find("person"); it != req.query.end()) f.person = it->second;
  if (auto it = req.query.find("subjectId"); it != req.query.end()) f.subject_id = it->second;
  const http::PageRequest page = http::page_request(req, 1);
  const std::int64_t after =
      page.after.empty() ? 0 : http::cursor_number(page.after[0], 0, INT64_MAX);
  auto rows = entries(db, f, after, page.limit + 1);
  v1::AuditLog out;
  out.set_next_cursor(http::take_page(
      rows, page, [](const Entry& e) { return std::vector<std::string>{std::to_string(e.id)}; }));
  for (const Entry& e : rows) *out.add_entries() = to_proto(e);
  // Who reads the log is itself worth knowing; ids and the label only.
  spdlog::info("access log exported by={} rows={}", req.principal.label, rows.size());
  return http::json(200, out);
}
}  // namespace

void add_routes(http::Router& router, sqlite::Connections& dbs) {
  router.add("GET", "/v1/audit/verify", {v1::ROLE_ADMIN},
             [&dbs](http::Request&) { return verify_response(dbs.get()); });
  router.add("GET", "/v1/audit/log", {v1::ROLE_ADMIN},
             [&dbs](http::Request& r) { return log_response(dbs.get(), r); });
}

}  // namespace henvis::access_log
