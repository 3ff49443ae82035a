#include "henvis/access_log.hpp"

#include "henvis/ids.hpp"

namespace henvis::access_log {

const char* const MIGRATION = R"sql(
CREATE TABLE IF NOT EXISTS access_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  who TEXT NOT NULL,
  role TEXT NOT NULL,
  recipient TEXT NOT NULL,
  referral_id TEXT NOT NULL,
  purpose TEXT NOT NULL
);
)sql";

const char* const MIGRATION_PERSON =
    "ALTER TABLE access_log ADD COLUMN person TEXT NOT NULL DEFAULT '';\n";

std::string migration_unix_ms() { return sqlite::to_unix_ms("access_log", "at", "rfc3339"); }

void record(sqlite::Db& db, const auth::Principal& who, const std::string& referral_id,
            const std::string& purpose) {
  auto s = db.query(
      "INSERT INTO access_log(at, who, role, recipient, referral_id, purpose, person) "
      "VALUES (?,?,?,?,?,?,?)");
  s->bind(1, std::chrono::system_clock::now()).bind(2, who.label);
  s->bind(3, std::string(auth::role_name(who.role))).bind(4, who.scope).bind(5, referral_id);
  s->bind(6, purpose).bind(7, who.person).run();
}

}  // namespace henvis::access_log
