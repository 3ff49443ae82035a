#pragma once
// Consistent cell-key perturbation of published counts (docs/statistics.md):
// the defence against differencing between statistics requests.
//
// Every record (a referral, a declined offer, an underretning) has a secret,
// stable record key: SipHash-2-4 (libsodium crypto_shorthash) of its id under
// the evaluation's cell key. A cell's key is the sum of the record keys of the
// records it counts (mod 2^64), so the same set of records gives the same key
// in every table, window and grouping, and a different set an unrelated one.
// The published count is the true count plus a small noise drawn from the
// cell key by a fixed table. Asking again returns the same figure (nothing to
// average away); subtracting two cells that differ by a few persons gives
// their true difference plus the difference of two independent noises.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace henvis::sqlite {
class Db;
}

namespace henvis::evaluation {

class CellKey {
 public:
  static constexpr std::size_t KEY_BYTES = 16;
  // `key` must hold at least KEY_BYTES bytes (the first 16 are used).
  explicit CellKey(std::string_view key);
  // The record key of a record id.
  std::uint64_t record_key(std::string_view record_id) const;

 private:
  unsigned char key_[KEY_BYTES];
};

// The noise added to a true count `n` whose cell key is `cell_key`: 0 for an
// empty cell (an empty cell identifies no one); otherwise -2..+2 with
// probabilities 5 %, 20 %, 50 %, 20 %, 5 % (mean 0), never taking a count
// below 1.
int perturbation(int n, std::uint64_t cell_key);

// counts[i] += perturbation(counts[i], cell_keys[i]) for every i.
void perturb(std::span<int> counts, std::span<const std::uint64_t> cell_keys);

// The cell key from `file` (at least 16 bytes), or, if `file` is empty and
// `dev`, one kept in the evaluation database (made at first start, logged;
// config::key_from_file_or_dev_db).
std::string load_cell_key(sqlite::Db& db, const std::string& file, bool dev);

}  // namespace henvis::evaluation
