#pragma once
// router: turns each accepted offer into a referral routed, per the
// effective-dated directory, to the rusmiddelcenter serving the person's home
// municipality on the charge date; or into an `unroutable` referral its
// district's coordinator is told about. Nothing is dropped. Owns referrals and
// their history; follows delivery events to move referrals to delivered and
// acknowledged.

#include <string>
#include <vector>

#include "henvis/directory.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"

namespace henvis::router {

std::vector<std::string> migrations();

// "routed" for REFERRAL_STATUS_ROUTED.
std::string status_name(v1::ReferralStatus s);

// Applies one consumed event inside the consumer loop's transaction. Throws
// henvis::Rejected for events that can never be applied.
class Applier {
 public:
  explicit Applier(Directory directory) : directory_(std::move(directory)) {}
  void apply(const kafka::Message& m, sqlite::Db& db);

 private:
  void on_offer(const v1::OfferRecorded& offer, sqlite::Db& db);
  void on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db);
  Directory directory_;
};

// The HTTP API for centre staff and coordinators.
class Api {
 public:
  Api(const std::string& db_path, Directory directory);
  void register_routes(http::Router& router);
  http::Response list(const http::Request& req);
  http::Response get(const http::Request& req);

 private:
  v1::ReferralView view(sqlite::Stmt& row, bool with_history);
  sqlite::Db db_;
  Directory directory_;
};

}  // namespace henvis::router
