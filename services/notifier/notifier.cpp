#include "notifier.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/ids.hpp"
#include "henvis/topics.hpp"

namespace henvis::notifier {

namespace {
constexpr const char* SOURCE = "/henvis/notifier";
constexpr const char* CHANNEL_INBOX = "inbox";
constexpr const char* COLUMNS =
    "notification_id, recipient_id, kind, referral_id, contact, delivered_at, read_at, acked_at";

google::protobuf::Timestamp ts(const std::string& s) {
  google::protobuf::Timestamp t;
  google::protobuf::util::TimeUtil::FromString(s, &t);
  return t;
}

void emit_delivery(sqlite::Db& db, const std::string& notification_id,
                   const std::string& recipient_id, const std::string& referral_id,
                   v1::DeliveryStatus status) {
  v1::DeliveryEvent d;
  d.set_notification_id(notification_id);
  d.set_recipient_id(recipient_id);
  d.set_referral_id(referral_id);
  d.set_status(status);
  d.set_channel(CHANNEL_INBOX);
  *d.mutable_at() = now_timestamp();
  std::string name = v1::DeliveryStatus_Name(status).substr(std::string("DELIVERY_STATUS_").size());
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  outbox::add(db, topics::DELIVERIES,
              kafka::make_event(SOURCE, event_types::DELIVERY_PREFIX + name, recipient_id,
                                d.SerializeAsString()));
}

v1::InboxEntry entry(sqlite::Stmt& s) {
  v1::InboxEntry e;
  e.set_notification_id(s.text(0));
  e.set_kind(static_cast<v1::NotificationKind>(s.i64(2)));
  e.mutable_referral()->ParseFromString(s.blob(4));
  *e.mutable_delivered_at() = ts(s.text(5));
  if (!s.is_null(6)) *e.mutable_read_at() = ts(s.text(6));
  if (!s.is_null(7)) *e.mutable_acknowledged_at() = ts(s.text(7));
  return e;
}
}  // namespace

std::vector<std::string> migrations() {
  return {std::string(outbox::MIGRATION) + ConsumerLoop::MIGRATION + access_log::MIGRATION + R"sql(
CREATE TABLE inbox (
  notification_id TEXT PRIMARY KEY,
  recipient_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  referral_id TEXT NOT NULL,
  contact BLOB NOT NULL,
  requested_at TEXT NOT NULL,
  delivered_at TEXT NOT NULL,
  read_at TEXT,
  acked_at TEXT
);
CREATE INDEX inbox_recipient ON inbox(recipient_id, delivered_at);
)sql"};
}

void Applier::apply(const kafka::Message& m, sqlite::Db& db) {
  if (m.header(kafka::header::TYPE).value_or("") != event_types::NOTIFICATION_REQUESTED)
    throw Rejected("unexpected ce_type for notifications topic");
  v1::NotificationRequested n;
  if (!n.ParseFromString(m.payload))
    throw Rejected("payload is not a valid henvis.v1.NotificationRequested");
  if (n.notification_id().empty()) throw Rejected("missing field notification_id");
  if (n.recipient_id().empty()) throw Rejected("missing field recipient_id");
  if (n.kind() == v1::NOTIFICATION_KIND_UNSPECIFIED) throw Rejected("missing field kind");
  if (!directory_.recipient(n.recipient_id()))
    throw Rejected("field recipient_id is not a configured recipient");

  const std::string now = now_rfc3339();
  sqlite::Stmt ins(db,
                   "INSERT OR IGNORE INTO inbox(notification_id, recipient_id, kind, referral_id, "
                   "contact, requested_at, delivered_at) VALUES (?,?,?,?,?,?,?)");
  ins.bind(1, n.notification_id()).bind(2, n.recipient_id()).bind(3, static_cast<int>(n.kind()));
  ins.bind(4, n.referral().referral_id()).bind_blob(5, n.referral().SerializeAsString());
  ins.bind(6, to_rfc3339(n.requested_at())).bind(7, now).run();
  if (db.changes() == 0) return;  // same notification re-sent under a new ce_id
  emit_delivery(db, n.notification_id(), n.recipient_id(), n.referral().referral_id(),
                v1::DELIVERY_STATUS_DELIVERED);
  spdlog::info("delivered to inbox notification_id={} recipient={} referral_id={}",
               n.notification_id(), n.recipient_id(), n.referral().referral_id());
}

Api::Api(const std::string& db_path, Directory directory, outbox::Relay* relay)
    : db_(db_path), directory_(std::move(directory)), relay_(relay) {
  db_.migrate(migrations());
}

void Api::register_routes(http::Router& router) {
  const std::set<v1::Role> who = {v1::ROLE_CENTRE, v1::ROLE_MUNICIPALITY, v1::ROLE_COORDINATOR};
  router.add("GET", "/v1/inbox", who, [this](http::Request& r) { return inbox(r); });
  router.add("POST", "/v1/inbox/{notificationId}/ack", who,
             [this](http::Request& r) { return ack(r); });
}

std::string Api::recipient_of(const auth::Principal& p) const {
  if (p.role == v1::ROLE_COORDINATOR) {
    const auto* c = directory_.coordinator(p.scope);
    return c ? c->id() : std::string();
  }
  return directory_.recipient(p.scope) ? p.scope : std::string();
}

http::Response Api::inbox(const http::Request& req) {
  const std::string recipient = recipient_of(req.principal);
  if (recipient.empty())
    return http::problem(403, "Forbidden", "the token's scope is not a configured recipient");
  const bool all = req.query.count("all") && req.query.at("all") == "true";
  sqlite::Transaction tx(db_);
  sqlite::Stmt s(db_, std::string("SELECT ") + COLUMNS + " FROM inbox WHERE recipient_id = ?" +
                          (all ? "" : " AND acked_at IS NULL") + " ORDER BY delivered_at, rowid");
  s.bind(1, recipient);
  v1::Inbox out;
  out.set_recipient_id(recipient);
  const std::string now = now_rfc3339();
  sqlite::Stmt mark(db_, "UPDATE inbox SET read_at = ? WHERE notification_id = ?");
  while (s.step()) {
    v1::InboxEntry e = entry(s);
    if (s.is_null(6)) {
      mark.bind(1, now).bind(2, e.notification_id()).run();
      mark.reset();
      emit_delivery(db_, e.notification_id(), recipient, s.text(3), v1::DELIVERY_STATUS_READ);
      *e.mutable_read_at() = ts(now);
    }
    access_log::record(db_, req.principal, e.referral().referral_id(), "inbox");
    *out.add_entries() = std::move(e);
  }
  tx.commit();
  if (relay_) relay_->notify();
  return http::json(200, out);
}

http::Response Api::ack(const http::Request& req) {
  const std::string recipient = recipient_of(req.principal);
  if (recipient.empty())
    return http::problem(403, "Forbidden", "the token's scope is not a configured recipient");
  sqlite::Transaction tx(db_);
  sqlite::Stmt s(db_, std::string("SELECT ") + COLUMNS +
                          " FROM inbox WHERE notification_id = ? AND recipient_id = ?");
  s.bind(1, req.params.at("notificationId")).bind(2, recipient);
  if (!s.step()) return http::problem(404, "Not Found", "no such notification in this inbox");
  v1::InboxEntry e = entry(s);
  if (s.is_null(7)) {  // acknowledging twice is the same as once
    const std::string now = now_rfc3339();
    sqlite::Stmt up(db_,
                    "UPDATE inbox SET acked_at = ?, read_at = coalesce(read_at, ?) "
                    "WHERE notification_id = ?");
    up.bind(1, now).bind(2, now).bind(3, e.notification_id()).run();
    emit_delivery(db_, e.notification_id(), recipient, s.text(3), v1::DELIVERY_STATUS_ACKNOWLEDGED);
    *e.mutable_acknowledged_at() = ts(now);
    if (!e.has_read_at()) *e.mutable_read_at() = ts(now);
  }
  tx.commit();
  if (relay_) relay_->notify();
  return http::json(200, e);
}

}  // namespace henvis::notifier
