#include "intake.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>

#include "henvis/access_log.hpp"
#include "henvis/config.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/digest.hpp"
#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/topics.hpp"
#include "henvis/validate.hpp"
#include "municipalities.hpp"

namespace henvis::intake {

namespace {
// ce_source of the events intake emits.
constexpr const char* SOURCE = "/henvis/intake";
// A charge time this far in the future is a clock or typing error.
constexpr std::int64_t MAX_CLOCK_SKEW_S = 10 * 60;
constexpr std::size_t MAX_ID_LEN = 64;
constexpr std::size_t MAX_TEXT_LEN = 200;

// An id whose digits could be a CPR number (ten, with at most a hyphen or a
// space between): such an id would put a person's number into every log line
// and event key that names the offer.
bool cpr_like(const std::string& s) {
  std::string digits;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)))
      digits += c;
    else if (c != '-' && c != ' ' && c != '.')
      return false;
  }
  return digits.size() == 10;
}

bool safe_id(const std::string& s) {
  if (s.empty() || s.size() > MAX_ID_LEN || cpr_like(s)) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

std::int64_t unix_seconds(Instant t) {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

// Whether the valid CPR number `cpr` encodes a birth date after the charge
// (Copenhagen date): a person cannot be charged before being born.
bool born_after_charge(const std::string& cpr, const v1::OfferRequest& r) {
  if (!r.has_charged_at() || r.charged_at().seconds() <= 0) return false;
  const auto born = validate::cpr_birth_date(cpr);
  return born && std::chrono::sys_days(*born) >
                     std::chrono::sys_days(copenhagen_date(r.charged_at().seconds()));
}

// Whether the principal may withdraw the offer's consent: an officer of its
// district, or the centre the directory routes it to.
bool may_withdraw(const auth::Principal& p, const OfferRow& offer, const Directory& directory) {
  if (p.role == v1::ROLE_OFFICER) return offer.district_id == p.scope;
  if (!offer.charged_at) return false;
  const auto day = copenhagen_date(unix_seconds(*offer.charged_at));
  const auto route = directory.route(offer.kommunekode, day);
  return route.routed && route.centre_id == p.scope;
}
}  // namespace

std::vector<http::FieldError> check_offer(const v1::OfferRequest& r, const Directory& dir,
                                          std::int64_t now) {
  std::vector<http::FieldError> e;
  if (!safe_id(r.offer_id()))
    e.push_back(
        {"offerId",
         "required: 1-64 characters of letters, digits, '-', '_' or '.', not a CPR number"});
  if (auto why = validate::journal_number(r.journal_number())) e.push_back({"journalNumber", *why});
  // proto3 JSON takes any integer for an enum: only the named values count.
  if (r.offence() == v1::OFFENCE_UNSPECIFIED || !v1::Offence_IsValid(r.offence()))
    e.push_back({"offence", "required: OFFENCE_DRUNK, OFFENCE_DRUG or OFFENCE_BOTH"});
  if (!r.has_charged_at() || r.charged_at().seconds() <= 0)
    e.push_back({"chargedAt", "required: RFC 3339 time"});
  else if (r.charged_at().seconds() > now + MAX_CLOCK_SKEW_S)
    e.push_back({"chargedAt", "must not be in the future"});
  if (r.officer_id().empty() || validate::text(r.officer_id(), MAX_ID_LEN))
    e.push_back({"officerId", "required: one line of at most 64 characters"});
  if (r.answer() != v1::ANSWER_YES && r.answer() != v1::ANSWER_NO)
    e.push_back({"answer", "required: ANSWER_YES or ANSWER_NO"});

  // A consent is never refused for its municipality: a Danish municipality
  // the directory does not list, or none at all (0), becomes an unroutable
  // referral for the district's coordinator. Only a code that is no Danish
  // municipality's is a typing error.
  if (r.kommunekode() != 0 && !dir.municipality(r.kommunekode()) &&
      !danish_municipality(r.kommunekode()))
    e.push_back({"kommunekode", "not a Danish municipality code (data/municipalities.csv)"});
  const bool yes = r.answer() == v1::ANSWER_YES;
  if (!yes) return e;

  const auto& p = r.person();
  if (!r.has_person()) {
    e.push_back({"person", "required when the answer is yes"});
  } else {
    if (auto why = validate::cpr(p.cpr()))
      e.push_back({"person.cpr", *why});
    else if (born_after_charge(p.cpr(), r))
      e.push_back({"person.cpr", "the birth date it encodes is after the charge"});
    if (p.name().empty())
      e.push_back({"person.name", "required: at most 200 characters"});
    else if (auto why = validate::text(p.name(), MAX_TEXT_LEN))
      e.push_back({"person.name", *why});
    if (auto why = validate::phone(p.phone())) e.push_back({"person.phone", *why});
    if (!p.email().empty())
      if (auto why = validate::email(p.email())) e.push_back({"person.email", *why});
    if (auto why = validate::text(p.preferred_contact_time(), MAX_TEXT_LEN))
      e.push_back({"person.preferredContactTime", *why});
  }
  if (!r.has_consent()) {
    e.push_back({"consent", "required when the answer is yes"});
  } else {
    if (r.consent().text_version().empty() || r.consent().text_version().size() > MAX_ID_LEN)
      e.push_back({"consent.textVersion", "required: the version of the consent text read"});
    if (!r.consent().has_given_at() || r.consent().given_at().seconds() <= 0)
      e.push_back({"consent.givenAt", "required: RFC 3339 time"});
    else if (r.consent().given_at().seconds() > now + MAX_CLOCK_SKEW_S)
      e.push_back({"consent.givenAt", "must not be in the future"});
  }
  return e;
}

std::string partition_key(const std::string& secret, const std::string& cpr) {
  // HMAC-SHA256 (libsodium): a keyed hash, because CPR numbers are few
  // enough to hash them all; one byte of it, so that the key names a bucket
  // that hundreds of Danes share, not a person.
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(cpr.data()),
                                cpr.size());
  crypto_auth_hmacsha256_final(&st, mac.data());
  sodium_memzero(&st, sizeof st);
  char out[8];
  std::snprintf(out, sizeof out, "p%03u", static_cast<unsigned>(mac[0]));
  return out;
}

namespace {
std::string load_partition_secret(sqlite::Db& db, const std::string& file, bool dev) {
  return config::key_from_file_or_dev_db("intake.partition_key_file", file, 16, dev, db,
                                         "partition_key");
}
}  // namespace

Intake::Intake(const std::string& db_path, Directory directory, outbox::Relay* relay,
               const Clock& clock, const std::string& partition_key_file, bool dev)
    : dbs_(db_path),
      commits_(db_path),
      directory_(std::move(directory)),
      relay_(relay),
      clock_(&clock),
      partition_secret_(load_partition_secret(db(), partition_key_file, dev)) {}

void Intake::register_routes(http::Router& router) {
  router.add("POST", "/v1/offers", {v1::ROLE_OFFICER},
             [this](http::Request& r) { return post_offer(r); });
  router.add("POST", "/v1/offers/{offerId}/withdrawal", {v1::ROLE_OFFICER, v1::ROLE_CENTRE},
             [this](http::Request& r) { return withdraw(r); });
  access_log::add_routes(router, dbs_);
  router.add("GET", "/v1/internal/data-keys/{referralId}", {v1::ROLE_SERVICE},
             [this](http::Request& r) { return data_key(r); });
  router.add("POST", "/v1/internal/data-keys", {v1::ROLE_SERVICE},
             [this](http::Request& r) { return data_keys(r); });
}

// A consumer's whole batch in one request and one transaction: each key
// handed out is one access-log row, as with GET.
http::Response Intake::data_keys(const http::Request& req) {
  v1::DataKeysRequest in;
  http::parse_json(req.body, in);
  const std::set<std::string> ids =
      data_keys::requested_ids(in.referral_ids(), "referralIds", "referral ids");
  v1::DataKeysResponse res;
  sqlite::Transaction tx(db());
  for (const auto& id : ids) {
    std::optional<std::string> key = store().key(id);
    if (!key) {
      *(store().referral_withdrawn(id) ? res.add_destroyed() : res.add_unknown()) = id;
      continue;
    }
    access_log::record(db(), req.principal, id, "data_key");
    auto* k = res.add_keys();
    k->set_referral_id(id);
    k->set_key(std::move(*key));
  }
  tx.commit();
  return http::json(200, res);
}

http::Response Intake::data_key(const http::Request& req) {
  const std::string& referral_id = req.params.at("referralId");
  sqlite::Transaction tx(db());
  std::optional<std::string> key = store().key(referral_id);
  if (!key) {
    const bool withdrawn = store().referral_withdrawn(referral_id);
    return withdrawn ? http::problem(410, "Gone", "the referral's data key was destroyed")
                     : http::problem(404, "Not Found", "no data key for this referral");
  }
  // The key opens the person's data: a disclosure (the log holds no key).
  access_log::record(db(), req.principal, referral_id, "data_key");
  tx.commit();
  v1::DataKeyResponse res;
  res.set_referral_id(referral_id);
  res.set_key(std::move(*key));
  return http::json(200, res);
}

http::Response Intake::withdraw(const http::Request& req) {
  const std::string offer_id = req.params.at("offerId");
  sqlite::Transaction tx(db());
  const std::optional<OfferRow> offer = store().offer(offer_id);
  // Not found, and not the caller's, look the same: 404.
  if (!offer || !may_withdraw(req.principal, *offer, directory_))
    return http::problem(404, "Not Found", "no such offer");
  if (offer->answer != v1::ANSWER_YES)
    return http::problem(409, "Conflict", "a declined offer holds no consent to withdraw");
  if (offer->withdrawal_response)  // withdrawing twice is withdrawing once
    return access_log::replayed(db(), tx, req.principal, offer->referral_id, "withdrawal",
                                {200, "application/json", *offer->withdrawal_response});

  const Instant now = clock_->now();
  v1::OfferWithdrawn ev;
  ev.set_offer_id(offer_id);
  ev.set_referral_id(offer->referral_id);
  ev.set_withdrawn_by(req.principal.role);
  *ev.mutable_at() = to_timestamp(now);
  ev.set_partition_key(offer->partition_key);  // after its offer, in its partition
  v1::WithdrawalResponse res;
  res.set_offer_id(offer_id);
  res.set_referral_id(ev.referral_id());
  *res.mutable_withdrawn_at() = ev.at();
  res.set_person(req.principal.person);
  http::Response out = http::json(200, res);
  events::emit(db(), SOURCE, ev);
  store().record_withdrawal(offer_id, now, out.body, req.principal);
  // Crypto-shredding: without the key no sealed copy of the person in any
  // topic or DLQ opens again (docs/decisions.md 22).
  store().delete_key(offer->referral_id);
  access_log::record(db(), req.principal, offer->referral_id, "withdrawal");
  // The offer's event (with the person) left the outbox long ago, but its
  // bytes may still be in old WAL frames: truncate the WAL on commit.
  db().note_erasure();
  tx.commit();
  if (relay_) relay_->notify();
  spdlog::info("consent withdrawn offer_id={} referral_id={} by={}", offer_id, ev.referral_id(),
               auth::role_name(req.principal.role));
  return out;
}

namespace {
// On yes, the CPR and phone are kept in their normal form. On no, personal
// data is neither accepted nor kept: it is dropped, and the response says so.
void normalise_offer(v1::OfferRequest& r, v1::OfferResponse& res) {
  if (r.answer() == v1::ANSWER_YES) {
    auto* p = r.mutable_person();
    p->set_cpr(validate::normalise_cpr(p->cpr()));
    p->set_phone(validate::normalise_phone(p->phone()));
  } else if (r.has_person() || r.has_consent()) {
    r.clear_person();
    r.clear_consent();
    res.set_personal_data_dropped(true);
  }
}

// The stored answer when offerId was used before: the same answer for the same
// request, 409 for a different one; nothing when offerId is new.
std::optional<http::Response> earlier_answer(Store& store, const std::string& offer_id,
                                             const std::string& hash) {
  auto earlier = store.answer(offer_id);
  if (!earlier) return std::nullopt;
  if (earlier->request_hash != hash)
    return http::problem(409, "Conflict",
                         "offerId was already used for a different offer; choose a new offerId",
                         {{"offerId", "already used with a different body"}});
  return http::Response{earlier->status, "application/json", std::move(earlier->response)};
}

v1::OfferRecorded offer_recorded(const v1::OfferRequest& r, const std::string& district_id,
                                 bool covered, Instant now) {
  const bool yes = r.answer() == v1::ANSWER_YES;
  v1::OfferRecorded ev;
  ev.set_offer_id(r.offer_id());
  if (yes) ev.set_referral_id(new_uuid());
  ev.set_journal_number(r.journal_number());
  ev.set_offence(r.offence());
  *ev.mutable_charged_at() = r.charged_at();
  ev.set_officer_id(r.officer_id());
  ev.set_district_id(district_id);
  ev.set_answer(r.answer());
  ev.set_kommunekode(r.kommunekode());
  if (yes) {
    *ev.mutable_person() = r.person();
    *ev.mutable_consent() = r.consent();
  }
  *ev.mutable_recorded_at() = to_timestamp(now);
  ev.set_covered(covered);
  return ev;
}

// The municipality's name: the directory's, else Denmark's list's; "" for
// none (0).
std::string municipality_name(int kommunekode, const Directory& dir) {
  if (const auto* m = dir.municipality(kommunekode)) return m->name();
  if (const auto* name = danish_municipality(kommunekode)) return *name;
  return "";
}

// Fills the officer's answer for a recorded offer.
void describe_offer(v1::OfferResponse& res, const v1::OfferRecorded& ev, const std::string& name) {
  res.set_offer_id(ev.offer_id());
  res.set_referral_id(ev.referral_id());
  res.set_answer(ev.answer());
  res.set_kommunekode(ev.kommunekode());
  res.set_municipality_name(name);
  res.set_covered(ev.covered());
  if (ev.answer() != v1::ANSWER_YES)
    res.set_message("Declined: recorded without personal data.");
  else if (ev.covered())
    res.set_message("Accepted: the rusmiddelcenter of " + name + " will contact the person.");
  else if (name.empty())
    res.set_message(
        "Accepted without a home municipality: no centre will be told automatically; the "
        "district coordinator is told and finds the centre.");
  else
    res.set_message(name +
                    " does not take part in the programme: no centre will be told automatically; "
                    "the district coordinator is told.");
}

// The event as it travels: the person sealed under a new data key of the
// referral, kept in `store` only (docs/decisions.md 22).
v1::OfferRecorded seal_person(Store& store, v1::OfferRecorded ev) {
  if (!ev.has_person()) return ev;
  const std::string key = data_keys::new_key();
  *ev.mutable_sealed_person() = data_keys::seal(
      key, ev.referral_id(), ev.person(), data_keys::offer_ad(ev.offer_id(), ev.referral_id()));
  ev.clear_person();
  store.add_key(ev.referral_id(), key);
  return ev;
}

NewOffer new_offer(const v1::OfferRecorded& ev, const std::string& hash, const http::Response& out,
                   Instant now) {
  NewOffer o;
  o.offer_id = ev.offer_id();
  o.request_hash = hash;
  o.status = out.status;
  o.response = out.body;
  o.referral_id = ev.referral_id();  // empty on a no
  o.answer = ev.answer();
  o.kommunekode = ev.kommunekode();
  o.district_id = ev.district_id();
  o.created_at = now;
  o.charged_at = to_time_point(ev.charged_at());  // check_offer bounded it
  o.partition_key = ev.partition_key();
  return o;
}
}  // namespace

// The first answer to an offer given again: for a yes, it names the referral
// the person's data went to, so it is logged as a disclosure.
http::Response Intake::replayed_offer(sqlite::Db& db, Store& st, const http::Request& req,
                                      const v1::OfferRequest& r, http::Response earlier) {
  if (r.answer() != v1::ANSWER_YES) return earlier;
  const std::optional<OfferRow> offer = st.offer(r.offer_id());
  if (!offer) return earlier;
  return access_log::replayed(db, req.principal, offer->referral_id, "register",
                              std::move(earlier));
}

http::Response Intake::post_offer(const http::Request& req) {
  v1::OfferRequest r;
  http::parse_json(req.body, r);
  const Instant now = clock_->now();
  auto errors = check_offer(r, directory_, unix_seconds(now));
  if (!errors.empty())
    return http::problem(400, "Bad Request", "the offer has invalid fields", errors);

  v1::OfferResponse res;
  normalise_offer(r, res);
  // Same offerId + same request (from the same officer scope) = same answer.
  const std::string hash = idempotency_hash({req.principal.scope}, r);

  const auto day = copenhagen_date(r.charged_at().seconds());
  const bool covered = r.kommunekode() != 0 && directory_.route(r.kommunekode(), day).routed;
  v1::OfferRecorded ev = offer_recorded(r, req.principal.scope, covered, now);
  if (ev.answer() == v1::ANSWER_YES)
    ev.set_partition_key(partition_key(partition_secret_, r.person().cpr()));
  describe_offer(res, ev, municipality_name(r.kommunekode(), directory_));
  http::Response out = http::json(201, res);

  // Written in the next group commit with the other officers' offers of the
  // moment (issue 14): one disk sync for all, and no answer before it.
  bool recorded = false;
  commits_.run([&](sqlite::Db& db) {
    Store st(db);
    if (auto earlier = earlier_answer(st, r.offer_id(), hash)) {
      out = replayed_offer(db, st, req, r, std::move(*earlier));
      return;
    }
    events::emit(db, SOURCE, seal_person(st, ev));
    st.add(new_offer(ev, hash, out, now));
    // A yes writes the person's data (a no keeps none: nothing to log).
    if (ev.answer() == v1::ANSWER_YES)
      access_log::record(db, req.principal, ev.referral_id(), "register");
    recorded = true;
  });
  if (!recorded) return out;
  if (relay_) relay_->notify();
  spdlog::info("offer recorded offer_id={} answer={} covered={} district={}", r.offer_id(),
               r.answer() == v1::ANSWER_YES ? "yes" : "no", covered, req.principal.scope);
  return out;
}

}  // namespace henvis::intake
