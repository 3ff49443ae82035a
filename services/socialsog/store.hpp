#pragma once
// socialsog's stored rows and the events and notifications they make. Every
// function runs inside the caller's transaction.

#include <string>

#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"

namespace henvis::socialsog {

inline constexpr const char* SOURCE = "/henvis/socialsog";

// Publishes an UnderretningEvent (no CPR, no names) through the outbox.
void emit_event(sqlite::Db& db, const v1::UnderretningView& v, const std::string& event,
                const std::string& at, const std::string& reason = {});
// Publishes a NotificationRequested through the outbox, sent by socialsog
// (henvis/notifications.hpp); returns its id.
std::string request_notification(sqlite::Db& db, const std::string& recipient_id,
                                 v1::NotificationKind kind, const v1::UnderretningNotice& notice,
                                 const std::string& now);
std::int64_t state_get(sqlite::Db& db, const std::string& key, std::int64_t fallback);
void state_set(sqlite::Db& db, const std::string& key, std::int64_t value);

}  // namespace henvis::socialsog
