#pragma once
// socialsog: the weekly cross-border search of police incidents for children
// at risk from their adults' risk behaviour, and the underretninger it sends
// (docs/design.md "Socialsøg", docs/socialsog.md).
//
// Owns the incident window (police.incidents.v1), the scans and the
// underretninger with their receipt clock. Incidents are stored as they
// arrive, each with an ingest sequence number; a weekly scan covers the
// incidents received since the previous weekly scan's watermark and moves the
// watermark in the same transaction as its results, so no incident is
// scanned twice or missed across restarts. Underretninger reach the
// municipality through notifier (NotificationRequested kind UNDERRETNING);
// lifecycle events go to henvis.underretninger.v1 without CPR numbers.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "henvis/auth.hpp"
#include "henvis/clock.hpp"
#include "henvis/directory.hpp"
#include "henvis/events.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/retention.hpp"
#include "henvis/service.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"
#include "henvis/workdays.hpp"
#include "incident_check.hpp"

namespace henvis::socialsog {

// The store's schema and its migrations (store.cpp; the host applies them).
std::vector<std::string> migrations();

// Socialsøg as the host runs it (service.cpp; see henvis/service.hpp).
ServiceDeclaration service();

// The code list shipped with the service (default_rules.textproto, embedded
// at build time).
v1::SocialsogRules default_rules();

// What a watched code list says about one incident.
struct IncidentMatch {
  bool watched = false;
  int weight = 0;  // the highest weight among its watched codes
  bool severe = false;
  std::vector<std::string> incident_codes;  // the watched ones
  std::vector<std::string> offence_codes;   // the watched ones
  std::set<v1::RiskCategory> categories;
};

// The rules, checked and indexed.
class Rules {
 public:
  Rules() = default;
  // Throws std::invalid_argument naming the bad entry.
  static Rules from(const v1::SocialsogRules& r);
  IncidentMatch match(const v1::Incident& incident) const;
  bool counted(v1::PersonRole role) const { return counted_roles_.count(role) > 0; }
  const std::string& version() const { return version_; }
  int look_back_months() const { return look_back_months_; }
  int threshold() const { return threshold_; }

 private:
  std::string version_;
  int look_back_months_ = 12;
  int threshold_ = 0;
  std::map<std::pair<int, std::string>, v1::WatchedCode> codes_;
  std::set<int> counted_roles_;
};

struct Settings {
  Rules rules;
  std::chrono::weekday scan_weekday = std::chrono::Monday;
  std::chrono::minutes scan_time = std::chrono::hours(6);
  int receipt_working_days = 6;
  std::map<std::string, std::string> senders;  // district id -> sender name
  int check_interval_seconds = 60;
  bool weekly_scan = true;
  // Months after which an incident is erased (>= the rules' look-back).
  int incident_retention_months = 15;
  // Months after which an underretning's persons are erased (>= the above).
  int underretning_retention_months = 15;

  // Defaults for unset fields; `base_dir` resolves rules_file. Throws
  // std::invalid_argument (or config::Error) on bad values.
  static Settings from(const v1::SocialsogSettings& s, const std::string& base_dir);
  // The district's Socialsøg function: configured, else "Socialsøg, <district name>".
  std::string sender(const std::string& district_id, const Directory& dir) const;
};

// The settings a service with config directory `config_dir` runs with:
// `settings_file` if given, else socialsog-settings.textproto in that
// directory if it exists, else the defaults. `used` (if given) is set to the
// file read, or left empty. Throws config::Error or std::invalid_argument.
Settings load_settings(const std::string& settings_file, const std::string& config_dir,
                       std::string* used = nullptr);

// One child's assessment under the rules (pure; exposed for tests).
struct WeightedIncident {
  std::string incident_id;
  std::int64_t occurred_at = 0;  // unix seconds
  int weight = 0;
  bool severe = false;
};
struct Assessment {
  bool severe_rule = false;
  bool threshold_rule = false;
  int total_weight = 0;
  std::vector<std::string> qualifying;  // the incidents the hit rests on
  bool flagged() const { return severe_rule || threshold_rule; }
};
// `incidents`: the watched incidents of the child's adults (counted roles);
// only those in [from, to] count.
Assessment assess(const std::vector<WeightedIncident>& incidents, std::int64_t from,
                  std::int64_t to, int threshold);
// `t` minus `months` calendar months (UTC date arithmetic; the day is clamped
// to the month's last day).
std::int64_t months_before(std::int64_t unix_seconds, int months);

// Applies consumed events (incidents, deliveries) inside the consumer loop's
// transaction. Throws henvis::Rejected for events that can never be applied.
class Applier {
 public:
  Applier(Settings settings, const Clock& clock);
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;
  const Subscriptions& subscriptions() const { return subs_; }
  void apply(const kafka::Message& m, sqlite::Db& db) { subs_.dispatch(m, db); }

 private:
  void on_incident(const v1::Incident& incident, sqlite::Db& db);
  void on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db);
  void delivered(const v1::DeliveryEvent& d, sqlite::Db& db);
  void acknowledged(const v1::DeliveryEvent& d, sqlite::Db& db);
  Settings settings_;
  const Clock& clock_;
  Subscriptions subs_{"socialsog"};  // last: its handlers use the members above
};

// invalid_incident(): the reason naming the field of an invalid incident
// (incident_check.hpp, shared with henvisctl incidents import).

struct ScanSpec {
  bool weekly = false;
  // On demand: incidents that occurred in [from, to); without a window, the
  // incidents received since the weekly watermark (not moved).
  std::optional<std::int64_t> from, to;
  std::chrono::sys_seconds weekly_slot{};  // the scheduled instant a weekly scan stands for
  std::string requested_by;
};

// Scans and receipt deadlines. Every method opens its own transaction on the
// connection it is given. A scan reads in a read transaction (one snapshot,
// no write lock) and writes its results in one short write transaction at
// the end; scans and retention passes of one Scanner run one at a time.
class Scanner {
 public:
  // `metrics` (if given) counts what the retention passes erase.
  Scanner(Directory directory, Settings settings, workdays::Calendar calendar, const Clock& clock,
          http::Metrics* metrics = nullptr);
  v1::ScanView scan(sqlite::Db& db, const ScanSpec& spec);
  // Runs the weekly scan if its latest scheduled instant has not been
  // scanned; returns it if it ran.
  std::optional<v1::ScanView> weekly_if_due(sqlite::Db& db);
  // The latest scheduled weekly instant at or before `now`.
  std::chrono::sys_seconds last_slot(std::chrono::system_clock::time_point now) const;
  // Reports missed receipt deadlines to the coordinator (once each); returns
  // how many.
  int check_receipts(sqlite::Db& db);
  // Erases the incidents that occurred more than incident_retention_months
  // ago, with their persons and children (data minimisation: no scan can
  // count them any more). What was already sent stays with its underretning,
  // and who was notified about which incident stays so that nobody is
  // notified twice. Returns how many incidents were erased.
  int purge_incidents(sqlite::Db& db);
  // Erases the persons of the underretninger sent more than
  // underretning_retention_months ago (store::erase_underretning_persons);
  // returns how many underretninger.
  int purge_underretninger(sqlite::Db& db);
  std::int64_t watermark(sqlite::Db& db);
  // Tests: called in each scan's read phase, after the scan has read all it
  // needs and before it takes the write lock (another connection may write then).
  void on_read_phase(std::function<void()> f) { read_phase_hook_ = std::move(f); }
  const Settings& settings() const { return settings_; }
  const Directory& directory() const { return directory_; }
  const workdays::Calendar& calendar() const { return calendar_; }
  const Clock& clock() const { return clock_; }

 private:
  Directory directory_;
  Settings settings_;
  workdays::Calendar calendar_;
  const Clock& clock_;
  retention::Purge incident_purge_, underretning_purge_;
  std::mutex mutex_;  // one scan or retention pass at a time (the API's and the worker's)
  std::function<void()> read_phase_hook_;
};

// The HTTP API for coordinators and municipalities, on its own connection to
// a database the host has migrated.
class Api {
 public:
  Api(const std::string& db_path, Scanner& scanner, outbox::Relay* relay);
  void register_routes(http::Router& router);
  http::Response post_scan(const http::Request& req);
  http::Response get_scan(const http::Request& req);
  http::Response list(const http::Request& req);
  http::Response receipt(const http::Request& req);
  http::Response response(const http::Request& req);
  http::Response get_underretning(const http::Request& req);
  http::Response list_scans(const http::Request& req);
  http::Response forwarding(const http::Request& req);
  // POST /v1/internal/underretning-keys (the notifier's service token).
  http::Response underretning_keys(const http::Request& req);

 private:
  // The underretning `req` names if the principal may see it, with the
  // request-time fields (status, workingDaysLeft); else a 404 Problem.
  v1::UnderretningView visible(const http::Request& req);
  void annotate(v1::UnderretningView& v, sqlite::Instant now) const;
  // The handler thread's connection (handlers run on several threads).
  sqlite::Db& db() { return dbs_.get(); }
  sqlite::Connections dbs_;
  Scanner& scanner_;
  outbox::Relay* relay_;
};

// The background loop: the weekly scan when due, the receipt clock and the
// incident retention, every check interval, on its own connection.
class Worker {
 public:
  Worker(std::string db_path, Scanner& scanner, outbox::Relay* relay)
      : db_path_(std::move(db_path)), scanner_(scanner), relay_(relay) {}
  // One round; returns the number of scans run and receipts reported missed.
  int run_once(sqlite::Db& db);
  void run(const std::atomic<bool>& stop);

 private:
  std::string db_path_;
  Scanner& scanner_;
  outbox::Relay* relay_;
};

// The view of one stored underretning (for the API and tests).
std::optional<v1::UnderretningView> load_underretning(sqlite::Db& db, const std::string& id);

}  // namespace henvis::socialsog
