#include "evaluation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "henvis/consumer_loop.hpp"
#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/outbox.hpp"
#include "henvis/topics.hpp"

namespace henvis::evaluation {

namespace {

std::int64_t bit(v1::ReferralStatus s) { return std::int64_t{1} << static_cast<int>(s); }

// Statuses that mean the centre tried to contact the person (or did).
bool contact_type(v1::ReferralStatus s) {
  return s == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED || s == v1::REFERRAL_STATUS_REACHED ||
         s == v1::REFERRAL_STATUS_CONVERSATION_HELD ||
         s == v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED;
}

using events::status_name;

std::string day_of(const google::protobuf::Timestamp& t) {
  return format_date(copenhagen_date(t.seconds()));
}

// Upserts the referral-side facts of one key; every column is merged so that
// the order of the events does not matter.
void upsert_referral(sqlite::Db& db, const std::string& key, const std::string& offer_id,
                     const std::string& referral_id, const std::string& centre_id,
                     std::int64_t mask, const std::string* first_contact_day) {
  sqlite::Stmt s(db, R"sql(
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
)sql");
  s.bind(1, key).bind(2, offer_id).bind(3, referral_id).bind(4, centre_id).bind(5, mask);
  if (first_contact_day)
    s.bind(6, *first_contact_day);
  else
    s.bind_null(6);
  s.run();
}

}  // namespace

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
          outbox::migration_unix_ms() + ConsumerLoop::migration_unix_ms()};
}

Applier::Applier() {
  subs_.on(this, &Applier::on_offer)
      .on(this, &Applier::on_withdrawn)
      .on(this, &Applier::on_status)
      .on(this, &Applier::on_delivery)
      .on(this, &Applier::on_underretning);
}

void Applier::on_offer(const v1::OfferRecorded& o, sqlite::Db& db) {
  // Only these fields are read; o.person(), o.consent(), o.journal_number()
  // and o.officer_id() are never touched.
  if (o.offer_id().empty()) throw Rejected("missing field offer_id");
  if (o.answer() != v1::ANSWER_YES && o.answer() != v1::ANSWER_NO)
    throw Rejected("field answer is not ANSWER_YES or ANSWER_NO");
  if (!o.has_charged_at()) throw Rejected("missing field charged_at");
  if (!valid_event_time(o.charged_at())) throw Rejected("field charged_at is not a valid time");
  if (!v1::Offence_IsValid(o.offence())) throw Rejected("field offence is not a known offence");
  const bool yes = o.answer() == v1::ANSWER_YES;
  if (yes && o.referral_id().empty()) throw Rejected("missing field referral_id");
  const std::string key = yes ? o.referral_id() : o.offer_id();

  if (yes && o.offer_id() != key) {
    // A withdrawal that named only the offer id (and came first) waits in a
    // row keyed by the offer id: fold it into the referral's row.
    sqlite::Stmt stray(db, "SELECT status_mask FROM facts WHERE key = ? AND offered = 0");
    stray.bind(1, o.offer_id());
    if (stray.step()) {
      const std::int64_t mask = stray.i64(0);
      sqlite::Stmt del(db, "DELETE FROM facts WHERE key = ?");
      del.bind(1, o.offer_id()).run();
      upsert_referral(db, key, o.offer_id(), o.referral_id(), "", mask, nullptr);
    }
  }

  sqlite::Stmt s(db, R"sql(
INSERT INTO facts(key, offer_id, referral_id, offered, answer, kommunekode, district_id,
                  offence, charged_day, covered)
VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT(key) DO UPDATE SET
  offer_id = excluded.offer_id, referral_id = excluded.referral_id, offered = 1,
  answer = excluded.answer, kommunekode = excluded.kommunekode,
  district_id = excluded.district_id, offence = excluded.offence,
  charged_day = excluded.charged_day, covered = excluded.covered
)sql");
  s.bind(1, key).bind(2, o.offer_id()).bind(3, o.referral_id());
  s.bind(4, static_cast<int>(o.answer())).bind(5, o.kommunekode()).bind(6, o.district_id());
  s.bind(7, static_cast<int>(o.offence())).bind(8, day_of(o.charged_at()));
  s.bind(9, o.covered() ? 1 : 0);
  s.run();
}

void Applier::on_withdrawn(const v1::OfferWithdrawn& w, sqlite::Db& db) {
  const std::int64_t mask = bit(v1::REFERRAL_STATUS_WITHDRAWN);
  if (!w.referral_id().empty()) {
    upsert_referral(db, w.referral_id(), w.offer_id(), w.referral_id(), "", mask, nullptr);
    return;
  }
  if (w.offer_id().empty()) throw Rejected("missing field offer_id");
  sqlite::Stmt up(db, "UPDATE facts SET status_mask = status_mask | ? WHERE offer_id = ?");
  up.bind(1, mask).bind(2, w.offer_id()).run();
  if (db.changes() == 0) upsert_referral(db, w.offer_id(), w.offer_id(), "", "", mask, nullptr);
}

void Applier::on_status(const v1::ReferralStatusChanged& s, sqlite::Db& db) {
  if (s.referral_id().empty()) throw Rejected("missing field referral_id");
  if ((s.has_occurred_at() && !valid_event_time(s.occurred_at())) ||
      (s.has_at() && !valid_event_time(s.at())))
    throw Rejected("field at or occurred_at is not a valid time");
  std::string first_contact;
  if (contact_type(s.status())) {
    // When it happened as the centre reported it; else when henvis recorded it.
    if (s.has_occurred_at())
      first_contact = day_of(s.occurred_at());
    else if (s.has_at())
      first_contact = day_of(s.at());
  }
  upsert_referral(db, s.referral_id(), s.offer_id(), s.referral_id(), s.centre_id(),
                  bit(s.status()), first_contact.empty() ? nullptr : &first_contact);
}

void Applier::on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db) {
  if (d.referral_id().empty() || d.recipient_id().empty()) return;  // not about a referral
  // An unknown status (proto3 keeps any number) is a newer producer's: refuse
  // it (DLQ, replayable after an upgrade) rather than drop it silently.
  if (d.status() == v1::DELIVERY_STATUS_UNSPECIFIED || !v1::DeliveryStatus_IsValid(d.status()))
    throw Rejected("field status is not a known delivery status");
  if (d.status() != v1::DELIVERY_STATUS_DELIVERED && d.status() != v1::DELIVERY_STATUS_READ &&
      d.status() != v1::DELIVERY_STATUS_ACKNOWLEDGED)
    return;  // a failed push reached no one
  sqlite::Stmt s(db, "INSERT OR IGNORE INTO deliveries(referral_id, recipient_id) VALUES (?, ?)");
  s.bind(1, d.referral_id()).bind(2, d.recipient_id()).run();
}

void Applier::on_underretning(const v1::UnderretningEvent& e, sqlite::Db& db) {
  // Only these fields are read; the event carries no personal data and none
  // is stored (no scan id, no recipient, no incident municipalities).
  static const std::set<std::string> known = {"created", "delivered", "receipt_recorded",
                                              "receipt_missed", "response_recorded"};
  if (e.underretning_id().empty()) throw Rejected("missing field underretning_id");
  if (e.underretning_id().size() > 128)
    throw Rejected("field underretning_id is longer than 128 characters");
  if (!known.count(e.event())) throw Rejected("field event is not a known underretning event");
  if (!e.has_created_at() || !valid_event_time(e.created_at()))
    throw Rejected("field created_at is missing or not a valid time");
  if (!e.has_at() || !valid_event_time(e.at()))
    throw Rejected("field at is missing or not a valid time");
  if ((e.has_receipt_due_at() && !valid_event_time(e.receipt_due_at())) ||
      (e.has_receipt_at() && !valid_event_time(e.receipt_at())))
    throw Rejected("field receipt_due_at or receipt_at is not a valid time");
  if (!v1::UnderretningResponse_IsValid(e.response()))
    throw Rejected("field response is not a known response");
  if (e.children() < 0) throw Rejected("field children is negative");
  if (e.district_id().size() > 128)
    throw Rejected("field district_id is longer than 128 characters");
  if (e.kommunekode() != 0 && (e.kommunekode() < 101 || e.kommunekode() > 999))
    throw Rejected("field kommunekode is not a kommunekode");

  sqlite::Stmt s(db, R"sql(
INSERT INTO underretninger(underretning_id, created_day, kommunekode, district_id, children,
                           cross_district, cross_municipality, receipt_due_at, receipt_at,
                           missed, response, state_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT(underretning_id) DO UPDATE SET
  receipt_due_at = coalesce(underretninger.receipt_due_at, excluded.receipt_due_at),
  receipt_at = CASE
    WHEN underretninger.receipt_at IS NULL THEN excluded.receipt_at
    WHEN excluded.receipt_at IS NULL THEN underretninger.receipt_at
    ELSE min(underretninger.receipt_at, excluded.receipt_at) END,
  missed = max(underretninger.missed, excluded.missed),
  response = CASE WHEN excluded.state_at >= underretninger.state_at
                  THEN excluded.response ELSE underretninger.response END,
  state_at = max(underretninger.state_at, excluded.state_at)
)sql");
  s.bind(1, e.underretning_id()).bind(2, day_of(e.created_at()));
  s.bind(3, e.kommunekode()).bind(4, e.district_id()).bind(5, e.children());
  s.bind(6, e.cross_district() ? 1 : 0).bind(7, e.cross_municipality() ? 1 : 0);
  if (e.has_receipt_due_at())
    s.bind(8, static_cast<std::int64_t>(e.receipt_due_at().seconds()));
  else
    s.bind_null(8);
  if (e.has_receipt_at())
    s.bind(9, static_cast<std::int64_t>(e.receipt_at().seconds()));
  else
    s.bind_null(9);
  s.bind(10, e.event() == "receipt_missed" ? 1 : 0);
  s.bind(11, static_cast<int>(e.response()));
  s.bind(12, static_cast<std::int64_t>(e.at().seconds()));
  s.run();
}

std::vector<UnderretningFact> load_underretning_facts(sqlite::Db& db, const Query& q) {
  sqlite::Stmt s(db, R"sql(
SELECT created_day, kommunekode, district_id, children, cross_district, cross_municipality,
       receipt_due_at, receipt_at, missed, response
FROM underretninger
WHERE created_day >= ? AND created_day < ?
ORDER BY created_day, underretning_id
)sql");
  s.bind(1, q.from ? q.from_text : std::string("0000-00-00"));
  s.bind(2, q.to ? q.to_text : std::string("9999-99-99"));
  std::vector<UnderretningFact> out;
  while (s.step()) {
    UnderretningFact f;
    f.created_day = s.text(0);
    f.kommunekode = static_cast<int>(s.i64(1));
    f.district_id = s.text(2);
    f.children = static_cast<int>(s.i64(3));
    f.cross_district = s.i64(4) != 0;
    f.cross_municipality = s.i64(5) != 0;
    if (s.is_null(6))
      f.receipt = ReceiptState::no_clock;
    else if (!s.is_null(7))
      // A receipt is on time when it came before the deadline (as socialsog
      // decides receiptOnTime); a late one counts as missed.
      f.receipt = s.i64(7) < s.i64(6) ? ReceiptState::on_time : ReceiptState::missed;
    else
      f.receipt = s.i64(8) != 0 ? ReceiptState::missed : ReceiptState::pending;
    f.response = static_cast<int>(s.i64(9));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Fact> load_facts(sqlite::Db& db, const Query& q) {
  sqlite::Stmt s(db, R"sql(
SELECT f.answer, f.status_mask,
       EXISTS (SELECT 1 FROM deliveries d
               WHERE d.referral_id = f.referral_id AND d.recipient_id = f.centre_id),
       f.kommunekode, f.district_id, f.offence, f.charged_day, f.first_contact_day
FROM facts f
WHERE f.offered = 1 AND f.charged_day >= ? AND f.charged_day < ?
ORDER BY f.charged_day, f.key
)sql");
  // Dates are "YYYY-MM-DD", so text order is date order.
  s.bind(1, q.from ? q.from_text : std::string("0000-00-00"));
  s.bind(2, q.to ? q.to_text : std::string("9999-99-99"));
  std::vector<Fact> out;
  while (s.step()) {
    Fact f;
    const bool yes = s.i64(0) == v1::ANSWER_YES;
    const std::int64_t mask = s.i64(1);
    auto seen = [&](v1::ReferralStatus st) { return (mask & bit(st)) != 0; };
    f.in[OFFERED] = true;
    f.in[ACCEPTED] = yes;
    f.in[DECLINED] = !yes;
    if (yes) {
      // A later outcome implies the earlier ones (a centre records outcomes
      // only on a referral it received), so the funnel is monotone even while
      // some events are still on their way.
      f.in[FURTHER_SESSIONS_ACCEPTED] = seen(v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED);
      f.in[CONVERSATION_HELD] =
          f.in[FURTHER_SESSIONS_ACCEPTED] || seen(v1::REFERRAL_STATUS_CONVERSATION_HELD);
      f.in[CONTACT_ATTEMPTED] = f.in[CONVERSATION_HELD] ||
                                seen(v1::REFERRAL_STATUS_CONTACT_ATTEMPTED) ||
                                seen(v1::REFERRAL_STATUS_REACHED);
      f.in[DELIVERED] = f.in[CONTACT_ATTEMPTED] || seen(v1::REFERRAL_STATUS_DELIVERED) ||
                        seen(v1::REFERRAL_STATUS_ACKNOWLEDGED) || s.i64(2) != 0;
      f.in[ROUTED] = f.in[DELIVERED] || seen(v1::REFERRAL_STATUS_ROUTED);
      f.in[UNROUTABLE] = !f.in[ROUTED] && seen(v1::REFERRAL_STATUS_UNROUTABLE);
      f.in[WITHDRAWN] = seen(v1::REFERRAL_STATUS_WITHDRAWN);
    }
    f.kommunekode = static_cast<int>(s.i64(3));
    f.district_id = s.text(4);
    f.offence = static_cast<int>(s.i64(5));
    f.charged_day = s.text(6);
    if (yes && !s.is_null(7)) {
      auto charged = parse_date(f.charged_day);
      auto contact = parse_date(s.text(7));
      if (charged && contact)
        f.days_to_first_contact = static_cast<int>(
            (std::chrono::sys_days(*contact) - std::chrono::sys_days(*charged)).count());
    }
    out.push_back(std::move(f));
  }
  return out;
}

Api::Api(const std::string& db_path, Directory directory, int min_cell)
    : db_(db_path),
      directory_(std::move(directory)),
      min_cell_(min_cell > 0 ? min_cell : DEFAULT_MIN_CELL) {
  db_.migrate(migrations());
}

void Api::register_routes(http::Router& router) {
  router.add("GET", "/v1/stats/referrals", {v1::ROLE_EVALUATOR},
             [this](http::Request& r) { return referrals(r); });
  router.add("GET", "/v1/stats/underretninger", {v1::ROLE_EVALUATOR},
             [this](http::Request& r) { return underretninger(r); });
}

namespace {
// Both statistics resources answer alike: logged (who, shape; no figures),
// then CSV or JSON as the query asks.
template <class Stats>
http::Response answer(const char* what, const http::Request& req, const Query& q,
                      const Stats& stats) {
  spdlog::info("{} statistics served principal={} group_by={} rows={} format={}", what,
               req.principal.label, stats.group_by_size(), stats.rows_size(),
               q.csv ? "csv" : "json");
  if (q.csv) return http::Response{200, "text/csv; charset=utf-8", to_csv(stats, q)};
  return http::json(200, stats);
}
}  // namespace

http::Response Api::referrals(const http::Request& req) {
  const Query q = parse_query(req.query);  // throws a 400 problem
  return answer("referral", req, q, compute(load_facts(db_, q), q, min_cell_, directory_));
}

http::Response Api::underretninger(const http::Request& req) {
  const Query q = parse_query(req.query, underretning_dims());  // throws a 400 problem
  return answer("underretning", req, q,
                compute_underretninger(load_underretning_facts(db_, q), q, min_cell_, directory_));
}

}  // namespace henvis::evaluation
