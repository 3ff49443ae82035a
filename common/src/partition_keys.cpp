#include "henvis/partition_keys.hpp"

namespace henvis::partition_keys {

const char* const MIGRATION =
    "CREATE TABLE partition_keys (referral_id TEXT PRIMARY KEY, key TEXT NOT NULL);\n";

void put(sqlite::Db& db, const std::string& referral_id, const std::string& key) {
  db.query("INSERT OR REPLACE INTO partition_keys(referral_id, key) VALUES (?, ?)")
      ->bind(1, referral_id)
      .bind(2, key)
      .run();
}

std::string of(sqlite::Db& db, const std::string& referral_id) {
  auto q = db.query("SELECT key FROM partition_keys WHERE referral_id = ?");
  q->bind(1, referral_id);
  return q->step() ? q->text(0) : std::string();
}

}  // namespace henvis::partition_keys
