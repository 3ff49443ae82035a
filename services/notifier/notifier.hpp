#pragma once
// notifier: keeps each recipient's contact list (docs/design.md "Contact lists").
//
// A NotificationRequested becomes an inbox row. When it becomes available
// depends on the recipient's mode: at once (IMMEDIATE, the default) or at the
// next daily list time on a working day (DAILY, Europe/Copenhagen). How it
// reaches the recipient depends on the channel: the pull inbox (INBOX, the
// default), a signed webhook (WEBHOOK) or a CSV file drop (FILE); the
// Dispatcher (dispatcher.hpp) does the pushing and the delayed deliveries.
// Whatever the channel, an available row stays readable in the recipient's
// pull inbox, so a push that keeps failing loses nothing.
//
// Delivered (the row became available / was pushed), read (the recipient's
// first GET /v1/inbox that shows it) and acknowledged (POST
// /v1/inbox/{id}/ack) are separate DeliveryEvents on henvis.deliveries.v1;
// a push channel that gave up emits FAILED and escalates to the district's
// coordinator.
//
// A WITHDRAWN notification (consent withdrawn) erases the person data of every
// inbox row of that referral, for every recipient, and is itself delivered to
// the recipient at once.
//
// Socialsøg's UNDERRETNING and RECEIPT_MISSED notifications carry an
// UnderretningNotice instead of a referral; it is stored with the row and
// shown in InboxEntry.underretning (a municipality reads the inbox of its
// recipient id "kommune-<kommunekode>", like a centre reads its own).
//
// Every schedule decision and every timestamp the notifier writes comes from
// the injected Clock.

#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "channels.hpp"
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
#include "henvis/v1/events.pb.h"
#include "store.hpp"

namespace henvis::notifier {

// The notifier as the host runs it (service.cpp; see henvis/service.hpp).
ServiceDeclaration service();

// Row states of the inbox table.
inline constexpr const char* STATE_PENDING = "pending";      // not yet delivered
inline constexpr const char* STATE_DELIVERED = "delivered";  // DELIVERED emitted
inline constexpr const char* STATE_FAILED = "failed";        // FAILED emitted, escalated

// Milliseconds since the Unix epoch: how an instant is stored (sqlite::unix_ms).
std::int64_t to_ms(TimePoint t);

// Stores a notification for its recipient, at the time its mode says; an
// IMMEDIATE INBOX row is delivered (DELIVERED event) at once, everything else
// is left to the Dispatcher. `at_once` ignores a DAILY mode. Returns false if
// the notification id was stored already. Call inside a transaction.
bool store_notification(sqlite::Db& db, const Settings& settings, const Clock& clock,
                        const v1::NotificationRequested& n, bool at_once);

// Emits a DeliveryEvent through the outbox. Call inside a transaction.
void emit_delivery(sqlite::Db& db, const Clock& clock, const std::string& notification_id,
                   const std::string& recipient_id, const std::string& referral_id,
                   v1::DeliveryStatus status, const std::string& channel);

// Delivers a recipient's pending INBOX-channel rows whose time has come (all
// recipients if `recipient_id` is empty); returns how many. In a transaction.
int deliver_due_inbox_rows(sqlite::Db& db, const Settings& settings, const Clock& clock,
                           const std::string& recipient_id = {});

// Erases the person data (person, consent) from every inbox row of the
// referral; returns how many rows held some. In a transaction.
int erase_person_data(sqlite::Db& db, const std::string& referral_id);

// Stores each requested notification in its recipient's inbox (and
// schedules its push), inside the consumer loop's transaction.
class Applier {
 public:
  explicit Applier(Directory directory, Settings settings = Settings(),
                   const Clock& clock = system_clock());
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;
  const Subscriptions& subscriptions() const { return subs_; }
  void apply(const kafka::Message& m, sqlite::Db& db) { subs_.dispatch(m, db); }
  // Where sealed persons' data keys come from (intake); without one, a
  // notification with a sealed person cannot be applied (retried).
  void use_data_keys(data_keys::Source* keys) { keys_.use(keys); }
  // Where sealed underretninger's keys come from (socialsog); without one,
  // a sealed UNDERRETNING notification cannot be applied (retried).
  void use_underretning_keys(data_keys::Source* keys) { underretning_keys_.use(keys); }
  // Notifications whose data key was gone (dropped: the person was erased).
  std::uint64_t shredded() const { return shredded_.load(); }

 private:
  Directory directory_;
  Settings settings_;
  const Clock* clock_;
  data_keys::BatchKeys keys_;  // the current batch's keys, wiped after it
  data_keys::BatchKeys underretning_keys_{nullptr, "underretning_keys"};  // likewise
  std::atomic<std::uint64_t> shredded_{0};
  std::optional<v1::NotificationRequested> unseal(const v1::NotificationRequested& n);
  // The UNDERRETNING notification with its persons opened (nothing when its
  // key is gone); `n` as it is when they are not sealed.
  std::optional<v1::NotificationRequested> unseal_underretning(v1::NotificationRequested n);
  // Before each batch: the keys of its sealed notifications, in one request
  // to each source (intake, socialsog).
  void fetch_keys(const std::vector<kafka::Message>& batch);
  void on_requested(const v1::NotificationRequested& n, sqlite::Db& db);
  Subscriptions subs_{"notifier"};  // last: its handlers use the members above
};

// The pull inbox. The host migrates the database before building it.
class Api {
 public:
  Api(const std::string& db_path, Directory directory, outbox::Relay* relay,
      Settings settings = Settings(), const Clock& clock = system_clock());
  void register_routes(http::Router& router);
  http::Response inbox(const http::Request& req);
  http::Response ack(const http::Request& req);

 private:
  // The recipient id a principal reads the inbox of; empty if none.
  std::string recipient_of(const auth::Principal& p) const;
  // The handler thread's connection (handlers run on several threads).
  sqlite::Db& db() { return dbs_.get(); }
  Store store() { return Store(db()); }
  sqlite::Connections dbs_;
  Directory directory_;
  outbox::Relay* relay_;
  Settings settings_;
  const Clock* clock_;
};

// Deletes inbox rows past their retention (NotifierSettings
// acknowledged_retention, unacknowledged_retention; docs/security.md
// "Retention") every retention_check_seconds, on its own thread and
// connection.
class InboxRetention {
 public:
  // Throws std::invalid_argument naming the field on a negative period.
  InboxRetention(std::string db_path, const v1::NotifierSettings& s, const Clock& clock,
                 http::Metrics* metrics);
  // One pass; returns the number of rows deleted.
  int run_once(sqlite::Db& db);
  void run(const std::atomic<bool>& stop);

 private:
  std::string db_path_;
  retention::Period acknowledged_, unacknowledged_;
  std::chrono::seconds interval_;
  const Clock& clock_;
  retention::Purge purge_;
};

}  // namespace henvis::notifier
