#pragma once
// What the router tells others about a referral: status events and
// notifications, through the outbox inside the caller's transaction.

#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "henvis/directory.hpp"
#include "henvis/v1/events.pb.h"
#include "store.hpp"

namespace henvis::router {

// Publishes a ReferralStatusChanged (no personal data): recorded `at`, having
// happened at `occurred_at`.
void emit_status(sqlite::Db& db, const ReferralRow& row, v1::ReferralStatus status,
                 v1::ReferralStatus previous, const std::string& reason,
                 const google::protobuf::Timestamp& at,
                 const google::protobuf::Timestamp& occurred_at);
// What a recipient needs to act on the referral (personal data if any left).
v1::ReferralContact contact_of(Store& store, const ReferralRow& row, const Directory& dir);
// Publishes a NotificationRequested for `recipient_id`, sent by the router
// (henvis/notifications.hpp).
void request_notification(sqlite::Db& db, const std::string& recipient_id,
                          v1::NotificationKind kind, const v1::ReferralContact& contact,
                          Instant now);

}  // namespace henvis::router
