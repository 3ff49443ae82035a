#pragma once
// The statistics' cells (docs/decisions.md 26): what a statistics request
// reads instead of every fact.
//
// A referral cell sums the offered persons of one charge month, municipality,
// police district and offence (or of a month and some of those: each grain,
// a subset of the three, has its cells, so that a query reads as many cells
// as its answer has rows per month): per funnel column its count and its cell key
// (the sum of the record keys of the persons it counts, mod 2^64: what
// cell-key perturbation draws from, cell_key.hpp), and how many persons had
// each number of days to first contact (the median's input). An underretning
// cell sums the underretninger of one date basis (notice, incident), month,
// ISO week, municipality and district (each grain: a subset of the last three)
// the same way. Every group-by and
// window of the documented queries is a union of whole cells (windows are
// whole calendar months; a day belongs to one month and one ISO week), and
// counts, cell keys and the days' multiset add up, so a table computed from
// the cells is the table computed from the facts: the same counts, cell
// keys, suppression, perturbation, rates and medians.
//
// The consumer keeps the cells in the transaction that applies the facts
// (the consumer loop's batch transaction, its event savepoint): a Change reads
// what the records an event touches count before its writes and after, and
// adds the difference to their cells; a rolled-back event rolls its cells
// back with it. A withdrawal is such an event like any other.
//
// The cells are built from the facts when they were not built under the
// service's cell key (the migration that made the tables, a new cell key, a
// new cell layout): cells_built holds a digest of the key and the layout.

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "cell_key.hpp"
#include "henvis/directory.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/stats.pb.h"
#include "stats.hpp"
#include "store.hpp"
#include "underretning_stats.hpp"

namespace henvis::evaluation::aggregates {

// What the records of one cell add up to (or a change of it).
struct Sums {
  std::vector<std::int64_t> counts;          // per count column
  std::vector<std::uint64_t> keys;           // per count column: the cell key, mod 2^64
  std::map<int, std::int64_t> contact_days;  // referral cells: days to first contact -> persons
};

// The changes an event makes to the cells, applied in its transaction.
class Change {
 public:
  // Builds the cells first if they are not built under `keys` (ensure).
  Change(sqlite::Db& db, const CellKey& keys);
  // Before the event's writes: the facts (by key) and underretninger (by id)
  // it may change. A key named twice counts once.
  void facts(const std::vector<std::string>& fact_keys);
  void underretning(const std::string& underretning_id);
  // After the writes: adds what those records count now, less what they
  // counted before, to their cells.
  void apply();

 private:
  // (table, grain, basis, month, week, kommunekode, district, offence)
  using CellId = std::tuple<int, int, std::string, std::string, std::string, int, std::string, int>;
  void add(int table, const store::CellRow& cell, const Sums& s, int sign);
  sqlite::Db& db_;
  const CellKey& keys_;
  std::vector<std::string> fact_keys_;
  std::vector<std::string> underretning_ids_;
  std::map<CellId, Sums> delta_;
};

// True if the cells were built under `keys` and this cell layout.
bool built(sqlite::Db& db, const CellKey& keys);
// Empties the cells and builds them from every fact and underretning, in the
// caller's transaction; records that they were built under `keys`.
void rebuild(sqlite::Db& db, const CellKey& keys);
// Rebuilds (in a transaction of its own) unless built(); true if it did.
bool ensure(sqlite::Db& db, const CellKey& keys);

// The cells of the query's window (q.from_text to q.to_text, whole months).
std::vector<FunnelCell> referral_cells(sqlite::Db& db, const Query& q);
std::vector<UnderretningCell> underretning_cells(sqlite::Db& db, const Query& q);

// How many rows (groups, the total not counted) referral_stats and
// underretning_stats would answer the query with, from the cells' keys alone
// (ensure first).
std::int64_t referral_rows(sqlite::Db& db, const CellKey& keys, const Query& q);
std::int64_t underretning_rows(sqlite::Db& db, const CellKey& keys, const Query& q);

// GET /v1/stats/referrals and /v1/stats/underretninger from the cells (ensure
// first): the same answers as compute() over load_facts() and
// compute_underretninger() over load_underretning_facts().
v1::ReferralStats referral_stats(sqlite::Db& db, const CellKey& keys, const Query& q, int min_cell,
                                 const Directory& directory);
v1::UnderretningStats underretning_stats(sqlite::Db& db, const CellKey& keys, const Query& q,
                                         int min_cell, const Directory& directory);

}  // namespace henvis::evaluation::aggregates
