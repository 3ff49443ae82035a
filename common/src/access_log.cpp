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

void record(sqlite::Db& db, const auth::Principal& who, const std::string& referral_id,
            const std::string& purpose) {
  sqlite::Stmt s(db,
                 "INSERT INTO access_log(at, who, role, recipient, referral_id, purpose) "
                 "VALUES (?,?,?,?,?,?)");
  s.bind(1, now_rfc3339()).bind(2, who.label).bind(3, std::string(auth::role_name(who.role)));
  s.bind(4, who.scope).bind(5, referral_id).bind(6, purpose).run();
}

}  // namespace henvis::access_log
