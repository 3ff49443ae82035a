#include "cell_key.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "henvis/config.hpp"
#include "henvis/sqlite.hpp"
#include "store.hpp"

namespace henvis::evaluation {

static_assert(CellKey::KEY_BYTES == crypto_shorthash_KEYBYTES);

CellKey::CellKey(std::string_view key) {
  if (sodium_init() < 0) throw std::runtime_error("evaluation: libsodium could not start");
  if (key.size() < KEY_BYTES)
    throw std::invalid_argument("evaluation: the cell key must hold at least 16 bytes");
  std::memcpy(key_, key.data(), KEY_BYTES);
}

std::uint64_t CellKey::record_key(std::string_view record_id) const {
  // SipHash-2-4: a keyed 64-bit hash, fast enough to key every record of a
  // query on the fly (tens of nanoseconds), so no key is stored per record.
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(record_id.data()), record_id.size(),
                   key_);
  std::uint64_t v = 0;
  for (unsigned char b : out) v = (v << 8) | b;
  return v;
}

int perturbation(int n, std::uint64_t cell_key) {
  if (n <= 0) return 0;
  // The cell key's top 53 bits as a uniform number in [0, 1), then the
  // perturbation table's cumulative probabilities.
  const double u = static_cast<double>(cell_key >> 11) / 9007199254740992.0;  // 2^53
  static constexpr std::array<double, 4> CUMULATIVE = {0.05, 0.25, 0.75, 0.95};
  const int d = static_cast<int>(std::upper_bound(CUMULATIVE.begin(), CUMULATIVE.end(), u) -
                                 CUMULATIVE.begin()) -
                2;
  return std::max(n + d, 1) - n;
}

void perturb(std::span<int> counts, std::span<const std::uint64_t> cell_keys) {
  for (std::size_t i = 0; i < counts.size() && i < cell_keys.size(); ++i)
    counts[i] += perturbation(counts[i], cell_keys[i]);
}

std::string load_cell_key(sqlite::Db& db, const std::string& file, bool dev) {
  return config::key_from_file_or_dev_db("evaluation.cell_key_file", file, CellKey::KEY_BYTES, dev,
                                         db, "cell_key");
}

}  // namespace henvis::evaluation
