#include "outbound.hpp"

#include <spdlog/spdlog.h>

#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/notifications.hpp"
#include "henvis/partition_keys.hpp"

namespace henvis::router {

namespace {
constexpr const char* SOURCE = "/henvis/router";
}

void emit_status(sqlite::Db& db, const ReferralRow& row, v1::ReferralStatus status,
                 v1::ReferralStatus previous, const std::string& reason,
                 const google::protobuf::Timestamp& at,
                 const google::protobuf::Timestamp& occurred_at) {
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
  *ev.mutable_charged_at() = to_timestamp(row.charged_at);
  *ev.mutable_at() = at;
  *ev.mutable_occurred_at() = occurred_at;
  ev.set_reason(reason);
  ev.set_contact_attempts(row.contact_attempts);
  ev.set_prior_referrals_90d(row.prior_90d);
  ev.set_prior_referrals_5y(row.prior_5y);
  events::emit(db, SOURCE, ev);
}

v1::ReferralContact contact_of(Store& store, const ReferralRow& row, const Directory& dir) {
  v1::ReferralContact c;
  c.set_referral_id(row.referral_id);
  c.set_offence(row.offence);
  *c.mutable_charged_at() = to_timestamp(row.charged_at);
  c.set_kommunekode(row.kommunekode);
  if (const auto* m = dir.municipality(row.kommunekode)) c.set_municipality_name(m->name());
  c.set_prior_referrals_90d(row.prior_90d);
  c.set_prior_referrals_5y(row.prior_5y);
  c.set_status(row.status);
  c.set_centre_id(row.centre_id);
  if (const auto r = store.referral(row.referral_id)) {
    c.set_journal_number(r->journal_number);
    if (const auto& p = r->person) {
      auto* person = c.mutable_person();
      person->set_cpr(p->cpr);
      person->set_name(p->name);
      person->set_phone(p->phone);
      person->set_email(p->email);
      person->set_preferred_contact_time(p->preferred_contact_time);
      c.mutable_consent()->set_text_version(p->consent_version);
      *c.mutable_consent()->mutable_given_at() = to_timestamp(p->consent_given_at);
    }
    c.set_reason(r->reason);
  }
  return c;
}

void request_notification(sqlite::Db& db, const std::string& recipient_id,
                          v1::NotificationKind kind, const v1::ReferralContact& contact,
                          Instant now) {
  // The person travels sealed under the referral's data key; a referral
  // without one (its offer came in clear, before sealing) is announced
  // without the person, whom the centre reads through GET /v1/referrals/{id}.
  Store store(db);
  const std::optional<std::string> key = store.data_key(contact.referral_id());
  // Its deliveries come back in the partition of the referral's offers.
  const std::string partition_key = partition_keys::of(db, contact.referral_id());
  if (!key && contact.has_person()) {
    v1::ReferralContact without = contact;
    without.clear_person();
    spdlog::warn("no data key: notification without the person referral_id={}",
                 contact.referral_id());
    henvis::request_notification(db, SOURCE, recipient_id, kind, without, rfc3339(now), "",
                                 partition_key);
    return;
  }
  henvis::request_notification(db, SOURCE, recipient_id, kind, contact, rfc3339(now),
                               key.value_or(""), partition_key);
}

}  // namespace henvis::router
