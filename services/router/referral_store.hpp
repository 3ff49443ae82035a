#pragma once
// The router's referral rows and the events and notifications they make.
// Every function runs inside the caller's transaction.

#include <optional>
#include <string>

#include "henvis/directory.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"

namespace henvis::router {

// A referral's non-personal fields.
struct ReferralRow {
  std::string referral_id;
  std::string offer_id;
  v1::ReferralStatus status = v1::REFERRAL_STATUS_UNSPECIFIED;
  std::string centre_id;
  int kommunekode = 0;
  std::string district_id;
  std::string directory_version;
  v1::Offence offence = v1::OFFENCE_UNSPECIFIED;
  std::string charged_at;
  int contact_attempts = 0;
  int prior_90d = 0;
  int prior_5y = 0;
};

std::optional<ReferralRow> find_referral(sqlite::Db& db, const std::string& referral_id);
// Throws std::runtime_error if absent.
ReferralRow load_referral(sqlite::Db& db, const std::string& referral_id);

void add_history(sqlite::Db& db, const std::string& referral_id, v1::ReferralStatus status,
                 const std::string& at, const std::string& reason, const std::string& occurred_at,
                 const std::string& note);
// Moves the referral and restarts the reminder clock (the centre acted).
void set_status(sqlite::Db& db, const std::string& referral_id, v1::ReferralStatus status,
                const std::string& now, int contact_attempts);
// Publishes a ReferralStatusChanged (no personal data) through the outbox.
void emit_status(sqlite::Db& db, const ReferralRow& row, v1::ReferralStatus status,
                 v1::ReferralStatus previous, const std::string& reason, const std::string& at,
                 const std::string& occurred_at);
// Erases every personal field of the referral, and its notes and pseudonym.
void erase_person(sqlite::Db& db, const std::string& referral_id);
// What a recipient needs to act on the referral (personal data if any left).
v1::ReferralContact contact_of(sqlite::Db& db, const ReferralRow& row, const Directory& dir);
// Publishes a NotificationRequested for `recipient_id` through the outbox,
// sent by the router (henvis/notifications.hpp).
void request_notification(sqlite::Db& db, const std::string& recipient_id,
                          v1::NotificationKind kind, const v1::ReferralContact& contact,
                          const std::string& now);

}  // namespace henvis::router
