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
          "CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);\n"};
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

constexpr std::string_view FACTS_CHARGED = R"sql(
SELECT f.answer, f.status_mask,
       EXISTS (SELECT 1 FROM deliveries d
               WHERE d.referral_id = f.referral_id AND d.recipient_id = f.centre_id),
       f.kommunekode, f.district_id, f.offence, f.charged_day, f.first_contact_day,
       f.key
FROM facts f
WHERE f.offered = 1 AND f.charged_day >= ? AND f.charged_day < ?
ORDER BY f.charged_day, f.key
)sql";

constexpr std::string_view UNDERRETNINGER_CREATED = R"sql(
SELECT underretning_id, created_day, kommunekode, district_id, children, cross_district,
       cross_municipality, receipt_due_at, receipt_at, missed, response, state_at, incident_day
FROM underretninger
WHERE created_day >= ? AND created_day < ?
ORDER BY created_day, underretning_id
)sql";
constexpr std::string_view UNDERRETNINGER_BY_INCIDENT = R"sql(
SELECT underretning_id, created_day, kommunekode, district_id, children, cross_district,
       cross_municipality, receipt_due_at, receipt_at, missed, response, state_at, incident_day
FROM underretninger
WHERE incident_day >= ? AND incident_day < ?
ORDER BY incident_day, underretning_id
)sql";

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
  while (q->step()) {
    FactRow f;
    f.answer = static_cast<int>(q->i64(0));
    f.status_mask = q->i64(1);
    f.delivered_to_centre = q->i64(2) != 0;
    f.kommunekode = static_cast<int>(q->i64(3));
    f.district_id = q->text(4);
    f.offence = static_cast<int>(q->i64(5));
    f.charged_day = q->text(6);
    f.first_contact_day = maybe_text(*q, 7);
    f.key = q->text(8);
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
std::vector<UnderretningRow> underretninger_in(sqlite::Db& db, std::string_view sql,
                                               const std::string& from_day,
                                               const std::string& to_day) {
  auto q = db.query(sql);
  q->bind(1, from_bound(from_day)).bind(2, to_bound(to_day));
  std::vector<UnderretningRow> out;
  while (q->step()) {
    UnderretningRow u;
    u.underretning_id = q->text(0);
    u.created_day = q->text(1);
    u.kommunekode = static_cast<int>(q->i64(2));
    u.district_id = q->text(3);
    u.children = static_cast<int>(q->i64(4));
    u.cross_district = q->i64(5) != 0;
    u.cross_municipality = q->i64(6) != 0;
    u.receipt_due_at = q->maybe_instant(7);
    u.receipt_at = q->maybe_instant(8);
    u.missed = q->i64(9) != 0;
    u.response = static_cast<int>(q->i64(10));
    u.state_at = q->instant(11);
    u.incident_day = maybe_text(*q, 12);
    out.push_back(std::move(u));
  }
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

}  // namespace store
}  // namespace henvis::evaluation
