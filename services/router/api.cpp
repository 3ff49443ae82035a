// The router's HTTP API: referrals for centre staff (their own) and
// coordinators (their district); outcomes from the owning centre; the
// coordinator's forwarding and closure of unroutable referrals.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "henvis/access_log.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/paging.hpp"
#include "henvis/validate.hpp"
#include "outbound.hpp"
#include "router.hpp"
#include "store.hpp"

namespace henvis::router {

namespace {
constexpr std::size_t MAX_NOTE = 500;
constexpr std::size_t MAX_IDEMPOTENCY_KEY = 128;
// An outcome dated this far in the future is a clock or typing error.
constexpr auto MAX_CLOCK_SKEW = std::chrono::minutes(10);

// The key a page continues after: (created_at in Unix ms, referral id).
std::optional<ListKey> list_key(const http::PageRequest& page) {
  if (page.after.empty()) return std::nullopt;
  const std::int64_t ms = http::cursor_number(page.after[0], 0, http::MAX_CURSOR_MS);
  return ListKey{sqlite::from_unix_ms(ms), page.after[1]};
}

std::string names(const std::vector<v1::ReferralStatus>& ss) {
  std::string out;
  for (auto s : ss) out += (out.empty() ? "" : ", ") + status_name(s);
  return out.empty() ? "none (the referral is final)" : out;
}
}  // namespace

Api::Api(const std::string& db_path, Directory directory, Settings settings, const Clock& clock,
         outbox::Relay* relay)
    : dbs_(db_path),
      directory_(std::move(directory)),
      settings_(std::move(settings)),
      clock_(clock),
      relay_(relay) {}

void Api::register_routes(http::Router& router) {
  router.add("GET", "/v1/referrals", {v1::ROLE_CENTRE, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return list(r); });
  router.add("GET", "/v1/referrals/{id}", {v1::ROLE_CENTRE, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return get(r); });
  router.add("POST", "/v1/referrals/{id}/outcomes", {v1::ROLE_CENTRE},
             [this](http::Request& r) { return record_outcome(r); });
  router.add("POST", "/v1/referrals/{id}/forwarding", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return forward(r); });
  router.add("POST", "/v1/referrals/{id}/closure", {v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return close(r); });
  access_log::add_routes(router, dbs_);
}

int Api::attempts_left(const ReferralRow& row) const {
  const auto allowed = allowed_outcomes(row.status);
  if (std::find(allowed.begin(), allowed.end(), v1::REFERRAL_STATUS_CONTACT_ATTEMPTED) ==
      allowed.end())
    return 0;
  return std::max(0, settings_.max_contact_attempts - row.contact_attempts);
}

v1::ReferralView Api::view(const Referral& r, bool with_history) {
  v1::ReferralView v;
  v.set_referral_id(r.row.referral_id);
  v.set_offer_id(r.row.offer_id);
  v.set_status(r.row.status);
  v.set_centre_id(r.row.centre_id);
  v.set_kommunekode(r.row.kommunekode);
  if (const auto* m = directory_.municipality(v.kommunekode())) v.set_municipality_name(m->name());
  v.set_district_id(r.row.district_id);
  v.set_directory_version(r.row.directory_version);
  v.set_journal_number(r.journal_number);
  v.set_offence(r.row.offence);
  *v.mutable_charged_at() = to_timestamp(r.row.charged_at);
  if (const auto& p = r.person) {
    auto* person = v.mutable_person();
    person->set_cpr(p->cpr);
    person->set_name(p->name);
    person->set_phone(p->phone);
    person->set_email(p->email);
    person->set_preferred_contact_time(p->preferred_contact_time);
    v.mutable_consent()->set_text_version(p->consent_version);
    *v.mutable_consent()->mutable_given_at() = to_timestamp(p->consent_given_at);
  }
  v.set_reason(r.reason);
  *v.mutable_created_at() = to_timestamp(r.created_at);
  v.set_contact_attempts(r.row.contact_attempts);
  v.set_attempts_left(attempts_left(r.row));
  v.set_prior_referrals_90d(r.row.prior_90d);
  v.set_prior_referrals_5y(r.row.prior_5y);
  if (with_history) {
    for (const auto& h : store().history(v.referral_id())) {
      auto* e = v.add_history();
      e->set_status(h.status);
      *e->mutable_at() = to_timestamp(h.at);
      e->set_reason(h.reason);
      if (h.occurred_at) *e->mutable_occurred_at() = to_timestamp(*h.occurred_at);
      if (h.note) e->set_note(*h.note);
      e->set_actor(h.actor.value_or(""));
      e->set_directory_version(h.directory_version.value_or(""));
      e->set_centre_id(h.centre_id.value_or(""));
      e->set_person(h.person.value_or(""));
    }
  }
  return v;
}

http::Response Api::list(const http::Request& req) {
  const Scope scope = req.principal.role == v1::ROLE_CENTRE ? Scope::centre : Scope::district;
  int status_filter = 0;
  if (auto it = req.query.find("status"); it != req.query.end()) {
    for (int s = v1::ReferralStatus_MIN; s <= v1::ReferralStatus_MAX; ++s)
      if (s != 0 && status_name(static_cast<v1::ReferralStatus>(s)) == it->second)
        status_filter = s;
    if (!status_filter)
      return http::problem(400, "Bad Request", "unknown status",
                           {{"status", "must be a referral status such as routed or unroutable"}});
  }
  // Keyset paging on (created_at, referral_id): the list's own order.
  const http::PageRequest page = http::page_request(req, 2);
  const std::optional<ListKey> after = list_key(page);
  sqlite::Transaction tx(db());  // the access-log rows commit with the read
  auto found =
      store().referrals_in(scope, req.principal.scope, status_filter, after, page.limit + 1);
  v1::ReferralList out;
  out.set_next_cursor(http::take_page(found, page, [](const Referral& r) {
    return std::vector<std::string>{std::to_string(sqlite::unix_ms(r.created_at)),
                                    r.row.referral_id};
  }));
  for (const auto& r : found) {
    *out.add_referrals() = view(r, false);
    access_log::record(db(), req.principal, r.row.referral_id, "list");
  }
  tx.commit();
  return http::json(200, out);
}

http::Response Api::get(const http::Request& req) {
  const Scope scope = req.principal.role == v1::ROLE_CENTRE ? Scope::centre : Scope::district;
  sqlite::Transaction tx(db());
  const auto r = store().referral_in(scope, req.principal.scope, req.params.at("id"));
  // Another centre's referral is not found: its existence is not theirs to know.
  if (!r) return http::problem(404, "Not Found", "no such referral");
  v1::ReferralView v = view(*r, true);
  access_log::record(db(), req.principal, v.referral_id(), "read");
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
  if (auto why = validate::text(r.note(), MAX_NOTE, /*multiline=*/true))
    errors.push_back({"note", *why});
  if (idem.size() > MAX_IDEMPOTENCY_KEY)
    errors.push_back({"Idempotency-Key", "at most 128 characters"});
  return errors;
}

// The first answer for this Idempotency-Key (hashed), 409 if it came with
// another body; nothing when the key is new. `what` names the request.
std::optional<http::Response> earlier_answer(Store& store, const std::string& key,
                                             const std::string& hash,
                                             const std::string& what = "outcome") {
  const auto answer = store.answer(sha256_hex(key));
  if (!answer) return std::nullopt;
  if (answer->request_hash != hash)
    return http::problem(409, "Conflict", "Idempotency-Key was used for another " + what,
                         {{"Idempotency-Key", "already used with a different body"}});
  return http::Response{answer->status, "application/json", answer->response};
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
  // Whole seconds: the request's time may lie far outside a time_point's range.
  const auto charged_s = std::chrono::floor<std::chrono::seconds>(row.charged_at);
  if (r.has_at() && r.at().seconds() < charged_s.time_since_epoch().count())
    return http::problem(400, "Bad Request", "the outcome predates the charge",
                         {{"at", "must not be before the charge time"}});
  return std::nullopt;
}

// Moves the referral to the outcome, and on to unreachable once the configured
// number of contact attempts is reached; counts the attempt in `row`. `person`:
// who recorded it through henvis-web ("" for a token used directly).
void apply_outcome(Store& store, ReferralRow& row, const v1::OutcomeRequest& r,
                   int max_contact_attempts, Instant now, const google::protobuf::Timestamp& at,
                   const std::string& person) {
  const std::string& id = row.referral_id;
  const auto target = r.outcome();
  const auto previous = row.status;
  const auto now_ts = to_timestamp(now);
  const Instant occurred = to_time_point(at);
  if (target == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED) ++row.contact_attempts;
  store.set_status(id, target, now, row.contact_attempts);
  store.add_history(id, {target, now, "", occurred, r.note(), {}, {}, {}, person});
  emit_status(store.db(), row, target, previous, "", now_ts, at);
  if (target == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED &&
      row.contact_attempts >= max_contact_attempts) {
    // The configured number of failed attempts: the person is unreachable.
    store.set_status(id, v1::REFERRAL_STATUS_UNREACHABLE, now, row.contact_attempts);
    store.add_history(id, v1::REFERRAL_STATUS_UNREACHABLE, now, "max_contact_attempts", occurred,
                      "");
    emit_status(store.db(), row, v1::REFERRAL_STATUS_UNREACHABLE, target, "max_contact_attempts",
                now_ts, at);
  }
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
  sqlite::Transaction tx(db());
  Store st = store();
  std::optional<ReferralRow> row = st.find_referral(id);
  // An empty scope matches no referral, not the unroutable ones without a centre.
  if (!row || req.principal.scope.empty() || row->centre_id != req.principal.scope)
    return http::problem(404, "Not Found", "no such referral");

  // Idempotency-Key: the same key and body give the first answer.
  std::string key, hash;
  if (!idem.empty()) {
    key = req.principal.scope + '\0' + id + '\0' + idem;
    hash = idempotency_hash({}, r);
    if (auto earlier = earlier_answer(st, key, hash))
      return access_log::replayed(db(), tx, req.principal, id, "outcome", std::move(*earlier));
  }
  if (auto refusal = refuse_outcome(r, *row)) return *refusal;

  apply_outcome(st, *row, r, settings_.max_contact_attempts, now,
                r.has_at() ? r.at() : to_timestamp(now), req.principal.person);
  access_log::record(db(), req.principal, id, "outcome");

  http::Response out = http::json(200, view(*store().referral(id), true));
  if (!key.empty()) store().store_answer(sha256_hex(key), id, {hash, out.status, out.body}, now);
  tx.commit();
  if (relay_) relay_->notify();
  spdlog::info("outcome recorded referral_id={} outcome={} attempts={}", id,
               status_name(r.outcome()), row->contact_attempts);
  return out;
}

// ---- The coordinator's forwarding and closure of unroutable referrals -----

namespace {
// Why a coordinator closes an unroutable referral (ClosureRequest.reason).
constexpr std::array<const char*, 4> CLOSURE_REASONS = {"duplicate", "person_moved_abroad",
                                                        "handled_outside_henvis", "other"};
// The history and event reason of a forwarding.
constexpr const char* FORWARDED = "forwarded_by_coordinator";

void check_key(const std::string& idem, std::vector<http::FieldError>& errors) {
  if (idem.empty())
    errors.push_back({"Idempotency-Key", "required: a key the client keeps until it is answered"});
  else if (idem.size() > MAX_IDEMPOTENCY_KEY)
    errors.push_back({"Idempotency-Key", "at most 128 characters"});
}

void check_note(const std::string& note, bool required, std::vector<http::FieldError>& errors) {
  if (auto why = validate::text(note, MAX_NOTE, /*multiline=*/true))
    errors.push_back({"note", *why});
  else if (required && note.empty())
    errors.push_back({"note", "required: why, for the history (at most 500 characters)"});
}

// Whether `id` is a centre the directory routes some municipality to on `day`.
bool active_centre(const Directory& dir, const std::string& id, std::chrono::year_month_day day) {
  const auto* r = dir.recipient(id);
  if (!r || r->kind() != v1::RECIPIENT_KIND_CENTRE) return false;
  for (const auto& m : dir.raw().municipalities()) {
    const RouteResult route = dir.route(m.kommunekode(), day);
    if (route.routed && route.centre_id == id) return true;
  }
  return false;
}

std::chrono::year_month_day today(Instant now) {
  return copenhagen_date(std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count());
}

http::Response not_unroutable(const std::string& action, v1::ReferralStatus status) {
  const std::string is = status_name(status);
  return http::problem(409, "Conflict",
                       "cannot apply " + action + " to a referral that is " + is +
                           "; a coordinator forwards or closes only unroutable referrals",
                       {{"status", "is " + is +
                                       "; forwarding and closure are allowed only from "
                                       "unroutable"}});
}
}  // namespace

http::Response Api::act_on_unroutable(const http::Request& req, Action action) {
  const std::string idem = req.header("idempotency-key");
  check_key(idem, action.errors);
  if (!action.errors.empty())
    return http::problem(400, "Bad Request", "the " + action.name + " has invalid fields",
                         action.errors);
  const std::string id = req.params.at("id");
  const Instant now = clock_.now();
  sqlite::Transaction tx(db());
  Store st = store();
  // Outside the coordinator's district, the referral is not theirs to know.
  const auto found = st.referral_in(Scope::district, req.principal.scope, id);
  if (!found) return http::problem(404, "Not Found", "no such referral");
  const std::string key = "coordinator" + std::string(1, '\0') + req.principal.scope + '\0' + id +
                          '\0' + action.name + '\0' + idem;
  if (auto earlier = earlier_answer(st, key, action.request_hash, action.name))
    return access_log::replayed(db(), tx, req.principal, id, action.name, std::move(*earlier));
  ReferralRow row = found->row;
  if (row.status != v1::REFERRAL_STATUS_UNROUTABLE) return not_unroutable(action.name, row.status);

  action.apply(row, now);
  access_log::record(db(), req.principal, id, action.name);
  http::Response out = http::json(200, view(*store().referral(id), true));
  store().store_answer(sha256_hex(key), id, {action.request_hash, out.status, out.body}, now);
  tx.commit();
  if (relay_) relay_->notify();
  spdlog::info("{} by coordinator referral_id={} by={} status={}", action.name, id,
               req.principal.label, status_name(row.status));
  return out;
}

http::Response Api::forward(const http::Request& req) {
  v1::ForwardingRequest body;
  http::parse_json(req.body, body);
  Action a{"forwarding", {}, idempotency_hash({}, body), {}};
  if (body.centre_id().empty())
    a.errors.push_back({"centreId", "required: the id of a centre in the directory"});
  else if (!active_centre(directory_, body.centre_id(), today(clock_.now())))
    a.errors.push_back({"centreId", "not a centre the directory routes to today"});
  check_note(body.note(), true, a.errors);
  const std::string label = req.principal.label;
  const std::string person = req.principal.person;
  a.apply = [&](ReferralRow& row, Instant now) {
    const auto ts = to_timestamp(now);
    const auto previous = row.status;
    row.status = v1::REFERRAL_STATUS_ROUTED;
    row.centre_id = body.centre_id();
    row.directory_version = directory_.version();
    store().set_routing(row.referral_id, row.centre_id, row.directory_version);
    store().set_status(row.referral_id, row.status, now, row.contact_attempts);
    store().add_history(row.referral_id, {row.status, now, FORWARDED, now, body.note(), label,
                                          row.directory_version, row.centre_id, person});
    emit_status(db(), row, row.status, previous, FORWARDED, ts, ts);
    // The centre is told as of any routed referral: a new-referral notification.
    Store st = store();
    v1::ReferralContact c = contact_of(st, row, directory_);
    c.set_reason(FORWARDED);
    request_notification(db(), row.centre_id, v1::NOTIFICATION_KIND_NEW_REFERRAL, c, now);
  };
  return act_on_unroutable(req, std::move(a));
}

http::Response Api::close(const http::Request& req) {
  v1::ClosureRequest body;
  http::parse_json(req.body, body);
  Action a{"closure", {}, idempotency_hash({}, body), {}};
  if (std::find(CLOSURE_REASONS.begin(), CLOSURE_REASONS.end(), body.reason()) ==
      CLOSURE_REASONS.end())
    a.errors.push_back(
        {"reason", "one of duplicate, person_moved_abroad, handled_outside_henvis, other"});
  check_note(body.note(), body.reason() == "other", a.errors);
  const std::string label = req.principal.label;
  const std::string person = req.principal.person;
  a.apply = [&](ReferralRow& row, Instant now) {
    const auto ts = to_timestamp(now);
    const auto previous = row.status;
    row.status = v1::REFERRAL_STATUS_CLOSED;
    store().set_status(row.referral_id, row.status, now, row.contact_attempts);
    store().add_history(row.referral_id,
                        {row.status, now, body.reason(), now, body.note(), label, {}, {}, person});
    emit_status(db(), row, row.status, previous, body.reason(), ts, ts);
  };
  return act_on_unroutable(req, std::move(a));
}

}  // namespace henvis::router
