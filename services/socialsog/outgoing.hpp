#pragma once
// What socialsog sends about its underretninger, through the outbox inside
// the caller's transaction: lifecycle events (henvis.underretninger.v1, no CPR
// numbers, no names) and notifications for notifier to deliver.

#include <string>

#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"

namespace henvis::socialsog {

inline constexpr const char* SOURCE = "/henvis/socialsog";

// Publishes an UnderretningEvent `event` that happened `at`.
void emit_event(sqlite::Db& db, const v1::UnderretningView& v, const std::string& event,
                sqlite::Instant at, const std::string& reason = {});
// Publishes a NotificationRequested sent by socialsog (henvis/notifications.hpp)
// requested `now`; returns its id.
std::string request_notification(sqlite::Db& db, const std::string& recipient_id,
                                 v1::NotificationKind kind, const v1::UnderretningNotice& notice,
                                 sqlite::Instant now);

}  // namespace henvis::socialsog
