// The evaluators' statistics; the rules are documented in stats.hpp.
#include "stats.hpp"

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/stubs/strutil.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <tuple>

#include "cell_key.hpp"
#include "henvis/csv.hpp"
#include "henvis/http.hpp"

namespace henvis::evaluation {

namespace {

// Field names of the funnel columns in stats.proto (snake_case) and JSON.
constexpr std::array<const char*, NCOL> COL_FIELD = {"offered",
                                                     "accepted",
                                                     "declined",
                                                     "routed",
                                                     "unroutable",
                                                     "delivered",
                                                     "contact_attempted",
                                                     "conversation_held",
                                                     "further_sessions_accepted",
                                                     "withdrawn"};
constexpr std::array<const char*, NCOL> COL_JSON = {
    "offered",          "accepted",         "declined",
    "routed",           "unroutable",       "delivered",
    "contactAttempted", "conversationHeld", "furtherSessionsAccepted",
    "withdrawn"};
constexpr const char* MEDIAN_FIELD = "median_days_to_first_contact";
constexpr const char* MEDIAN_JSON = "medianDaysToFirstContact";

// Columns that get a rate against `accepted`.
constexpr int FIRST_RATE_COL = ROUTED;

std::string rate_field(int col) { return std::string(COL_FIELD[col]) + "_rate"; }
std::string rate_json(int col) { return std::string(COL_JSON[col]) + "Rate"; }

const std::vector<Dim>& referral_dims() {
  static const std::vector<Dim> d = {Dim::municipality, Dim::month, Dim::offence, Dim::district};
  return d;
}

// A sortable key part for one dimension of a fact.
std::string key_part(Dim d, const Fact& f) {
  switch (d) {
    case Dim::municipality:
      return fmt::format("{:08d}", f.kommunekode);
    case Dim::month:
      return f.charged_day.substr(0, 7);
    case Dim::offence:
      return fmt::format("{:04d}", f.offence);
    case Dim::district:
      return f.district_id;
    case Dim::week:
      break;  // not a dimension of this table
  }
  return {};
}

struct Agg {
  Counts counts{};
  std::array<std::uint64_t, NCOL> keys{};  // cell keys (cell_key.hpp)
  std::vector<int> days;                   // days to first contact, of those who had one
  const Fact* first = nullptr;
};

void add(Agg& a, const Fact& f) {
  for (int c = 0; c < NCOL; ++c) {
    a.counts[c] += f.in[c] ? 1 : 0;
    a.keys[c] += f.in[c] ? f.record_key : 0;  // mod 2^64
  }
  if (f.days_to_first_contact) a.days.push_back(*f.days_to_first_contact);
  if (!a.first) a.first = &f;
}

double median(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// Rule 3: each rate is a share of `accepted`.
const std::vector<Share>& rates() {
  static const std::vector<Share> r = [] {
    std::vector<Share> out;
    for (int c = FIRST_RATE_COL; c < NCOL; ++c)
      out.push_back({rate_field(c), rate_json(c), {c}, {ACCEPTED}});
    return out;
  }();
  return r;
}

// Sets counts (perturbed, rule 5), rates, median and `suppressed` of one
// row; `median` is asked only when `with_contact` persons are enough (rule 4).
template <class Median>
void fill(v1::ReferralStatsRow& row, const Counts& counts,
          const std::array<std::uint64_t, NCOL>& keys, const std::array<bool, NCOL>& hidden,
          int min_cell, std::int64_t with_contact, Median median) {
  fill_counts_and_shares(row, counts, std::vector<bool>(hidden.begin(), hidden.end()), COL_FIELD,
                         COL_JSON, rates(), min_cell, keys);
  // Rule 4: the median of at least N persons.
  if (with_contact >= min_cell && with_contact > 0)
    row.set_median_days_to_first_contact(median());
  else
    row.add_suppressed(MEDIAN_JSON);
}

void fill(v1::ReferralStatsRow& row, const Agg& a, const std::array<bool, NCOL>& hidden,
          int min_cell) {
  fill(row, a.counts, a.keys, hidden, min_cell, static_cast<std::int64_t>(a.days.size()),
       [&] { return median(a.days); });
}

void set_group(v1::ReferralStatsRow& row, const Query& q, int kommunekode, const std::string& month,
               int offence, const std::string& district_id, const Directory& directory) {
  for (Dim d : q.group_by) {
    switch (d) {
      case Dim::municipality:
        set_municipality(row, kommunekode, directory);
        break;
      case Dim::month:
        row.set_month(month);
        break;
      case Dim::offence:
        row.set_offence(static_cast<v1::Offence>(offence));
        break;
      case Dim::district:
        set_district(row, district_id, directory);
        break;
      case Dim::week:
        break;  // not a dimension of this table
    }
  }
}

void set_group(v1::ReferralStatsRow& row, const Query& q, const Fact& f,
               const Directory& directory) {
  set_group(row, q, f.kommunekode, f.charged_day.substr(0, 7), f.offence, f.district_id, directory);
}

// ------------------------------------------------------ the same from cells

// A key part for one dimension of a cell: the key_part of each of its facts.
std::string key_part(Dim d, const FunnelCell& c) {
  switch (d) {
    case Dim::municipality:
      return fmt::format("{:08d}", c.kommunekode);
    case Dim::month:
      return c.month;
    case Dim::offence:
      return fmt::format("{:04d}", c.offence);
    case Dim::district:
      return c.district_id;
    case Dim::week:
      break;  // not a dimension of this table
  }
  return {};
}

struct CellAgg {
  Counts counts{};
  std::array<std::uint64_t, NCOL> keys{};
  // The days-to-first-contact histograms of its cells (read only for the median).
  std::vector<const std::vector<std::pair<int, std::int64_t>>*> days;
  std::int64_t with_contact = 0;
  const FunnelCell* first = nullptr;
};

void add(CellAgg& a, const FunnelCell& c) {
  for (int col = 0; col < NCOL; ++col) {
    a.counts[col] += c.counts[col];
    a.keys[col] += c.keys[col];  // mod 2^64
  }
  if (!c.contact_days.empty()) a.days.push_back(&c.contact_days);
  for (const auto& [days, persons] : c.contact_days) a.with_contact += persons;
  if (!a.first) a.first = &c;
}

// median() of the days the histograms list, each as often as its persons.
double median_of_histograms(
    const std::vector<const std::vector<std::pair<int, std::int64_t>>*>& histograms,
    std::int64_t n) {
  // Few distinct days (weeks at most) over many cells: summed per day.
  std::map<int, std::int64_t> h;
  for (const auto* one : histograms)
    for (const auto& [days, persons] : *one) h[days] += persons;
  // The value at 0-based rank i of the sorted days.
  auto at = [&](std::int64_t i) {
    for (const auto& [days, persons] : h) {
      if (i < persons) return days;
      i -= persons;
    }
    return h.rbegin()->first;
  };
  return n % 2 ? at(n / 2) : (at(n / 2 - 1) + at(n / 2)) / 2.0;
}

std::string format_number(double v) { return fmt::format("{}", v); }

}  // namespace

const char* dim_name(Dim d) {
  switch (d) {
    case Dim::municipality:
      return "municipality";
    case Dim::month:
      return "month";
    case Dim::offence:
      return "offence";
    case Dim::district:
      return "district";
    case Dim::week:
      return "week";
  }
  return "";
}

namespace {
// Rule 5: counts as published: each plus the perturbation of its cell key
// (cell_key.hpp), unless N <= 1 (disclosure control off: tests, synthetic data).
std::vector<int> published(std::span<const int> counts, std::span<const std::uint64_t> keys,
                           int min_cell) {
  std::vector<int> out(counts.begin(), counts.end());
  if (min_cell > 1) perturb(out, keys);
  return out;
}
}  // namespace

double round4(double x) { return std::round(x * 10000.0) / 10000.0; }

namespace {
// Descriptor::FindFieldByName builds a std::string of the name per call: the
// statistics look up the same few names for every row of a table, so each
// thread keeps what it found, by descriptor and name.
const google::protobuf::FieldDescriptor* field(const google::protobuf::Descriptor* desc,
                                               std::string_view name) {
  thread_local std::map<
      const google::protobuf::Descriptor*,
      std::map<std::string, const google::protobuf::FieldDescriptor*, std::less<>>>
      found;
  auto& of = found[desc];
  if (auto it = of.find(name); it != of.end()) return it->second;
  const auto* f = desc->FindFieldByName(std::string(name));
  of.emplace(std::string(name), f);
  return f;
}
}  // namespace

void fill_counts_and_shares(google::protobuf::Message& row, std::span<const int> counts,
                            const std::vector<bool>& hidden,
                            std::span<const char* const> count_fields,
                            std::span<const char* const> count_json,
                            const std::vector<Share>& shares, int min_cell,
                            std::span<const std::uint64_t> cell_keys) {
  const auto* desc = row.GetDescriptor();
  const auto* refl = row.GetReflection();
  const auto* suppressed = field(desc, "suppressed");
  const std::vector<int> shown = published(counts, cell_keys, min_cell);
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (hidden[c])
      refl->AddString(&row, suppressed, count_json[c]);
    else
      refl->SetInt32(&row, field(desc, count_fields[c]), shown[c]);
  }
  for (const auto& s : shares) {
    bool visible = true;
    int num = 0, den = 0, true_den = 0;
    for (int c : s.numerator) {
      visible = visible && !hidden[c];
      num += shown[c];
    }
    for (int c : s.denominator) {
      visible = visible && !hidden[c];
      den += shown[c];
      true_den += counts[c];
    }
    // A share of perturbed counts can come out above 1 (a part perturbed up,
    // its whole down): capped, as the true share never exceeds 1.
    if (visible && true_den >= min_cell && den > 0)
      refl->SetDouble(&row, field(desc, s.field),
                      round4(std::min(1.0, static_cast<double>(num) / den)));
    else
      refl->AddString(&row, suppressed, s.json);
  }
}

namespace {
using google::protobuf::FieldDescriptor;

// Whether to_json writes `desc` itself: scalar, string, enum and message
// fields of henvis's own messages, no maps, bytes or well-known types.
bool writes_itself(const google::protobuf::Descriptor* desc, int depth = 0) {
  if (depth > 8 || desc->full_name().rfind("google.protobuf.", 0) == 0) return false;
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->is_map() || f->type() == FieldDescriptor::TYPE_BYTES) return false;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !writes_itself(f->message_type(), depth + 1))
      return false;
  }
  return true;
}

// Characters protobuf's JSON writer leaves as they are, for sure.
bool plain(std::string_view s) {
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view(" _.,:;/()+-").find(c) == std::string_view::npos)
      return false;
  return true;
}

void append_string(std::string& out, const std::string& s) {
  if (plain(s)) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  // Escaped as protobuf escapes it (quotes, controls, some Unicode), by
  // protobuf itself; the few such strings (directory names) are kept.
  thread_local std::map<std::string, std::string, std::less<>> escaped;
  if (auto it = escaped.find(s); it != escaped.end()) {
    out += it->second;
    return;
  }
  google::protobuf::Value v;
  v.set_string_value(s);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(v, &json).ok())
    throw std::runtime_error("evaluation: a string could not be written as JSON");
  if (escaped.size() < 4096) escaped.emplace(s, json);
  out += json;
}

void append_message(std::string& out, const google::protobuf::Message& m);

// SimpleDtoa(v) (what protobuf's JSON prints for a double) for the values
// the statistics have, shares rounded to 4 decimals and half-day medians,
// without its printf and strtod: where v is the double nearest to k/10000,
// "%.15g" gives k/10000's decimals and they read back as v. Else false.
bool append_short_decimal(std::string& out, double v) {
  if (!(std::fabs(v) < 1e9) || (v == 0 && std::signbit(v))) return false;
  const long long k = std::llround(v * 10000.0);
  if (static_cast<double>(k) / 10000.0 != v) return false;
  const unsigned long long a =
      k < 0 ? 0ULL - static_cast<unsigned long long>(k) : static_cast<unsigned long long>(k);
  if (k < 0) out += '-';
  out += std::to_string(a / 10000);
  unsigned long long frac = a % 10000;
  if (frac == 0) return true;
  int digits = 4;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  const std::string f = std::to_string(frac);
  out += '.';
  out.append(static_cast<std::size_t>(digits) - f.size(), '0');
  out += f;
  return true;
}

void append_value(std::string& out, const google::protobuf::Message& m, const FieldDescriptor* f,
                  int i) {
  const auto* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out += std::to_string(rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      out += std::to_string(rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      out += '"' + std::to_string(rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f)) + '"';
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      out += '"' + std::to_string(rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f)) + '"';
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      const bool dbl = f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE;
      const double v = dbl ? (rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f))
                           : (rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f));
      if (std::isnan(v))
        out += "\"NaN\"";
      else if (std::isinf(v))
        out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      else if (!dbl)
        out += google::protobuf::SimpleFtoa(static_cast<float>(v));
      else if (!append_short_decimal(out, v))
        out += google::protobuf::SimpleDtoa(v);
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f)) ? "true" : "false";
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int n = rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
      if (const auto* e = f->enum_type()->FindValueByNumber(n))
        append_string(out, e->name());
      else
        out += std::to_string(n);  // a number this build does not know
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      append_string(out, rep ? r->GetRepeatedStringReference(m, f, i, &scratch)
                             : r->GetStringReference(m, f, &scratch));
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      append_message(out, rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f));
      break;
  }
}

void append_message(std::string& out, const google::protobuf::Message& m) {
  const auto* desc = m.GetDescriptor();
  const auto* r = m.GetReflection();
  out += '{';
  bool first = true;
  for (int k = 0; k < desc->field_count(); ++k) {
    const FieldDescriptor* f = desc->field(k);
    const int n = f->is_repeated() ? r->FieldSize(m, f) : (r->HasField(m, f) ? 1 : 0);
    if (n == 0) continue;  // unset, a proto3 default, or empty
    if (!first) out += ',';
    first = false;
    out += '"';
    out += f->json_name();
    out += "\":";
    if (!f->is_repeated()) {
      append_value(out, m, f, -1);
      continue;
    }
    out += '[';
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      append_value(out, m, f, i);
    }
    out += ']';
  }
  out += '}';
}
}  // namespace

std::string to_json(const google::protobuf::Message& m) {
  std::string out;
  if (!writes_itself(m.GetDescriptor())) {
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = false;
    if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok())
      throw std::runtime_error("evaluation: the answer could not be written as JSON");
    return out;
  }
  append_message(out, m);
  return out;
}

const char* col_name(int col) { return col >= 0 && col < NCOL ? COL_JSON[col] : ""; }

std::string format_date(std::chrono::year_month_day d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

Query parse_query(const std::map<std::string, std::string>& params) {
  return parse_query(params, referral_dims(), {"charged"});
}

Query parse_query(const std::map<std::string, std::string>& params, const std::vector<Dim>& dims,
                  const std::vector<std::string>& date_bases) {
  std::string dim_list;
  for (std::size_t i = 0; i < dims.size(); ++i)
    dim_list += std::string(i == 0 ? "" : ", ") + dim_name(dims[i]);
  Query q;
  q.date_basis = date_bases.front();
  std::vector<http::FieldError> errors;
  for (const auto& [name, value] : params) {
    if (name == "from" || name == "to") {
      if (value.empty()) continue;  // open
      auto d = parse_date(value);
      if (!d) {
        errors.push_back({name, "must be a calendar date YYYY-MM-DD"});
        continue;
      }
      if (d->day() != std::chrono::day{1}) {
        errors.push_back({name,
                          "must be the first day of a month: statistics cover whole calendar "
                          "months (docs/statistics.md)"});
        continue;
      }
      (name == "from" ? q.from : q.to) = d;
      (name == "from" ? q.from_text : q.to_text) = format_date(*d);
    } else if (name == "groupBy") {
      if (value.empty()) continue;
      std::size_t start = 0;
      for (;;) {
        const std::size_t comma = value.find(',', start);
        const std::string item =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        auto it =
            std::find_if(dims.begin(), dims.end(), [&](Dim d) { return item == dim_name(d); });
        if (it == dims.end()) {
          errors.push_back({"groupBy", "must be a comma-separated list of " + dim_list});
          break;
        }
        if (std::find(q.group_by.begin(), q.group_by.end(), *it) != q.group_by.end()) {
          errors.push_back({"groupBy", "names a dimension more than once"});
          break;
        }
        q.group_by.push_back(*it);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (name == "dateBasis") {
      if (std::find(date_bases.begin(), date_bases.end(), value) != date_bases.end()) {
        q.date_basis = value;
      } else {
        std::string all;
        for (const auto& b : date_bases) all += (all.empty() ? "" : ", ") + b;
        errors.push_back({"dateBasis", "must be one of " + all});
      }
    } else if (name == "format") {
      if (value == "csv")
        q.csv = true;
      else if (!value.empty() && value != "json")
        errors.push_back({"format", "must be json or csv"});
    } else {
      errors.push_back(
          {name, "is not a parameter of this resource (from, to, groupBy, format, dateBasis)"});
    }
  }
  if (q.from && q.to && !(*q.from < *q.to)) errors.push_back({"to", "must be after from"});
  if (!errors.empty())
    throw http::Problem(400, "Bad Request", "the query parameters are not valid", errors);
  return q;
}

namespace {
// Rule 1, primary suppression: a count 0 < v < min_cell. rows is not empty.
std::vector<std::vector<bool>> primary_suppression(const std::vector<std::vector<int>>& rows,
                                                   int min_cell) {
  const int ncol = static_cast<int>(rows[0].size());
  std::vector<std::vector<bool>> hidden(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    hidden[r].assign(static_cast<std::size_t>(ncol), false);
    for (int c = 0; c < ncol; ++c) hidden[r][c] = rows[r][c] > 0 && rows[r][c] < min_cell;
    // Rule 1b: a row whose first column (everyone it counts) is suppressed
    // is withheld whole, its zeros too: a 0 beside "fewer than N" tells what
    // each of those few did (or did not).
    if (hidden[r][0]) hidden[r].assign(static_cast<std::size_t>(ncol), true);
  }
  return hidden;
}

struct Cell {
  std::size_t r;
  int c;
};
// total = sum of parts
struct Relation {
  Cell total;
  std::vector<Cell> parts;
};

// The row relations in every row, then the column relations (the total row
// is the sum of the group rows). rows is not empty.
std::vector<Relation> relations_of(const std::vector<std::vector<int>>& rows,
                                   const std::vector<RowRelation>& row_relations) {
  std::vector<Relation> relations;
  const int ncol = static_cast<int>(rows[0].size());
  const std::size_t total_row = rows.size() - 1;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (const auto& rr : row_relations) {
      Relation rel{{r, rr.total}, {}};
      for (int p : rr.parts) rel.parts.push_back({r, p});
      relations.push_back(std::move(rel));
    }
  }
  if (total_row > 0) {
    for (int c = 0; c < ncol; ++c) {
      Relation rel{{total_row, c}, {}};
      for (std::size_t r = 0; r < total_row; ++r) rel.parts.push_back({r, c});
      relations.push_back(std::move(rel));
    }
  }
  return relations;
}

// The cell to hide with the one hidden cell of `rel`, or null if there is none.
const Cell* complement(const Relation& rel, const std::vector<std::vector<int>>& rows,
                       const std::vector<std::vector<bool>>& hidden) {
  auto is_hidden = [&](const Cell& x) { return static_cast<bool>(hidden[x.r][x.c]); };
  auto value = [&](const Cell& x) { return rows[x.r][x.c]; };
  int n = is_hidden(rel.total) ? 1 : 0;
  for (const auto& p : rel.parts) n += is_hidden(p) ? 1 : 0;
  if (n != 1) return nullptr;
  // The smallest shown part, non-zero ones first (hiding a 0 hides
  // little); ties go to the earlier row or column, so the result is
  // deterministic. Only if no part is left, the total.
  const Cell* pick = nullptr;
  for (const auto& p : rel.parts) {
    if (is_hidden(p)) continue;
    if (!pick ||
        std::make_tuple(value(p) == 0, value(p)) < std::make_tuple(value(*pick) == 0, value(*pick)))
      pick = &p;
  }
  if (!pick && !is_hidden(rel.total)) pick = &rel.total;
  return pick;
}
}  // namespace

std::vector<std::vector<bool>> suppress_table(const std::vector<std::vector<int>>& rows,
                                              const std::vector<RowRelation>& row_relations,
                                              int min_cell) {
  if (rows.empty()) return {};
  std::vector<std::vector<bool>> hidden = primary_suppression(rows, min_cell);
  // Rule 2, complementary suppression, over every relation "total = sum of
  // parts", until no relation has a single hidden cell left.
  const std::vector<Relation> relations = relations_of(rows, row_relations);
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& rel : relations) {
      if (const Cell* pick = complement(rel, rows, hidden)) {
        hidden[pick->r][pick->c] = true;
        changed = true;
      }
    }
  }
  return hidden;
}

std::vector<std::array<bool, NCOL>> suppress(const std::vector<Counts>& rows, int min_cell) {
  std::vector<std::vector<int>> table;
  for (const auto& r : rows) table.emplace_back(r.begin(), r.end());
  // In every row: offered = accepted + declined, accepted = routed + unroutable.
  const auto h = suppress_table(
      table, {{OFFERED, {ACCEPTED, DECLINED}}, {ACCEPTED, {ROUTED, UNROUTABLE}}}, min_cell);
  std::vector<std::array<bool, NCOL>> out(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (int c = 0; c < NCOL; ++c) out[r][c] = h[r][c];
  return out;
}

v1::ReferralStats compute(const std::vector<Fact>& facts, const Query& q, int min_cell,
                          const Directory& directory) {
  v1::ReferralStats out;
  set_query(out, q, min_cell);
  const auto [groups, total] = group_facts<Agg>(
      facts, q.group_by, [](Agg& a, const Fact& f) { add(a, f); },
      [](Dim d, const Fact& f) { return key_part(d, f); });
  std::vector<Counts> counts;
  for (const auto& [key, agg] : groups) counts.push_back(agg.counts);
  counts.push_back(total.counts);
  const auto hidden = suppress(counts, min_cell);

  std::size_t r = 0;
  for (const auto& [key, agg] : groups) {
    auto* row = out.add_rows();
    set_group(*row, q, *agg.first, directory);
    fill(*row, agg, hidden[r++], min_cell);
  }
  auto* t = out.mutable_total();
  t->set_total(true);
  fill(*t, total, hidden[r], min_cell);
  return out;
}

v1::ReferralStats compute(const std::vector<FunnelCell>& cells, const Query& q, int min_cell,
                          const Directory& directory) {
  v1::ReferralStats out;
  set_query(out, q, min_cell);
  const auto [groups, total] = group_facts<CellAgg>(
      cells, q.group_by, [](CellAgg& a, const FunnelCell& c) { add(a, c); },
      [](Dim d, const FunnelCell& c) { return key_part(d, c); });
  std::vector<Counts> counts;
  for (const auto& [key, agg] : groups) counts.push_back(agg.counts);
  counts.push_back(total.counts);
  const auto hidden = suppress(counts, min_cell);

  auto fill_row = [&](v1::ReferralStatsRow& row, const CellAgg& a,
                      const std::array<bool, NCOL>& h) {
    fill(row, a.counts, a.keys, h, min_cell, a.with_contact,
         [&] { return median_of_histograms(a.days, a.with_contact); });
  };
  std::size_t r = 0;
  for (const auto& [key, agg] : groups) {
    auto* row = out.add_rows();
    const FunnelCell& c = *agg.first;
    set_group(*row, q, c.kommunekode, c.month, c.offence, c.district_id, directory);
    fill_row(*row, agg, hidden[r++]);
  }
  auto* t = out.mutable_total();
  t->set_total(true);
  fill_row(*t, total, hidden[r]);
  return out;
}

std::vector<std::string> group_fields(Dim d) {
  switch (d) {
    case Dim::municipality:
      return {"kommunekode", "municipality_name"};
    case Dim::month:
      return {"month"};
    case Dim::offence:
      return {"offence"};
    case Dim::district:
      return {"district_id", "district_name"};
    case Dim::week:
      return {"week"};
  }
  return {};
}

std::string csv_table(const google::protobuf::Descriptor* desc, const std::vector<Dim>& group_by,
                      const std::vector<std::string>& value_names,
                      const std::vector<const google::protobuf::Message*>& rows,
                      const std::string& date_basis) {
  using google::protobuf::FieldDescriptor;
  std::vector<const FieldDescriptor*> groups, values;
  for (Dim d : group_by)
    for (const auto& g : group_fields(d)) groups.push_back(desc->FindFieldByName(g));
  for (const auto& v : value_names) values.push_back(desc->FindFieldByName(v));
  const auto* total_field = desc->FindFieldByName("total");
  const auto* suppressed_field = desc->FindFieldByName("suppressed");

  std::string out = "row";
  for (const auto* f : groups) out += "," + f->json_name();
  for (const auto* f : values) out += "," + f->json_name();
  out += ",suppressed,dateBasis\r\n";
  for (const auto* row : rows) {
    const auto* refl = row->GetReflection();
    const bool total = refl->GetBool(*row, total_field);
    std::string l = total ? "total" : "group";
    for (const auto* f : groups) {
      std::string v;
      if (total) {
        v = "";
      } else if (f->type() == FieldDescriptor::TYPE_INT32) {
        v = std::to_string(refl->GetInt32(*row, f));
      } else if (f->type() == FieldDescriptor::TYPE_ENUM) {
        v = refl->GetEnum(*row, f)->name();
      } else {
        v = refl->GetString(*row, f);
      }
      l += "," + csv::cell(v);
    }
    for (const auto* f : values) {
      l += ",";
      if (!refl->HasField(*row, f)) continue;  // withheld: empty cell
      if (f->type() == FieldDescriptor::TYPE_INT32)
        l += std::to_string(refl->GetInt32(*row, f));
      else
        l += format_number(refl->GetDouble(*row, f));
    }
    std::string sup;
    for (int i = 0; i < refl->FieldSize(*row, suppressed_field); ++i)
      sup += (sup.empty() ? "" : ";") + refl->GetRepeatedString(*row, suppressed_field, i);
    out += l + "," + csv::cell(sup) + "," + csv::cell(date_basis) + "\r\n";
  }
  return out;
}

std::string to_csv(const v1::ReferralStats& stats, const Query& q) {
  std::vector<std::string> values;
  for (int c = 0; c < NCOL; ++c) values.push_back(COL_FIELD[c]);
  for (int c = FIRST_RATE_COL; c < NCOL; ++c) values.push_back(rate_field(c));
  values.push_back(MEDIAN_FIELD);
  std::vector<const google::protobuf::Message*> rows;
  for (const auto& row : stats.rows()) rows.push_back(&row);
  rows.push_back(&stats.total());
  return csv_table(v1::ReferralStatsRow::descriptor(), q.group_by, values, rows, q.date_basis);
}

}  // namespace henvis::evaluation
