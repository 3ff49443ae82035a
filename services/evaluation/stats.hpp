#pragma once
// The evaluators' referral statistics: query parsing, aggregation of the
// funnel, disclosure control, JSON and CSV. Pure functions over facts; the
// read model that produces the facts is in evaluation.hpp.
//
// ---------------------------------------------------------------------------
// GET /v1/stats/referrals (role evaluator)
//
//   ?from=YYYY-MM-DD   first charge date included (Europe/Copenhagen); optional;
//                      the first day of a month
//   &to=YYYY-MM-DD     first charge date NOT included; optional; after `from`;
//                      the first day of a month (whole calendar months only)
//   &groupBy=a,b,...   any subset of municipality, month, offence, district,
//                      in the order wanted; empty or absent = the total only
//   &format=json|csv   default json
//   &dateBasis=charged the date from/to filter on; the only one (the charge
//                      date); echoed as `dateBasis` (JSON) and a last CSV column
//
// Any other parameter, a malformed date, an unknown or repeated groupBy
// dimension or an unknown format is a 400 problem naming the parameter.
//
// Each row counts PERSONS (one offer = one person charged once) whose charge
// date is in [from, to), grouped by: municipality (the person's home
// kommunekode and its name in the routing directory), month ("YYYY-MM" of the
// charge date), offence, district (the officer's police district). Columns:
//
//   offered        every offer registered (yes or no)
//   accepted       the person said yes;  declined: said no
//   routed         sent to the municipality's rusmiddelcenter
//   unroutable     municipality not in the programme (or unknown)
//   delivered      the contact list reached the centre
//   contactAttempted, conversationHeld, furtherSessionsAccepted, withdrawn
//
// A later outcome implies the earlier ones (further sessions => conversation
// => contact attempted => delivered => routed), so the funnel never grows
// downwards even while events are still on their way. Rates are shares of
// `accepted`; medianDaysToFirstContact is the median number of calendar days
// (Europe/Copenhagen) from the charge date to the first contact-type outcome
// (contact attempted, reached, conversation held, further sessions accepted,
// as the centre reported it happened).
//
// DISCLOSURE CONTROL (N = evaluation.min_cell, default 5)
//
// 1. Primary: a count with 0 < value < N is suppressed. A 0 is shown (an
//    empty cell identifies no one) -- except in a row whose first column
//    (offered) is suppressed, which is withheld whole (rule 1b).
// 2. Complementary: the table has linear relations an evaluator could use to
//    recompute a suppressed cell by subtraction:
//      in every row (and the total row)  offered  = accepted + declined
//                                        accepted = routed + unroutable
//      in every column                   total    = sum of the group rows
//    Whenever exactly ONE cell of such a relation is suppressed, the
//    smallest other shown cell of it (a non-zero one if there is one, a part
//    before the total) is suppressed too; this is repeated over all
//    relations until none has exactly one suppressed cell, since a cell
//    suppressed for one relation can open another.
// 3. A rate is shown only where `accepted` is at least N and shown, and its
//    numerator is shown (else rate x accepted would give the cell back).
// 4. The median is shown only where at least N persons had a first contact.
// 5. Differencing between requests (two windows, two groupings, chained
//    relations): every shown count is perturbed by -2..+2 drawn from its cell
//    key (cell_key.hpp), consistently -- the same persons always give the
//    same figure -- so a difference of two cells is never exact; windows are
//    whole calendar months, which bounds how many different cells contain a
//    person. Rates are computed from the published counts. Rules 1-4 are
//    decided on the true counts. N <= 1 turns all of this off (tests).
// Withheld values are absent in JSON (never 0) and named in `suppressed`.
// docs/statistics.md explains the defence and what it leaves.
// ---------------------------------------------------------------------------

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "henvis/directory.hpp"
#include "henvis/v1/stats.pb.h"

namespace henvis::evaluation {

// Group-by dimensions. The referral table knows municipality, month, offence
// and district; the underretning table week, municipality and district.
enum class Dim { municipality, month, offence, district, week };
const char* dim_name(Dim d);

struct Query {
  std::optional<std::chrono::year_month_day> from;  // inclusive
  std::optional<std::chrono::year_month_day> to;    // exclusive
  std::string from_text, to_text;                   // "YYYY-MM-DD" or empty
  std::vector<Dim> group_by;
  bool csv = false;
  std::string date_basis;  // which date from/to filter on (the table's first by default)
};

// Parses the query parameters; throws http::Problem 400 naming each bad one.
// The first form is the referral table's (municipality, month, offence,
// district; date basis charged); the second allows the dimensions in `dims`
// and the date bases in `date_bases` (the first is the default).
Query parse_query(const std::map<std::string, std::string>& params);
Query parse_query(const std::map<std::string, std::string>& params, const std::vector<Dim>& dims,
                  const std::vector<std::string>& date_bases);

// The facts of a table summed per group (keyed by their values for the
// query's group-by dimensions, in order) and in total. `add(agg, fact)` and
// `key_part(dim, fact)` are the table's own.
template <class Agg>
struct Grouped {
  std::map<std::vector<std::string>, Agg> groups;
  Agg total;
};
template <class Agg, class Fact, class Add, class KeyPart>
Grouped<Agg> group_facts(const std::vector<Fact>& facts, const std::vector<Dim>& group_by, Add add,
                         KeyPart key_part) {
  Grouped<Agg> g;
  for (const auto& f : facts) {
    add(g.total, f);
    if (group_by.empty()) continue;
    std::vector<std::string> key;
    for (Dim d : group_by) key.push_back(key_part(d, f));
    add(g.groups[key], f);
  }
  return g;
}

// The head every statistics answer starts with: period, cell limit, groups.
template <class Stats>
void set_query(Stats& out, const Query& q, int min_cell) {
  out.set_from(q.from_text);
  out.set_to(q.to_text);
  out.set_min_cell(min_cell);
  for (Dim d : q.group_by) out.add_group_by(dim_name(d));
  out.set_date_basis(q.date_basis);
}

// The group fields of a municipality and of a district, which the rows of
// every statistics table have: the code or id, and the name where the routing
// directory knows it.
template <class Row>
void set_municipality(Row& row, int kommunekode, const Directory& directory) {
  row.set_kommunekode(kommunekode);
  if (const auto* m = directory.municipality(kommunekode)) row.set_municipality_name(m->name());
}
template <class Row>
void set_district(Row& row, const std::string& district_id, const Directory& directory) {
  row.set_district_id(district_id);
  for (const auto& d : directory.raw().districts())
    if (d.id() == district_id) row.set_district_name(d.name());
}

// The funnel columns, in output order.
enum Col {
  OFFERED,
  ACCEPTED,
  DECLINED,
  ROUTED,
  UNROUTABLE,
  DELIVERED,
  CONTACT_ATTEMPTED,
  CONVERSATION_HELD,
  FURTHER_SESSIONS_ACCEPTED,
  WITHDRAWN,
  NCOL
};
// JSON (lowerCamelCase) name of a column: "contactAttempted".
const char* col_name(int col);

using Counts = std::array<int, NCOL>;

// One offer, as the statistics need it: no identity at all.
struct Fact {
  std::array<bool, NCOL> in{};  // in[c]: the person counts in column c (OFFERED always)
  int kommunekode = 0;
  std::string district_id;
  int offence = 0;          // v1::Offence
  std::string charged_day;  // "YYYY-MM-DD", Europe/Copenhagen
  std::optional<int> days_to_first_contact;
  std::uint64_t record_key = 0;  // cell_key.hpp: secret, stable per referral / declined offer
};

// Counts, suppression and rates for `facts` (already filtered to the window)
// grouped by `q.group_by`.
v1::ReferralStats compute(const std::vector<Fact>& facts, const Query& q, int min_cell,
                          const Directory& directory);

// The persons of one charge month, municipality, district and offence,
// summed (a cell of aggregates.hpp): per column the count and the cell key
// (the sum of the record keys, mod 2^64), and how many had each number of
// days to first contact.
struct FunnelCell {
  std::string month;  // "YYYY-MM" of the charge date
  int kommunekode = 0;
  std::string district_id;
  int offence = 0;
  Counts counts{};
  std::array<std::uint64_t, NCOL> keys{};
  std::vector<std::pair<int, std::int64_t>> contact_days;  // (days, persons), ascending days
};

// The same answer as compute() over the facts the cells sum (the cells of
// the query's window): the table is the same, only its input is summed.
v1::ReferralStats compute(const std::vector<FunnelCell>& cells, const Query& q, int min_cell,
                          const Directory& directory);

// Disclosure control on a table of counts: rows[0..R-1] are the group rows,
// rows[R] the total. Returns which cells are withheld (rules 1 and 2 above).
std::vector<std::array<bool, NCOL>> suppress(const std::vector<Counts>& rows, int min_cell);

// The same disclosure control for any table of counts (one implementation
// for every statistics table): rows[0..R-1] the group rows, rows[R] the
// total, every row with the same number of columns. Rule 1 on every cell;
// rule 2 over the column relations (total = sum of the group rows, for every
// column) and, in every row, the given row relations.
struct RowRelation {
  int total;               // column index of the whole
  std::vector<int> parts;  // column indices of its parts, in tie-break order
};
std::vector<std::vector<bool>> suppress_table(const std::vector<std::vector<int>>& rows,
                                              const std::vector<RowRelation>& row_relations,
                                              int min_cell);

// A share rounded to 4 decimals.
double round4(double x);

// A share column: the sum of the `numerator` columns over the sum of the
// `denominator` columns, rounded to 4 decimals.
struct Share {
  std::string field;  // proto field name (a double)
  std::string json;   // JSON name, as `suppressed` names it
  std::vector<int> numerator;
  std::vector<int> denominator;
};

// Sets the counts and shares of one statistics row (one implementation for
// every statistics table), by reflection: count c into the int32 field
// `count_fields[c]` unless hidden[c]; a share only where each of its columns
// is shown and its denominator is at least `min_cell` (and not 0), since
// share x denominator would give a withheld cell back. Each withheld value
// is named by its JSON name in the row's `suppressed`, counts first. The
// counts shown, and the shares, are the published ones (rule 5: perturbed by
// `cell_keys`, if given); what is withheld is decided on the true `counts`.
void fill_counts_and_shares(google::protobuf::Message& row, std::span<const int> counts,
                            const std::vector<bool>& hidden,
                            std::span<const char* const> count_fields,
                            std::span<const char* const> count_json,
                            const std::vector<Share>& shares, int min_cell,
                            std::span<const std::uint64_t> cell_keys = {});

// CSV of a statistics message (RFC 4180, CRLF) whose rows have the group
// fields of `group_by` (see group_fields), a bool `total` and a repeated
// string `suppressed`: a header line of JSON names, one line per row, the
// total last. `value_fields` are proto field names (int32 or double, optional:
// an absent one is an empty cell). The last column, `dateBasis`, says on
// every line which date the period filtered on.
std::vector<std::string> group_fields(Dim d);
std::string csv_table(const google::protobuf::Descriptor* row_type,
                      const std::vector<Dim>& group_by,
                      const std::vector<std::string>& value_fields,
                      const std::vector<const google::protobuf::Message*>& rows,
                      const std::string& date_basis);

// CSV (RFC 4180, UTF-8, CRLF line ends): a header line, one line per group
// row, then the total line. The first column, `row`, is "group" or "total".
// A withheld value is an EMPTY cell, and the last column, `suppressed`,
// names the withheld fields of that line separated by ';' (so an empty cell
// is never mistaken for a 0, and a spreadsheet still sums the shown cells).
std::string to_csv(const v1::ReferralStats& stats, const Query& q);

// `m` as http::json writes it (protobuf's JSON mapping: lowerCamelCase
// names, fields in declaration order, proto3 defaults left out, enums by name,
// doubles as protobuf prints them), written directly from the message:
// protobuf's converter re-reads a binary copy of it through a type resolver,
// which was most of a large answer's time (docs/performance.md). A message
// with maps, bytes or well-known types goes to protobuf's converter. Pinned
// against http::json by tests/unit/evaluation_aggregates_test.cpp.
std::string to_json(const google::protobuf::Message& m);

// "YYYY-MM-DD".
std::string format_date(std::chrono::year_month_day d);

}  // namespace henvis::evaluation
