// The router's HTTP API: referrals for centre staff (their own) and
// coordinators (their district); outcomes from the owning centre.
#include <spdlog/spdlog.h>

#include "henvis/access_log.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "referral_store.hpp"
#include "router.hpp"

namespace henvis::router {

namespace {
constexpr const char* COLUMNS =
    "referral_id, offer_id, status, centre_id, kommunekode, district_id, directory_version, "
    "journal_number, offence, charged_at, cpr, name, phone, email, preferred_contact_time, "
    "consent_version, consent_given_at, reason, created_at, contact_attempts, prior_90d, prior_5y";
constexpr std::size_t MAX_NOTE = 500;
constexpr std::size_t MAX_IDEMPOTENCY_KEY = 128;
// An outcome dated this far in the future is a clock or typing error.
constexpr auto MAX_CLOCK_SKEW = std::chrono::minutes(10);

std::string names(const std::vector<v1::ReferralStatus>& ss) {
  std::string out;
  for (auto s : ss) out += (out.empty() ? "" : ", ") + status_name(s);
  return out.empty() ? "none (the referral is final)" : out;
}
}  // namespace

Api::Api(const std::string& db_path, Directory directory, Settings settings, const Clock& clock,
         outbox::Relay* relay)
    : db_(db_path),
      directory_(std::move(directory)),
      settings_(std::move(settings)),
      clock_(clock),
      relay_(relay) {
  db_.migrate(migrations());
}

void Api::register_routes(http::Router& router) {
  router.add("GET", "/v1/referrals", {v1::ROLE_CENTRE, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return list(r); });
  router.add("GET", "/v1/referrals/{id}", {v1::ROLE_CENTRE, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return get(r); });
  router.add("POST", "/v1/referrals/{id}/outcomes", {v1::ROLE_CENTRE},
             [this](http::Request& r) { return record_outcome(r); });
}

v1::ReferralView Api::view(sqlite::Stmt& s, bool with_history) {
  v1::ReferralView v;
  v.set_referral_id(s.text(0));
  v.set_offer_id(s.text(1));
  v.set_status(static_cast<v1::ReferralStatus>(s.i64(2)));
  v.set_centre_id(s.text(3));
  v.set_kommunekode(static_cast<int>(s.i64(4)));
  if (const auto* m = directory_.municipality(v.kommunekode())) v.set_municipality_name(m->name());
  v.set_district_id(s.text(5));
  v.set_directory_version(s.text(6));
  v.set_journal_number(s.text(7));
  v.set_offence(static_cast<v1::Offence>(s.i64(8)));
  *v.mutable_charged_at() = parse_timestamp(s.text(9));
  if (!s.is_null(10)) {
    auto* p = v.mutable_person();
    p->set_cpr(s.text(10));
    p->set_name(s.text(11));
    p->set_phone(s.text(12));
    p->set_email(s.text(13));
    p->set_preferred_contact_time(s.text(14));
    v.mutable_consent()->set_text_version(s.text(15));
    *v.mutable_consent()->mutable_given_at() = parse_timestamp(s.text(16));
  }
  v.set_reason(s.text(17));
  *v.mutable_created_at() = parse_timestamp(s.text(18));
  v.set_contact_attempts(static_cast<int>(s.i64(19)));
  v.set_prior_referrals_90d(static_cast<int>(s.i64(20)));
  v.set_prior_referrals_5y(static_cast<int>(s.i64(21)));
  if (with_history) {
    sqlite::Stmt h(db_,
                   "SELECT status, at, reason, occurred_at, note FROM referral_history "
                   "WHERE referral_id = ? ORDER BY id");
    h.bind(1, v.referral_id());
    while (h.step()) {
      auto* e = v.add_history();
      e->set_status(static_cast<v1::ReferralStatus>(h.i64(0)));
      *e->mutable_at() = parse_timestamp(h.text(1));
      e->set_reason(h.text(2));
      if (!h.is_null(3)) *e->mutable_occurred_at() = parse_timestamp(h.text(3));
      if (!h.is_null(4)) e->set_note(h.text(4));
    }
  }
  return v;
}

http::Response Api::list(const http::Request& req) {
  const bool centre = req.principal.role == v1::ROLE_CENTRE;
  std::string sql = std::string("SELECT ") + COLUMNS + " FROM referrals WHERE " +
                    (centre ? "centre_id = ?" : "district_id = ?");
  int status_filter = 0;
  if (auto it = req.query.find("status"); it != req.query.end()) {
    for (int s = v1::ReferralStatus_MIN; s <= v1::ReferralStatus_MAX; ++s)
      if (s != 0 && status_name(static_cast<v1::ReferralStatus>(s)) == it->second)
        status_filter = s;
    if (!status_filter)
      return http::problem(400, "Bad Request", "unknown status",
                           {{"status", "must be a referral status such as routed or unroutable"}});
    sql += " AND status = ?";
  }
  sql += " ORDER BY created_at, referral_id";
  sqlite::Transaction tx(db_);  // the access-log rows commit with the read
  sqlite::Stmt s(db_, sql);
  s.bind(1, req.principal.scope);
  if (status_filter) s.bind(2, status_filter);
  v1::ReferralList out;
  while (s.step()) {
    *out.add_referrals() = view(s, false);
    access_log::record(db_, req.principal, out.referrals().rbegin()->referral_id(), "list");
  }
  tx.commit();
  return http::json(200, out);
}

http::Response Api::get(const http::Request& req) {
  const bool centre = req.principal.role == v1::ROLE_CENTRE;
  sqlite::Transaction tx(db_);
  sqlite::Stmt s(db_, std::string("SELECT ") + COLUMNS +
                          " FROM referrals WHERE referral_id = ? AND " +
                          (centre ? "centre_id = ?" : "district_id = ?"));
  s.bind(1, req.params.at("id")).bind(2, req.principal.scope);
  // Another centre's referral is not found: its existence is not theirs to know.
  if (!s.step()) return http::problem(404, "Not Found", "no such referral");
  v1::ReferralView v = view(s, true);
  access_log::record(db_, req.principal, v.referral_id(), "read");
  tx.commit();
  return http::json(200, v);
}

namespace {
std::vector<http::FieldError> check_outcome(const v1::OutcomeRequest& r, const std::string& idem,
                                            std::chrono::system_clock::time_point now) {
  std::vector<http::FieldError> errors;
  if (!is_outcome(r.outcome()))
    errors.push_back({"outcome",
                      "one of REFERRAL_STATUS_CONTACT_ATTEMPTED, _REACHED, _CONVERSATION_HELD, "
                      "_FURTHER_SESSIONS_ACCEPTED, _DECLINED, _UNREACHABLE, _CLOSED"});
  // Compared in seconds: a time_point (nanoseconds) overflows past 2262, and
  // proto3 JSON accepts times up to 9999-12-31 (found by fuzzing, UBSan).
  if (r.has_at() && r.at().seconds() > std::chrono::duration_cast<std::chrono::seconds>(
                                           (now + MAX_CLOCK_SKEW).time_since_epoch())
                                           .count())
    errors.push_back({"at", "must not be in the future"});
  if (r.note().size() > MAX_NOTE) errors.push_back({"note", "at most 500 characters"});
  if (idem.size() > MAX_IDEMPOTENCY_KEY)
    errors.push_back({"Idempotency-Key", "at most 128 characters"});
  return errors;
}

// The first answer for this Idempotency-Key (hashed), 409 if it came with
// another body; nothing when the key is new.
std::optional<http::Response> earlier_outcome(sqlite::Db& db, const std::string& key,
                                              const std::string& hash) {
  sqlite::Stmt f(db, "SELECT request_hash, status, response FROM idempotency WHERE key = ?");
  f.bind(1, sha256_hex(key));
  if (!f.step()) return std::nullopt;
  if (f.text(0) != hash)
    return http::problem(409, "Conflict", "Idempotency-Key was used for another outcome",
                         {{"Idempotency-Key", "already used with a different body"}});
  return http::Response{static_cast<int>(f.i64(1)), "application/json", f.text(2)};
}

// Why the outcome cannot be recorded on the referral as it stands, if it cannot.
std::optional<http::Response> refuse_outcome(const v1::OutcomeRequest& r, const ReferralRow& row) {
  auto allowed = allowed_outcomes(row.status);
  if (std::find(allowed.begin(), allowed.end(), r.outcome()) == allowed.end())
    return http::problem(
        409, "Conflict",
        "cannot record " + status_name(r.outcome()) + " on a referral that is " +
            status_name(row.status) + "; allowed: " + names(allowed),
        {{"outcome", "allowed from " + status_name(row.status) + ": " + names(allowed)}});
  if (r.has_at() && r.at().seconds() < parse_rfc3339(row.charged_at).time_since_epoch().count())
    return http::problem(400, "Bad Request", "the outcome predates the charge",
                         {{"at", "must not be before the charge time"}});
  return std::nullopt;
}

// Moves the referral to the outcome, and on to unreachable once the configured
// number of contact attempts is reached; counts the attempt in `row`.
void apply_outcome(sqlite::Db& db, ReferralRow& row, const v1::OutcomeRequest& r,
                   int max_contact_attempts, const std::string& now, const std::string& occurred) {
  const std::string& id = row.referral_id;
  const auto target = r.outcome();
  const auto previous = row.status;
  if (target == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED) ++row.contact_attempts;
  set_status(db, id, target, now, row.contact_attempts);
  add_history(db, id, target, now, "", occurred, r.note());
  emit_status(db, row, target, previous, "", now, occurred);
  if (target == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED &&
      row.contact_attempts >= max_contact_attempts) {
    // The configured number of failed attempts: the person is unreachable.
    set_status(db, id, v1::REFERRAL_STATUS_UNREACHABLE, now, row.contact_attempts);
    add_history(db, id, v1::REFERRAL_STATUS_UNREACHABLE, now, "max_contact_attempts", occurred, "");
    emit_status(db, row, v1::REFERRAL_STATUS_UNREACHABLE, target, "max_contact_attempts", now,
                occurred);
  }
}

void store_answer(sqlite::Db& db, const std::string& key, const std::string& referral_id,
                  const std::string& hash, const http::Response& out, const std::string& now) {
  sqlite::Stmt ins(db,
                   "INSERT INTO idempotency(key, referral_id, request_hash, status, response, "
                   "created_at) VALUES (?,?,?,?,?,?)");
  ins.bind(1, sha256_hex(key)).bind(2, referral_id).bind(3, hash).bind(4, out.status);
  ins.bind(5, out.body).bind(6, now).run();
}
}  // namespace

http::Response Api::record_outcome(const http::Request& req) {
  v1::OutcomeRequest r;
  http::parse_json(req.body, r);
  const auto now = clock_.now();
  const std::string idem = req.header("idempotency-key");
  auto errors = check_outcome(r, idem, now);
  if (!errors.empty())
    return http::problem(400, "Bad Request", "the outcome has invalid fields", errors);

  const std::string id = req.params.at("id");
  const std::string now_str = rfc3339(now);
  sqlite::Transaction tx(db_);
  std::optional<ReferralRow> row = find_referral(db_, id);
  if (!row || row->centre_id != req.principal.scope)
    return http::problem(404, "Not Found", "no such referral");

  // Idempotency-Key: the same key and body give the first answer.
  std::string key, hash;
  if (!idem.empty()) {
    key = req.principal.scope + '\0' + id + '\0' + idem;
    hash = idempotency_hash({}, r);
    if (auto earlier = earlier_outcome(db_, key, hash)) return *earlier;
  }
  if (auto refusal = refuse_outcome(r, *row)) return *refusal;

  const std::string occurred = r.has_at() ? to_rfc3339(r.at()) : now_str;
  apply_outcome(db_, *row, r, settings_.max_contact_attempts, now_str, occurred);
  access_log::record(db_, req.principal, id, "outcome");

  sqlite::Stmt s(db_, std::string("SELECT ") + COLUMNS + " FROM referrals WHERE referral_id = ?");
  s.bind(1, id);
  s.step();
  http::Response out = http::json(200, view(s, true));
  if (!key.empty()) store_answer(db_, key, id, hash, out, now_str);
  tx.commit();
  if (relay_) relay_->notify();
  spdlog::info("outcome recorded referral_id={} outcome={} attempts={}", id,
               status_name(r.outcome()), row->contact_attempts);
  return out;
}

}  // namespace henvis::router
