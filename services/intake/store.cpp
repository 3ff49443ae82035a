#include "store.hpp"

#include "henvis/access_log.hpp"
#include "henvis/outbox.hpp"

namespace henvis::intake {

std::vector<std::string> migrations() {
  return {std::string(outbox::MIGRATION) + R"sql(
CREATE TABLE offers (
  offer_id TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL,
  referral_id TEXT,
  answer INTEGER NOT NULL,
  kommunekode INTEGER NOT NULL,
  district_id TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)sql",
          R"sql(
ALTER TABLE offers ADD COLUMN charged_at TEXT;
ALTER TABLE offers ADD COLUMN withdrawn_at TEXT;
ALTER TABLE offers ADD COLUMN withdrawal_response TEXT;
)sql",
          // The kit's tables store instants as Unix milliseconds (docs/decisions.md 16).
          outbox::migration_unix_ms(),
          // And so do intake's own.
          sqlite::to_unix_ms("offers", "created_at", "rfc3339") +
              sqlite::to_unix_ms("offers", "charged_at", "rfc3339") +
              sqlite::to_unix_ms("offers", "withdrawn_at", "rfc3339"),
          // Who withdrew: the token's label and the person acting through
          // henvis-web (docs/decisions.md "Delegated principals (henvis-web)").
          R"sql(
ALTER TABLE offers ADD COLUMN withdrawn_by TEXT;
ALTER TABLE offers ADD COLUMN withdrawn_by_person TEXT;
)sql",
          // Crypto-shredding (docs/decisions.md 22): each yes's data key,
          // deleted on withdrawal; who fetched one is access-logged.
          std::string(R"sql(
CREATE TABLE data_keys (
  referral_id TEXT PRIMARY KEY,
  key BLOB NOT NULL
);
CREATE INDEX offers_referral ON offers(referral_id);
)sql") + access_log::MIGRATION +
              access_log::migration_unix_ms() + access_log::MIGRATION_PERSON,
          // The access log, hash-chained and append-only (docs/decisions.md 23).
          access_log::migration_chain(),
          // Partition-aligned instances (docs/decisions.md 24): a yes's Kafka
          // key, which its withdrawal carries too; and, in a dev config only,
          // the secret it is derived with (intake.partition_key_file outside dev).
          R"sql(
ALTER TABLE offers ADD COLUMN partition_key TEXT NOT NULL DEFAULT '';
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
)sql"};
}

namespace {
constexpr std::string_view FIND_ANSWER =
    "SELECT request_hash, status, response FROM offers WHERE offer_id = ?";
constexpr std::string_view FIND_OFFER =
    "SELECT referral_id, answer, kommunekode, district_id, charged_at, withdrawal_response, "
    "partition_key FROM offers WHERE offer_id = ?";
constexpr std::string_view ADD_OFFER =
    "INSERT INTO offers(offer_id, request_hash, status, response, referral_id, answer, "
    "kommunekode, district_id, created_at, charged_at, partition_key) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?)";
constexpr std::string_view RECORD_WITHDRAWAL =
    "UPDATE offers SET withdrawn_at = ?, withdrawal_response = ?, withdrawn_by = ?, "
    "withdrawn_by_person = ? WHERE offer_id = ?";
constexpr std::string_view ADD_KEY = "INSERT INTO data_keys(referral_id, key) VALUES (?,?)";
constexpr std::string_view FIND_KEY = "SELECT key FROM data_keys WHERE referral_id = ?";
constexpr std::string_view DELETE_KEY = "DELETE FROM data_keys WHERE referral_id = ?";
constexpr std::string_view REFERRAL_WITHDRAWN =
    "SELECT withdrawn_at IS NOT NULL FROM offers WHERE referral_id = ?";
}  // namespace

void Store::add_key(const std::string& referral_id, const std::string& key) {
  auto q = db_.query(ADD_KEY);
  q->bind(1, referral_id).bind_blob(2, key).run();
}

std::optional<std::string> Store::key(const std::string& referral_id) {
  auto q = db_.query(FIND_KEY);
  q->bind(1, referral_id);
  if (!q->step()) return std::nullopt;
  return q->blob(0);
}

void Store::delete_key(const std::string& referral_id) {
  auto q = db_.query(DELETE_KEY);
  q->bind(1, referral_id).run();
}

bool Store::referral_withdrawn(const std::string& referral_id) {
  auto q = db_.query(REFERRAL_WITHDRAWN);
  q->bind(1, referral_id);
  return q->step() && q->i64(0) != 0;
}

std::optional<StoredAnswer> Store::answer(const std::string& offer_id) {
  auto q = db_.query(FIND_ANSWER);
  q->bind(1, offer_id);
  if (!q->step()) return std::nullopt;
  return StoredAnswer{q->text(0), static_cast<int>(q->i64(1)), q->text(2)};
}

std::optional<OfferRow> Store::offer(const std::string& offer_id) {
  auto q = db_.query(FIND_OFFER);
  q->bind(1, offer_id);
  if (!q->step()) return std::nullopt;
  OfferRow r;
  r.referral_id = q->text(0);
  r.answer = static_cast<v1::Answer>(q->i64(1));
  r.kommunekode = static_cast<int>(q->i64(2));
  r.district_id = q->text(3);
  r.charged_at = q->maybe_instant(4);
  if (!q->is_null(5)) r.withdrawal_response = q->text(5);
  r.partition_key = q->text(6);
  return r;
}

void Store::add(const NewOffer& o) {
  auto q = db_.query(ADD_OFFER);
  q->bind(1, o.offer_id).bind(2, o.request_hash).bind(3, o.status).bind(4, o.response);
  if (o.referral_id.empty())
    q->bind_null(5);
  else
    q->bind(5, o.referral_id);
  q->bind(6, static_cast<int>(o.answer)).bind(7, o.kommunekode).bind(8, o.district_id);
  q->bind(9, o.created_at).bind(10, o.charged_at).bind(11, o.partition_key).run();
}

void Store::record_withdrawal(const std::string& offer_id, Instant at, const std::string& response,
                              const auth::Principal& by) {
  auto q = db_.query(RECORD_WITHDRAWAL);
  q->bind(1, at).bind(2, response).bind(3, by.label).bind(4, by.person).bind(5, offer_id).run();
}

}  // namespace henvis::intake
