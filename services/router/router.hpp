#pragma once
// router: turns each accepted offer into a referral routed, per the
// effective-dated directory, to the rusmiddelcenter serving the person's home
// municipality on the charge date; or into an `unroutable` referral its
// district's coordinator is told about. Nothing is dropped. Owns referrals,
// their lifecycle and history: outcomes from the centre (HTTP), deliveries
// (Kafka), consent withdrawal (Kafka, from intake), reminders and escalation
// when a centre records nothing within the configured working days.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "henvis/auth.hpp"
#include "henvis/clock.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/directory.hpp"
#include "henvis/events.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/retention.hpp"
#include "henvis/service.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/config.pb.h"
#include "henvis/v1/events.pb.h"
#include "henvis/workdays.hpp"
#include "lifecycle.hpp"
#include "store.hpp"

namespace henvis::router {

// The router as the host runs it (service.cpp; see henvis/service.hpp).
ServiceDeclaration service();

struct Settings {
  int max_contact_attempts = 3;
  int reminder_working_days = 2;
  int check_interval_seconds = 60;
  // Key of the pseudonymous person index used to count repeat referrals.
  std::string person_key;
  // How long each final status keeps the contact data (docs/security.md
  // "Retention"; RouterSettings.*_retention).
  std::vector<std::pair<v1::ReferralStatus, retention::Period>> contact_retention;

  // Defaults for unset fields; throws std::invalid_argument on bad values.
  static Settings from(const v1::RouterSettings& s);
};

// The person key: the contents of `file` if given, else, in a dev
// configuration only, a random key generated once and kept in the router's
// database (config::key_from_file_or_dev_db: a key beside the data protects
// less than one kept apart).
std::string load_person_key(sqlite::Db& db, const std::string& file, bool dev);

// The pseudonym under which a person's charges are counted: the first eight
// bytes of HMAC-SHA256(person key, normalised CPR number), big-endian, as a
// signed integer (docs/decisions.md 12, 29). 64 bits keep two people apart: with
// ten million people, the chance that any two share one is about 3 in a
// million.
std::int64_t person_pseudonym(std::string_view person_key, std::string_view cpr);

// Applies the consumed offers and deliveries inside the consumer loop's
// transaction. Throws henvis::Rejected for events that can never be applied.
class Applier {
 public:
  Applier(Directory directory, Settings settings, const Clock& clock);
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;
  const Subscriptions& subscriptions() const { return subs_; }
  void apply(const kafka::Message& m, sqlite::Db& db) { subs_.dispatch(m, db); }
  // Where sealed offers' data keys come from (intake); without one, a sealed
  // offer cannot be applied (the batch fails and is retried).
  void use_data_keys(data_keys::Source* keys) { keys_.use(keys); }
  // Offers whose data key was gone: the person was erased before routing.
  std::uint64_t shredded() const { return shredded_.load(); }

 private:
  std::optional<v1::OfferRecorded> unseal(const v1::OfferRecorded& o, Store& store);
  // Before each batch: the keys of its sealed offers not yet routed, in one
  // request to intake.
  void fetch_keys(const std::vector<kafka::Message>& batch, sqlite::Db& db);
  void on_offer(const v1::OfferRecorded& offer, sqlite::Db& db);
  void on_withdrawn(const v1::OfferWithdrawn& w, sqlite::Db& db);
  void on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db);
  Directory directory_;
  Settings settings_;
  const Clock& clock_;
  data_keys::BatchKeys keys_;
  std::atomic<std::uint64_t> shredded_{0};
  Subscriptions subs_{"router"};  // last: its handlers use the members above
};

// The HTTP API for centre staff and coordinators, on a database the host has
// already migrated (run_service migrates before building the service).
class Api {
 public:
  Api(const std::string& db_path, Directory directory, Settings settings, const Clock& clock,
      outbox::Relay* relay);
  void register_routes(http::Router& router);
  http::Response list(const http::Request& req);
  http::Response get(const http::Request& req);
  http::Response record_outcome(const http::Request& req);
  // POST /v1/referrals/{id}/forwarding: the district's coordinator routes an
  // unroutable referral to an active centre by hand (docs/lifecycle.md).
  http::Response forward(const http::Request& req);
  // POST /v1/referrals/{id}/closure: the coordinator closes an unroutable
  // referral with a reason from a fixed set.
  http::Response close(const http::Request& req);

 private:
  // What a coordinator's action on an unroutable referral checked and does.
  struct Action {
    std::string name;  // "forwarding" or "closure"
    std::vector<http::FieldError> errors;
    std::string request_hash;
    // Applies it inside the transaction, on the referral as it stands.
    std::function<void(ReferralRow&, Instant)> apply;
  };
  http::Response act_on_unroutable(const http::Request& req, Action action);
  v1::ReferralView view(const Referral& r, bool with_history);
  // Failed contact attempts the centre may still record (0 where none can be).
  int attempts_left(const ReferralRow& row) const;
  // The handler thread's connection (handlers run on several threads).
  sqlite::Db& db() { return dbs_.get(); }
  Store store() { return Store(db()); }
  sqlite::Connections dbs_;
  Directory directory_;
  Settings settings_;
  const Clock& clock_;
  outbox::Relay* relay_;
};

// Reminds a centre that has recorded nothing on a referral within the
// configured working days, then escalates a second miss to the district's
// coordinator. Runs on its own thread with its own connection.
class Reminders {
 public:
  Reminders(std::string db_path, Directory directory, Settings settings,
            workdays::Calendar calendar, const Clock& clock, outbox::Relay* relay);
  // One pass; returns the number of reminders and escalations sent.
  int run_once(sqlite::Db& db);
  void run(const std::atomic<bool>& stop);

 private:
  std::string db_path_;
  Directory directory_;
  Settings settings_;
  workdays::Calendar calendar_;
  const Clock& clock_;
  outbox::Relay* relay_;
};

// Erases the contact data of referrals whose final status is older than its
// retention period (Settings::contact_retention), every check interval, on
// its own thread and connection.
class ContactRetention {
 public:
  ContactRetention(std::string db_path, Settings settings, const Clock& clock,
                   http::Metrics* metrics);
  // One pass; returns the number of referrals whose contact data it erased.
  int run_once(sqlite::Db& db);
  void run(const std::atomic<bool>& stop);

 private:
  std::string db_path_;
  Settings settings_;
  const Clock& clock_;
  retention::Purge purge_;
};

}  // namespace henvis::router
