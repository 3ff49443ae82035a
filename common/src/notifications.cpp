#include "henvis/notifications.hpp"

#include "henvis/data_keys.hpp"
#include "henvis/events.hpp"
#include "henvis/ids.hpp"

namespace henvis {

namespace {
// `n` holds the payload; the rest is set here.
std::string publish(sqlite::Db& db, const std::string& source, v1::NotificationRequested& n,
                    const std::string& recipient_id, v1::NotificationKind kind,
                    const std::string& now) {
  if (n.notification_id().empty()) n.set_notification_id(new_uuid());
  n.set_recipient_id(recipient_id);
  n.set_kind(kind);
  *n.mutable_requested_at() = parse_timestamp(now);
  events::emit(db, source, n);
  return n.notification_id();
}
}  // namespace

std::string request_notification(sqlite::Db& db, const std::string& source,
                                 const std::string& recipient_id, v1::NotificationKind kind,
                                 const v1::ReferralContact& contact, const std::string& now,
                                 const std::string& data_key, const std::string& partition_key) {
  v1::NotificationRequested n;
  *n.mutable_referral() = contact;
  n.set_partition_key(partition_key);
  if (!data_key.empty() && contact.has_person()) {
    n.set_notification_id(new_uuid());
    auto* c = n.mutable_referral();
    *c->mutable_sealed_person() =
        data_keys::seal(data_key, c->referral_id(), c->person(),
                        data_keys::notification_ad(n.notification_id(), c->referral_id()));
    c->clear_person();
  }
  return publish(db, source, n, recipient_id, kind, now);
}

std::string request_notification(sqlite::Db& db, const std::string& source,
                                 const std::string& recipient_id, v1::NotificationKind kind,
                                 const v1::UnderretningNotice& notice, const std::string& now,
                                 const std::string& underretning_key) {
  v1::NotificationRequested n;
  *n.mutable_underretning() = notice;
  if (!underretning_key.empty()) {
    n.set_notification_id(new_uuid());
    data_keys::seal_underretning(underretning_key, n.notification_id(), *n.mutable_underretning());
  }
  return publish(db, source, n, recipient_id, kind, now);
}

}  // namespace henvis
