#pragma once
// The evaluation's store (docs/decisions.md 17): its schema, its migrations
// and every SQL statement it runs, returning typed rows. The appliers and the
// statistics API call these functions and never SQL. Writes run inside the
// caller's transaction (the consumer loop's).
//
// Stored instants are INTEGER Unix milliseconds, bound and read as
// sqlite::Instant (docs/decisions.md 16); calendar days (charged_day,
// first_contact_day, created_day) are TEXT 'YYYY-MM-DD' in Europe/Copenhagen,
// so text order is date order.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "henvis/sqlite.hpp"

namespace henvis::evaluation {

// The schema, oldest step first; the host applies it before building the
// service. Append-only: a shipped step is never edited.
std::vector<std::string> migrations();

namespace store {

// What an OfferRecorded says about an offer (no personal data).
struct OfferRow {
  std::string key;  // referral id; the offer id for a declined offer
  std::string offer_id;
  std::string referral_id;
  int answer = 0;  // v1::Answer
  int kommunekode = 0;
  std::string district_id;
  int offence = 0;          // v1::Offence
  std::string charged_day;  // YYYY-MM-DD, Europe/Copenhagen
  bool covered = false;
};

// What a status change or a withdrawal says about a referral. Merged into
// what is stored so that the order of the events does not matter: an empty
// id keeps the stored one, the mask is OR-ed in, the earliest day is kept.
struct ReferralRow {
  std::string key;
  std::string offer_id;
  std::string referral_id;
  std::string centre_id;
  std::int64_t status_mask = 0;                  // bit (1 << ReferralStatus) per status seen
  std::optional<std::string> first_contact_day;  // YYYY-MM-DD, Europe/Copenhagen
};

// One offered person as the referral statistics read it.
struct FactRow {
  int answer = 0;  // v1::Answer
  std::int64_t status_mask = 0;
  bool delivered_to_centre = false;  // a delivery event reached the routed centre
  int kommunekode = 0;
  std::string district_id;
  int offence = 0;
  std::string charged_day;
  std::optional<std::string> first_contact_day;
  std::string key;  // the referral id; the offer id of a declined offer
};

// One underretning, as written from an event and as read back.
struct UnderretningRow {
  std::string underretning_id;
  std::string created_day;  // YYYY-MM-DD, Europe/Copenhagen
  int kommunekode = 0;      // 0 = unknown
  std::string district_id;
  int children = 0;
  bool cross_district = false;
  bool cross_municipality = false;
  std::optional<sqlite::Instant> receipt_due_at;  // none: no clock (sent to a coordinator)
  std::optional<sqlite::Instant> receipt_at;      // the earliest receipt
  bool missed = false;                            // a receipt_missed event was seen
  int response = 0;                               // v1::UnderretningResponse
  sqlite::Instant state_at;                       // `at` of the latest event
  // YYYY-MM-DD, Europe/Copenhagen: when the earliest incident listed occurred.
  std::optional<std::string> incident_day;
};

// Records the offer's facts, replacing what an earlier copy of it wrote.
void upsert_offer(sqlite::Db& db, const OfferRow& o);
// Merges a referral's facts into its row (creating it).
void merge_referral(sqlite::Db& db, const ReferralRow& r);
// Removes the row a withdrawal naming only `offer_id` left before its offer
// arrived, returning its status mask; nothing if there is none.
std::optional<std::int64_t> take_waiting_withdrawal(sqlite::Db& db, const std::string& offer_id);
// ORs `mask` into every row of the offer; false if there is none.
bool add_status_by_offer(sqlite::Db& db, const std::string& offer_id, std::int64_t mask);
// Records that the contact list of a referral reached a recipient.
void add_delivery(sqlite::Db& db, const std::string& referral_id, const std::string& recipient_id);
// Merges an underretning's state into its row (see evaluation.hpp).
void merge_underretning(sqlite::Db& db, const UnderretningRow& u);

// The offered persons charged on a day in [from_day, to_day), in charge-day
// order; an empty bound is open.
std::vector<FactRow> facts_charged(sqlite::Db& db, const std::string& from_day,
                                   const std::string& to_day);
// The underretninger created on a day in [from_day, to_day), in creation-day
// order; an empty bound is open.
std::vector<UnderretningRow> underretninger_created(sqlite::Db& db, const std::string& from_day,
                                                    const std::string& to_day);
// The underretninger whose earliest incident occurred on a day in
// [from_day, to_day), in that day's order; those without one are left out.
std::vector<UnderretningRow> underretninger_by_incident(sqlite::Db& db, const std::string& from_day,
                                                        const std::string& to_day);

}  // namespace store
}  // namespace henvis::evaluation
