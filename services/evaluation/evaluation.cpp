#include "evaluation.hpp"

#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <set>

#include "aggregates.hpp"
#include "henvis/events.hpp"
#include "henvis/ids.hpp"

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

// Calendar days from one 'YYYY-MM-DD' to another; nothing if either is not a date.
std::optional<int> days_between(const std::string& from_day, const std::string& to_day) {
  auto from = parse_date(from_day);
  auto to = parse_date(to_day);
  if (!from || !to) return std::nullopt;
  return static_cast<int>((std::chrono::sys_days(*to) - std::chrono::sys_days(*from)).count());
}

}  // namespace

Applier::Applier(const CellKey& keys) : keys_(keys) {
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

  aggregates::Change cells(db, keys_);
  cells.facts({key, o.offer_id()});
  if (yes && o.offer_id() != key) {
    // A withdrawal that named only the offer id (and came first) waits in a
    // row keyed by the offer id: fold it into the referral's row.
    if (auto mask = store::take_waiting_withdrawal(db, o.offer_id()))
      store::merge_referral(db, {key, o.offer_id(), o.referral_id(), "", *mask, std::nullopt});
  }

  store::upsert_offer(
      db, {key, o.offer_id(), o.referral_id(), static_cast<int>(o.answer()), o.kommunekode(),
           o.district_id(), static_cast<int>(o.offence()), day_of(o.charged_at()), o.covered()});
  cells.apply();
}

void Applier::on_withdrawn(const v1::OfferWithdrawn& w, sqlite::Db& db) {
  const std::int64_t mask = bit(v1::REFERRAL_STATUS_WITHDRAWN);
  if (!w.referral_id().empty()) {
    aggregates::Change cells(db, keys_);
    cells.facts({w.referral_id()});
    store::merge_referral(db, {w.referral_id(), w.offer_id(), w.referral_id(), "", mask, {}});
    cells.apply();
    return;
  }
  if (w.offer_id().empty()) throw Rejected("missing field offer_id");
  aggregates::Change cells(db, keys_);
  auto touched = store::fact_keys_by_offer(db, w.offer_id());
  touched.push_back(w.offer_id());
  cells.facts(touched);
  if (!store::add_status_by_offer(db, w.offer_id(), mask))
    store::merge_referral(db, {w.offer_id(), w.offer_id(), "", "", mask, {}});
  cells.apply();
}

void Applier::on_status(const v1::ReferralStatusChanged& s, sqlite::Db& db) {
  if (s.referral_id().empty()) throw Rejected("missing field referral_id");
  if ((s.has_occurred_at() && !valid_event_time(s.occurred_at())) ||
      (s.has_at() && !valid_event_time(s.at())))
    throw Rejected("field at or occurred_at is not a valid time");
  std::optional<std::string> first_contact;
  if (contact_type(s.status())) {
    // When it happened as the centre reported it; else when henvis recorded it.
    if (s.has_occurred_at())
      first_contact = day_of(s.occurred_at());
    else if (s.has_at())
      first_contact = day_of(s.at());
  }
  aggregates::Change cells(db, keys_);
  cells.facts({s.referral_id()});
  store::merge_referral(db, {s.referral_id(), s.offer_id(), s.referral_id(), s.centre_id(),
                             bit(s.status()), std::move(first_contact)});
  cells.apply();
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
  // A delivery counts for the person whose referral it names (a referral's
  // row is keyed by its id), when it reached the centre the referral went to.
  aggregates::Change cells(db, keys_);
  cells.facts({d.referral_id()});
  store::add_delivery(db, d.referral_id(), d.recipient_id());
  cells.apply();
}

namespace {

// Throws Rejected for an underretning event that can never be applied.
void check_underretning(const v1::UnderretningEvent& e) {
  static const std::set<std::string> known = {"created",           "delivered",
                                              "receipt_recorded",  "receipt_missed",
                                              "response_recorded", "forwarded"};
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
  if (e.has_earliest_incident_at() && !valid_event_time(e.earliest_incident_at()))
    throw Rejected("field earliest_incident_at is not a valid time");
  if (!v1::UnderretningResponse_IsValid(e.response()))
    throw Rejected("field response is not a known response");
  if (e.children() < 0) throw Rejected("field children is negative");
  if (e.district_id().size() > 128)
    throw Rejected("field district_id is longer than 128 characters");
  if (e.kommunekode() != 0 && (e.kommunekode() < 101 || e.kommunekode() > 999))
    throw Rejected("field kommunekode is not a kommunekode");
}

}  // namespace

void Applier::on_underretning(const v1::UnderretningEvent& e, sqlite::Db& db) {
  // Only these fields are read; the event carries no personal data and none
  // is stored (no scan id, no recipient, no incident municipalities).
  check_underretning(e);
  store::UnderretningRow u;
  u.underretning_id = e.underretning_id();
  u.created_day = day_of(e.created_at());
  u.kommunekode = e.kommunekode();
  u.district_id = e.district_id();
  u.children = e.children();
  u.cross_district = e.cross_district();
  u.cross_municipality = e.cross_municipality();
  if (e.has_receipt_due_at()) u.receipt_due_at = to_time_point(e.receipt_due_at());
  if (e.has_receipt_at()) u.receipt_at = to_time_point(e.receipt_at());
  u.missed = e.event() == "receipt_missed";
  u.response = static_cast<int>(e.response());
  u.state_at = to_time_point(e.at());
  if (e.has_earliest_incident_at()) u.incident_day = day_of(e.earliest_incident_at());
  aggregates::Change cells(db, keys_);
  cells.underretning(u.underretning_id);
  store::merge_underretning(db, u);
  cells.apply();
}

namespace {

ReceiptState receipt_state(const store::UnderretningRow& u) {
  if (!u.receipt_due_at) return ReceiptState::no_clock;
  if (u.receipt_at) {
    // A receipt is on time when it came before the deadline, in whole
    // seconds as socialsog decides receiptOnTime; a late one counts as missed.
    using std::chrono::floor, std::chrono::seconds;
    return floor<seconds>(*u.receipt_at) < floor<seconds>(*u.receipt_due_at) ? ReceiptState::on_time
                                                                             : ReceiptState::missed;
  }
  return u.missed ? ReceiptState::missed : ReceiptState::pending;
}

}  // namespace

std::vector<UnderretningFact> load_underretning_facts(sqlite::Db& db, const Query& q,
                                                      const CellKey& keys) {
  std::vector<UnderretningFact> out;
  const bool by_incident = q.date_basis == "incident";
  const auto rows = by_incident ? store::underretninger_by_incident(db, q.from_text, q.to_text)
                                : store::underretninger_created(db, q.from_text, q.to_text);
  for (const auto& u : rows) out.push_back(to_underretning_fact(u, by_incident, keys));
  return out;
}

UnderretningFact to_underretning_fact(const store::UnderretningRow& u, bool by_incident,
                                      const CellKey& keys) {
  UnderretningFact f;
  f.created_day = by_incident ? *u.incident_day : u.created_day;
  f.kommunekode = u.kommunekode;
  f.district_id = u.district_id;
  f.children = u.children;
  f.cross_district = u.cross_district;
  f.cross_municipality = u.cross_municipality;
  f.receipt = receipt_state(u);
  f.record_key = keys.record_key(u.underretning_id);
  f.response = u.response;
  return f;
}

std::vector<Fact> load_facts(sqlite::Db& db, const Query& q, const CellKey& keys) {
  std::vector<Fact> out;
  for (const auto& r : store::facts_charged(db, q.from_text, q.to_text))
    out.push_back(to_fact(r, keys));
  return out;
}

Fact to_fact(const store::FactRow& r, const CellKey& keys) {
  Fact f;
  const bool yes = r.answer == v1::ANSWER_YES;
  auto seen = [&](v1::ReferralStatus st) { return (r.status_mask & bit(st)) != 0; };
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
                      seen(v1::REFERRAL_STATUS_ACKNOWLEDGED) || r.delivered_to_centre;
    f.in[ROUTED] = f.in[DELIVERED] || seen(v1::REFERRAL_STATUS_ROUTED);
    f.in[UNROUTABLE] = !f.in[ROUTED] && seen(v1::REFERRAL_STATUS_UNROUTABLE);
    f.in[WITHDRAWN] = seen(v1::REFERRAL_STATUS_WITHDRAWN);
  }
  f.kommunekode = r.kommunekode;
  f.district_id = r.district_id;
  f.offence = r.offence;
  f.charged_day = r.charged_day;
  f.record_key = keys.record_key(r.key);
  if (yes && r.first_contact_day)
    f.days_to_first_contact = days_between(f.charged_day, *r.first_contact_day);
  return f;
}

// The host migrated the store before building the service (run_service).
Api::Api(const std::string& db_path, Directory directory, int min_cell,
         const std::string& cell_key_file, bool dev, int max_rows)
    : dbs_(db_path),
      directory_(std::move(directory)),
      min_cell_(min_cell > 0 ? min_cell : DEFAULT_MIN_CELL),
      max_rows_(max_rows > 0 ? max_rows : DEFAULT_MAX_ROWS),
      cell_key_(load_cell_key(db(), cell_key_file, dev)) {
  aggregates::ensure(db(), cell_key_);
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
  return http::Response{200, "application/json", to_json(stats)};  // as http::json, faster
}

// Rows of an answer from which its working memory (cells, groups, the
// message: a few KiB a row) is handed back to the system once it is built:
// one large answer would otherwise keep the process's RSS at its peak
// (docs/performance.md).
constexpr int LARGE_ANSWER_ROWS = 1000;

void release_memory_after(int rows) {
  if (rows >= LARGE_ANSWER_ROWS) malloc_trim(0);
}

// Refuses a query whose answer would have more than max_rows rows before it
// is computed: the time and memory of an answer grow with its rows (a few
// KiB each while it is built), not with the data (docs/decisions.md 28).
void check_rows(std::int64_t rows, int max_rows) {
  if (rows <= max_rows) return;
  const std::string reason = fmt::format(
      "the answer would have more than {} rows: group by fewer dimensions or ask for fewer "
      "months (from, to)",
      max_rows);
  throw http::Problem(400, "Bad Request", reason, {{"groupBy", reason}});
}
}  // namespace

http::Response Api::referrals(const http::Request& req) {
  const Query q = parse_query(req.query);  // throws a 400 problem
  check_rows(aggregates::referral_rows(db(), cell_key_, q), max_rows_);
  int rows = 0;
  http::Response r = [&] {
    const auto stats = aggregates::referral_stats(db(), cell_key_, q, min_cell_, directory_);
    rows = stats.rows_size();
    return answer("referral", req, q, stats);
  }();
  release_memory_after(rows);
  return r;
}

http::Response Api::underretninger(const http::Request& req) {
  // throws a 400 problem
  const Query q = parse_query(req.query, underretning_dims(), underretning_date_bases());
  check_rows(aggregates::underretning_rows(db(), cell_key_, q), max_rows_);
  int rows = 0;
  http::Response r = [&] {
    const auto stats = aggregates::underretning_stats(db(), cell_key_, q, min_cell_, directory_);
    rows = stats.rows_size();
    return answer("underretning", req, q, stats);
  }();
  release_memory_after(rows);
  return r;
}

}  // namespace henvis::evaluation
