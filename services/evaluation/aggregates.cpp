// The statistics' cells (aggregates.hpp, docs/decisions.md 26).
#include "aggregates.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>

#include "evaluation.hpp"
#include "henvis/ids.hpp"

namespace henvis::evaluation::aggregates {

namespace {

constexpr int REFERRALS = 0;
constexpr int UNDERRETNINGER = 1;
constexpr const char* NOTICE = "notice";
constexpr const char* INCIDENT = "incident";
// Bump when what a cell holds or how it is encoded changes: the cells are
// then rebuilt from the facts at the next start.
constexpr std::string_view LAYOUT = "henvis.evaluation cells layout 1";

// A cell's grain: the dimensions besides the month it keeps. Every fact
// counts in one cell of each grain, so that a query reads the cells of the
// grain of its groupBy: as many as its answer has rows per month, not as
// many as the finest grain has.
constexpr int MUNICIPALITY = 1;
constexpr int DISTRICT = 2;
constexpr int OFFENCE = 4;  // referral cells
constexpr int WEEK = 4;     // underretning cells
constexpr int GRAINS = 8;

int grain_of(const std::vector<Dim>& group_by) {
  int g = 0;
  for (Dim d : group_by) {
    if (d == Dim::municipality) g |= MUNICIPALITY;
    if (d == Dim::district) g |= DISTRICT;
    if (d == Dim::offence) g |= OFFENCE;
    if (d == Dim::week) g |= WEEK;
  }
  return g;
}

int columns_of(int table) {
  return table == REFERRALS ? static_cast<int>(NCOL) : static_cast<int>(U_NCOL);
}

// ------------------------------------------------------------ the encoding

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const std::string& in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

std::string encode_columns(const Sums& s) {
  std::string out;
  out.reserve(s.counts.size() * 16);
  for (std::size_t c = 0; c < s.counts.size(); ++c) {
    put_le(out, static_cast<std::uint64_t>(s.counts[c]), 8);
    put_le(out, s.keys[c], 8);
  }
  return out;
}

std::string encode_days(const std::map<int, std::int64_t>& days) {
  std::string out;
  out.reserve(days.size() * 8);
  for (const auto& [d, n] : days) {
    put_le(out, static_cast<std::uint32_t>(d), 4);
    put_le(out, static_cast<std::uint32_t>(n), 4);
  }
  return out;
}

Sums zero(int table) {
  const auto n = static_cast<std::size_t>(columns_of(table));
  return {std::vector<std::int64_t>(n, 0), std::vector<std::uint64_t>(n, 0), {}};
}

void decode_columns(const std::string& blob, Sums& s) {
  if (blob.size() != s.counts.size() * 16)
    throw std::runtime_error("evaluation: a statistics cell has the wrong size");
  for (std::size_t c = 0; c < s.counts.size(); ++c) {
    s.counts[c] = static_cast<std::int64_t>(get_le(blob, c * 16, 8));
    s.keys[c] = get_le(blob, c * 16 + 8, 8);
  }
}

template <class F>
void for_each_day(const std::string& blob, F f) {
  if (blob.size() % 8 != 0)
    throw std::runtime_error("evaluation: a statistics cell has the wrong size");
  for (std::size_t at = 0; at < blob.size(); at += 8)
    f(static_cast<int>(static_cast<std::int32_t>(get_le(blob, at, 4))),
      static_cast<std::int64_t>(static_cast<std::int32_t>(get_le(blob, at + 4, 4))));
}

// --------------------------------------------------------- what a record adds

std::string month_of(const std::string& day) { return day.substr(0, 7); }

using Parts = std::vector<std::pair<store::CellRow, Sums>>;

// The cells of a referral fact (one of each grain) and what it adds there.
Parts referral_parts(const store::FactRow& row, const CellKey& keys) {
  const Fact f = to_fact(row, keys);
  Sums s = zero(REFERRALS);
  for (int c = 0; c < NCOL; ++c) {
    s.counts[c] = f.in[c] ? 1 : 0;
    s.keys[c] = f.in[c] ? f.record_key : 0;
  }
  if (f.days_to_first_contact) s.contact_days[*f.days_to_first_contact] = 1;
  Parts out;
  for (int g = 0; g < GRAINS; ++g) {
    store::CellRow id;
    id.grain = g;
    id.month = month_of(f.charged_day);
    if (g & MUNICIPALITY) id.kommunekode = f.kommunekode;
    if (g & DISTRICT) id.district_id = f.district_id;
    if (g & OFFENCE) id.offence = f.offence;
    out.emplace_back(std::move(id), s);
  }
  return out;
}

// The cells of an underretning (one of each grain per date basis it has, or
// of `only` that basis) and what it adds there.
Parts underretning_parts(const store::UnderretningRow& u, const CellKey& keys,
                         std::optional<bool> only_by_incident = std::nullopt) {
  Parts out;
  for (const bool by_incident : {false, true}) {
    if (by_incident && !u.incident_day) continue;
    if (only_by_incident && *only_by_incident != by_incident) continue;
    const UnderretningFact f = to_underretning_fact(u, by_incident, keys);
    Sums s = zero(UNDERRETNINGER);
    const auto counts = counts_of(f);
    for (int c = 0; c < U_NCOL; ++c) {
      s.counts[c] = counts[c];
      s.keys[c] = counts[c] != 0 ? f.record_key : 0;
    }
    const auto day = parse_date(f.created_day);
    for (int g = 0; g < GRAINS; ++g) {
      store::CellRow id;
      id.grain = g;
      id.basis = by_incident ? INCIDENT : NOTICE;
      id.month = month_of(f.created_day);
      if (g & WEEK) id.week = day ? iso_week(*day) : std::string();
      if (g & MUNICIPALITY) id.kommunekode = f.kommunekode;
      if (g & DISTRICT) id.district_id = f.district_id;
      out.emplace_back(std::move(id), s);
    }
  }
  return out;
}

void add_into(Sums& into, const Sums& s, int sign) {
  for (std::size_t c = 0; c < into.counts.size(); ++c) {
    into.counts[c] += sign * s.counts[c];
    into.keys[c] += sign > 0 ? s.keys[c] : std::uint64_t{0} - s.keys[c];  // mod 2^64
  }
  for (const auto& [d, n] : s.contact_days) {
    auto& v = into.contact_days[d];
    v += sign * n;
    if (v == 0) into.contact_days.erase(d);
  }
}

bool is_zero(const Sums& s) {
  for (std::size_t c = 0; c < s.counts.size(); ++c)
    if (s.counts[c] != 0 || s.keys[c] != 0) return false;
  return s.contact_days.empty();
}

// Writes a cell's sums: records = its first column (everyone it counts).
void put(sqlite::Db& db, int table, store::CellRow cell, const Sums& s) {
  cell.records = s.counts[0];
  bool consistent = cell.records >= 0;
  for (std::size_t c = 0; c < s.counts.size(); ++c) {
    consistent = consistent && s.counts[c] >= 0 && (cell.records > 0 || s.counts[c] == 0);
    consistent = consistent && (cell.records > 0 || s.keys[c] == 0);
  }
  for (const auto& [d, n] : s.contact_days) consistent = consistent && n > 0 && cell.records > 0;
  if (!consistent)
    throw std::logic_error("evaluation: a statistics cell is out of step with the facts");
  cell.columns = encode_columns(s);
  if (table == REFERRALS) {
    cell.contact_days = encode_days(s.contact_days);
    store::put_referral_cell(db, cell);
  } else {
    store::put_underretning_cell(db, cell);
  }
}

std::int64_t fingerprint(const CellKey& keys) {
  return static_cast<std::int64_t>(keys.record_key(LAYOUT));
}

}  // namespace

// ------------------------------------------------------------------ Change

Change::Change(sqlite::Db& db, const CellKey& keys) : db_(db), keys_(keys) {
  if (!built(db, keys)) rebuild(db, keys);  // logged there
}

void Change::facts(const std::vector<std::string>& fact_keys) {
  for (const auto& k : fact_keys) {
    if (std::find(fact_keys_.begin(), fact_keys_.end(), k) != fact_keys_.end()) continue;
    fact_keys_.push_back(k);
    if (auto row = store::fact(db_, k))
      for (const auto& [cell, s] : referral_parts(*row, keys_)) add(REFERRALS, cell, s, -1);
  }
}

void Change::underretning(const std::string& id) {
  if (std::find(underretning_ids_.begin(), underretning_ids_.end(), id) != underretning_ids_.end())
    return;
  underretning_ids_.push_back(id);
  if (auto u = store::underretning(db_, id))
    for (const auto& [cell, s] : underretning_parts(*u, keys_)) add(UNDERRETNINGER, cell, s, -1);
}

void Change::add(int table, const store::CellRow& cell, const Sums& s, int sign) {
  const CellId id{table,     cell.grain,       cell.basis,       cell.month,
                  cell.week, cell.kommunekode, cell.district_id, cell.offence};
  auto it = delta_.find(id);
  if (it == delta_.end()) it = delta_.emplace(id, zero(table)).first;
  add_into(it->second, s, sign);
}

void Change::apply() {
  for (const auto& k : fact_keys_)
    if (auto row = store::fact(db_, k))
      for (const auto& [cell, s] : referral_parts(*row, keys_)) add(REFERRALS, cell, s, +1);
  for (const auto& id : underretning_ids_)
    if (auto u = store::underretning(db_, id))
      for (const auto& [cell, s] : underretning_parts(*u, keys_)) add(UNDERRETNINGER, cell, s, +1);
  for (const auto& [id, d] : delta_) {
    if (is_zero(d)) continue;  // a fact seen again changes nothing
    const int table = std::get<0>(id);
    store::CellRow cell;
    std::tie(std::ignore, cell.grain, cell.basis, cell.month, cell.week, cell.kommunekode,
             cell.district_id, cell.offence) = id;
    Sums now = zero(table);
    if (auto stored = table == REFERRALS ? store::referral_cell(db_, cell)
                                         : store::underretning_cell(db_, cell)) {
      decode_columns(stored->columns, now);
      for_each_day(stored->contact_days,
                   [&](int days, std::int64_t n) { now.contact_days[days] = n; });
    }
    add_into(now, d, +1);
    put(db_, table, cell, now);
  }
  delta_.clear();
  fact_keys_.clear();
  underretning_ids_.clear();
}

// ----------------------------------------------------------------- building

bool built(sqlite::Db& db, const CellKey& keys) {
  return store::cells_built_for(db) == fingerprint(keys);
}

void rebuild(sqlite::Db& db, const CellKey& keys) {
  const auto t0 = std::chrono::steady_clock::now();
  store::clear_cells(db);
  // The facts come in charge-day order: a month's cells are complete when the
  // next month starts, so only one month's cells are held at a time.
  std::map<std::tuple<int, int, std::string, int>, std::pair<store::CellRow, Sums>> month_cells;
  std::string month;
  std::int64_t facts = 0, underretninger = 0;
  auto flush = [&] {
    for (const auto& [k, cs] : month_cells) put(db, REFERRALS, cs.first, cs.second);
    month_cells.clear();
  };
  store::for_each_fact(db, [&](const store::FactRow& row) {
    for (const auto& [cell, s] : referral_parts(row, keys)) {
      if (cell.month != month) {
        flush();
        month = cell.month;
      }
      auto [it, fresh] = month_cells.try_emplace(
          {cell.grain, cell.kommunekode, cell.district_id, cell.offence}, cell, zero(REFERRALS));
      add_into(it->second.second, s, +1);
    }
    ++facts;
  });
  flush();
  // Underretninger once per date basis, in that date's order (the creation
  // day, the earliest incident's day): here too one month's cells at a time.
  for (const char* basis : {NOTICE, INCIDENT}) {
    const bool by_incident = basis == INCIDENT;
    std::map<std::tuple<int, std::string, int, std::string>, std::pair<store::CellRow, Sums>>
        ucells;
    std::string umonth;
    auto uflush = [&] {
      for (const auto& [k, cs] : ucells) put(db, UNDERRETNINGER, cs.first, cs.second);
      ucells.clear();
    };
    store::for_each_underretning(db, by_incident, [&](const store::UnderretningRow& u) {
      for (const auto& [cell, s] : underretning_parts(u, keys, by_incident)) {
        if (cell.month != umonth) {
          uflush();
          umonth = cell.month;
        }
        auto [it, fresh] =
            ucells.try_emplace({cell.grain, cell.week, cell.kommunekode, cell.district_id}, cell,
                               zero(UNDERRETNINGER));
        add_into(it->second.second, s, +1);
      }
      if (!by_incident) ++underretninger;
    });
    uflush();
  }
  store::set_cells_built_for(db, fingerprint(keys));
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  spdlog::info("evaluation statistics cells built facts={} underretninger={} seconds={:.2f}", facts,
               underretninger, took.count());
}

bool ensure(sqlite::Db& db, const CellKey& keys) {
  if (built(db, keys)) return false;
  sqlite::Transaction tx(db);
  if (built(db, keys)) return false;  // another connection built them meanwhile
  rebuild(db, keys);
  tx.commit();
  return true;
}

// ------------------------------------------------------------------ reading

namespace {
std::string month_bound(const std::string& day) { return day.empty() ? "" : month_of(day); }
}  // namespace

std::vector<FunnelCell> referral_cells(sqlite::Db& db, const Query& q) {
  std::vector<FunnelCell> out;
  store::for_each_referral_cell(db, grain_of(q.group_by), month_bound(q.from_text),
                                month_bound(q.to_text), [&](const store::CellRow& row) {
                                  Sums s = zero(REFERRALS);
                                  decode_columns(row.columns, s);
                                  FunnelCell c;
                                  c.month = row.month;
                                  c.kommunekode = row.kommunekode;
                                  c.district_id = row.district_id;
                                  c.offence = row.offence;
                                  for (int col = 0; col < NCOL; ++col) {
                                    c.counts[col] = static_cast<int>(s.counts[col]);
                                    c.keys[col] = s.keys[col];
                                  }
                                  for_each_day(row.contact_days, [&](int days, std::int64_t n) {
                                    c.contact_days.emplace_back(days, n);
                                  });
                                  out.push_back(std::move(c));
                                });
  return out;
}

std::vector<UnderretningCell> underretning_cells(sqlite::Db& db, const Query& q) {
  std::vector<UnderretningCell> out;
  const std::string basis = q.date_basis == INCIDENT ? INCIDENT : NOTICE;
  store::for_each_underretning_cell(db, basis, grain_of(q.group_by), month_bound(q.from_text),
                                    month_bound(q.to_text), [&](const store::CellRow& row) {
                                      Sums s = zero(UNDERRETNINGER);
                                      decode_columns(row.columns, s);
                                      UnderretningCell c;
                                      c.month = row.month;
                                      c.week = row.week;
                                      c.kommunekode = row.kommunekode;
                                      c.district_id = row.district_id;
                                      for (int col = 0; col < U_NCOL; ++col) {
                                        c.counts[col] = static_cast<int>(s.counts[col]);
                                        c.keys[col] = s.keys[col];
                                      }
                                      out.push_back(std::move(c));
                                    });
  return out;
}

std::int64_t referral_rows(sqlite::Db& db, const CellKey& keys, const Query& q) {
  if (q.group_by.empty()) return 0;  // the total alone
  ensure(db, keys);
  const bool by_month =
      std::find(q.group_by.begin(), q.group_by.end(), Dim::month) != q.group_by.end();
  return store::count_referral_groups(db, grain_of(q.group_by), by_month, month_bound(q.from_text),
                                      month_bound(q.to_text));
}

std::int64_t underretning_rows(sqlite::Db& db, const CellKey& keys, const Query& q) {
  if (q.group_by.empty()) return 0;  // the total alone
  ensure(db, keys);
  return store::count_underretning_groups(db, q.date_basis == INCIDENT ? INCIDENT : NOTICE,
                                          grain_of(q.group_by), month_bound(q.from_text),
                                          month_bound(q.to_text));
}

v1::ReferralStats referral_stats(sqlite::Db& db, const CellKey& keys, const Query& q, int min_cell,
                                 const Directory& directory) {
  ensure(db, keys);
  return compute(referral_cells(db, q), q, min_cell, directory);
}

v1::UnderretningStats underretning_stats(sqlite::Db& db, const CellKey& keys, const Query& q,
                                         int min_cell, const Directory& directory) {
  ensure(db, keys);
  return compute_underretninger(underretning_cells(db, q), q, min_cell, directory);
}

}  // namespace henvis::evaluation::aggregates
