#pragma once
// Asking the notifier to tell a recipient something: a NotificationRequested
// on henvis.notifications.v1 (keyed by recipient), through the outbox.

#include <string>

#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"

namespace henvis {

// Adds a NotificationRequested with a new id, sent by `source` (a CloudEvents
// source such as "/henvis/router") and requested at `now` (RFC 3339), to the
// outbox inside the caller's transaction; returns its notification id. The
// payload is a referral contact or an underretning notice. With a
// `data_key`, the contact's person travels sealed under it
// (henvis/data_keys.hpp), never in clear. `partition_key`: the referral's
// (OfferRecorded.partition_key), for the notifier to key its deliveries with.
std::string request_notification(sqlite::Db& db, const std::string& source,
                                 const std::string& recipient_id, v1::NotificationKind kind,
                                 const v1::ReferralContact& contact, const std::string& now,
                                 const std::string& data_key = {},
                                 const std::string& partition_key = {});
// With an `underretning_key`, the notice's children and adults travel sealed
// under it (data_keys::seal_underretning), never in clear.
std::string request_notification(sqlite::Db& db, const std::string& source,
                                 const std::string& recipient_id, v1::NotificationKind kind,
                                 const v1::UnderretningNotice& notice, const std::string& now,
                                 const std::string& underretning_key = {});

}  // namespace henvis
