// The evaluators' Socialsøg statistics; the rules are in underretning_stats.hpp.
#include "underretning_stats.hpp"

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <array>
#include <map>

#include "henvis/v1/socialsog.pb.h"

namespace henvis::evaluation {

namespace {

constexpr std::array<const char*, U_NCOL> UCOL_FIELD = {
    "underretninger",           "children_flagged",
    "children_cross_district",  "children_cross_municipality",
    "receipts_on_time",         "receipts_missed",
    "receipts_pending",         "sent_to_coordinator",
    "response_no_action",       "response_assessment_started",
    "response_support_measure", "response_none"};
constexpr std::array<const char*, U_NCOL> UCOL_JSON = {
    "underretninger",         "childrenFlagged",
    "childrenCrossDistrict",  "childrenCrossMunicipality",
    "receiptsOnTime",         "receiptsMissed",
    "receiptsPending",        "sentToCoordinator",
    "responseNoAction",       "responseAssessmentStarted",
    "responseSupportMeasure", "responseNone"};

// The table's shares (underretning_stats.hpp).
const std::vector<Share>& shares() {
  static const std::vector<Share> s = {
      {"cross_district_share",
       "crossDistrictShare",
       {U_CHILDREN_CROSS_DISTRICT},
       {U_CHILDREN_FLAGGED}},
      {"cross_municipality_share",
       "crossMunicipalityShare",
       {U_CHILDREN_CROSS_MUNICIPALITY},
       {U_CHILDREN_FLAGGED}},
      {"receipts_on_time_share",
       "receiptsOnTimeShare",
       {U_RECEIPTS_ON_TIME},
       {U_RECEIPTS_ON_TIME, U_RECEIPTS_MISSED}},
  };
  return s;
}

using UCounts = std::vector<int>;

struct Agg {
  UCounts counts = UCounts(U_NCOL, 0);
  std::vector<std::uint64_t> keys = std::vector<std::uint64_t>(U_NCOL, 0);  // cell keys
  const UnderretningFact* first = nullptr;
};

void count(Agg& a, const UnderretningFact& f) {
  auto& c = a.counts;
  c[U_UNDERRETNINGER] += 1;
  c[U_CHILDREN_FLAGGED] += f.children;
  if (f.cross_district) c[U_CHILDREN_CROSS_DISTRICT] += f.children;
  if (f.cross_municipality) c[U_CHILDREN_CROSS_MUNICIPALITY] += f.children;
  switch (f.receipt) {
    case ReceiptState::on_time:
      ++c[U_RECEIPTS_ON_TIME];
      break;
    case ReceiptState::missed:
      ++c[U_RECEIPTS_MISSED];
      break;
    case ReceiptState::pending:
      ++c[U_RECEIPTS_PENDING];
      break;
    case ReceiptState::no_clock:
      ++c[U_SENT_TO_COORDINATOR];
      break;
  }
  switch (f.response) {
    case v1::UNDERRETNING_RESPONSE_NO_ACTION:
      ++c[U_RESPONSE_NO_ACTION];
      break;
    case v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED:
      ++c[U_RESPONSE_ASSESSMENT_STARTED];
      break;
    case v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE:
      ++c[U_RESPONSE_SUPPORT_MEASURE];
      break;
    default:
      ++c[U_RESPONSE_NONE];
      break;
  }
  if (!a.first) a.first = &f;
}

// Counts `f` and adds its record key to the key of every cell it counts in.
void add(Agg& a, const UnderretningFact& f) {
  std::array<int, U_NCOL> before{};  // no allocation per fact and group
  std::copy(a.counts.begin(), a.counts.end(), before.begin());
  count(a, f);
  for (int c = 0; c < U_NCOL; ++c)
    if (a.counts[c] != before[c]) a.keys[c] += f.record_key;  // mod 2^64
}

std::string key_part(Dim d, const UnderretningFact& f) {
  switch (d) {
    case Dim::week: {
      auto day = parse_date(f.created_day);
      return day ? iso_week(*day) : std::string();
    }
    case Dim::municipality:
      return fmt::format("{:08d}", f.kommunekode);
    case Dim::district:
      return f.district_id;
    default:
      return {};
  }
}

void set_group(v1::UnderretningStatsRow& row, const Query& q, const std::string& week,
               int kommunekode, const std::string& district_id, const Directory& directory) {
  for (Dim d : q.group_by) {
    switch (d) {
      case Dim::week:
        row.set_week(week);
        break;
      case Dim::municipality:
        set_municipality(row, kommunekode, directory);
        break;
      case Dim::district:
        set_district(row, district_id, directory);
        break;
      default:
        break;
    }
  }
}

void set_group(v1::UnderretningStatsRow& row, const Query& q, const UnderretningFact& f,
               const Directory& directory) {
  set_group(row, q, key_part(Dim::week, f), f.kommunekode, f.district_id, directory);
}

// The same from cells: a cell's key part is the key_part of each of its facts.
std::string key_part(Dim d, const UnderretningCell& c) {
  switch (d) {
    case Dim::week:
      return c.week;
    case Dim::municipality:
      return fmt::format("{:08d}", c.kommunekode);
    case Dim::district:
      return c.district_id;
    default:
      return {};
  }
}

struct CellAgg {
  UCounts counts = UCounts(U_NCOL, 0);
  std::vector<std::uint64_t> keys = std::vector<std::uint64_t>(U_NCOL, 0);
  const UnderretningCell* first = nullptr;
};

void add(CellAgg& a, const UnderretningCell& c) {
  for (int col = 0; col < U_NCOL; ++col) {
    a.counts[col] += c.counts[col];
    a.keys[col] += c.keys[col];  // mod 2^64
  }
  if (!a.first) a.first = &c;
}

// Suppression over a table's rows (group rows, then the total).
std::vector<std::vector<bool>> suppressed(const std::vector<std::vector<int>>& table,
                                          int min_cell) {
  return suppress_table(
      table,
      {{U_UNDERRETNINGER,
        {U_RECEIPTS_ON_TIME, U_RECEIPTS_MISSED, U_RECEIPTS_PENDING, U_SENT_TO_COORDINATOR}},
       {U_UNDERRETNINGER,
        {U_RESPONSE_NO_ACTION, U_RESPONSE_ASSESSMENT_STARTED, U_RESPONSE_SUPPORT_MEASURE,
         U_RESPONSE_NONE}}},
      min_cell);
}

}  // namespace

const std::vector<Dim>& underretning_dims() {
  static const std::vector<Dim> d = {Dim::week, Dim::municipality, Dim::district};
  return d;
}

const std::vector<std::string>& underretning_date_bases() {
  static const std::vector<std::string> b = {"notice", "incident"};
  return b;
}

const char* ucol_name(int col) { return col >= 0 && col < U_NCOL ? UCOL_JSON[col] : ""; }

std::string iso_week(std::chrono::year_month_day d) {
  namespace chr = std::chrono;
  const chr::sys_days day{d};
  // Monday = 0 ... Sunday = 6; the Thursday of the same ISO week decides the year.
  const unsigned wd = (chr::weekday{day}.iso_encoding() + 6) % 7;
  const chr::sys_days thursday = day - chr::days(wd) + chr::days(3);
  const chr::year y = chr::year_month_day{thursday}.year();
  const chr::sys_days jan1{y / chr::January / 1};
  const int week = static_cast<int>((thursday - jan1).count() / 7) + 1;
  return fmt::format("{:04d}-W{:02d}", static_cast<int>(y), week);
}

v1::UnderretningStats compute_underretninger(const std::vector<UnderretningFact>& facts,
                                             const Query& q, int min_cell,
                                             const Directory& directory) {
  v1::UnderretningStats out;
  set_query(out, q, min_cell);
  const auto [groups, total] = group_facts<Agg>(
      facts, q.group_by, [](Agg& a, const UnderretningFact& f) { add(a, f); },
      [](Dim d, const UnderretningFact& f) { return key_part(d, f); });
  std::vector<std::vector<int>> table;
  for (const auto& [key, agg] : groups) table.push_back(agg.counts);
  table.push_back(total.counts);
  const auto hidden = suppressed(table, min_cell);

  std::size_t r = 0;
  for (const auto& [key, agg] : groups) {
    auto* row = out.add_rows();
    set_group(*row, q, *agg.first, directory);
    fill_counts_and_shares(*row, agg.counts, hidden[r++], UCOL_FIELD, UCOL_JSON, shares(), min_cell,
                           agg.keys);
  }
  auto* t = out.mutable_total();
  t->set_total(true);
  fill_counts_and_shares(*t, total.counts, hidden[r], UCOL_FIELD, UCOL_JSON, shares(), min_cell,
                         total.keys);
  return out;
}

std::array<int, U_NCOL> counts_of(const UnderretningFact& f) {
  Agg a;
  count(a, f);
  std::array<int, U_NCOL> out{};
  std::copy(a.counts.begin(), a.counts.end(), out.begin());
  return out;
}

v1::UnderretningStats compute_underretninger(const std::vector<UnderretningCell>& cells,
                                             const Query& q, int min_cell,
                                             const Directory& directory) {
  v1::UnderretningStats out;
  set_query(out, q, min_cell);
  const auto [groups, total] = group_facts<CellAgg>(
      cells, q.group_by, [](CellAgg& a, const UnderretningCell& c) { add(a, c); },
      [](Dim d, const UnderretningCell& c) { return key_part(d, c); });
  std::vector<std::vector<int>> table;
  for (const auto& [key, agg] : groups) table.push_back(agg.counts);
  table.push_back(total.counts);
  const auto hidden = suppressed(table, min_cell);

  std::size_t r = 0;
  for (const auto& [key, agg] : groups) {
    auto* row = out.add_rows();
    set_group(*row, q, agg.first->week, agg.first->kommunekode, agg.first->district_id, directory);
    fill_counts_and_shares(*row, agg.counts, hidden[r++], UCOL_FIELD, UCOL_JSON, shares(), min_cell,
                           agg.keys);
  }
  auto* t = out.mutable_total();
  t->set_total(true);
  fill_counts_and_shares(*t, total.counts, hidden[r], UCOL_FIELD, UCOL_JSON, shares(), min_cell,
                         total.keys);
  return out;
}

std::string to_csv(const v1::UnderretningStats& stats, const Query& q) {
  std::vector<std::string> values(UCOL_FIELD.begin(), UCOL_FIELD.end());
  for (const auto& s : shares()) values.push_back(s.field);
  std::vector<const google::protobuf::Message*> rows;
  for (const auto& row : stats.rows()) rows.push_back(&row);
  rows.push_back(&stats.total());
  return csv_table(v1::UnderretningStatsRow::descriptor(), q.group_by, values, rows, q.date_basis);
}

}  // namespace henvis::evaluation
