#pragma once
// notifier: keeps each recipient's pull inbox. A NotificationRequested lands
// in the recipient's inbox (delivered); the recipient's first GET /v1/inbox
// that shows it marks it read; POST /v1/inbox/{id}/ack acknowledges. Each of
// the three is a DeliveryEvent on henvis.deliveries.v1.

#include <string>
#include <vector>

#include "henvis/directory.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"

namespace henvis::notifier {

std::vector<std::string> migrations();

class Applier {
 public:
  explicit Applier(Directory directory) : directory_(std::move(directory)) {}
  void apply(const kafka::Message& m, sqlite::Db& db);

 private:
  Directory directory_;
};

class Api {
 public:
  Api(const std::string& db_path, Directory directory, outbox::Relay* relay);
  void register_routes(http::Router& router);
  http::Response inbox(const http::Request& req);
  http::Response ack(const http::Request& req);

 private:
  // The recipient id a principal reads the inbox of; empty if none.
  std::string recipient_of(const auth::Principal& p) const;
  sqlite::Db db_;
  Directory directory_;
  outbox::Relay* relay_;
};

}  // namespace henvis::notifier
