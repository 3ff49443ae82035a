#include "store.hpp"

#include <google/protobuf/util/json_util.h>

#include <stdexcept>
#include <utility>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/outbox.hpp"
#include "henvis/partition_keys.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"

namespace henvis::router {

namespace {

// ---- Schema -------------------------------------------------------------

// A referral that still holds contact data: the rows the retention pass
// reads (CONTACT_KEPT), indexed by that condition (referrals_contact_kept) so that a
// pass reads those rows only, not every referral ever made. A macro so that
// the index and the query say it in the same words, which SQLite needs to use
// a partial index.
#define KEEPS_CONTACT                                                         \
  "cpr IS NOT NULL OR name IS NOT NULL OR phone IS NOT NULL OR email IS NOT " \
  "NULL OR preferred_contact_time IS NOT NULL"

constexpr std::string_view SCHEMA_1 = R"sql(
CREATE TABLE referrals (
  referral_id TEXT PRIMARY KEY,
  offer_id TEXT NOT NULL UNIQUE,
  status INTEGER NOT NULL,
  centre_id TEXT NOT NULL,
  kommunekode INTEGER NOT NULL,
  district_id TEXT NOT NULL,
  directory_version TEXT NOT NULL,
  journal_number TEXT NOT NULL,
  offence INTEGER NOT NULL,
  charged_at TEXT NOT NULL,
  cpr TEXT,
  name TEXT,
  phone TEXT,
  email TEXT,
  preferred_contact_time TEXT,
  consent_version TEXT,
  consent_given_at TEXT,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX referrals_centre ON referrals(centre_id, created_at);
CREATE INDEX referrals_district ON referrals(district_id, created_at);
CREATE TABLE referral_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  referral_id TEXT NOT NULL REFERENCES referrals(referral_id),
  status INTEGER NOT NULL,
  at TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX referral_history_referral ON referral_history(referral_id);
)sql";

constexpr std::string_view SCHEMA_2 = R"sql(
ALTER TABLE referrals ADD COLUMN contact_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN last_activity_at TEXT;
ALTER TABLE referrals ADD COLUMN reminded_at TEXT;
ALTER TABLE referrals ADD COLUMN escalated_at TEXT;
ALTER TABLE referrals ADD COLUMN prior_90d INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN prior_5y INTEGER NOT NULL DEFAULT 0;
UPDATE referrals SET last_activity_at = updated_at;
ALTER TABLE referral_history ADD COLUMN occurred_at TEXT;
ALTER TABLE referral_history ADD COLUMN note TEXT;
CREATE INDEX referrals_waiting ON referrals(status, last_activity_at);
-- Pseudonymous: HMAC of the CPR number, for counting repeat referrals.
CREATE TABLE person_index (
  referral_id TEXT PRIMARY KEY,
  person_key TEXT NOT NULL,
  charged_at TEXT NOT NULL
);
CREATE INDEX person_index_key ON person_index(person_key, charged_at);
CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE idempotency (
  key TEXT PRIMARY KEY,
  referral_id TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)sql";

// The router's own instants, RFC 3339 text until now, as Unix milliseconds
// (docs/decisions.md 16). SQLite refuses to drop an indexed column, so the
// indexes on converted columns go first and come back, unchanged, after.
std::string own_instants_unix_ms() {
  std::string m = R"sql(
DROP INDEX referrals_centre;
DROP INDEX referrals_district;
DROP INDEX referrals_waiting;
DROP INDEX person_index_key;
)sql";
  for (const char* c : {"charged_at", "consent_given_at", "created_at", "updated_at",
                        "last_activity_at", "reminded_at", "escalated_at"})
    m += sqlite::to_unix_ms("referrals", c, "rfc3339");
  for (const char* c : {"at", "occurred_at"})
    m += sqlite::to_unix_ms("referral_history", c, "rfc3339");
  m += sqlite::to_unix_ms("person_index", "charged_at", "rfc3339");
  m += sqlite::to_unix_ms("idempotency", "created_at", "rfc3339");
  m += R"sql(
CREATE INDEX referrals_centre ON referrals(centre_id, created_at);
CREATE INDEX referrals_district ON referrals(district_id, created_at);
CREATE INDEX referrals_waiting ON referrals(status, last_activity_at);
CREATE INDEX person_index_key ON person_index(person_key, charged_at);
)sql";
  return m;
}

// The person index keyed by a 64-bit pseudonym (person_pseudonym: the first
// eight bytes of the HMAC, as a signed integer) instead of the HMAC's 64 hex
// digits. Its b-tree is random by design and written once per offer; with
// entries a third the size, fewer of its pages are read and written per
// offer (docs/performance.md, the router's cost curve). SQLite 3.40 has no
// unhex(), so the first 16 hex digits are read one by one.
std::string person_pseudonyms() {
  std::string first_64_bits;
  for (int i = 0; i < 16; ++i) {
    if (i) first_64_bits += " | ";
    first_64_bits += "((instr('0123456789abcdef', substr(person_key, " + std::to_string(i + 1) +
                     ", 1)) - 1) << " + std::to_string(4 * (15 - i)) + ")";
  }
  return R"sql(
CREATE TABLE person_index_new (
  referral_id TEXT PRIMARY KEY,
  person INTEGER NOT NULL,
  charged_at INTEGER NOT NULL
);
INSERT INTO person_index_new(referral_id, person, charged_at)
  SELECT referral_id, )sql" +
         first_64_bits + R"sql(, charged_at FROM person_index;
DROP TABLE person_index;
ALTER TABLE person_index_new RENAME TO person_index;
CREATE INDEX person_index_key ON person_index(person, charged_at);
)sql";
}

// A coordinator's steps (forwarding, closure) keep who made them and, for a
// forwarding, the directory version and centre it was checked against.
constexpr std::string_view SCHEMA_5 = R"sql(
ALTER TABLE referral_history ADD COLUMN actor TEXT;
ALTER TABLE referral_history ADD COLUMN directory_version TEXT;
ALTER TABLE referral_history ADD COLUMN centre_id TEXT;
)sql";

// The person who made a step through henvis-web (docs/decisions.md
// "Delegated principals (henvis-web)"), beside the token label in `actor`.
constexpr std::string_view SCHEMA_6 = R"sql(
ALTER TABLE referral_history ADD COLUMN person TEXT;
)sql";

// ---- Statements ---------------------------------------------------------

constexpr std::string_view SELECT_KNOWN =
    "SELECT 1 FROM referrals WHERE referral_id = ? OR offer_id = ?";
constexpr std::string_view SELECT_HELD =
    "SELECT 1 FROM referrals WHERE referral_id = ? AND offer_id = ?";
constexpr std::string_view INSERT_REFERRAL =
    "INSERT INTO referrals(referral_id, offer_id, status, centre_id, kommunekode, district_id, "
    "directory_version, journal_number, offence, charged_at, cpr, name, phone, email, "
    "preferred_contact_time, consent_version, consent_given_at, reason, created_at, updated_at, "
    "last_activity_at, prior_90d, prior_5y) VALUES "
    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

// The columns read_row() reads, in its order: the first twelve are a
// ReferralRow, the rest read_referral() adds. A macro so that every statement
// below stays one string literal.
#define REFERRAL_COLUMNS                                                                    \
  "referral_id, offer_id, status, centre_id, kommunekode, district_id, directory_version, " \
  "offence, charged_at, contact_attempts, prior_90d, prior_5y, journal_number, cpr, name, " \
  "phone, email, preferred_contact_time, consent_version, consent_given_at, reason, created_at"

constexpr std::string_view SELECT_ROW =
    "SELECT referral_id, offer_id, status, centre_id, kommunekode, district_id, "
    "directory_version, offence, charged_at, contact_attempts, prior_90d, prior_5y "
    "FROM referrals WHERE referral_id = ?";
constexpr std::string_view SELECT_REFERRAL =
    "SELECT " REFERRAL_COLUMNS " FROM referrals WHERE referral_id = ?";
constexpr std::string_view SELECT_REFERRAL_OF_CENTRE =
    "SELECT " REFERRAL_COLUMNS " FROM referrals WHERE referral_id = ? AND centre_id = ?";
constexpr std::string_view SELECT_REFERRAL_OF_DISTRICT =
    "SELECT " REFERRAL_COLUMNS " FROM referrals WHERE referral_id = ? AND district_id = ?";
// Ordered by creation; the id breaks ties between referrals created in the
// same millisecond. Keyset paging: ?3/?4 the last (created_at, id) returned.
constexpr std::string_view LIST_OF_CENTRE =
    "SELECT " REFERRAL_COLUMNS
    " FROM referrals WHERE centre_id = ?1 AND (?2 = 0 OR status = ?2) "
    "AND (?3 IS NULL OR (created_at, referral_id) > (?3, ?4)) "
    "ORDER BY created_at, referral_id LIMIT ?5";
constexpr std::string_view LIST_OF_DISTRICT =
    "SELECT " REFERRAL_COLUMNS
    " FROM referrals WHERE district_id = ?1 AND (?2 = 0 OR status = ?2) "
    "AND (?3 IS NULL OR (created_at, referral_id) > (?3, ?4)) "
    "ORDER BY created_at, referral_id LIMIT ?5";
#undef REFERRAL_COLUMNS

constexpr std::string_view UPDATE_STATUS =
    "UPDATE referrals SET status = ?, contact_attempts = ?, updated_at = ?, "
    "last_activity_at = ?, reminded_at = NULL, escalated_at = NULL WHERE referral_id = ?";
constexpr std::string_view UPDATE_ROUTING =
    "UPDATE referrals SET centre_id = ?, directory_version = ? WHERE referral_id = ?";
constexpr std::string_view UPDATE_DELIVERY_STATUS =
    "UPDATE referrals SET status = ?, updated_at = ? WHERE referral_id = ?";
// The statuses awaits_centre() names (lifecycle.hpp), not yet escalated.
constexpr std::string_view SELECT_WAITING =
    "SELECT referral_id, last_activity_at, reminded_at FROM referrals "
    "WHERE status IN (?,?,?,?,?) AND escalated_at IS NULL";
constexpr std::string_view UPDATE_REMINDED =
    "UPDATE referrals SET reminded_at = ? WHERE referral_id = ?";
constexpr std::string_view UPDATE_ESCALATED =
    "UPDATE referrals SET escalated_at = ? WHERE referral_id = ?";

constexpr std::string_view INSERT_HISTORY =
    "INSERT INTO referral_history(referral_id, status, at, reason, occurred_at, note, actor, "
    "directory_version, centre_id, person) VALUES (?,?,?,?,?,?,?,?,?,?)";
constexpr std::string_view SELECT_HISTORY =
    "SELECT status, at, reason, occurred_at, note, actor, directory_version, centre_id, person "
    "FROM referral_history WHERE referral_id = ? ORDER BY id";

// Both windows in one read of the person's entries: ?2 the recent window's
// start, ?3 the whole window's (earlier), ?4 its end.
constexpr std::string_view COUNT_CHARGES =
    "SELECT count(*), coalesce(sum(charged_at >= ?2), 0) FROM person_index "
    "WHERE person = ?1 AND charged_at >= ?3 AND charged_at < ?4";
constexpr std::string_view INSERT_CHARGE =
    "INSERT INTO person_index(referral_id, person, charged_at) VALUES (?,?,?)";

constexpr std::string_view SELECT_ANSWER =
    "SELECT request_hash, status, response FROM idempotency WHERE key = ?";
constexpr std::string_view INSERT_ANSWER =
    "INSERT INTO idempotency(key, referral_id, request_hash, status, response, created_at) "
    "VALUES (?,?,?,?,?,?)";
constexpr std::string_view SELECT_ANSWERS_OF =
    "SELECT key, response FROM idempotency WHERE referral_id = ?";
constexpr std::string_view UPDATE_ANSWER = "UPDATE idempotency SET response = ? WHERE key = ?";

constexpr std::string_view ERASE_PERSON =
    "UPDATE referrals SET cpr = NULL, name = NULL, phone = NULL, email = NULL, "
    "preferred_contact_time = NULL WHERE referral_id = ?";
// Free-text notes may name the person.
constexpr std::string_view ERASE_NOTES =
    "UPDATE referral_history SET note = NULL WHERE referral_id = ?";
constexpr std::string_view ERASE_CHARGE = "DELETE FROM person_index WHERE referral_id = ?";
// The outbox is the kit's table (outbox.hpp); a withdrawal takes back what
// the relay has not sent yet.
constexpr std::string_view UNSENT_NOTIFICATIONS = "SELECT id, payload FROM outbox WHERE topic = ?";
constexpr std::string_view DROP_UNSENT = "DELETE FROM outbox WHERE id = ?";
constexpr std::string_view CONTACT_KEPT =
    "SELECT referral_id FROM referrals WHERE status = ? AND updated_at <= ? AND "
    "(" KEEPS_CONTACT ")";

// ---- Rows ---------------------------------------------------------------

int i32(const sqlite::Stmt& s, int col) { return static_cast<int>(s.i64(col)); }

ReferralRow read_row(const sqlite::Stmt& s) {
  ReferralRow r;
  r.referral_id = s.text(0);
  r.offer_id = s.text(1);
  r.status = static_cast<v1::ReferralStatus>(s.i64(2));
  r.centre_id = s.text(3);
  r.kommunekode = i32(s, 4);
  r.district_id = s.text(5);
  r.directory_version = s.text(6);
  r.offence = static_cast<v1::Offence>(s.i64(7));
  r.charged_at = s.instant(8);
  r.contact_attempts = i32(s, 9);
  r.prior_90d = i32(s, 10);
  r.prior_5y = i32(s, 11);
  return r;
}

Referral read_referral(const sqlite::Stmt& s) {
  Referral r;
  r.row = read_row(s);
  r.journal_number = s.text(12);
  if (!s.is_null(13)) {
    PersonRow p;
    p.cpr = s.text(13);
    p.name = s.text(14);
    p.phone = s.text(15);
    p.email = s.text(16);
    p.preferred_contact_time = s.text(17);
    p.consent_version = s.text(18);
    p.consent_given_at = s.instant(19);
    r.person = std::move(p);
  }
  r.reason = s.text(20);
  r.created_at = s.instant(21);
  return r;
}

std::optional<Referral> one_referral(sqlite::Query q) {
  if (!q->step()) return std::nullopt;
  return read_referral(*q);
}

// A stored answer (a ReferralView) without the person's data; "{}" if it
// cannot be read, since it may still hold that data.
std::string without_person(const std::string& response) {
  v1::ReferralView v;
  google::protobuf::util::JsonParseOptions in;
  in.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(response, &v, in).ok()) return "{}";
  v.clear_person();
  v.clear_consent();
  for (auto& h : *v.mutable_history()) h.clear_note();
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(v, &out);
  return out;
}

}  // namespace

std::vector<std::string> migrations() {
  return {
      std::string(outbox::MIGRATION) + ConsumerLoop::MIGRATION + access_log::MIGRATION +
          std::string(SCHEMA_1),
      std::string(SCHEMA_2),
      // The kit's tables store instants as Unix milliseconds (docs/decisions.md 16).
      outbox::migration_unix_ms() + ConsumerLoop::migration_unix_ms() +
          access_log::migration_unix_ms(),
      own_instants_unix_ms(), std::string(SCHEMA_5),
      std::string(access_log::MIGRATION_PERSON) + std::string(SCHEMA_6),
      // Crypto-shredding (docs/decisions.md 22): the referrals' data keys
      // fetched from intake, deleted on withdrawal; the offers that came
      // after their key was destroyed.
      R"sql(
CREATE TABLE data_keys (referral_id TEXT PRIMARY KEY, key BLOB NOT NULL);
CREATE TABLE shredded_offers (referral_id TEXT PRIMARY KEY);
)sql",
      // The access log hash-chained and append-only (docs/decisions.md 23).
      access_log::migration_chain(),
      // Partition-aligned instances (docs/decisions.md 24): the Kafka key
      // of a referral's offer, which its notifications pass on to their
      // deliveries.
      partition_keys::MIGRATION,
      // The retention pass reads the referrals that still hold contact
      // data by status and age (docs/performance.md, the router's cost
      // curve): without it, each pass read every referral of the four
      // final statuses (0.4 s each at 1 M referrals, every minute).
      "CREATE INDEX referrals_contact_kept ON referrals(status, updated_at) WHERE " KEEPS_CONTACT
      ";\n",
      // Erasing a referral's contact (withdrawal, retention) scrubs its
      // stored answers (SELECT_ANSWERS_OF): without an index each erasure
      // read every answer ever stored.
      "CREATE INDEX idempotency_referral ON idempotency(referral_id);\n",
      // Retention deletes a referral's data key with its contact data
      // (docs/decisions.md 22); the keys of referrals erased before it did.
      "DELETE FROM data_keys WHERE referral_id IN (SELECT referral_id FROM referrals WHERE NOT "
      "(" KEEPS_CONTACT "));\n",
      person_pseudonyms()};
}

namespace {
constexpr std::string_view SELECT_DATA_KEY = "SELECT key FROM data_keys WHERE referral_id = ?";
constexpr std::string_view PUT_DATA_KEY =
    "INSERT OR REPLACE INTO data_keys(referral_id, key) VALUES (?, ?)";
constexpr std::string_view DELETE_DATA_KEY = "DELETE FROM data_keys WHERE referral_id = ?";
constexpr std::string_view ADD_SHREDDED =
    "INSERT OR IGNORE INTO shredded_offers(referral_id) VALUES (?)";
constexpr std::string_view FIND_SHREDDED = "SELECT 1 FROM shredded_offers WHERE referral_id = ?";
}  // namespace

std::optional<std::string> Store::data_key(const std::string& referral_id) {
  auto q = db_.query(SELECT_DATA_KEY);
  q->bind(1, referral_id);
  if (!q->step()) return std::nullopt;
  return q->blob(0);
}

void Store::put_data_key(const std::string& referral_id, const std::string& key) {
  auto q = db_.query(PUT_DATA_KEY);
  q->bind(1, referral_id).bind_blob(2, key).run();
}

void Store::delete_data_key(const std::string& referral_id) {
  auto q = db_.query(DELETE_DATA_KEY);
  q->bind(1, referral_id).run();
}

void Store::add_shredded(const std::string& referral_id) {
  auto q = db_.query(ADD_SHREDDED);
  q->bind(1, referral_id).run();
}

bool Store::shredded(const std::string& referral_id) {
  auto q = db_.query(FIND_SHREDDED);
  q->bind(1, referral_id);
  return q->step();
}

bool Store::knows(const std::string& referral_id, const std::string& offer_id) {
  auto q = db_.query(SELECT_KNOWN);
  q->bind(1, referral_id).bind(2, offer_id);
  return q->step();
}

bool Store::holds(const std::string& referral_id, const std::string& offer_id) {
  auto q = db_.query(SELECT_HELD);
  q->bind(1, referral_id).bind(2, offer_id);
  return q->step();
}

void Store::insert_referral(const Referral& r, Instant now) {
  // Every offer routed carries a person; an empty one would read as erased.
  const PersonRow p = r.person.value_or(PersonRow{});
  auto q = db_.query(INSERT_REFERRAL);
  q->bind(1, r.row.referral_id).bind(2, r.row.offer_id).bind(3, static_cast<int>(r.row.status));
  q->bind(4, r.row.centre_id).bind(5, r.row.kommunekode).bind(6, r.row.district_id);
  q->bind(7, r.row.directory_version).bind(8, r.journal_number);
  q->bind(9, static_cast<int>(r.row.offence)).bind(10, r.row.charged_at);
  q->bind(11, p.cpr).bind(12, p.name).bind(13, p.phone).bind(14, p.email);
  q->bind(15, p.preferred_contact_time).bind(16, p.consent_version);
  q->bind(17, p.consent_given_at).bind(18, r.reason).bind(19, now).bind(20, now).bind(21, now);
  q->bind(22, r.row.prior_90d).bind(23, r.row.prior_5y).run();
}

std::optional<ReferralRow> Store::find_referral(const std::string& referral_id) {
  auto q = db_.query(SELECT_ROW);
  q->bind(1, referral_id);
  if (!q->step()) return std::nullopt;
  return read_row(*q);
}

ReferralRow Store::load_referral(const std::string& referral_id) {
  auto r = find_referral(referral_id);
  if (!r) throw std::runtime_error("referral vanished: " + referral_id);
  return *r;
}

std::optional<Referral> Store::referral(const std::string& referral_id) {
  auto q = db_.query(SELECT_REFERRAL);
  q->bind(1, referral_id);
  return one_referral(std::move(q));
}

std::optional<Referral> Store::referral_in(Scope scope, const std::string& scope_id,
                                           const std::string& referral_id) {
  // An empty scope sees nothing: an unroutable referral has no centre, and
  // must not show to a centre token without a scope (defence in depth;
  // auth::check_scopes refuses such a token at start).
  if (scope_id.empty()) return std::nullopt;
  auto q =
      db_.query(scope == Scope::centre ? SELECT_REFERRAL_OF_CENTRE : SELECT_REFERRAL_OF_DISTRICT);
  q->bind(1, referral_id).bind(2, scope_id);
  return one_referral(std::move(q));
}

std::vector<Referral> Store::referrals_in(Scope scope, const std::string& scope_id, int status,
                                          const std::optional<ListKey>& after, std::size_t limit) {
  if (scope_id.empty()) return {};  // as referral_in: an empty scope sees nothing
  auto q = db_.query(scope == Scope::centre ? LIST_OF_CENTRE : LIST_OF_DISTRICT);
  q->bind(1, scope_id).bind(2, status);
  if (after)
    q->bind(3, after->created_at).bind(4, after->referral_id);
  else
    q->bind_null(3).bind_null(4);
  q->bind(5, static_cast<std::int64_t>(limit));
  std::vector<Referral> out;
  while (q->step()) out.push_back(read_referral(*q));
  return out;
}

void Store::set_status(const std::string& referral_id, v1::ReferralStatus status, Instant now,
                       int contact_attempts) {
  auto q = db_.query(UPDATE_STATUS);
  q->bind(1, static_cast<int>(status)).bind(2, contact_attempts).bind(3, now).bind(4, now);
  q->bind(5, referral_id).run();
}

void Store::set_routing(const std::string& referral_id, const std::string& centre_id,
                        const std::string& directory_version) {
  auto q = db_.query(UPDATE_ROUTING);
  q->bind(1, centre_id).bind(2, directory_version).bind(3, referral_id).run();
}

void Store::set_delivery_status(const std::string& referral_id, v1::ReferralStatus status,
                                Instant now) {
  auto q = db_.query(UPDATE_DELIVERY_STATUS);
  q->bind(1, static_cast<int>(status)).bind(2, now).bind(3, referral_id).run();
}

std::vector<WaitingRow> Store::waiting_on_centres() {
  auto q = db_.query(SELECT_WAITING);
  int i = 1;
  for (auto s :
       {v1::REFERRAL_STATUS_ROUTED, v1::REFERRAL_STATUS_DELIVERED, v1::REFERRAL_STATUS_ACKNOWLEDGED,
        v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, v1::REFERRAL_STATUS_REACHED})
    q->bind(i++, static_cast<int>(s));
  std::vector<WaitingRow> out;
  while (q->step()) out.push_back({q->text(0), q->instant(1), q->maybe_instant(2)});
  return out;
}

void Store::mark_reminded(const std::string& referral_id, Instant now) {
  auto q = db_.query(UPDATE_REMINDED);
  q->bind(1, now).bind(2, referral_id).run();
}

void Store::mark_escalated(const std::string& referral_id, Instant now) {
  auto q = db_.query(UPDATE_ESCALATED);
  q->bind(1, now).bind(2, referral_id).run();
}

namespace {
// Binds `s` at `i`, NULL when empty.
void bind_text_or_null(sqlite::Stmt& q, int i, const std::string& s) {
  if (s.empty())
    q.bind_null(i);
  else
    q.bind(i, s);
}
std::optional<std::string> maybe_text(const sqlite::Stmt& q, int col) {
  if (q.is_null(col)) return std::nullopt;
  return q.text(col);
}
}  // namespace

void Store::add_history(const std::string& referral_id, v1::ReferralStatus status, Instant at,
                        const std::string& reason, Instant occurred_at, const std::string& note) {
  add_history(referral_id, {status, at, reason, occurred_at, note, {}, {}, {}, {}});
}

void Store::add_history(const std::string& referral_id, const HistoryRow& h) {
  auto q = db_.query(INSERT_HISTORY);
  q->bind(1, referral_id).bind(2, static_cast<int>(h.status)).bind(3, h.at).bind(4, h.reason);
  q->bind(5, h.occurred_at.value_or(h.at));
  bind_text_or_null(*q, 6, h.note.value_or(""));
  bind_text_or_null(*q, 7, h.actor.value_or(""));
  bind_text_or_null(*q, 8, h.directory_version.value_or(""));
  bind_text_or_null(*q, 9, h.centre_id.value_or(""));
  bind_text_or_null(*q, 10, h.person.value_or(""));
  q->run();
}

std::vector<HistoryRow> Store::history(const std::string& referral_id) {
  auto q = db_.query(SELECT_HISTORY);
  q->bind(1, referral_id);
  std::vector<HistoryRow> out;
  while (q->step()) {
    HistoryRow h;
    h.status = static_cast<v1::ReferralStatus>(q->i64(0));
    h.at = q->instant(1);
    h.reason = q->text(2);
    h.occurred_at = q->maybe_instant(3);
    h.note = maybe_text(*q, 4);
    h.actor = maybe_text(*q, 5);
    h.directory_version = maybe_text(*q, 6);
    h.centre_id = maybe_text(*q, 7);
    h.person = maybe_text(*q, 8);
    out.push_back(std::move(h));
  }
  return out;
}

ChargeCounts Store::count_charges(std::int64_t person, Instant recent_from, Instant from,
                                  Instant to) {
  auto q = db_.query(COUNT_CHARGES);
  q->bind(1, person).bind(2, recent_from).bind(3, from).bind(4, to);
  q->step();
  return {i32(*q, 1), i32(*q, 0)};
}

void Store::index_charge(const std::string& referral_id, std::int64_t person, Instant charged_at) {
  auto q = db_.query(INSERT_CHARGE);
  q->bind(1, referral_id).bind(2, person).bind(3, charged_at).run();
}

std::optional<AnswerRow> Store::answer(const std::string& key_hash) {
  auto q = db_.query(SELECT_ANSWER);
  q->bind(1, key_hash);
  if (!q->step()) return std::nullopt;
  return AnswerRow{q->text(0), i32(*q, 1), q->text(2)};
}

void Store::store_answer(const std::string& key_hash, const std::string& referral_id,
                         const AnswerRow& answer, Instant now) {
  auto q = db_.query(INSERT_ANSWER);
  q->bind(1, key_hash).bind(2, referral_id).bind(3, answer.request_hash).bind(4, answer.status);
  q->bind(5, answer.response).bind(6, now).run();
}

void Store::erase_person(const std::string& referral_id) {
  erase_contact(referral_id);
  db_.query(ERASE_CHARGE)->bind(1, referral_id).run();
}

int Store::drop_unsent_notifications(const std::string& referral_id) {
  std::vector<std::int64_t> ids;
  {
    auto q = db_.query(UNSENT_NOTIFICATIONS);
    q->bind(1, topics::NOTIFICATIONS);
    while (q->step()) {
      v1::NotificationRequested n;
      if (n.ParseFromString(q->blob(1)) && n.referral().referral_id() == referral_id)
        ids.push_back(q->i64(0));
    }
  }
  for (auto id : ids) db_.query(DROP_UNSENT)->bind(1, id).run();
  return static_cast<int>(ids.size());
}

std::vector<std::string> Store::contact_kept(v1::ReferralStatus status, Instant before) {
  auto q = db_.query(CONTACT_KEPT);
  q->bind(1, static_cast<int>(status)).bind(2, before);
  std::vector<std::string> ids;
  while (q->step()) ids.push_back(q->text(0));
  return ids;
}

void Store::erase_contact(const std::string& referral_id) {
  db_.query(ERASE_PERSON)->bind(1, referral_id).run();
  db_.query(ERASE_NOTES)->bind(1, referral_id).run();
  // Stored idempotent answers hold the person's data too: keep them (a replay
  // still gets its first answer) without it.
  std::vector<std::pair<std::string, std::string>> scrubbed;
  {
    auto q = db_.query(SELECT_ANSWERS_OF);
    q->bind(1, referral_id);
    while (q->step()) scrubbed.emplace_back(q->text(0), without_person(q->text(1)));
  }
  for (const auto& [key, response] : scrubbed)
    db_.query(UPDATE_ANSWER)->bind(1, response).bind(2, key).run();
}

}  // namespace henvis::router
