#pragma once
// Disclosure log: every read of a person's data (who, when, which referral,
// why, to which recipient) is recorded in the service's own database, in the
// same connection that read it. The log holds ids, never the data itself.

#include <string>

#include "henvis/auth.hpp"
#include "henvis/sqlite.hpp"

namespace henvis::access_log {

extern const char* const MIGRATION;
// A later step for databases made with MIGRATION: `at` as Unix ms.
std::string migration_unix_ms();
// A later step: the acting person (auth::Principal::person; "" for a token
// used directly). Every service that records appends it to its migrations.
extern const char* const MIGRATION_PERSON;

void record(sqlite::Db& db, const auth::Principal& who, const std::string& referral_id,
            const std::string& purpose);

}  // namespace henvis::access_log
