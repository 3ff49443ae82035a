#pragma once
// The evaluators' Socialsøg statistics: underretninger per ISO week,
// municipality and district. Pure functions over facts; the read model that
// keeps the facts (from henvis.underretninger.v1) is in evaluation.hpp.
//
// ---------------------------------------------------------------------------
// GET /v1/stats/underretninger (role evaluator)
//
//   ?from=YYYY-MM-DD   first creation date included (Europe/Copenhagen); optional;
//                      the first day of a month
//   &to=YYYY-MM-DD     first creation date NOT included; optional; after `from`;
//                      the first day of a month (whole calendar months only)
//   &groupBy=a,b,...   any subset of week, municipality, district, in the
//                      order wanted; empty or absent = the total only
//   &format=json|csv   default json
//   &dateBasis=notice|incident  the date from/to (and the week) go by: notice
//                      (default) = the underretning's creation date; incident =
//                      the date of the earliest incident listed in it (an
//                      underretning recorded before this was known has none and
//                      is left out). Echoed as `dateBasis` (JSON) and a last
//                      CSV column
//
// Any other parameter, a malformed date, an unknown or repeated groupBy
// dimension or an unknown format is a 400 problem naming the parameter.
//
// Each row counts the UNDERRETNINGER created in [from, to), grouped by: week
// (ISO 8601 week "YYYY-Www" of the Europe/Copenhagen creation date),
// municipality (the children's home municipality the underretning is for;
// 0 = unknown, sent to a coordinator) and district (the sending police
// district). Columns (docs/statistics.md):
//
//   underretninger          underretninger created (one per household and municipality)
//   childrenFlagged         children listed in them (a child notified again counts again)
//   childrenCrossDistrict   of those, children whose underretning's incidents were
//                           in more than one police district
//   childrenCrossMunicipality  ... in more than one municipality (incidents or homes)
//   receiptsOnTime, receiptsMissed, receiptsPending, sentToCoordinator
//                           the receipt clock: confirmed before the deadline; deadline
//                           passed (a late receipt included); neither yet; no clock
//                           (sent to a coordinator)
//   responseNoAction, responseAssessmentStarted, responseSupportMeasure, responseNone
//                           the municipality's latest response
//   crossDistrictShare, crossMunicipalityShare   of childrenFlagged
//   receiptsOnTimeShare     of receiptsOnTime + receiptsMissed
//
// DISCLOSURE CONTROL: the referral table's (stats.hpp), by the same code, cell-key
// perturbation (rule 5) included;
// (suppress_table): a count 0 < v < N is suppressed; complementary
// suppression over the column relations (total = sum of the groups) and the
// row relations
//     underretninger = receiptsOnTime + receiptsMissed + receiptsPending
//                      + sentToCoordinator
//     underretninger = responseNoAction + responseAssessmentStarted
//                      + responseSupportMeasure + responseNone
// A share is shown only where its denominator is at least N and shown and
// its numerator is shown. Withheld values are absent in JSON and named in
// `suppressed`; empty cells in CSV.
// ---------------------------------------------------------------------------

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "henvis/directory.hpp"
#include "henvis/v1/stats.pb.h"
#include "stats.hpp"

namespace henvis::evaluation {

// The dimensions of this table, and the dates its period can go by (the
// first is the default).
const std::vector<Dim>& underretning_dims();
const std::vector<std::string>& underretning_date_bases();

// The count columns, in output order.
enum UCol {
  U_UNDERRETNINGER,
  U_CHILDREN_FLAGGED,
  U_CHILDREN_CROSS_DISTRICT,
  U_CHILDREN_CROSS_MUNICIPALITY,
  U_RECEIPTS_ON_TIME,
  U_RECEIPTS_MISSED,
  U_RECEIPTS_PENDING,
  U_SENT_TO_COORDINATOR,
  U_RESPONSE_NO_ACTION,
  U_RESPONSE_ASSESSMENT_STARTED,
  U_RESPONSE_SUPPORT_MEASURE,
  U_RESPONSE_NONE,
  U_NCOL
};
// JSON name of a column: "childrenFlagged".
const char* ucol_name(int col);

enum class ReceiptState { on_time, missed, pending, no_clock };

// One underretning as the statistics need it: no identity.
struct UnderretningFact {
  std::string created_day;  // "YYYY-MM-DD", Europe/Copenhagen: the day of the date basis
  int kommunekode = 0;      // the children's home municipality; 0 = unknown
  std::string district_id;  // the sending district
  int children = 0;
  bool cross_district = false;
  bool cross_municipality = false;
  ReceiptState receipt = ReceiptState::no_clock;
  int response = 0;              // v1::UnderretningResponse
  std::uint64_t record_key = 0;  // cell_key.hpp: secret, stable per underretning
};

// ISO 8601 week of a date: "2024-W01" (the week with the year's first Thursday).
std::string iso_week(std::chrono::year_month_day d);

v1::UnderretningStats compute_underretninger(const std::vector<UnderretningFact>& facts,
                                             const Query& q, int min_cell,
                                             const Directory& directory);

// What one underretning adds to each column (a column's cell key takes its
// record key where this is not 0).
std::array<int, U_NCOL> counts_of(const UnderretningFact& f);

// The underretninger of one month, ISO week, municipality and district of the
// date basis, summed (a cell of aggregates.hpp): per column the count and
// the cell key (the sum of the record keys of those it counts, mod 2^64).
struct UnderretningCell {
  std::string month;  // "YYYY-MM"
  std::string week;   // iso_week of the day
  int kommunekode = 0;
  std::string district_id;
  std::array<int, U_NCOL> counts{};
  std::array<std::uint64_t, U_NCOL> keys{};
};

// The same answer as compute_underretninger() over the facts the cells sum.
v1::UnderretningStats compute_underretninger(const std::vector<UnderretningCell>& cells,
                                             const Query& q, int min_cell,
                                             const Directory& directory);

// CSV as for the referral table (stats.hpp to_csv).
std::string to_csv(const v1::UnderretningStats& stats, const Query& q);

}  // namespace henvis::evaluation
