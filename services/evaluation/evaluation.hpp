#pragma once
// evaluation: the evaluators' statistics read model (docs/design.md "Statistics
// for evaluators"). Consumes the offers, referral status and delivery events
// and keeps, per offer, only the facts the funnel needs: no CPR, name,
// phone, e-mail, journal number, officer or consent; the charge time only as
// its Europe/Copenhagen date. It produces no events (its outbox carries only
// dead letters).
//
// Order independence and idempotency: events of one offer arrive on three
// topics and many partitions in any order, and the same fact may come twice
// under two ce_ids. Every fact is an upsert keyed by the referral id (the
// offer id for a declined offer, which has no referral): statuses seen are a
// bit mask OR-ed in, the first contact keeps the earliest day, deliveries
// are a set; so applying any permutation of any multiset of the events gives
// the same rows. A referral whose offer has not arrived yet waits (it is
// counted from the moment its offer is in).
//
// It also consumes henvis.underretninger.v1 (Socialsøg's underretning
// lifecycle events, which carry no CPR numbers or names) into one row per
// underretning: creation date, municipality, sending district, number of
// children, whether its incidents crossed district or municipality borders,
// the receipt clock and the latest response. Every event carries the
// underretning's whole state, so each is an upsert: static facts from any
// event, the earliest receipt, "missed" OR-ed in, the response of the latest
// event (by its `at`): any order gives the same row.

#include <string>
#include <vector>

#include "cell_key.hpp"
#include "henvis/directory.hpp"
#include "henvis/events.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/service.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"
#include "stats.hpp"
#include "store.hpp"
#include "underretning_stats.hpp"

namespace henvis::evaluation {

inline constexpr const char* SERVICE = "evaluation";
inline constexpr int DEFAULT_MIN_CELL = 5;
// The most rows (groups) one statistics answer has by default; a query whose
// answer would have more gets 400 naming groupBy (docs/decisions.md 28).
inline constexpr int DEFAULT_MAX_ROWS = 5000;

// The evaluation as the host runs it (service.cpp; see henvis/service.hpp).
ServiceDeclaration service();

// Applies one consumed event inside the consumer loop's transaction. Throws
// henvis::Rejected (reason names the rule, never a value) for events that can
// never be applied.
//
// Each event also keeps the statistics' cells (aggregates.hpp) in the same
// transaction: their cell keys are the record keys under `keys`.
class Applier {
 public:
  explicit Applier(const CellKey& keys);
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;
  const Subscriptions& subscriptions() const { return subs_; }
  void apply(const kafka::Message& m, sqlite::Db& db) { subs_.dispatch(m, db); }

 private:
  void on_offer(const v1::OfferRecorded& o, sqlite::Db& db);
  void on_withdrawn(const v1::OfferWithdrawn& w, sqlite::Db& db);
  void on_status(const v1::ReferralStatusChanged& s, sqlite::Db& db);
  void on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db);
  void on_underretning(const v1::UnderretningEvent& e, sqlite::Db& db);
  const CellKey& keys_;
  Subscriptions subs_{SERVICE};  // last: its handlers use the members above
};

// One offer's stored facts as the statistics count them, with the implied
// outcomes filled in (see stats.hpp) and its record key.
Fact to_fact(const store::FactRow& row, const CellKey& keys);
// One underretning as the statistics count it, dated by its creation day or
// (by_incident, which it must have) its earliest incident's day.
UnderretningFact to_underretning_fact(const store::UnderretningRow& u, bool by_incident,
                                      const CellKey& keys);

// The facts of every offer charged in [q.from, q.to), each as to_fact. The
// statistics requests read the cells (aggregates.hpp) instead; this is the
// reference the cells are checked against (tests/unit/evaluation_aggregates_test.cpp).
std::vector<Fact> load_facts(sqlite::Db& db, const Query& q, const CellKey& keys);

// The underretninger created in [q.from, q.to), each with its record key (the
// reference, as load_facts).
std::vector<UnderretningFact> load_underretning_facts(sqlite::Db& db, const Query& q,
                                                      const CellKey& keys);

// GET /v1/stats/referrals and /v1/stats/underretninger for evaluators.
class Api {
 public:
  // Opens the store at db_path, which must already be migrated (the host
  // does it; see migrations() in store.hpp), and builds the statistics'
  // cells from the facts if they are not built under the cell key. min_cell <= 0 means the default
  // (5), max_rows <= 0 the default (DEFAULT_MAX_ROWS). cell_key_file, dev: see load_cell_key
  // (cell_key.hpp).
  Api(const std::string& db_path, Directory directory, int min_cell,
      const std::string& cell_key_file, bool dev, int max_rows = 0);
  void register_routes(http::Router& router);
  http::Response referrals(const http::Request& req);
  http::Response underretninger(const http::Request& req);
  int min_cell() const { return min_cell_; }
  int max_rows() const { return max_rows_; }
  // The cell key the statistics are perturbed with (the Applier's too).
  const CellKey& cell_key() const { return cell_key_; }

 private:
  // The handler thread's connection (handlers run on several threads).
  sqlite::Db& db() { return dbs_.get(); }
  sqlite::Connections dbs_;
  Directory directory_;
  int min_cell_;
  int max_rows_;
  CellKey cell_key_;
};

}  // namespace henvis::evaluation
