#include "henvisctl/journal.hpp"

#include <cstdlib>
#include <filesystem>

#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/sqlite.hpp"

namespace henvis::ctl {

namespace {

// How long an offer id keeps its charge time, and an unanswered outcome its key.
constexpr auto KEEP = std::chrono::hours(24 * 7);

constexpr std::string_view SCHEMA = R"sql(
CREATE TABLE offers (
  offer_hash TEXT PRIMARY KEY,  -- SHA-256 of the offer id
  charged_at TEXT NOT NULL,     -- RFC 3339, as sent
  recorded_at INTEGER NOT NULL  -- Unix ms
);
CREATE TABLE outcome_attempts (
  request_hash TEXT PRIMARY KEY,  -- SHA-256 of referral, outcome, note, time
  idempotency_key TEXT NOT NULL,
  at TEXT NOT NULL,               -- RFC 3339, as sent
  recorded_at INTEGER NOT NULL    -- Unix ms
);
)sql";

constexpr std::string_view PRUNE_OFFERS = "DELETE FROM offers WHERE recorded_at < ?";
constexpr std::string_view PRUNE_OUTCOMES = "DELETE FROM outcome_attempts WHERE recorded_at < ?";
constexpr std::string_view FIND_OFFER = "SELECT charged_at FROM offers WHERE offer_hash = ?";
constexpr std::string_view ADD_OFFER =
    "INSERT INTO offers(offer_hash, charged_at, recorded_at) VALUES (?,?,?)";
constexpr std::string_view FIND_OUTCOME =
    "SELECT idempotency_key, at FROM outcome_attempts WHERE request_hash = ?";
constexpr std::string_view ADD_OUTCOME =
    "INSERT INTO outcome_attempts(request_hash, idempotency_key, at, recorded_at) VALUES (?,?,?,?)";
constexpr std::string_view SETTLE_OUTCOME = "DELETE FROM outcome_attempts WHERE request_hash = ?";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

}  // namespace

std::string Journal::default_dir() {
  if (auto d = env("HENVIS_STATE_DIR"); !d.empty()) return d;
  if (auto d = env("XDG_STATE_HOME"); !d.empty()) return d + "/henvisctl";
  if (auto home = env("HOME"); !home.empty()) return home + "/.local/state/henvisctl";
  return ".henvisctl";
}

Journal::Journal(const std::string& dir) {
  const std::filesystem::path d = dir.empty() ? default_dir() : dir;
  std::filesystem::create_directories(d);
  std::filesystem::permissions(d, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  db_ = std::make_unique<sqlite::Db>((d / "journal.db").string());
  db_->migrate({std::string(SCHEMA)});
  const auto horizon = std::chrono::system_clock::now() - KEEP;
  db_->query(PRUNE_OFFERS)->bind(1, horizon).run();
  db_->query(PRUNE_OUTCOMES)->bind(1, horizon).run();
}

Journal::~Journal() = default;

std::string Journal::offer_charge_time(const std::string& offer_id, const std::string& now) {
  const std::string hash = sha256_hex(offer_id);
  {
    auto q = db_->query(FIND_OFFER);
    if (q->bind(1, hash).step()) return q->text(0);
  }
  db_->query(ADD_OFFER)->bind(1, hash).bind(2, now).bind(3, std::chrono::system_clock::now()).run();
  return now;
}

Journal::Pending Journal::outcome_attempt(const std::string& request, const std::string& now) {
  const std::string hash = sha256_hex(request);
  {
    auto q = db_->query(FIND_OUTCOME);
    if (q->bind(1, hash).step()) return {q->text(0), q->text(1)};
  }
  Pending p{"henvisctl-" + new_uuid(), now};
  db_->query(ADD_OUTCOME)
      ->bind(1, hash)
      .bind(2, p.idempotency_key)
      .bind(3, p.at)
      .bind(4, std::chrono::system_clock::now())
      .run();
  return p;
}

bool Journal::outcome_pending(const std::string& request) {
  auto q = db_->query(FIND_OUTCOME);
  return q->bind(1, sha256_hex(request)).step();
}

void Journal::outcome_answered(const std::string& request) {
  db_->query(SETTLE_OUTCOME)->bind(1, sha256_hex(request)).run();
}

}  // namespace henvis::ctl
