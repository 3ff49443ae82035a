// socialsog's store: the schema, its migrations and every statement
// (store.hpp). Statements are named constants run through Db::query, which
// prepares each once per connection (docs/decisions.md 17).
#include "store.hpp"

#include <chrono>
#include <limits>
#include <string_view>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/ids.hpp"
#include "henvis/outbox.hpp"
#include "socialsog.hpp"

namespace henvis::socialsog {

namespace {

// The schema as first shipped (migration 1, after the kit's tables).
constexpr const char* SCHEMA = R"sql(
-- The incident window. `seq` is the ingest order: the weekly watermark counts it.
CREATE TABLE incidents (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL UNIQUE,
  district_id TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  sent_at_scene INTEGER NOT NULL,
  payload BLOB NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX incidents_time ON incidents(occurred_at);
CREATE TABLE incident_persons (
  incident_id TEXT NOT NULL,
  cpr TEXT NOT NULL,
  role INTEGER NOT NULL
);
CREATE INDEX incident_persons_cpr ON incident_persons(cpr);
CREATE INDEX incident_persons_incident ON incident_persons(incident_id);
-- Which children each adult has listed, and in which incident.
CREATE TABLE adult_children (
  incident_id TEXT NOT NULL,
  adult_cpr TEXT NOT NULL,
  child_cpr TEXT NOT NULL
);
CREATE INDEX adult_children_adult ON adult_children(adult_cpr);
CREATE INDEX adult_children_child ON adult_children(child_cpr);
CREATE INDEX adult_children_incident ON adult_children(incident_id);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE scans (
  scan_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  started_at TEXT NOT NULL,
  view BLOB NOT NULL
);
CREATE TABLE underretninger (
  underretning_id TEXT PRIMARY KEY,
  kommunekode INTEGER NOT NULL,
  recipient_id TEXT NOT NULL,
  district_id TEXT NOT NULL,
  notice BLOB NOT NULL,
  notification_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  receipt_due_at INTEGER,
  delivered_at TEXT,
  receipt_at TEXT,
  missed_at TEXT,
  response INTEGER NOT NULL DEFAULT 0,
  response_at TEXT,
  response_note TEXT
);
CREATE INDEX underretninger_recipient ON underretninger(recipient_id);
CREATE INDEX underretninger_notification ON underretninger(notification_id);
CREATE INDEX underretninger_due ON underretninger(receipt_due_at);
CREATE TABLE underretning_districts (
  underretning_id TEXT NOT NULL,
  district_id TEXT NOT NULL,
  PRIMARY KEY (underretning_id, district_id)
);
CREATE INDEX underretning_districts_district ON underretning_districts(district_id);
-- Which incidents each child has been notified about, and by which underretning.
CREATE TABLE notified (
  child_cpr TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  underretning_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (child_cpr, incident_id)
);
CREATE INDEX notified_child ON notified(child_cpr, seq);
)sql";

// The weekly scan's state (table `state`): the ingest number covered, and the
// scheduled instant (Unix ms since migration 3) the last weekly scan stood for.
constexpr const char* WATERMARK = "watermark_seq";
constexpr const char* WEEKLY_SLOT = "weekly_slot";

// Every instant of socialsog's own tables becomes INTEGER Unix milliseconds
// (docs/decisions.md 16): occurrence and receipt deadline were Unix seconds,
// the rest RFC 3339 text; the weekly slot in `state` was Unix seconds. An
// index on a converted column is dropped before and created again after.
// Shipped: never change this text.
std::string instants_to_unix_ms() {
  using sqlite::to_unix_ms;
  std::string m =
      "DROP INDEX incidents_time;\n" + to_unix_ms("incidents", "occurred_at", "seconds") +
      "CREATE INDEX incidents_time ON incidents(occurred_at);\n" +
      to_unix_ms("incidents", "received_at", "rfc3339") +
      to_unix_ms("scans", "started_at", "rfc3339") +
      to_unix_ms("underretninger", "created_at", "rfc3339") + "DROP INDEX underretninger_due;\n" +
      to_unix_ms("underretninger", "receipt_due_at", "seconds") +
      "CREATE INDEX underretninger_due ON underretninger(receipt_due_at);\n";
  for (const char* column : {"delivered_at", "receipt_at", "missed_at", "response_at"})
    m += to_unix_ms("underretninger", column, "rfc3339");
  return m + "UPDATE state SET value = value * 1000 WHERE key = 'weekly_slot';\n";
}

// Migration 4: who recorded a receipt, a coordinator's forwarding to a
// municipality without a henvis account, and every response kept (the
// current one as before, in underretninger, plus the history beside it;
// the responses already recorded start the history).
constexpr const char* HISTORY_AND_FORWARDING = R"sql(
ALTER TABLE underretninger ADD COLUMN receipt_by TEXT;
ALTER TABLE underretninger ADD COLUMN forwarded_at INTEGER;
ALTER TABLE underretninger ADD COLUMN forwarding_channel TEXT;
ALTER TABLE underretninger ADD COLUMN forwarding_note TEXT;
ALTER TABLE underretninger ADD COLUMN forwarded_by TEXT;
ALTER TABLE underretninger ADD COLUMN forwarding_recorded_at INTEGER;
CREATE TABLE underretning_responses (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  underretning_id TEXT NOT NULL,
  response INTEGER NOT NULL,
  note TEXT,
  at INTEGER NOT NULL,
  recorded_by TEXT NOT NULL
);
CREATE INDEX underretning_responses_underretning ON underretning_responses(underretning_id, id);
INSERT INTO underretning_responses(underretning_id, response, note, at, recorded_by)
  SELECT underretning_id, response, response_note, response_at, '' FROM underretninger
  WHERE response != 0 AND response_at IS NOT NULL ORDER BY response_at;
CREATE INDEX scans_started ON scans(started_at);
)sql";

// Migration 5: the person who recorded a receipt, a response or a forwarding
// through henvis-web (docs/decisions.md "Delegated principals (henvis-web)"),
// beside the principal's label.
constexpr const char* PERSONS = R"sql(
ALTER TABLE underretninger ADD COLUMN receipt_person TEXT;
ALTER TABLE underretninger ADD COLUMN forwarded_person TEXT;
ALTER TABLE underretning_responses ADD COLUMN recorded_by_person TEXT;
)sql";

// Retention (docs/security.md "Retention"): when an underretning's persons
// were erased.
constexpr const char* PERSONS_ERASED = R"sql(
ALTER TABLE underretninger ADD COLUMN persons_erased_at INTEGER;
)sql";

// Migration 8: each underretning's key (docs/decisions.md 22). Its children
// and adults travel on henvis.notifications.v1 sealed under it; the key never
// leaves socialsog but to the notifier, and retention deletes it with the
// persons, so every copy in Kafka becomes unreadable.
constexpr const char* UNDERRETNING_KEYS = R"sql(
CREATE TABLE underretning_keys (
  underretning_id TEXT PRIMARY KEY,
  key BLOB NOT NULL
);
)sql";

// Migration 9: fewer b-trees to update per stored incident (docs/performance.md
// "Socialsøg"). A person's incidents and an adult's children were each a table
// with two or three indexes (on the person, and on the incident for deletes);
// now each is one table clustered on the person (WITHOUT ROWID), and the
// adult-child table keeps one index, on the child. A person's rows carry the
// incident's seq, so the scan reads each incident by its rowid. Deleting an
// incident's rows goes through its persons' keys (its payload names them). A
// person listed twice in one incident in the same role is one row (the scan
// reads them as a set). Shipped: never change this text.
constexpr const char* PERSON_KEYS = R"sql(
CREATE TABLE incident_persons_by_cpr (
  cpr TEXT NOT NULL,
  seq INTEGER NOT NULL,
  role INTEGER NOT NULL,
  incident_id TEXT NOT NULL,
  PRIMARY KEY (cpr, seq, role)
) WITHOUT ROWID;
INSERT OR IGNORE INTO incident_persons_by_cpr(cpr, seq, role, incident_id)
  SELECT p.cpr, i.seq, p.role, p.incident_id
  FROM incident_persons p JOIN incidents i ON i.incident_id = p.incident_id;
DROP TABLE incident_persons;
ALTER TABLE incident_persons_by_cpr RENAME TO incident_persons;
CREATE TABLE adult_children_by_adult (
  adult_cpr TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  child_cpr TEXT NOT NULL,
  PRIMARY KEY (adult_cpr, incident_id, child_cpr)
) WITHOUT ROWID;
INSERT OR IGNORE INTO adult_children_by_adult(adult_cpr, incident_id, child_cpr)
  SELECT adult_cpr, incident_id, child_cpr FROM adult_children;
DROP TABLE adult_children;
ALTER TABLE adult_children_by_adult RENAME TO adult_children;
CREATE INDEX adult_children_child ON adult_children(child_cpr);
)sql";

}  // namespace

std::vector<std::string> migrations() {
  return {std::string(outbox::MIGRATION) + ConsumerLoop::MIGRATION + access_log::MIGRATION + SCHEMA,
          // The kit's tables store instants as Unix milliseconds (docs/decisions.md 16).
          outbox::migration_unix_ms() + ConsumerLoop::migration_unix_ms() +
              access_log::migration_unix_ms(),
          instants_to_unix_ms(), HISTORY_AND_FORWARDING,
          std::string(access_log::MIGRATION_PERSON) + PERSONS, PERSONS_ERASED,
          // The access log hash-chained and append-only (docs/decisions.md 23).
          access_log::migration_chain(), UNDERRETNING_KEYS, PERSON_KEYS};
}

namespace store {

namespace {
// The incident window.
constexpr std::string_view FIND_INCIDENT =
    "SELECT payload, seq FROM incidents WHERE incident_id = ?";
constexpr std::string_view INSERT_INCIDENT =
    "INSERT INTO incidents(incident_id, district_id, occurred_at, sent_at_scene, payload, "
    "received_at) VALUES (?,?,?,?,?,?)";
constexpr std::string_view INSERT_PERSON =
    "INSERT OR IGNORE INTO incident_persons(incident_id, cpr, role, seq) VALUES (?,?,?,?)";
constexpr std::string_view INSERT_ADULT_CHILD =
    "INSERT OR IGNORE INTO adult_children(incident_id, adult_cpr, child_cpr) VALUES (?,?,?)";
constexpr std::string_view DELETE_INCIDENT = "DELETE FROM incidents WHERE incident_id = ?";
// An incident's rows, by its persons' keys (migration 9).
constexpr std::string_view DELETE_PERSON =
    "DELETE FROM incident_persons WHERE cpr = ? AND incident_id = ?";
constexpr std::string_view DELETE_ADULT_CHILDREN =
    "DELETE FROM adult_children WHERE adult_cpr = ? AND incident_id = ?";
// Should a stored payload not parse, its rows are found the slow way.
constexpr std::string_view DELETE_PERSONS_SCAN =
    "DELETE FROM incident_persons WHERE incident_id = ?";
constexpr std::string_view DELETE_ADULT_CHILDREN_SCAN =
    "DELETE FROM adult_children WHERE incident_id = ?";
constexpr std::string_view INCIDENTS_BEFORE =
    "SELECT incident_id, payload FROM incidents WHERE occurred_at < ?";
constexpr std::string_view ERASE_INCIDENTS_BEFORE = "DELETE FROM incidents WHERE occurred_at < ?";
constexpr std::string_view UNDERRETNINGER_KEPT_BEFORE =
    "SELECT underretning_id, notice FROM underretninger "
    "WHERE persons_erased_at IS NULL AND created_at < ?";
constexpr std::string_view STRIP_UNDERRETNING =
    "UPDATE underretninger SET notice = ?, response_note = NULL, forwarding_note = NULL, "
    "persons_erased_at = ? WHERE underretning_id = ?";
constexpr std::string_view STRIP_RESPONSES =
    "UPDATE underretning_responses SET note = NULL WHERE underretning_id = ?";
constexpr std::string_view ERASE_NOTIFIED = "DELETE FROM notified WHERE underretning_id = ?";
constexpr std::string_view ERASE_KEY = "DELETE FROM underretning_keys WHERE underretning_id = ?";
constexpr std::string_view ADD_KEY =
    "INSERT OR IGNORE INTO underretning_keys(underretning_id, key) VALUES (?,?)";
constexpr std::string_view FIND_KEY = "SELECT key FROM underretning_keys WHERE underretning_id = ?";
constexpr std::string_view PERSONS_ERASED_OF =
    "SELECT persons_erased_at IS NOT NULL FROM underretninger WHERE underretning_id = ?";
constexpr std::string_view LAST_INCIDENT_SEQ = "SELECT coalesce(max(seq), 0) FROM incidents";
constexpr std::string_view INCIDENTS_RECEIVED =
    "SELECT incident_id FROM incidents WHERE seq > ? AND seq <= ? ORDER BY seq";
// A range on occurred_at, so that incidents_time serves it.
constexpr std::string_view INCIDENTS_OCCURRED =
    "SELECT incident_id FROM incidents WHERE occurred_at >= ? AND occurred_at < ? ORDER BY seq";
constexpr std::string_view CHILDREN_OF =
    "SELECT DISTINCT child_cpr FROM adult_children WHERE adult_cpr = ?";
constexpr std::string_view ADULTS_OF =
    "SELECT DISTINCT adult_cpr FROM adult_children WHERE child_cpr = ?";
// The payload comes with the row the join has found anyway (the scan parses
// it unless it has it already).
constexpr std::string_view LATEST_LISTING =
    "SELECT i.incident_id, i.payload, i.seq FROM adult_children ac JOIN incidents i "
    "ON i.incident_id = ac.incident_id WHERE ac.child_cpr = ? "
    "ORDER BY i.occurred_at DESC, i.seq DESC LIMIT 1";
constexpr std::string_view INVOLVEMENTS =
    "SELECT ip.incident_id, ip.role, i.payload, i.seq FROM incident_persons ip JOIN incidents i "
    "ON i.seq = ip.seq WHERE ip.cpr = ? AND i.occurred_at >= ? AND i.occurred_at < ?";

// Notified children.
constexpr std::string_view NOTIFIED_INCIDENTS =
    "SELECT incident_id FROM notified WHERE child_cpr = ?";
constexpr std::string_view LAST_NOTIFIED =
    "SELECT underretning_id, seq FROM notified WHERE child_cpr = ? ORDER BY seq DESC LIMIT 1";
constexpr std::string_view MARK_NOTIFIED =
    "INSERT OR IGNORE INTO notified(child_cpr, incident_id, underretning_id, seq) "
    "VALUES (?,?,?,?)";

// Scans and the weekly state.
constexpr std::string_view INSERT_SCAN =
    "INSERT INTO scans(scan_id, kind, started_at, view) VALUES (?,?,?,?)";
constexpr std::string_view FIND_SCAN = "SELECT view FROM scans WHERE scan_id = ?";
constexpr std::string_view LAST_UNDERRETNING = "SELECT coalesce(max(rowid), 0) FROM underretninger";
constexpr std::string_view GET_STATE = "SELECT value FROM state WHERE key = ?";
constexpr std::string_view SET_STATE =
    "INSERT INTO state(key, value) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value";

// Underretninger.
constexpr std::string_view INSERT_UNDERRETNING =
    "INSERT INTO underretninger(underretning_id, kommunekode, recipient_id, district_id, "
    "notice, notification_id, created_at, receipt_due_at) VALUES (?,?,?,?,?,?,?,?)";
constexpr std::string_view ADD_DISTRICT =
    "INSERT OR IGNORE INTO underretning_districts(underretning_id, district_id) VALUES (?,?)";
constexpr std::string_view LOAD_UNDERRETNING =
    "SELECT notice, recipient_id, notification_id, delivered_at, receipt_at, missed_at, "
    "response, response_at, response_note, receipt_by, forwarded_at, forwarding_channel, "
    "forwarding_note, forwarded_by, forwarding_recorded_at, receipt_person, forwarded_person "
    "FROM underretninger WHERE underretning_id = ?";
// Creation order; rowid breaks ties within a millisecond.
constexpr std::string_view UNDERRETNINGER_TO =
    "SELECT underretning_id FROM underretninger WHERE recipient_id = ? "
    "ORDER BY created_at, rowid";
constexpr std::string_view UNDERRETNINGER_OF_DISTRICT =
    "SELECT u.underretning_id FROM underretninger u WHERE EXISTS ("
    "SELECT 1 FROM underretning_districts d WHERE d.underretning_id = u.underretning_id "
    "AND d.district_id = ?) ORDER BY u.created_at, u.rowid";
constexpr std::string_view UNDELIVERED =
    "SELECT underretning_id FROM underretninger WHERE notification_id = ? "
    "AND delivered_at IS NULL";
constexpr std::string_view RECEIPTS_DUE =
    "SELECT underretning_id FROM underretninger WHERE receipt_due_at IS NOT NULL "
    "AND receipt_due_at <= ? AND receipt_at IS NULL AND missed_at IS NULL "
    "ORDER BY receipt_due_at, rowid";
constexpr std::string_view SET_DELIVERED =
    "UPDATE underretninger SET delivered_at = ? WHERE underretning_id = ?";
constexpr std::string_view SET_RECEIPT =
    "UPDATE underretninger SET receipt_at = ?, receipt_by = ?, receipt_person = ? "
    "WHERE underretning_id = ?";
constexpr std::string_view SET_MISSED =
    "UPDATE underretninger SET missed_at = ? WHERE underretning_id = ?";
constexpr std::string_view SET_RESPONSE =
    "UPDATE underretninger SET response = ?, response_at = ?, response_note = ? "
    "WHERE underretning_id = ?";
constexpr std::string_view ADD_RESPONSE =
    "INSERT INTO underretning_responses(underretning_id, response, note, at, recorded_by, "
    "recorded_by_person) VALUES (?,?,?,?,?,?)";
constexpr std::string_view RESPONSES =
    "SELECT response, note, at, recorded_by, recorded_by_person FROM underretning_responses "
    "WHERE underretning_id = ? ORDER BY id";
constexpr std::string_view SET_FORWARDING =
    "UPDATE underretninger SET forwarded_at = ?, forwarding_channel = ?, forwarding_note = ?, "
    "forwarded_by = ?, forwarding_recorded_at = ?, forwarded_person = ? WHERE underretning_id = ?";
constexpr std::string_view BY_NOTIFICATION =
    "SELECT underretning_id FROM underretninger WHERE notification_id = ? AND notification_id != "
    "''";
constexpr std::string_view LISTED_FOR_DISTRICT =
    "SELECT 1 FROM underretning_districts WHERE underretning_id = ? AND district_id = ?";
// store.hpp ListKey: group 0 (no receipt) by deadline, those without a clock
// last; group 1 (received) newest first. ?1 'm' or 'c' (whose list), ?2 its
// scope, ?3 the status, ?4 now, ?5..?7 the key to start after, ?8 the limit.
constexpr std::string_view LIST_UNDERRETNINGER = R"sql(
SELECT underretning_id, grp, k FROM (
  SELECT u.underretning_id,
         CASE WHEN u.receipt_at IS NULL THEN 0 ELSE 1 END AS grp,
         CASE WHEN u.receipt_at IS NULL THEN coalesce(u.receipt_due_at, 9000000000000000000)
              ELSE -u.created_at END AS k
  FROM underretninger u
  WHERE ((?1 = 'm' AND u.recipient_id = ?2) OR
         (?1 = 'c' AND EXISTS (SELECT 1 FROM underretning_districts d
                               WHERE d.underretning_id = u.underretning_id AND d.district_id = ?2)))
    AND (?3 = ''
         OR (?3 = 'pending' AND u.receipt_at IS NULL)
         OR (?3 = 'overdue' AND u.receipt_at IS NULL AND u.receipt_due_at <= ?4)
         OR (?3 = 'received' AND u.receipt_at IS NOT NULL AND u.response = 0)
         OR (?3 = 'responded' AND u.response != 0)))
WHERE (grp, k, underretning_id) > (?5, ?6, ?7)
ORDER BY grp, k, underretning_id
LIMIT ?8
)sql";
constexpr std::string_view LIST_SCANS =
    "SELECT -started_at, scan_id, view FROM scans WHERE (-started_at, scan_id) > (?, ?) "
    "ORDER BY -started_at, scan_id LIMIT ?";

// The first column of every row of `sql` with `arg` bound to its one parameter.
std::vector<std::string> texts(sqlite::Db& db, std::string_view sql, const std::string& arg) {
  auto q = db.query(sql);
  q->bind(1, arg);
  std::vector<std::string> out;
  while (q->step()) out.push_back(q->text(0));
  return out;
}

std::optional<std::string> first_text(sqlite::Db& db, std::string_view sql,
                                      const std::string& arg) {
  auto q = db.query(sql);
  q->bind(1, arg);
  if (!q->step()) return std::nullopt;
  return q->text(0);
}

std::optional<std::int64_t> state_get(sqlite::Db& db, const char* key) {
  auto q = db.query(GET_STATE);
  q->bind(1, key);
  if (!q->step()) return std::nullopt;
  return q->i64(0);
}

void state_set(sqlite::Db& db, const char* key, std::int64_t value) {
  auto q = db.query(SET_STATE);
  q->bind(1, key).bind(2, value).run();
}

// An UPDATE of one instant column of one underretning.
void set_instant(sqlite::Db& db, std::string_view sql, const std::string& id, Instant at) {
  auto q = db.query(sql);
  q->bind(1, at).bind(2, id).run();
}
}  // namespace

// ---------------------------------------------------------------------------
// The incident window

std::optional<StoredPayload> find_incident(sqlite::Db& db, const std::string& incident_id) {
  auto q = db.query(FIND_INCIDENT);
  q->bind(1, incident_id);
  if (!q->step()) return std::nullopt;
  return StoredPayload{q->blob(0), q->i64(1)};
}

std::int64_t insert_incident(sqlite::Db& db, const IncidentRow& row) {
  auto q = db.query(INSERT_INCIDENT);
  q->bind(1, row.incident_id).bind(2, row.district_id).bind(3, row.occurred_at);
  q->bind(4, row.sent_at_scene ? 1 : 0).bind_blob(5, row.payload).bind(6, row.received_at);
  q->run();
  return sqlite3_last_insert_rowid(db.raw());
}

void insert_person(sqlite::Db& db, const IncidentRow& incident, std::int64_t seq,
                   const std::string& cpr, v1::PersonRole role) {
  auto q = db.query(INSERT_PERSON);
  q->bind(1, incident.incident_id).bind(2, cpr).bind(3, static_cast<int>(role));
  q->bind(4, seq).run();
}

void insert_adult_child(sqlite::Db& db, const std::string& incident_id,
                        const std::string& adult_cpr, const std::string& child_cpr) {
  auto q = db.query(INSERT_ADULT_CHILD);
  q->bind(1, incident_id).bind(2, adult_cpr).bind(3, child_cpr).run();
}

namespace {
// Deletes the persons and children rows of the stored incident `incident_id`
// whose payload is `payload`.
void delete_rows(sqlite::Db& db, const std::string& incident_id, const std::string& payload) {
  v1::Incident in;
  if (!in.ParseFromString(payload)) {
    for (std::string_view sql : {DELETE_PERSONS_SCAN, DELETE_ADULT_CHILDREN_SCAN}) {
      auto q = db.query(sql);
      q->bind(1, incident_id).run();
    }
    return;
  }
  for (const auto& p : in.involved()) {
    for (std::string_view sql : {DELETE_PERSON, DELETE_ADULT_CHILDREN}) {
      auto q = db.query(sql);
      q->bind(1, p.cpr()).bind(2, incident_id).run();
    }
  }
}
}  // namespace

void delete_incident(sqlite::Db& db, const std::string& incident_id) {
  if (const auto stored = find_incident(db, incident_id))
    delete_rows(db, incident_id, stored->payload);
  auto q = db.query(DELETE_INCIDENT);
  q->bind(1, incident_id).run();
}

int erase_incidents_before(sqlite::Db& db, Instant horizon) {
  // Persons and children first: their keys are in the incidents' payloads.
  {
    auto q = db.query(INCIDENTS_BEFORE);
    q->bind(1, horizon);
    while (q->step()) delete_rows(db, q->text(0), q->blob(1));
  }
  auto q = db.query(ERASE_INCIDENTS_BEFORE);
  q->bind(1, horizon).run();
  return static_cast<int>(db.changes());
}

int erase_underretning_persons(sqlite::Db& db, Instant horizon, Instant now) {
  std::vector<std::pair<std::string, v1::UnderretningNotice>> due;
  {
    auto q = db.query(UNDERRETNINGER_KEPT_BEFORE);
    q->bind(1, horizon);
    while (q->step()) {
      v1::UnderretningNotice n;
      n.ParseFromString(q->blob(1));
      due.emplace_back(q->text(0), std::move(n));
    }
  }
  for (auto& [id, notice] : due) {
    notice.clear_children();
    notice.clear_adults();
    for (auto& i : *notice.mutable_incidents()) i.clear_adults();
    auto strip = db.query(STRIP_UNDERRETNING);
    strip->bind_blob(1, notice.SerializeAsString()).bind(2, now).bind(3, id).run();
    db.query(STRIP_RESPONSES)->bind(1, id).run();
    db.query(ERASE_NOTIFIED)->bind(1, id).run();
    db.query(ERASE_KEY)->bind(1, id).run();
  }
  return static_cast<int>(due.size());
}

std::string underretning_key(sqlite::Db& db, const std::string& underretning_id) {
  if (auto key = find_underretning_key(db, underretning_id)) return *key;
  std::string key = data_keys::new_key();
  auto q = db.query(ADD_KEY);
  q->bind(1, underretning_id).bind_blob(2, key).run();
  return key;
}

std::optional<std::string> find_underretning_key(sqlite::Db& db,
                                                 const std::string& underretning_id) {
  auto q = db.query(FIND_KEY);
  q->bind(1, underretning_id);
  if (!q->step()) return std::nullopt;
  return q->blob(0);
}

bool persons_erased(sqlite::Db& db, const std::string& underretning_id) {
  auto q = db.query(PERSONS_ERASED_OF);
  q->bind(1, underretning_id);
  return q->step() && q->i64(0) != 0;
}

std::int64_t last_incident_seq(sqlite::Db& db) {
  auto q = db.query(LAST_INCIDENT_SEQ);
  q->step();
  return q->i64(0);
}

std::vector<std::string> incidents_received(sqlite::Db& db, std::int64_t after_seq,
                                            std::int64_t up_to_seq) {
  auto q = db.query(INCIDENTS_RECEIVED);
  q->bind(1, after_seq).bind(2, up_to_seq);
  std::vector<std::string> out;
  while (q->step()) out.push_back(q->text(0));
  return out;
}

std::vector<std::string> incidents_occurred(sqlite::Db& db, Instant from, Instant to) {
  auto q = db.query(INCIDENTS_OCCURRED);
  q->bind(1, from).bind(2, to);
  std::vector<std::string> out;
  while (q->step()) out.push_back(q->text(0));
  return out;
}

std::vector<std::string> children_of(sqlite::Db& db, const std::string& adult_cpr) {
  return texts(db, CHILDREN_OF, adult_cpr);
}

std::vector<std::string> adults_of(sqlite::Db& db, const std::string& child_cpr) {
  return texts(db, ADULTS_OF, child_cpr);
}

std::optional<Listing> latest_incident_listing(sqlite::Db& db, const std::string& child_cpr) {
  auto q = db.query(LATEST_LISTING);
  q->bind(1, child_cpr);
  if (!q->step()) return std::nullopt;
  return Listing{q->text(0), {q->blob(1), q->i64(2)}};
}

std::vector<Involved> involvements(sqlite::Db& db, const std::string& cpr, Instant from,
                                   Instant before) {
  auto q = db.query(INVOLVEMENTS);
  q->bind(1, cpr).bind(2, from).bind(3, before);
  std::vector<Involved> out;
  while (q->step())
    out.push_back({q->text(0), static_cast<v1::PersonRole>(q->i64(1)), {q->blob(2), q->i64(3)}});
  return out;
}

// ---------------------------------------------------------------------------
// Notified children

std::vector<std::string> notified_incidents(sqlite::Db& db, const std::string& child_cpr) {
  return texts(db, NOTIFIED_INCIDENTS, child_cpr);
}

std::optional<Notified> last_notified(sqlite::Db& db, const std::string& child_cpr) {
  auto q = db.query(LAST_NOTIFIED);
  q->bind(1, child_cpr);
  if (!q->step()) return std::nullopt;
  return Notified{q->text(0), q->i64(1)};
}

void mark_notified(sqlite::Db& db, const std::string& child_cpr, const std::string& incident_id,
                   const Notified& by) {
  auto q = db.query(MARK_NOTIFIED);
  q->bind(1, child_cpr).bind(2, incident_id).bind(3, by.underretning_id).bind(4, by.seq).run();
}

// ---------------------------------------------------------------------------
// Scans and the weekly schedule

void insert_scan(sqlite::Db& db, const ScanRow& row) {
  auto q = db.query(INSERT_SCAN);
  q->bind(1, row.scan_id).bind(2, row.kind).bind(3, row.started_at);
  q->bind_blob(4, row.view.SerializeAsString()).run();
}

std::optional<v1::ScanView> find_scan(sqlite::Db& db, const std::string& scan_id) {
  auto q = db.query(FIND_SCAN);
  q->bind(1, scan_id);
  if (!q->step()) return std::nullopt;
  v1::ScanView v;
  v.ParseFromString(q->blob(0));
  return v;
}

std::int64_t watermark(sqlite::Db& db) { return state_get(db, WATERMARK).value_or(0); }

void set_watermark(sqlite::Db& db, std::int64_t seq) { state_set(db, WATERMARK, seq); }

ScanState scan_state(sqlite::Db& db) {
  auto q = db.query(LAST_UNDERRETNING);
  q->step();
  return {watermark(db), q->i64(0)};
}

std::optional<Instant> weekly_slot(sqlite::Db& db) {
  if (auto ms = state_get(db, WEEKLY_SLOT)) return sqlite::from_unix_ms(*ms);
  return std::nullopt;
}

void set_weekly_slot(sqlite::Db& db, Instant slot) {
  state_set(db, WEEKLY_SLOT, sqlite::unix_ms(slot));
}

// ---------------------------------------------------------------------------
// Underretninger

std::int64_t insert_underretning(sqlite::Db& db, const UnderretningRow& row) {
  const auto& n = row.notice;
  auto q = db.query(INSERT_UNDERRETNING);
  q->bind(1, n.underretning_id()).bind(2, n.kommunekode()).bind(3, row.recipient_id);
  q->bind(4, n.district_id()).bind_blob(5, n.SerializeAsString()).bind(6, row.notification_id);
  q->bind(7, row.created_at).bind(8, row.receipt_due_at).run();
  return sqlite3_last_insert_rowid(db.raw());
}

void add_district(sqlite::Db& db, const std::string& underretning_id,
                  const std::string& district_id) {
  auto q = db.query(ADD_DISTRICT);
  q->bind(1, underretning_id).bind(2, district_id).run();
}

std::vector<std::string> underretninger_to(sqlite::Db& db, const std::string& recipient_id) {
  return texts(db, UNDERRETNINGER_TO, recipient_id);
}

std::vector<std::string> underretninger_of_district(sqlite::Db& db,
                                                    const std::string& district_id) {
  return texts(db, UNDERRETNINGER_OF_DISTRICT, district_id);
}

std::optional<std::string> undelivered(sqlite::Db& db, const std::string& notification_id) {
  return first_text(db, UNDELIVERED, notification_id);
}

std::vector<std::string> receipts_due(sqlite::Db& db, Instant now) {
  auto q = db.query(RECEIPTS_DUE);
  q->bind(1, now);
  std::vector<std::string> out;
  while (q->step()) out.push_back(q->text(0));
  return out;
}

void set_delivered(sqlite::Db& db, const std::string& underretning_id, Instant at) {
  set_instant(db, SET_DELIVERED, underretning_id, at);
}

void set_receipt(sqlite::Db& db, const std::string& underretning_id, Instant at,
                 const std::string& by, const std::string& person) {
  auto q = db.query(SET_RECEIPT);
  q->bind(1, at).bind(2, by).bind(3, person).bind(4, underretning_id).run();
}

void set_missed(sqlite::Db& db, const std::string& underretning_id, Instant at) {
  set_instant(db, SET_MISSED, underretning_id, at);
}

void set_response(sqlite::Db& db, const std::string& underretning_id,
                  v1::UnderretningResponse response, Instant at, const std::string& note) {
  auto q = db.query(SET_RESPONSE);
  q->bind(1, static_cast<int>(response)).bind(2, at);
  if (note.empty())
    q->bind_null(3);
  else
    q->bind(3, note);
  q->bind(4, underretning_id).run();
}

void add_response(sqlite::Db& db, const std::string& underretning_id,
                  const v1::UnderretningResponseEntry& entry) {
  const Instant at = to_time_point(entry.at());
  set_response(db, underretning_id, entry.response(), at, entry.note());
  auto q = db.query(ADD_RESPONSE);
  q->bind(1, underretning_id).bind(2, static_cast<int>(entry.response()));
  if (entry.note().empty())
    q->bind_null(3);
  else
    q->bind(3, entry.note());
  q->bind(4, at).bind(5, entry.recorded_by()).bind(6, entry.recorded_by_person()).run();
}

std::vector<v1::UnderretningResponseEntry> responses(sqlite::Db& db,
                                                     const std::string& underretning_id) {
  auto q = db.query(RESPONSES);
  q->bind(1, underretning_id);
  std::vector<v1::UnderretningResponseEntry> out;
  while (q->step()) {
    v1::UnderretningResponseEntry e;
    e.set_response(static_cast<v1::UnderretningResponse>(q->i64(0)));
    if (!q->is_null(1)) e.set_note(q->text(1));
    *e.mutable_at() = to_timestamp(q->instant(2));
    e.set_recorded_by(q->text(3));
    if (!q->is_null(4)) e.set_recorded_by_person(q->text(4));
    out.push_back(std::move(e));
  }
  return out;
}

void set_forwarding(sqlite::Db& db, const std::string& underretning_id,
                    const v1::UnderretningForwarding& f) {
  auto q = db.query(SET_FORWARDING);
  q->bind(1, to_time_point(f.forwarded_at())).bind(2, f.channel());
  if (f.note().empty())
    q->bind_null(3);
  else
    q->bind(3, f.note());
  q->bind(4, f.recorded_by()).bind(5, to_time_point(f.recorded_at()));
  q->bind(6, f.recorded_by_person()).bind(7, underretning_id);
  q->run();
}

std::optional<std::string> by_notification(sqlite::Db& db, const std::string& notification_id) {
  return first_text(db, BY_NOTIFICATION, notification_id);
}

bool listed_for_district(sqlite::Db& db, const std::string& underretning_id,
                         const std::string& district_id) {
  auto q = db.query(LISTED_FOR_DISTRICT);
  q->bind(1, underretning_id).bind(2, district_id);
  return q->step();
}

std::vector<ListKey> list_underretninger(sqlite::Db& db, const ListFilter& f,
                                         const std::optional<ListKey>& after, std::size_t limit) {
  // An empty scope sees nothing (defence in depth; auth::check_scopes).
  if (f.scope.empty()) return {};
  auto q = db.query(LIST_UNDERRETNINGER);
  q->bind(1, f.municipality ? "m" : "c").bind(2, f.scope).bind(3, f.status).bind(4, f.now);
  const ListKey start = after.value_or(ListKey{});
  q->bind(5, start.group).bind(6, start.key).bind(7, start.underretning_id);
  q->bind(8, static_cast<std::int64_t>(limit));
  std::vector<ListKey> out;
  while (q->step()) out.push_back({q->i64(1), q->i64(2), q->text(0)});
  return out;
}

std::vector<std::pair<ScanKey, v1::ScanView>> list_scans(sqlite::Db& db,
                                                         const std::optional<ScanKey>& after,
                                                         std::size_t limit) {
  auto q = db.query(LIST_SCANS);
  const ScanKey start = after.value_or(ScanKey{std::numeric_limits<std::int64_t>::min(), ""});
  q->bind(1, start.key).bind(2, start.scan_id).bind(3, static_cast<std::int64_t>(limit));
  std::vector<std::pair<ScanKey, v1::ScanView>> out;
  while (q->step()) {
    v1::ScanView v;
    v.ParseFromString(q->blob(2));
    out.emplace_back(ScanKey{q->i64(0), q->text(1)}, std::move(v));
  }
  return out;
}

}  // namespace store

std::optional<v1::UnderretningView> load_underretning(sqlite::Db& db, const std::string& id) {
  auto q = db.query(store::LOAD_UNDERRETNING);
  q->bind(1, id);
  if (!q->step()) return std::nullopt;
  v1::UnderretningView v;
  v.mutable_notice()->ParseFromString(q->blob(0));
  v.set_recipient_id(q->text(1));
  v.set_notification_id(q->text(2));
  if (auto t = q->maybe_instant(3)) *v.mutable_delivered_at() = to_timestamp(*t);
  if (auto t = q->maybe_instant(4)) *v.mutable_receipt_at() = to_timestamp(*t);
  v.set_receipt_missed(!q->is_null(5));
  v.set_response(static_cast<v1::UnderretningResponse>(q->i64(6)));
  if (auto t = q->maybe_instant(7)) *v.mutable_response_at() = to_timestamp(*t);
  if (!q->is_null(8)) v.set_response_note(q->text(8));
  if (!q->is_null(9)) v.set_receipt_recorded_by(q->text(9));
  if (!q->is_null(15)) v.set_receipt_recorded_by_person(q->text(15));
  if (auto t = q->maybe_instant(10)) {
    auto* f = v.mutable_forwarding();
    *f->mutable_forwarded_at() = to_timestamp(*t);
    f->set_channel(q->text(11));
    if (!q->is_null(12)) f->set_note(q->text(12));
    f->set_recorded_by(q->text(13));
    if (auto r = q->maybe_instant(14)) *f->mutable_recorded_at() = to_timestamp(*r);
    if (!q->is_null(16)) f->set_recorded_by_person(q->text(16));
  }
  q->reset();
  for (auto& e : store::responses(db, id)) *v.add_responses() = std::move(e);
  return v;
}

}  // namespace henvis::socialsog
