#pragma once
// intake: officers register the drink/drug-driving offer and the person's
// answer (POST /v1/offers). Owns offer idempotency; publishes OfferRecorded
// through its outbox. Keeps no personal data of its own: the event leaves
// through the outbox, whose rows are deleted once Kafka has them.

#include <memory>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/directory.hpp"
#include "henvis/group_commit.hpp"
#include "henvis/http.hpp"
#include "henvis/outbox.hpp"
#include "henvis/service.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"
#include "store.hpp"

namespace henvis::intake {

// Intake as the host runs it (service.cpp; see henvis/service.hpp).
ServiceDeclaration service();

// Checks an offer; returns every bad field (empty when valid). On ANSWER_NO
// the person and consent are not checked: they are dropped.
std::vector<http::FieldError> check_offer(const v1::OfferRequest& req, const Directory& dir,
                                          std::int64_t now_unix_seconds);

// The officers' API. The host migrates the database before building it; every
// time it records (recorded, created, withdrawn, the charge-time check) is
// the clock's.
// A yes's OfferRecorded.partition_key: "p000".."p255", a bucket picked by a
// keyed hash of the person's (normalised) CPR number under `secret`, so that
// one person's referrals share a Kafka partition (docs/decisions.md 24).
std::string partition_key(const std::string& secret, const std::string& cpr);

class Intake {
 public:
  // `partition_key_file`: intake.partition_key_file, resolved; empty only
  // with `dev` (a secret kept in the database, as the unit tests use).
  Intake(const std::string& db_path, Directory directory, outbox::Relay* relay, const Clock& clock,
         const std::string& partition_key_file = "", bool dev = true);
  void register_routes(http::Router& router);
  // POST /v1/offers; the principal must be an officer.
  http::Response post_offer(const http::Request& req);
  // POST /v1/offers/{offerId}/withdrawal; an officer of the offer's district
  // or the centre the offer is routed to.
  http::Response withdraw(const http::Request& req);
  // GET /v1/internal/data-keys/{referralId} (ROLE_SERVICE): a referral's data
  // key for the router and the notifier (docs/decisions.md 22); 410 once
  // withdrawn, 404 for a referral intake never keyed.
  http::Response data_key(const http::Request& req);
  http::Response data_keys(const http::Request& req);

 private:
  http::Response replayed_offer(sqlite::Db& db, Store& st, const http::Request& req,
                                const v1::OfferRequest& r, http::Response earlier);

  // The handler thread's connection (handlers run on several threads).
  sqlite::Db& db() { return dbs_.get(); }
  Store store() { return Store(db()); }
  sqlite::Connections dbs_;
  // Offers are written in group commits (post_offer).
  sqlite::GroupCommit commits_;
  Directory directory_;
  outbox::Relay* relay_;
  const Clock* clock_;
  std::string partition_secret_;
};

}  // namespace henvis::intake
