// The evaluation's store: schema, migrations and every statement (store.hpp).
#include "store.hpp"

#include <string_view>

#include "henvis/consumer_loop.hpp"
#include "henvis/outbox.hpp"

namespace henvis::evaluation {

std::vector<std::string> migrations() {
  return {std::string(outbox::MIGRATION) + ConsumerLoop::MIGRATION + R"sql(
-- One row per offer: the facts the statistics need, and nothing that
-- identifies the person (no CPR, name, phone, e-mail, journal number,
-- officer, consent; the charge time only as its local date).
CREATE TABLE facts (
  key TEXT PRIMARY KEY,                 -- referral_id; offer_id for a declined offer
  offer_id TEXT NOT NULL DEFAULT '',
  referral_id TEXT NOT NULL DEFAULT '',
  offered INTEGER NOT NULL DEFAULT 0,   -- 1 once the OfferRecorded is applied
  answer INTEGER NOT NULL DEFAULT 0,    -- henvis.v1.Answer
  kommunekode INTEGER NOT NULL DEFAULT 0,
  district_id TEXT NOT NULL DEFAULT '',
  offence INTEGER NOT NULL DEFAULT 0,   -- henvis.v1.Offence
  charged_day TEXT NOT NULL DEFAULT '', -- YYYY-MM-DD, Europe/Copenhagen
  covered INTEGER NOT NULL DEFAULT 0,
  centre_id TEXT NOT NULL DEFAULT '',   -- the rusmiddelcenter routed to
  status_mask INTEGER NOT NULL DEFAULT 0, -- bit (1 << ReferralStatus) per status seen
  first_contact_day TEXT                -- earliest contact-type outcome, local date
);
CREATE INDEX facts_offer ON facts(offer_id);
CREATE INDEX facts_charged ON facts(offered, charged_day);
-- Contact lists that reached a recipient (delivered, read or acknowledged).
CREATE TABLE deliveries (
  referral_id TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  PRIMARY KEY (referral_id, recipient_id)
) WITHOUT ROWID;
)sql",
          R"sql(
-- One row per Socialsøg underretning (henvis.underretninger.v1): no CPR
-- numbers, names or incident details, only what the statistics count.
CREATE TABLE underretninger (
  underretning_id TEXT PRIMARY KEY,
  created_day TEXT NOT NULL,            -- YYYY-MM-DD, Europe/Copenhagen
  kommunekode INTEGER NOT NULL,         -- the children's home municipality; 0 = unknown
  district_id TEXT NOT NULL,            -- the sending district
  children INTEGER NOT NULL,
  cross_district INTEGER NOT NULL,
  cross_municipality INTEGER NOT NULL,
  receipt_due_at INTEGER,               -- unix seconds; NULL = no clock (sent to a coordinator)
  receipt_at INTEGER,                   -- the earliest receipt, unix seconds
  missed INTEGER NOT NULL DEFAULT 0,    -- a receipt_missed event was seen
  response INTEGER NOT NULL DEFAULT 0,  -- henvis.v1.UnderretningResponse, of the latest event
  state_at INTEGER NOT NULL             -- `at` of the latest event (unix seconds)
) WITHOUT ROWID;
CREATE INDEX underretninger_created ON underretninger(created_day);
)sql",
          // The kit's tables store instants as Unix milliseconds (docs/decisions.md 16).
          outbox::migration_unix_ms() + ConsumerLoop::migration_unix_ms(),
          // The underretning clock as Unix milliseconds, like every stored
          // instant (docs/decisions.md 16); it was Unix seconds (as the
          // comments of the shipped CREATE TABLE above still say). No index
          // covers these columns, so none is dropped and recreated.
          sqlite::to_unix_ms("underretninger", "receipt_due_at", "seconds") +
              sqlite::to_unix_ms("underretninger", "receipt_at", "seconds") +
              sqlite::to_unix_ms("underretninger", "state_at", "seconds"),
          // The day of the earliest incident listed (dateBasis=incident); NULL
          // for underretninger whose events did not carry it.
          R"sql(
ALTER TABLE underretninger ADD COLUMN incident_day TEXT;
CREATE INDEX underretninger_incident ON underretninger(incident_day);
)sql",
          // The cell key (cell_key.hpp) where no cell_key_file is configured.
          "CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);\n",
          // The statistics' cells (aggregates.hpp, docs/decisions.md 26): the
          // requests read these, not the facts. Built from the facts by the
          // service at its start (their cell keys need the secret cell key,
          // which SQL does not have), then kept by the consumer in the
          // transaction that applies the facts.
          R"sql(
-- Per grain (the dimensions a cell keeps: 1 municipality, 2 district,
-- 4 offence), charge month and those dimensions' values: the funnel's counts
-- and cell keys (store.hpp CellRow) and the days to first contact.
CREATE TABLE referral_cells (
  grain INTEGER NOT NULL,
  month TEXT NOT NULL,                  -- YYYY-MM of the charge date
  kommunekode INTEGER NOT NULL,
  district_id TEXT NOT NULL,
  offence INTEGER NOT NULL,
  records INTEGER NOT NULL,             -- persons offered
  columns BLOB NOT NULL,                -- per funnel column: count, cell key
  contact_days BLOB NOT NULL,           -- (days to first contact, persons) pairs
  PRIMARY KEY (grain, month, kommunekode, district_id, offence)
) WITHOUT ROWID;
-- Per date basis (notice, incident), grain (1 municipality, 2 district,
-- 4 ISO week), month and those dimensions' values: the underretning table's
-- counts and cell keys.
CREATE TABLE underretning_cells (
  basis TEXT NOT NULL,
  grain INTEGER NOT NULL,
  month TEXT NOT NULL,
  week TEXT NOT NULL,
  kommunekode INTEGER NOT NULL,
  district_id TEXT NOT NULL,
  records INTEGER NOT NULL,             -- underretninger
  columns BLOB NOT NULL,
  PRIMARY KEY (basis, grain, month, week, kommunekode, district_id)
) WITHOUT ROWID;
-- What the cells were built under (a digest of the cell key and the cells'
-- layout); NULL: not built yet.
CREATE TABLE cells_built (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  fingerprint INTEGER
);
INSERT INTO cells_built(id, fingerprint) VALUES (1, NULL);
)sql"};
}

namespace store {

namespace {

// ---------------------------------------------------------------- statements

// Every column is merged, so that the order of the events does not matter.
constexpr std::string_view MERGE_REFERRAL = R"sql(
INSERT INTO facts(key, offer_id, referral_id, centre_id, status_mask, first_contact_day)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT(key) DO UPDATE SET
  offer_id = CASE WHEN facts.offer_id = '' THEN excluded.offer_id ELSE facts.offer_id END,
  referral_id = CASE WHEN facts.referral_id = '' THEN excluded.referral_id
                     ELSE facts.referral_id END,
  centre_id = CASE WHEN facts.centre_id = '' THEN excluded.centre_id ELSE facts.centre_id END,
  status_mask = facts.status_mask | excluded.status_mask,
  first_contact_day = CASE
    WHEN facts.first_contact_day IS NULL THEN excluded.first_contact_day
    WHEN excluded.first_contact_day IS NULL THEN facts.first_contact_day
    ELSE min(facts.first_contact_day, excluded.first_contact_day) END
)sql";

constexpr std::string_view UPSERT_OFFER = R"sql(
INSERT INTO facts(key, offer_id, referral_id, offered, answer, kommunekode, district_id,
                  offence, charged_day, covered)
VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT(key) DO UPDATE SET
  offer_id = excluded.offer_id, referral_id = excluded.referral_id, offered = 1,
  answer = excluded.answer, kommunekode = excluded.kommunekode,
  district_id = excluded.district_id, offence = excluded.offence,
  charged_day = excluded.charged_day, covered = excluded.covered
)sql";

constexpr std::string_view WAITING_WITHDRAWAL_MASK =
    "SELECT status_mask FROM facts WHERE key = ? AND offered = 0";
constexpr std::string_view DELETE_FACT = "DELETE FROM facts WHERE key = ?";
constexpr std::string_view ADD_STATUS_BY_OFFER =
    "UPDATE facts SET status_mask = status_mask | ? WHERE offer_id = ?";
constexpr std::string_view ADD_DELIVERY =
    "INSERT OR IGNORE INTO deliveries(referral_id, recipient_id) VALUES (?, ?)";

// Static facts from the first event; the earliest receipt; "missed" once
// seen; the response of the latest event by its `at`.
constexpr std::string_view MERGE_UNDERRETNING = R"sql(
INSERT INTO underretninger(underretning_id, created_day, kommunekode, district_id, children,
                           cross_district, cross_municipality, receipt_due_at, receipt_at,
                           missed, response, state_at, incident_day)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT(underretning_id) DO UPDATE SET
  incident_day = coalesce(underretninger.incident_day, excluded.incident_day),
  receipt_due_at = coalesce(underretninger.receipt_due_at, excluded.receipt_due_at),
  receipt_at = CASE
    WHEN underretninger.receipt_at IS NULL THEN excluded.receipt_at
    WHEN excluded.receipt_at IS NULL THEN underretninger.receipt_at
    ELSE min(underretninger.receipt_at, excluded.receipt_at) END,
  missed = max(underretninger.missed, excluded.missed),
  response = CASE WHEN excluded.state_at >= underretninger.state_at
                  THEN excluded.response ELSE underretninger.response END,
  state_at = max(underretninger.state_at, excluded.state_at)
)sql";

// One select list per table, so that every read of a fact (or an
// underretning) yields the same columns in the same order: the row readers
// below take them by position.
const std::string FACT_COLUMNS = R"sql(
SELECT f.answer, f.status_mask,
       EXISTS (SELECT 1 FROM deliveries d
               WHERE d.referral_id = f.referral_id AND d.recipient_id = f.centre_id),
       f.kommunekode, f.district_id, f.offence, f.charged_day, f.first_contact_day,
       f.key
FROM facts f
)sql";
const std::string FACTS_CHARGED = FACT_COLUMNS + R"sql(
WHERE f.offered = 1 AND f.charged_day >= ? AND f.charged_day < ?
ORDER BY f.charged_day, f.key
)sql";
const std::string FACT_BY_KEY = FACT_COLUMNS + "WHERE f.key = ? AND f.offered = 1\n";
const std::string ALL_FACTS = FACT_COLUMNS + "WHERE f.offered = 1\nORDER BY f.charged_day\n";
constexpr std::string_view FACT_KEYS_BY_OFFER = "SELECT key FROM facts WHERE offer_id = ?";

const std::string UNDERRETNING_COLUMNS = R"sql(
SELECT underretning_id, created_day, kommunekode, district_id, children, cross_district,
       cross_municipality, receipt_due_at, receipt_at, missed, response, state_at, incident_day
FROM underretninger
)sql";
const std::string UNDERRETNINGER_CREATED = UNDERRETNING_COLUMNS + R"sql(
WHERE created_day >= ? AND created_day < ?
ORDER BY created_day, underretning_id
)sql";
const std::string UNDERRETNINGER_BY_INCIDENT = UNDERRETNING_COLUMNS + R"sql(
WHERE incident_day >= ? AND incident_day < ?
ORDER BY incident_day, underretning_id
)sql";
const std::string UNDERRETNING_BY_ID = UNDERRETNING_COLUMNS + "WHERE underretning_id = ?\n";
const std::string ALL_UNDERRETNINGER = UNDERRETNING_COLUMNS + "ORDER BY created_day\n";
const std::string ALL_UNDERRETNINGER_BY_INCIDENT =
    UNDERRETNING_COLUMNS + "WHERE incident_day IS NOT NULL ORDER BY incident_day\n";

constexpr std::string_view REFERRAL_CELL = R"sql(
SELECT records, columns, contact_days FROM referral_cells
WHERE grain = ? AND month = ? AND kommunekode = ? AND district_id = ? AND offence = ?
)sql";
constexpr std::string_view PUT_REFERRAL_CELL = R"sql(
INSERT OR REPLACE INTO referral_cells(grain, month, kommunekode, district_id, offence, records,
                                      columns, contact_days)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
)sql";
constexpr std::string_view DELETE_REFERRAL_CELL = R"sql(
DELETE FROM referral_cells
WHERE grain = ? AND month = ? AND kommunekode = ? AND district_id = ? AND offence = ?
)sql";
constexpr std::string_view REFERRAL_CELLS = R"sql(
SELECT month, kommunekode, district_id, offence, records, columns, contact_days
FROM referral_cells WHERE grain = ? AND month >= ? AND month < ?
)sql";
constexpr std::string_view UNDERRETNING_CELL = R"sql(
SELECT records, columns FROM underretning_cells
WHERE basis = ? AND grain = ? AND month = ? AND week = ? AND kommunekode = ? AND district_id = ?
)sql";
constexpr std::string_view PUT_UNDERRETNING_CELL = R"sql(
INSERT OR REPLACE INTO underretning_cells(basis, grain, month, week, kommunekode, district_id,
                                          records, columns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
)sql";
constexpr std::string_view DELETE_UNDERRETNING_CELL = R"sql(
DELETE FROM underretning_cells
WHERE basis = ? AND grain = ? AND month = ? AND week = ? AND kommunekode = ? AND district_id = ?
)sql";
constexpr std::string_view UNDERRETNING_CELLS = R"sql(
SELECT month, week, kommunekode, district_id, records, columns
FROM underretning_cells WHERE basis = ? AND grain = ? AND month >= ? AND month < ?
)sql";
// A cell of a grain is one row per month; without the month, one row per
// distinct value of the grain's dimensions (those outside it are constant).
constexpr std::string_view REFERRAL_CELL_COUNT = R"sql(
SELECT count(*) FROM referral_cells WHERE grain = ? AND month >= ? AND month < ?
)sql";
constexpr std::string_view REFERRAL_GROUP_COUNT = R"sql(
SELECT count(*) FROM (SELECT DISTINCT kommunekode, district_id, offence
                      FROM referral_cells WHERE grain = ? AND month >= ? AND month < ?)
)sql";
constexpr std::string_view UNDERRETNING_GROUP_COUNT = R"sql(
SELECT count(*) FROM (SELECT DISTINCT week, kommunekode, district_id FROM underretning_cells
                      WHERE basis = ? AND grain = ? AND month >= ? AND month < ?)
)sql";
constexpr std::string_view CELLS_BUILT_FOR = "SELECT fingerprint FROM cells_built WHERE id = 1";
constexpr std::string_view SET_CELLS_BUILT_FOR =
    "UPDATE cells_built SET fingerprint = ? WHERE id = 1";

// -------------------------------------------------------------------------

// An open bound of a day window, as text that sorts before (after) every
// 'YYYY-MM-DD'.
std::string from_bound(const std::string& day) { return day.empty() ? "0000-00-00" : day; }
std::string to_bound(const std::string& day) { return day.empty() ? "9999-99-99" : day; }

sqlite::Stmt& bind_text_or_null(sqlite::Stmt& s, int i, const std::optional<std::string>& v) {
  return v ? s.bind(i, *v) : s.bind_null(i);
}

std::optional<std::string> maybe_text(const sqlite::Stmt& s, int col) {
  return s.is_null(col) ? std::nullopt : std::optional<std::string>(s.text(col));
}

// A month window's open bounds, as text that sorts before (after) every 'YYYY-MM'.
std::string from_month_bound(const std::string& month) { return month.empty() ? "0000-00" : month; }
std::string to_month_bound(const std::string& month) { return month.empty() ? "9999-99" : month; }

FactRow read_fact(const sqlite::Stmt& q) {
  FactRow f;
  f.answer = static_cast<int>(q.i64(0));
  f.status_mask = q.i64(1);
  f.delivered_to_centre = q.i64(2) != 0;
  f.kommunekode = static_cast<int>(q.i64(3));
  f.district_id = q.text(4);
  f.offence = static_cast<int>(q.i64(5));
  f.charged_day = q.text(6);
  f.first_contact_day = maybe_text(q, 7);
  f.key = q.text(8);
  return f;
}

UnderretningRow read_underretning(const sqlite::Stmt& q) {
  UnderretningRow u;
  u.underretning_id = q.text(0);
  u.created_day = q.text(1);
  u.kommunekode = static_cast<int>(q.i64(2));
  u.district_id = q.text(3);
  u.children = static_cast<int>(q.i64(4));
  u.cross_district = q.i64(5) != 0;
  u.cross_municipality = q.i64(6) != 0;
  u.receipt_due_at = q.maybe_instant(7);
  u.receipt_at = q.maybe_instant(8);
  u.missed = q.i64(9) != 0;
  u.response = static_cast<int>(q.i64(10));
  u.state_at = q.instant(11);
  u.incident_day = maybe_text(q, 12);
  return u;
}

}  // namespace

void upsert_offer(sqlite::Db& db, const OfferRow& o) {
  auto q = db.query(UPSERT_OFFER);
  q->bind(1, o.key).bind(2, o.offer_id).bind(3, o.referral_id);
  q->bind(4, o.answer).bind(5, o.kommunekode).bind(6, o.district_id);
  q->bind(7, o.offence).bind(8, o.charged_day).bind(9, o.covered ? 1 : 0);
  q->run();
}

void merge_referral(sqlite::Db& db, const ReferralRow& r) {
  auto q = db.query(MERGE_REFERRAL);
  q->bind(1, r.key).bind(2, r.offer_id).bind(3, r.referral_id).bind(4, r.centre_id);
  q->bind(5, r.status_mask);
  bind_text_or_null(*q, 6, r.first_contact_day).run();
}

std::optional<std::int64_t> take_waiting_withdrawal(sqlite::Db& db, const std::string& offer_id) {
  std::optional<std::int64_t> mask;
  {
    auto q = db.query(WAITING_WITHDRAWAL_MASK);
    q->bind(1, offer_id);
    if (q->step()) mask = q->i64(0);
  }  // reset before the row is deleted
  if (mask) db.query(DELETE_FACT)->bind(1, offer_id).run();
  return mask;
}

bool add_status_by_offer(sqlite::Db& db, const std::string& offer_id, std::int64_t mask) {
  db.query(ADD_STATUS_BY_OFFER)->bind(1, mask).bind(2, offer_id).run();
  return db.changes() != 0;
}

void add_delivery(sqlite::Db& db, const std::string& referral_id, const std::string& recipient_id) {
  db.query(ADD_DELIVERY)->bind(1, referral_id).bind(2, recipient_id).run();
}

void merge_underretning(sqlite::Db& db, const UnderretningRow& u) {
  auto q = db.query(MERGE_UNDERRETNING);
  q->bind(1, u.underretning_id).bind(2, u.created_day).bind(3, u.kommunekode);
  q->bind(4, u.district_id).bind(5, u.children);
  q->bind(6, u.cross_district ? 1 : 0).bind(7, u.cross_municipality ? 1 : 0);
  q->bind(8, u.receipt_due_at).bind(9, u.receipt_at);
  q->bind(10, u.missed ? 1 : 0).bind(11, u.response).bind(12, u.state_at);
  bind_text_or_null(*q, 13, u.incident_day).run();
}

std::vector<FactRow> facts_charged(sqlite::Db& db, const std::string& from_day,
                                   const std::string& to_day) {
  auto q = db.query(FACTS_CHARGED);
  q->bind(1, from_bound(from_day)).bind(2, to_bound(to_day));
  std::vector<FactRow> out;
  while (q->step()) out.push_back(read_fact(*q));
  return out;
}

namespace {
std::vector<UnderretningRow> underretninger_in(sqlite::Db& db, std::string_view sql,
                                               const std::string& from_day,
                                               const std::string& to_day) {
  auto q = db.query(sql);
  q->bind(1, from_bound(from_day)).bind(2, to_bound(to_day));
  std::vector<UnderretningRow> out;
  while (q->step()) out.push_back(read_underretning(*q));
  return out;
}
}  // namespace

std::vector<UnderretningRow> underretninger_created(sqlite::Db& db, const std::string& from_day,
                                                    const std::string& to_day) {
  return underretninger_in(db, UNDERRETNINGER_CREATED, from_day, to_day);
}

std::vector<UnderretningRow> underretninger_by_incident(sqlite::Db& db, const std::string& from_day,
                                                        const std::string& to_day) {
  return underretninger_in(db, UNDERRETNINGER_BY_INCIDENT, from_day, to_day);
}

std::optional<FactRow> fact(sqlite::Db& db, const std::string& key) {
  auto q = db.query(FACT_BY_KEY);
  q->bind(1, key);
  if (!q->step()) return std::nullopt;
  return read_fact(*q);
}

std::vector<std::string> fact_keys_by_offer(sqlite::Db& db, const std::string& offer_id) {
  auto q = db.query(FACT_KEYS_BY_OFFER);
  q->bind(1, offer_id);
  std::vector<std::string> out;
  while (q->step()) out.push_back(q->text(0));
  return out;
}

void for_each_fact(sqlite::Db& db, const std::function<void(const FactRow&)>& fn) {
  auto q = db.query(ALL_FACTS);
  while (q->step()) fn(read_fact(*q));
}

std::optional<UnderretningRow> underretning(sqlite::Db& db, const std::string& underretning_id) {
  auto q = db.query(UNDERRETNING_BY_ID);
  q->bind(1, underretning_id);
  if (!q->step()) return std::nullopt;
  return read_underretning(*q);
}

void for_each_underretning(sqlite::Db& db, bool by_incident,
                           const std::function<void(const UnderretningRow&)>& fn) {
  auto q = db.query(by_incident ? ALL_UNDERRETNINGER_BY_INCIDENT : ALL_UNDERRETNINGER);
  while (q->step()) fn(read_underretning(*q));
}

std::optional<CellRow> referral_cell(sqlite::Db& db, const CellRow& id) {
  auto q = db.query(REFERRAL_CELL);
  q->bind(1, id.grain).bind(2, id.month).bind(3, id.kommunekode).bind(4, id.district_id);
  q->bind(5, id.offence);
  if (!q->step()) return std::nullopt;
  CellRow c = id;
  c.records = q->i64(0);
  c.columns = q->blob(1);
  c.contact_days = q->blob(2);
  return c;
}

void put_referral_cell(sqlite::Db& db, const CellRow& c) {
  auto q = db.query(c.records == 0 ? DELETE_REFERRAL_CELL : PUT_REFERRAL_CELL);
  q->bind(1, c.grain).bind(2, c.month).bind(3, c.kommunekode).bind(4, c.district_id);
  q->bind(5, c.offence);
  if (c.records != 0) q->bind(6, c.records).bind_blob(7, c.columns).bind_blob(8, c.contact_days);
  q->run();
}

std::optional<CellRow> underretning_cell(sqlite::Db& db, const CellRow& id) {
  auto q = db.query(UNDERRETNING_CELL);
  q->bind(1, id.basis).bind(2, id.grain).bind(3, id.month).bind(4, id.week);
  q->bind(5, id.kommunekode).bind(6, id.district_id);
  if (!q->step()) return std::nullopt;
  CellRow c = id;
  c.records = q->i64(0);
  c.columns = q->blob(1);
  return c;
}

void put_underretning_cell(sqlite::Db& db, const CellRow& c) {
  auto q = db.query(c.records == 0 ? DELETE_UNDERRETNING_CELL : PUT_UNDERRETNING_CELL);
  q->bind(1, c.basis).bind(2, c.grain).bind(3, c.month).bind(4, c.week);
  q->bind(5, c.kommunekode).bind(6, c.district_id);
  if (c.records != 0) q->bind(7, c.records).bind_blob(8, c.columns);
  q->run();
}

void for_each_referral_cell(sqlite::Db& db, int grain, const std::string& from_month,
                            const std::string& to_month,
                            const std::function<void(const CellRow&)>& fn) {
  auto q = db.query(REFERRAL_CELLS);
  q->bind(1, grain).bind(2, from_month_bound(from_month)).bind(3, to_month_bound(to_month));
  CellRow c;
  c.grain = grain;
  while (q->step()) {
    c.month = q->text(0);
    c.kommunekode = static_cast<int>(q->i64(1));
    c.district_id = q->text(2);
    c.offence = static_cast<int>(q->i64(3));
    c.records = q->i64(4);
    c.columns = q->blob(5);
    c.contact_days = q->blob(6);
    fn(c);
  }
}

void for_each_underretning_cell(sqlite::Db& db, const std::string& basis, int grain,
                                const std::string& from_month, const std::string& to_month,
                                const std::function<void(const CellRow&)>& fn) {
  auto q = db.query(UNDERRETNING_CELLS);
  q->bind(1, basis).bind(2, grain).bind(3, from_month_bound(from_month));
  q->bind(4, to_month_bound(to_month));
  CellRow c;
  c.basis = basis;
  c.grain = grain;
  while (q->step()) {
    c.month = q->text(0);
    c.week = q->text(1);
    c.kommunekode = static_cast<int>(q->i64(2));
    c.district_id = q->text(3);
    c.records = q->i64(4);
    c.columns = q->blob(5);
    fn(c);
  }
}

std::int64_t count_referral_groups(sqlite::Db& db, int grain, bool by_month,
                                   const std::string& from_month, const std::string& to_month) {
  auto q = db.query(by_month ? REFERRAL_CELL_COUNT : REFERRAL_GROUP_COUNT);
  q->bind(1, grain).bind(2, from_month_bound(from_month)).bind(3, to_month_bound(to_month));
  return q->step() ? q->i64(0) : 0;
}

std::int64_t count_underretning_groups(sqlite::Db& db, const std::string& basis, int grain,
                                       const std::string& from_month, const std::string& to_month) {
  auto q = db.query(UNDERRETNING_GROUP_COUNT);
  q->bind(1, basis).bind(2, grain).bind(3, from_month_bound(from_month));
  q->bind(4, to_month_bound(to_month));
  return q->step() ? q->i64(0) : 0;
}

void clear_cells(sqlite::Db& db) {
  db.exec("DELETE FROM referral_cells");
  db.exec("DELETE FROM underretning_cells");
}

std::optional<std::int64_t> cells_built_for(sqlite::Db& db) {
  auto q = db.query(CELLS_BUILT_FOR);
  if (!q->step() || q->is_null(0)) return std::nullopt;
  return q->i64(0);
}

void set_cells_built_for(sqlite::Db& db, std::optional<std::int64_t> fingerprint) {
  auto q = db.query(SET_CELLS_BUILT_FOR);
  (fingerprint ? q->bind(1, *fingerprint) : q->bind_null(1)).run();
}

}  // namespace store
}  // namespace henvis::evaluation
