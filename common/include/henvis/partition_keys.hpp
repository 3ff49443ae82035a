#pragma once
// A referral's partition key (OfferRecorded.partition_key,
// docs/decisions.md 24) as the router and the notifier keep it: the Kafka
// key that puts its notifications' deliveries into the partition of its
// offers, for the router instance that owns them.

#include <string>

#include "henvis/sqlite.hpp"

namespace henvis::partition_keys {

// The table; part of the router's and the notifier's migrations.
extern const char* const MIGRATION;

// Keeps `key` for the referral (replacing one kept before); inside the
// caller's transaction.
void put(sqlite::Db& db, const std::string& referral_id, const std::string& key);
// The referral's key; "" when none was kept (an offer from before partition keys).
std::string of(sqlite::Db& db, const std::string& referral_id);

}  // namespace henvis::partition_keys
