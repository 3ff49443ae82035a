#include "referral_store.hpp"

#include <google/protobuf/util/json_util.h>

#include <stdexcept>
#include <vector>

#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/notifications.hpp"
#include "henvis/outbox.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "lifecycle.hpp"

namespace henvis::router {

namespace {
constexpr const char* SOURCE = "/henvis/router";
}

std::optional<ReferralRow> find_referral(sqlite::Db& db, const std::string& referral_id) {
  sqlite::Stmt s(db,
                 "SELECT referral_id, offer_id, status, centre_id, kommunekode, district_id, "
                 "directory_version, offence, charged_at, contact_attempts, prior_90d, prior_5y "
                 "FROM referrals WHERE referral_id = ?");
  s.bind(1, referral_id);
  if (!s.step()) return std::nullopt;
  ReferralRow r;
  r.referral_id = s.text(0);
  r.offer_id = s.text(1);
  r.status = static_cast<v1::ReferralStatus>(s.i64(2));
  r.centre_id = s.text(3);
  r.kommunekode = static_cast<int>(s.i64(4));
  r.district_id = s.text(5);
  r.directory_version = s.text(6);
  r.offence = static_cast<v1::Offence>(s.i64(7));
  r.charged_at = s.text(8);
  r.contact_attempts = static_cast<int>(s.i64(9));
  r.prior_90d = static_cast<int>(s.i64(10));
  r.prior_5y = static_cast<int>(s.i64(11));
  return r;
}

ReferralRow load_referral(sqlite::Db& db, const std::string& referral_id) {
  auto r = find_referral(db, referral_id);
  if (!r) throw std::runtime_error("referral vanished: " + referral_id);
  return *r;
}

void add_history(sqlite::Db& db, const std::string& referral_id, v1::ReferralStatus status,
                 const std::string& at, const std::string& reason, const std::string& occurred_at,
                 const std::string& note) {
  sqlite::Stmt h(db,
                 "INSERT INTO referral_history(referral_id, status, at, reason, occurred_at, note) "
                 "VALUES (?,?,?,?,?,?)");
  h.bind(1, referral_id).bind(2, static_cast<int>(status)).bind(3, at).bind(4, reason);
  h.bind(5, occurred_at.empty() ? at : occurred_at);
  if (note.empty())
    h.bind_null(6);
  else
    h.bind(6, note);
  h.run();
}

void set_status(sqlite::Db& db, const std::string& referral_id, v1::ReferralStatus status,
                const std::string& now, int contact_attempts) {
  sqlite::Stmt up(db,
                  "UPDATE referrals SET status = ?, contact_attempts = ?, updated_at = ?, "
                  "last_activity_at = ?, reminded_at = NULL, escalated_at = NULL "
                  "WHERE referral_id = ?");
  up.bind(1, static_cast<int>(status)).bind(2, contact_attempts).bind(3, now).bind(4, now);
  up.bind(5, referral_id).run();
}

void emit_status(sqlite::Db& db, const ReferralRow& row, v1::ReferralStatus status,
                 v1::ReferralStatus previous, const std::string& reason, const std::string& at,
                 const std::string& occurred_at) {
  v1::ReferralStatusChanged ev;
  ev.set_referral_id(row.referral_id);
  ev.set_offer_id(row.offer_id);
  ev.set_status(status);
  ev.set_previous_status(previous);
  ev.set_centre_id(row.centre_id);
  ev.set_kommunekode(row.kommunekode);
  ev.set_district_id(row.district_id);
  ev.set_directory_version(row.directory_version);
  ev.set_offence(row.offence);
  *ev.mutable_charged_at() = parse_timestamp(row.charged_at);
  *ev.mutable_at() = parse_timestamp(at);
  *ev.mutable_occurred_at() = parse_timestamp(occurred_at.empty() ? at : occurred_at);
  ev.set_reason(reason);
  ev.set_contact_attempts(row.contact_attempts);
  ev.set_prior_referrals_90d(row.prior_90d);
  ev.set_prior_referrals_5y(row.prior_5y);
  events::emit(db, SOURCE, ev);
}

void erase_person(sqlite::Db& db, const std::string& referral_id) {
  sqlite::Stmt p(db,
                 "UPDATE referrals SET cpr = NULL, name = NULL, phone = NULL, email = NULL, "
                 "preferred_contact_time = NULL WHERE referral_id = ?");
  p.bind(1, referral_id).run();
  // Free-text notes may name the person.
  sqlite::Stmt n(db, "UPDATE referral_history SET note = NULL WHERE referral_id = ?");
  n.bind(1, referral_id).run();
  sqlite::Stmt k(db, "DELETE FROM person_index WHERE referral_id = ?");
  k.bind(1, referral_id).run();
  // Stored idempotent answers hold the person's data too: keep them (a replay
  // still gets its first answer) without it.
  std::vector<std::pair<std::string, std::string>> scrubbed;
  {
    sqlite::Stmt sel(db, "SELECT key, response FROM idempotency WHERE referral_id = ?");
    sel.bind(1, referral_id);
    while (sel.step()) {
      v1::ReferralView v;
      google::protobuf::util::JsonParseOptions in;
      in.ignore_unknown_fields = true;
      std::string out = "{}";
      if (google::protobuf::util::JsonStringToMessage(sel.text(1), &v, in).ok()) {
        v.clear_person();
        v.clear_consent();
        for (auto& h : *v.mutable_history()) h.clear_note();
        out.clear();
        (void)google::protobuf::util::MessageToJsonString(v, &out);
      }
      scrubbed.emplace_back(sel.text(0), out);
    }
  }
  sqlite::Stmt up(db, "UPDATE idempotency SET response = ? WHERE key = ?");
  for (const auto& [key, response] : scrubbed) {
    up.bind(1, response).bind(2, key).run();
    up.reset();
  }
}

v1::ReferralContact contact_of(sqlite::Db& db, const ReferralRow& row, const Directory& dir) {
  v1::ReferralContact c;
  c.set_referral_id(row.referral_id);
  c.set_offence(row.offence);
  *c.mutable_charged_at() = parse_timestamp(row.charged_at);
  c.set_kommunekode(row.kommunekode);
  if (const auto* m = dir.municipality(row.kommunekode)) c.set_municipality_name(m->name());
  c.set_prior_referrals_90d(row.prior_90d);
  c.set_prior_referrals_5y(row.prior_5y);
  c.set_status(row.status);
  c.set_centre_id(row.centre_id);
  sqlite::Stmt s(db,
                 "SELECT journal_number, cpr, name, phone, email, preferred_contact_time, "
                 "consent_version, consent_given_at, reason FROM referrals WHERE referral_id = ?");
  s.bind(1, row.referral_id);
  if (s.step()) {
    c.set_journal_number(s.text(0));
    if (!s.is_null(1)) {
      auto* p = c.mutable_person();
      p->set_cpr(s.text(1));
      p->set_name(s.text(2));
      p->set_phone(s.text(3));
      p->set_email(s.text(4));
      p->set_preferred_contact_time(s.text(5));
      c.mutable_consent()->set_text_version(s.text(6));
      *c.mutable_consent()->mutable_given_at() = parse_timestamp(s.text(7));
    }
    c.set_reason(s.text(8));
  }
  return c;
}

void request_notification(sqlite::Db& db, const std::string& recipient_id,
                          v1::NotificationKind kind, const v1::ReferralContact& contact,
                          const std::string& now) {
  henvis::request_notification(db, SOURCE, recipient_id, kind, contact, now);
}

}  // namespace henvis::router
