#include "henvis/notifications.hpp"

#include "henvis/events.hpp"
#include "henvis/ids.hpp"

namespace henvis {

namespace {
// `n` holds the payload; the rest is set here.
std::string publish(sqlite::Db& db, const std::string& source, v1::NotificationRequested& n,
                    const std::string& recipient_id, v1::NotificationKind kind,
                    const std::string& now) {
  n.set_notification_id(new_uuid());
  n.set_recipient_id(recipient_id);
  n.set_kind(kind);
  *n.mutable_requested_at() = parse_timestamp(now);
  events::emit(db, source, n);
  return n.notification_id();
}
}  // namespace

std::string request_notification(sqlite::Db& db, const std::string& source,
                                 const std::string& recipient_id, v1::NotificationKind kind,
                                 const v1::ReferralContact& contact, const std::string& now) {
  v1::NotificationRequested n;
  *n.mutable_referral() = contact;
  return publish(db, source, n, recipient_id, kind, now);
}

std::string request_notification(sqlite::Db& db, const std::string& source,
                                 const std::string& recipient_id, v1::NotificationKind kind,
                                 const v1::UnderretningNotice& notice, const std::string& now) {
  v1::NotificationRequested n;
  *n.mutable_underretning() = notice;
  return publish(db, source, n, recipient_id, kind, now);
}

}  // namespace henvis
