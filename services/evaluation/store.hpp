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
#include <functional>
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

// The statistics' cells (aggregates.hpp, docs/decisions.md 26): the sums of
// the records of one month and one value of each of the table's other
// dimensions that the cell's grain keeps (referral cells: municipality,
// district, offence; underretning cells: municipality, district, ISO week;
// a dimension the grain leaves out is summed over and stored as 0 or "").
// Kept in the consumer's transaction with the facts. `columns` holds, per
// count column, the count and the cell key (little-endian int64 and uint64,
// 16 bytes per column); `contact_days`, a referral cell's days to first
// contact as (days, persons) pairs (little-endian int32 each), ascending days.
struct CellRow {
  int grain = 0;      // bit set of the dimensions the cell keeps (aggregates.cpp)
  std::string basis;  // underretning cells: "notice" or "incident"; referral cells: ""
  std::string month;  // "YYYY-MM" of the day the table's period goes by
  std::string week;   // underretning cells: ISO week of that day; referral cells: ""
  int kommunekode = 0;
  std::string district_id;
  int offence = 0;           // referral cells; 0 in underretning cells
  std::int64_t records = 0;  // records counted (the first column's count)
  std::string columns;
  std::string contact_days;  // referral cells only
};

// The referral cell with `id`'s grain, month, kommunekode, district and offence.
std::optional<CellRow> referral_cell(sqlite::Db& db, const CellRow& id);
// Writes the referral cell (replacing it); deletes it when it counts no record.
void put_referral_cell(sqlite::Db& db, const CellRow& cell);
// The underretning cell with `id`'s basis, grain, month, week, kommunekode and district.
std::optional<CellRow> underretning_cell(sqlite::Db& db, const CellRow& id);
void put_underretning_cell(sqlite::Db& db, const CellRow& cell);
// The cells of one grain (and basis) in the months [from_month, to_month)
// ("YYYY-MM"; an empty bound is open), in key order.
void for_each_referral_cell(sqlite::Db& db, int grain, const std::string& from_month,
                            const std::string& to_month,
                            const std::function<void(const CellRow&)>& fn);
void for_each_underretning_cell(sqlite::Db& db, const std::string& basis, int grain,
                                const std::string& from_month, const std::string& to_month,
                                const std::function<void(const CellRow&)>& fn);
// How many rows an answer over those cells has: the distinct values of the
// grouped dimensions (the month too if `by_month`), counted in SQL without
// reading the cells' columns (the answer's row cap, docs/decisions.md 28).
std::int64_t count_referral_groups(sqlite::Db& db, int grain, bool by_month,
                                   const std::string& from_month, const std::string& to_month);
std::int64_t count_underretning_groups(sqlite::Db& db, const std::string& basis, int grain,
                                       const std::string& from_month, const std::string& to_month);
// Empties both cell tables.
void clear_cells(sqlite::Db& db);
// What the cells were built under (aggregates.cpp: a digest of the cell key
// and the cells' layout); nothing when they were never built or are stale.
std::optional<std::int64_t> cells_built_for(sqlite::Db& db);
void set_cells_built_for(sqlite::Db& db, std::optional<std::int64_t> fingerprint);

// One offered person's facts (as facts_charged reads them), if `key` is offered.
std::optional<FactRow> fact(sqlite::Db& db, const std::string& key);
// The keys of the rows of an offer.
std::vector<std::string> fact_keys_by_offer(sqlite::Db& db, const std::string& offer_id);
// Every offered person, in charge-day order, one at a time.
void for_each_fact(sqlite::Db& db, const std::function<void(const FactRow&)>& fn);
// One underretning, if there is one with that id.
std::optional<UnderretningRow> underretning(sqlite::Db& db, const std::string& underretning_id);
// Every underretning, one at a time, in creation-day order; with
// `by_incident`, those with an incident day, in incident-day order.
void for_each_underretning(sqlite::Db& db, bool by_incident,
                           const std::function<void(const UnderretningRow&)>& fn);

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
