#pragma once
// The router's store (docs/decisions.md 17): its schema, its migrations and
// every SQL statement it runs, returning typed rows. The applier, the API and
// the reminder loop call it and never write SQL. Instants are stored as Unix
// milliseconds (decisions.md 16) and come and go here as sqlite::Instant.
//
// Every method runs inside the caller's transaction (sqlite::Transaction on
// the same connection), which marks the unit of work.

#include <optional>
#include <string>
#include <vector>

#include "henvis/sqlite.hpp"
#include "henvis/v1/common.pb.h"

namespace henvis::router {

using sqlite::Instant;

// The router's schema, oldest first; append-only (Db::migrate).
std::vector<std::string> migrations();

// A referral's non-personal fields.
struct ReferralRow {
  std::string referral_id;
  std::string offer_id;
  v1::ReferralStatus status = v1::REFERRAL_STATUS_UNSPECIFIED;
  std::string centre_id;
  int kommunekode = 0;
  std::string district_id;
  std::string directory_version;
  v1::Offence offence = v1::OFFENCE_UNSPECIFIED;
  Instant charged_at;
  int contact_attempts = 0;
  int prior_90d = 0;
  int prior_5y = 0;
};

// A referral's personal fields and consent, gone once consent is withdrawn.
struct PersonRow {
  std::string cpr;
  std::string name;
  std::string phone;
  std::string email;
  std::string preferred_contact_time;
  std::string consent_version;
  Instant consent_given_at;
};

// A whole referral as a reader or a recipient sees it.
struct Referral {
  ReferralRow row;
  std::string journal_number;
  std::optional<PersonRow> person;  // empty once erased
  std::string reason;
  Instant created_at;
};

// One step of a referral's history.
struct HistoryRow {
  v1::ReferralStatus status = v1::REFERRAL_STATUS_UNSPECIFIED;
  Instant at;
  std::string reason;
  std::optional<Instant> occurred_at;  // empty in rows older than the column
  std::optional<std::string> note;     // empty when none was given, or erased
  // A coordinator's step: the token label, and for a forwarding the
  // directory version and centre it was checked against.
  std::optional<std::string> actor;
  std::optional<std::string> directory_version;
  std::optional<std::string> centre_id;
  // The person who made the step through henvis-web (their user name).
  std::optional<std::string> person;
};

// Where a page of a referral list ends: the last referral's sort key.
struct ListKey {
  Instant created_at;
  std::string referral_id;
};

// A referral still waiting on its centre, for the reminder loop.
struct WaitingRow {
  std::string referral_id;
  Instant last_activity_at;
  std::optional<Instant> reminded_at;
};

// The first answer given for an idempotency key.
struct AnswerRow {
  std::string request_hash;
  int status = 0;
  std::string response;
};

// Whose referrals a reader may see: a centre its own, a coordinator their district's.
enum class Scope { centre, district };

// A person's earlier charges in two windows ending at the same instant.
struct ChargeCounts {
  int recent = 0;  // in the shorter window
  int all = 0;     // in the longer one
};

class Store {
 public:
  explicit Store(sqlite::Db& db) : db_(db) {}
  // For the kit's writers that share the transaction (outbox, access log).
  sqlite::Db& db() { return db_; }

  // The referral's data key fetched from intake (docs/decisions.md 22).
  std::optional<std::string> data_key(const std::string& referral_id);
  void put_data_key(const std::string& referral_id, const std::string& key);
  void delete_data_key(const std::string& referral_id);
  // An offer that arrived after its key was destroyed: no referral was made.
  void add_shredded(const std::string& referral_id);
  bool shredded(const std::string& referral_id);

  // True if a referral has this referral id or comes from this offer.
  bool knows(const std::string& referral_id, const std::string& offer_id);
  // True if this referral is stored and comes from this offer: the same
  // offer read again.
  bool holds(const std::string& referral_id, const std::string& offer_id);
  // A new referral; created, updated and last active at `now`.
  void insert_referral(const Referral& r, Instant now);
  std::optional<ReferralRow> find_referral(const std::string& referral_id);
  // Throws std::runtime_error if absent.
  ReferralRow load_referral(const std::string& referral_id);
  std::optional<Referral> referral(const std::string& referral_id);
  // The referral if `scope_id` (a centre or a district) may see it; none for
  // an empty `scope_id`.
  std::optional<Referral> referral_in(Scope scope, const std::string& scope_id,
                                      const std::string& referral_id);
  // At most `limit` of the referrals `scope_id` may see, oldest first (then
  // by id), after `after` if given; all statuses if `status` is 0. None for
  // an empty `scope_id`.
  std::vector<Referral> referrals_in(Scope scope, const std::string& scope_id, int status,
                                     const std::optional<ListKey>& after, std::size_t limit);
  // Routes the referral to `centre_id` per `directory_version` (a
  // coordinator's forwarding); the status moves with set_status().
  void set_routing(const std::string& referral_id, const std::string& centre_id,
                   const std::string& directory_version);

  // Moves the referral and restarts the reminder clock (the centre acted).
  void set_status(const std::string& referral_id, v1::ReferralStatus status, Instant now,
                  int contact_attempts);
  // Moves the referral without restarting the reminder clock (a delivery is
  // not the centre recording something).
  void set_delivery_status(const std::string& referral_id, v1::ReferralStatus status, Instant now);
  std::vector<WaitingRow> waiting_on_centres();
  void mark_reminded(const std::string& referral_id, Instant now);
  void mark_escalated(const std::string& referral_id, Instant now);

  // `occurred_at` is when it happened, `at` when the router recorded it.
  void add_history(const std::string& referral_id, v1::ReferralStatus status, Instant at,
                   const std::string& reason, Instant occurred_at, const std::string& note);
  // A step with every field of `h` (occurred_at defaults to `h.at`).
  void add_history(const std::string& referral_id, const HistoryRow& h);
  std::vector<HistoryRow> history(const std::string& referral_id);

  // Earlier charges under the pseudonym (person_pseudonym), charged in
  // [recent_from, to) and in [from, to); recent_from >= from.
  ChargeCounts count_charges(std::int64_t person, Instant recent_from, Instant from, Instant to);
  void index_charge(const std::string& referral_id, std::int64_t person, Instant charged_at);

  // `key_hash` is the hashed idempotency key.
  std::optional<AnswerRow> answer(const std::string& key_hash);
  void store_answer(const std::string& key_hash, const std::string& referral_id,
                    const AnswerRow& answer, Instant now);

  // Erases every personal field of the referral: its contact data, history
  // notes, pseudonym and the personal data in its stored answers.
  void erase_person(const std::string& referral_id);
  // Deletes the notifications about the referral still in the outbox (not
  // yet confirmed by Kafka), so that a withdrawn person's data is not sent
  // on, nor left in the outbox while Kafka is away. Returns how many.
  int drop_unsent_notifications(const std::string& referral_id);
  // Retention: the referrals in `status` (a final one) since `before` or
  // earlier that still keep contact data.
  std::vector<std::string> contact_kept(v1::ReferralStatus status, Instant before);
  // Erases the contact data, history notes and stored answers' personal
  // data, keeping the pseudonym (repeat counts): retention, not withdrawal.
  void erase_contact(const std::string& referral_id);

 private:
  sqlite::Db& db_;
};

}  // namespace henvis::router
