#pragma once
// Intake's store (docs/decisions.md 17): its schema, its migrations and every
// SQL statement it runs, behind typed rows. The API calls it and never writes
// SQL; transactions stay the caller's (sqlite::Transaction on its connection).
//
// Every instant is stored as INTEGER Unix milliseconds (docs/decisions.md 16).

#include <optional>
#include <string>
#include <vector>

#include "henvis/auth.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"

namespace henvis::intake {

using sqlite::Instant;

// The schema, in order; applied by the host before the service is built.
std::vector<std::string> migrations();

// The answer stored for an offer id: what a repeated request gets back.
struct StoredAnswer {
  std::string request_hash;
  int status = 0;
  std::string response;  // the JSON body
};

// What a withdrawal needs to know of an offer.
struct OfferRow {
  std::string referral_id;  // empty on a no
  v1::Answer answer = v1::ANSWER_UNSPECIFIED;
  int kommunekode = 0;
  std::string district_id;
  std::optional<Instant> charged_at;  // empty for offers recorded before it was kept
  // The answer to the first withdrawal, if there was one.
  std::optional<std::string> withdrawal_response;
  std::string partition_key;  // the yes's Kafka key; "" before it was kept
};

// A recorded offer; no personal data.
struct NewOffer {
  std::string offer_id;
  std::string request_hash;
  int status = 0;
  std::string response;
  std::string referral_id;  // empty on a no (stored as NULL)
  v1::Answer answer = v1::ANSWER_UNSPECIFIED;
  int kommunekode = 0;
  std::string district_id;
  Instant created_at;
  Instant charged_at;
  std::string partition_key;  // OfferRecorded.partition_key
};

// Intake's statements on one connection. Cheap to make: it holds a
// reference to the connection, whose prepared statements it reuses.
class Store {
 public:
  explicit Store(sqlite::Db& db) : db_(db) {}
  // The connection, for transactions and the kit's outbox.
  sqlite::Db& db() { return db_; }

  std::optional<StoredAnswer> answer(const std::string& offer_id);
  std::optional<OfferRow> offer(const std::string& offer_id);
  void add(const NewOffer& offer);
  // Records the first withdrawal: its answer, and who made it (the token's
  // label and, through henvis-web, the person).
  void record_withdrawal(const std::string& offer_id, Instant at, const std::string& response,
                         const auth::Principal& by);

  // Referrals' data keys (docs/decisions.md 22).
  void add_key(const std::string& referral_id, const std::string& key);
  std::optional<std::string> key(const std::string& referral_id);
  void delete_key(const std::string& referral_id);
  // Whether the offer of this referral was withdrawn (its key destroyed).
  bool referral_withdrawn(const std::string& referral_id);

 private:
  sqlite::Db& db_;
};

}  // namespace henvis::intake
