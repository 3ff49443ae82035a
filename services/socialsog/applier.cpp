// socialsog's schema, the incident window (consumed from police.incidents.v1)
// and deliveries of underretninger (henvis.deliveries.v1).
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/notifications.hpp"
#include "henvis/outbox.hpp"
#include "henvis/topics.hpp"
#include "henvis/validate.hpp"
#include "socialsog.hpp"
#include "store.hpp"

namespace henvis::socialsog {

std::vector<std::string> migrations() {
  return {std::string(outbox::MIGRATION) + ConsumerLoop::MIGRATION + access_log::MIGRATION + R"sql(
-- The incident window. `seq` is the ingest order: the weekly watermark counts it.
CREATE TABLE incidents (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL UNIQUE,
  district_id TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  sent_at_scene INTEGER NOT NULL,
  payload BLOB NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX incidents_time ON incidents(occurred_at);
CREATE TABLE incident_persons (
  incident_id TEXT NOT NULL,
  cpr TEXT NOT NULL,
  role INTEGER NOT NULL
);
CREATE INDEX incident_persons_cpr ON incident_persons(cpr);
CREATE INDEX incident_persons_incident ON incident_persons(incident_id);
-- Which children each adult has listed, and in which incident.
CREATE TABLE adult_children (
  incident_id TEXT NOT NULL,
  adult_cpr TEXT NOT NULL,
  child_cpr TEXT NOT NULL
);
CREATE INDEX adult_children_adult ON adult_children(adult_cpr);
CREATE INDEX adult_children_child ON adult_children(child_cpr);
CREATE INDEX adult_children_incident ON adult_children(incident_id);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE scans (
  scan_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  started_at TEXT NOT NULL,
  view BLOB NOT NULL
);
CREATE TABLE underretninger (
  underretning_id TEXT PRIMARY KEY,
  kommunekode INTEGER NOT NULL,
  recipient_id TEXT NOT NULL,
  district_id TEXT NOT NULL,
  notice BLOB NOT NULL,
  notification_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  receipt_due_at INTEGER,
  delivered_at TEXT,
  receipt_at TEXT,
  missed_at TEXT,
  response INTEGER NOT NULL DEFAULT 0,
  response_at TEXT,
  response_note TEXT
);
CREATE INDEX underretninger_recipient ON underretninger(recipient_id);
CREATE INDEX underretninger_notification ON underretninger(notification_id);
CREATE INDEX underretninger_due ON underretninger(receipt_due_at);
CREATE TABLE underretning_districts (
  underretning_id TEXT NOT NULL,
  district_id TEXT NOT NULL,
  PRIMARY KEY (underretning_id, district_id)
);
CREATE INDEX underretning_districts_district ON underretning_districts(district_id);
-- Which incidents each child has been notified about, and by which underretning.
CREATE TABLE notified (
  child_cpr TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  underretning_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (child_cpr, incident_id)
);
CREATE INDEX notified_child ON notified(child_cpr, seq);
)sql",
          // The kit's tables store instants as Unix milliseconds (docs/decisions.md 16).
          outbox::migration_unix_ms() + ConsumerLoop::migration_unix_ms() +
              access_log::migration_unix_ms()};
}

std::int64_t state_get(sqlite::Db& db, const std::string& key, std::int64_t fallback) {
  sqlite::Stmt s(db, "SELECT value FROM state WHERE key = ?");
  s.bind(1, key);
  return s.step() ? s.i64(0) : fallback;
}

void state_set(sqlite::Db& db, const std::string& key, std::int64_t value) {
  sqlite::Stmt s(db,
                 "INSERT INTO state(key, value) VALUES (?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  s.bind(1, key).bind(2, value).run();
}

void emit_event(sqlite::Db& db, const v1::UnderretningView& v, const std::string& event,
                const std::string& at, const std::string& reason) {
  const auto& n = v.notice();
  v1::UnderretningEvent e;
  e.set_underretning_id(n.underretning_id());
  e.set_event(event);
  e.set_kommunekode(n.kommunekode());
  e.set_recipient_id(v.recipient_id());
  e.set_district_id(n.district_id());
  std::set<std::string> districts;
  std::set<int> kommuner;
  for (const auto& i : n.incidents()) {
    districts.insert(i.district_id());
    if (i.location_kommunekode()) kommuner.insert(i.location_kommunekode());
  }
  for (const auto& d : districts) e.add_incident_districts(d);
  for (int k : kommuner) e.add_incident_kommunekoder(k);
  e.set_children(n.children_size());
  e.set_incidents(n.incidents_size());
  e.set_rule(n.rule());
  e.set_rules_version(n.rules_version());
  e.set_previous_underretning_id(n.previous_underretning_id());
  e.set_scan_id(n.scan_id());
  *e.mutable_created_at() = n.created_at();
  if (n.has_receipt_due_at()) *e.mutable_receipt_due_at() = n.receipt_due_at();
  if (v.has_receipt_at()) *e.mutable_receipt_at() = v.receipt_at();
  e.set_response(v.response());
  *e.mutable_at() = parse_timestamp(at);
  e.set_reason(reason.empty() ? n.reason() : reason);
  e.set_cross_district(districts.size() > 1);
  std::set<int> homes = kommuner;
  for (const auto& c : n.children())
    if (c.home_kommunekode()) homes.insert(c.home_kommunekode());
  for (const auto& a : n.adults())
    if (a.home_kommunekode()) homes.insert(a.home_kommunekode());
  e.set_cross_municipality(homes.size() > 1);
  if (v.has_receipt_at() && n.has_receipt_due_at())
    e.set_receipt_on_time(v.receipt_at().seconds() < n.receipt_due_at().seconds());
  events::emit(db, SOURCE, e);
}

std::string request_notification(sqlite::Db& db, const std::string& recipient_id,
                                 v1::NotificationKind kind, const v1::UnderretningNotice& notice,
                                 const std::string& now) {
  return henvis::request_notification(db, SOURCE, recipient_id, kind, notice, now);
}

std::optional<v1::UnderretningView> load_underretning(sqlite::Db& db, const std::string& id) {
  sqlite::Stmt s(db,
                 "SELECT notice, recipient_id, notification_id, delivered_at, receipt_at, "
                 "missed_at, response, response_at, response_note FROM underretninger "
                 "WHERE underretning_id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  v1::UnderretningView v;
  v.mutable_notice()->ParseFromString(s.blob(0));
  v.set_recipient_id(s.text(1));
  v.set_notification_id(s.text(2));
  if (!s.is_null(3)) *v.mutable_delivered_at() = parse_timestamp(s.text(3));
  if (!s.is_null(4)) *v.mutable_receipt_at() = parse_timestamp(s.text(4));
  v.set_receipt_missed(!s.is_null(5));
  v.set_response(static_cast<v1::UnderretningResponse>(s.i64(6)));
  if (!s.is_null(7)) *v.mutable_response_at() = parse_timestamp(s.text(7));
  if (!s.is_null(8)) v.set_response_note(s.text(8));
  return v;
}

Applier::Applier(Settings settings, const Clock& clock)
    : settings_(std::move(settings)), clock_(clock) {
  subs_.on(this, &Applier::on_incident).on(this, &Applier::on_delivery);
}

void Applier::on_incident(const v1::Incident& original, sqlite::Db& db) {
  if (auto r = invalid_incident(original)) throw Rejected(*r);
  // Stored with CPR numbers in one spelling (no hyphen).
  v1::Incident in = original;
  for (auto& p : *in.mutable_involved()) {
    p.set_cpr(validate::normalise_cpr(p.cpr()));
    for (auto& c : *p.mutable_children()) c.set_cpr(validate::normalise_cpr(c.cpr()));
  }
  const std::string payload = in.SerializeAsString();
  {
    sqlite::Stmt f(db, "SELECT payload FROM incidents WHERE incident_id = ?");
    f.bind(1, in.incident_id());
    if (f.step()) {
      if (f.blob(0) == payload) {
        spdlog::info("incident already in the window incident_id={}", in.incident_id());
        return;
      }
      // A corrected incident replaces the stored one and counts as received
      // anew (the next scan considers it again; nothing is notified twice).
      for (const char* sql : {"DELETE FROM incidents WHERE incident_id = ?",
                              "DELETE FROM incident_persons WHERE incident_id = ?",
                              "DELETE FROM adult_children WHERE incident_id = ?"}) {
        sqlite::Stmt d(db, sql);
        d.bind(1, in.incident_id()).run();
      }
      spdlog::info("incident corrected incident_id={}", in.incident_id());
    }
  }
  sqlite::Stmt ins(db,
                   "INSERT INTO incidents(incident_id, district_id, occurred_at, sent_at_scene, "
                   "payload, received_at) VALUES (?,?,?,?,?,?)");
  ins.bind(1, in.incident_id()).bind(2, in.district_id()).bind(3, in.occurred_at().seconds());
  ins.bind(4, in.underretning_sent_at_scene() ? 1 : 0).bind_blob(5, payload);
  ins.bind(6, rfc3339(clock_.now())).run();
  sqlite::Stmt p(db, "INSERT INTO incident_persons(incident_id, cpr, role) VALUES (?,?,?)");
  sqlite::Stmt c(db,
                 "INSERT INTO adult_children(incident_id, adult_cpr, child_cpr) VALUES (?,?,?)");
  for (const auto& person : in.involved()) {
    p.bind(1, in.incident_id()).bind(2, person.cpr()).bind(3, static_cast<int>(person.role()));
    p.run();
    p.reset();
    for (const auto& child : person.children()) {
      if (child.cpr() == person.cpr()) continue;
      c.bind(1, in.incident_id()).bind(2, person.cpr()).bind(3, child.cpr()).run();
      c.reset();
    }
  }
  const IncidentMatch match = settings_.rules.match(in);
  spdlog::info("incident received incident_id={} district={} watched={} persons={}",
               in.incident_id(), in.district_id(), match.watched, in.involved_size());
}

void Applier::on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db) {
  if (d.status() != v1::DELIVERY_STATUS_DELIVERED || d.notification_id().empty()) return;
  std::string id;
  {
    sqlite::Stmt s(db,
                   "SELECT underretning_id FROM underretninger WHERE notification_id = ? "
                   "AND delivered_at IS NULL");
    s.bind(1, d.notification_id());
    if (!s.step()) return;  // not an underretning (a referral's), or already delivered
    id = s.text(0);
  }
  const std::string now = rfc3339(clock_.now());
  const std::string at = d.has_at() ? to_rfc3339(d.at()) : now;
  sqlite::Stmt up(db, "UPDATE underretninger SET delivered_at = ? WHERE underretning_id = ?");
  up.bind(1, at).bind(2, id).run();
  auto v = load_underretning(db, id);
  emit_event(db, *v, "delivered", at);
  spdlog::info("underretning delivered underretning_id={} recipient={}", id, d.recipient_id());
}

}  // namespace henvis::socialsog
