#include "notifier.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/topics.hpp"

namespace henvis::notifier {

namespace {
constexpr const char* SOURCE = "/henvis/notifier";
constexpr const char* CHANNEL_INBOX = "inbox";
constexpr const char* COLUMNS =
    "notification_id, recipient_id, kind, referral_id, contact, delivered_at, read_at, acked_at, "
    "underretning";

google::protobuf::Timestamp ts(const std::string& s) {
  google::protobuf::Timestamp t;
  google::protobuf::util::TimeUtil::FromString(s, &t);
  return t;
}

google::protobuf::Timestamp timestamp(TimePoint t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

std::string rfc3339(TimePoint t) { return to_rfc3339(timestamp(t)); }

v1::InboxEntry entry(sqlite::Stmt& s) {
  v1::InboxEntry e;
  e.set_notification_id(s.text(0));
  e.set_kind(static_cast<v1::NotificationKind>(s.i64(2)));
  e.mutable_referral()->ParseFromString(s.blob(4));
  *e.mutable_delivered_at() = ts(s.text(5));
  if (!s.is_null(6)) *e.mutable_read_at() = ts(s.text(6));
  if (!s.is_null(7)) *e.mutable_acknowledged_at() = ts(s.text(7));
  if (!s.is_null(8)) e.mutable_underretning()->ParseFromString(s.blob(8));
  return e;
}

bool is_withdrawn(sqlite::Db& db, const std::string& referral_id) {
  sqlite::Stmt s(db, "SELECT 1 FROM withdrawn_referrals WHERE referral_id = ?");
  s.bind(1, referral_id);
  return s.step();
}
}  // namespace

std::int64_t to_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

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
)sql",
          // Delivery modes and push channels. Instants the code compares are
          // integers (ms since the epoch): RFC 3339 text with a varying number of
          // fraction digits does not sort. delivered_at holds, for a row not yet
          // delivered, the time it is due.
          R"sql(
ALTER TABLE inbox ADD COLUMN available_at INTEGER NOT NULL DEFAULT 0;
UPDATE inbox SET available_at = coalesce(CAST(strftime('%s', delivered_at) AS INTEGER) * 1000, 0);
ALTER TABLE inbox ADD COLUMN state TEXT NOT NULL DEFAULT 'delivered';
ALTER TABLE inbox ADD COLUMN channel TEXT;
UPDATE inbox SET channel = 'inbox';
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN next_attempt_at INTEGER;
ALTER TABLE inbox ADD COLUMN last_error TEXT;
ALTER TABLE inbox ADD COLUMN delivered_file TEXT;
ALTER TABLE inbox ADD COLUMN escalation_id TEXT;
CREATE INDEX inbox_due ON inbox(state, available_at);
CREATE INDEX inbox_referral ON inbox(referral_id);
CREATE INDEX inbox_available ON inbox(recipient_id, available_at);
-- Referrals whose consent was withdrawn: a late notification about one is
-- stored without person data. `checkpointed` = the WAL that held the erased
-- bytes has been checkpointed and truncated.
CREATE TABLE withdrawn_referrals (
  referral_id TEXT PRIMARY KEY,
  withdrawn_at TEXT NOT NULL,
  checkpointed INTEGER NOT NULL DEFAULT 0
);
)sql",
          // Socialsøg: the underretning a notification carries (UnderretningNotice).
          R"sql(
ALTER TABLE inbox ADD COLUMN underretning BLOB;
)sql",
          // The kit's tables store instants as Unix milliseconds (docs/decisions.md 16).
          outbox::migration_unix_ms() + ConsumerLoop::migration_unix_ms() +
              access_log::migration_unix_ms()};
}

void emit_delivery(sqlite::Db& db, const Clock& clock, const std::string& notification_id,
                   const std::string& recipient_id, const std::string& referral_id,
                   v1::DeliveryStatus status, const std::string& channel) {
  v1::DeliveryEvent d;
  d.set_notification_id(notification_id);
  d.set_recipient_id(recipient_id);
  d.set_referral_id(referral_id);
  d.set_status(status);
  d.set_channel(channel);
  *d.mutable_at() = timestamp(clock.now());
  events::emit(db, SOURCE, d);
}

bool store_notification(sqlite::Db& db, const Settings& settings, const Clock& clock,
                        const v1::NotificationRequested& n, bool at_once) {
  v1::ReferralContact contact = n.referral();
  if (!contact.referral_id().empty() && is_withdrawn(db, contact.referral_id())) {
    // Consent was withdrawn before this (older or reordered) notification
    // arrived: keep what the recipient needs to know, never the person.
    contact.clear_person();
    contact.clear_consent();
  }
  const RecipientChannel& rc = settings.of(n.recipient_id());
  const TimePoint now = clock.now();
  const TimePoint available =
      (at_once || !rc.daily) ? now : next_list_time(settings.calendar(), rc.daily_at, now);
  const bool deliver_now = rc.channel == v1::CHANNEL_INBOX && available <= now;
  sqlite::Stmt ins(db,
                   "INSERT OR IGNORE INTO inbox(notification_id, recipient_id, kind, referral_id, "
                   "contact, requested_at, delivered_at, available_at, state, channel, "
                   "underretning) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  ins.bind(1, n.notification_id()).bind(2, n.recipient_id()).bind(3, static_cast<int>(n.kind()));
  ins.bind(4, contact.referral_id()).bind_blob(5, contact.SerializeAsString());
  ins.bind(6, to_rfc3339(n.requested_at())).bind(7, rfc3339(available));
  ins.bind(8, to_ms(available)).bind(9, deliver_now ? STATE_DELIVERED : STATE_PENDING);
  if (deliver_now)
    ins.bind(10, CHANNEL_INBOX);
  else
    ins.bind_null(10);
  if (n.has_underretning())
    ins.bind_blob(11, n.underretning().SerializeAsString());
  else
    ins.bind_null(11);
  ins.run();
  if (db.changes() == 0) return false;  // same notification re-sent under a new ce_id
  if (deliver_now) {
    emit_delivery(db, clock, n.notification_id(), n.recipient_id(), contact.referral_id(),
                  v1::DELIVERY_STATUS_DELIVERED, CHANNEL_INBOX);
    spdlog::info("delivered to inbox notification_id={} recipient={} referral_id={}",
                 n.notification_id(), n.recipient_id(), contact.referral_id());
  } else {
    spdlog::info("scheduled notification_id={} recipient={} referral_id={} available_at={}",
                 n.notification_id(), n.recipient_id(), contact.referral_id(), rfc3339(available));
  }
  return true;
}

int deliver_due_inbox_rows(sqlite::Db& db, const Settings& settings, const Clock& clock,
                           const std::string& recipient_id) {
  const TimePoint now = clock.now();
  struct Due {
    std::string id, recipient, referral;
  };
  std::vector<Due> due;
  {
    sqlite::Stmt s(db, std::string("SELECT notification_id, recipient_id, referral_id FROM inbox "
                                   "WHERE state = 'pending' AND available_at <= ?") +
                           (recipient_id.empty() ? "" : " AND recipient_id = ?") +
                           " ORDER BY available_at, rowid");
    s.bind(1, to_ms(now));
    if (!recipient_id.empty()) s.bind(2, recipient_id);
    while (s.step())
      if (settings.of(s.text(1)).channel == v1::CHANNEL_INBOX)
        due.push_back({s.text(0), s.text(1), s.text(2)});
  }
  sqlite::Stmt up(db,
                  "UPDATE inbox SET state = 'delivered', channel = 'inbox', delivered_at = ? "
                  "WHERE notification_id = ? AND state = 'pending'");
  int n = 0;
  for (const auto& d : due) {
    up.bind(1, rfc3339(now)).bind(2, d.id).run();
    up.reset();
    if (db.changes() == 0) continue;
    emit_delivery(db, clock, d.id, d.recipient, d.referral, v1::DELIVERY_STATUS_DELIVERED,
                  CHANNEL_INBOX);
    spdlog::info("delivered to inbox notification_id={} recipient={} referral_id={}", d.id,
                 d.recipient, d.referral);
    ++n;
  }
  return n;
}

int erase_person_data(sqlite::Db& db, const std::string& referral_id) {
  std::vector<std::pair<std::string, std::string>> rows;
  {
    sqlite::Stmt s(db, "SELECT notification_id, contact FROM inbox WHERE referral_id = ?");
    s.bind(1, referral_id);
    while (s.step()) rows.emplace_back(s.text(0), s.blob(1));
  }
  sqlite::Stmt up(db, "UPDATE inbox SET contact = ? WHERE notification_id = ?");
  int n = 0;
  for (auto& [id, blob] : rows) {
    v1::ReferralContact c;
    c.ParseFromString(blob);
    if (!c.has_person() && !c.has_consent()) continue;
    // Ids, municipality, offence, status and counts stay: the recipient
    // still needs to know which referral was withdrawn.
    c.clear_person();
    c.clear_consent();
    up.bind_blob(1, c.SerializeAsString()).bind(2, id).run();
    up.reset();
    ++n;
  }
  return n;
}

Applier::Applier(Directory directory, Settings settings, const Clock& clock)
    : directory_(std::move(directory)), settings_(std::move(settings)), clock_(&clock) {
  subs_.on(this, &Applier::on_requested);
}

void Applier::on_requested(const v1::NotificationRequested& n, sqlite::Db& db) {
  if (n.notification_id().empty()) throw Rejected("missing field notification_id");
  if (n.recipient_id().empty()) throw Rejected("missing field recipient_id");
  if (n.kind() == v1::NOTIFICATION_KIND_UNSPECIFIED) throw Rejected("missing field kind");
  if (!v1::NotificationKind_IsValid(n.kind())) throw Rejected("field kind is not a known kind");
  if (!directory_.recipient(n.recipient_id()))
    throw Rejected("field recipient_id is not a configured recipient");
  if ((n.kind() == v1::NOTIFICATION_KIND_UNDERRETNING ||
       n.kind() == v1::NOTIFICATION_KIND_RECEIPT_MISSED) &&
      n.underretning().underretning_id().empty())
    throw Rejected("missing field underretning.underretning_id");

  if (n.kind() != v1::NOTIFICATION_KIND_WITHDRAWN) {
    // NEW_REFERRAL, UNROUTABLE_REFERRAL, REMINDER, ESCALATION, and
    // Socialsøg's UNDERRETNING and RECEIPT_MISSED: into the recipient's
    // contact list by its mode and channel.
    store_notification(db, settings_, *clock_, n, /*at_once=*/false);
    return;
  }
  const std::string& referral_id = n.referral().referral_id();
  if (referral_id.empty()) throw Rejected("missing field referral.referral_id");
  // (a) Erase the person data of every row of the referral, for every
  // recipient (the centre's, a coordinator's escalation copy, ...). Rows not
  // yet delivered stay and are delivered later without it. What has already
  // been pushed (a webhook body, a CSV file dropped into a directory) cannot
  // be recalled from here: the WITHDRAWN notification below tells the
  // recipient to erase its copy.
  const int erased = erase_person_data(db, referral_id);
  erased_ = true;
  {
    sqlite::Stmt w(db,
                   "INSERT INTO withdrawn_referrals(referral_id, withdrawn_at) VALUES (?, ?) "
                   "ON CONFLICT(referral_id) DO UPDATE SET checkpointed = 0");
    w.bind(1, referral_id).bind(2, rfc3339(clock_->now())).run();
  }
  // (b) The withdrawal itself, at once whatever the recipient's mode: the
  // centre must stop contacting the person now, not at tomorrow's list.
  store_notification(db, settings_, *clock_, n, /*at_once=*/true);
  spdlog::info("consent withdrawn referral_id={} rows_erased={} notification_id={} recipient={}",
               referral_id, erased, n.notification_id(), n.recipient_id());
}

Api::Api(const std::string& db_path, Directory directory, outbox::Relay* relay, Settings settings,
         const Clock& clock)
    : db_(db_path),
      directory_(std::move(directory)),
      relay_(relay),
      settings_(std::move(settings)),
      clock_(&clock) {
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
  // A daily list whose time has come is delivered before it is read, even if
  // the dispatcher has not got to it yet, so DELIVERED precedes READ.
  deliver_due_inbox_rows(db_, settings_, *clock_, recipient);
  const TimePoint now_tp = clock_->now();
  sqlite::Stmt s(db_, std::string("SELECT ") + COLUMNS +
                          " FROM inbox WHERE recipient_id = ? AND available_at <= ?" +
                          (all ? "" : " AND acked_at IS NULL") + " ORDER BY available_at, rowid");
  s.bind(1, recipient).bind(2, to_ms(now_tp));
  v1::Inbox out;
  out.set_recipient_id(recipient);
  const std::string now = rfc3339(now_tp);
  sqlite::Stmt mark(db_, "UPDATE inbox SET read_at = ? WHERE notification_id = ?");
  while (s.step()) {
    v1::InboxEntry e = entry(s);
    if (s.is_null(6)) {
      mark.bind(1, now).bind(2, e.notification_id()).run();
      mark.reset();
      emit_delivery(db_, *clock_, e.notification_id(), recipient, s.text(3),
                    v1::DELIVERY_STATUS_READ, CHANNEL_INBOX);
      *e.mutable_read_at() = ts(now);
    }
    // An underretning discloses the children and adults it names: logged by
    // its id (a referral's entries by the referral id).
    access_log::record(
        db_, req.principal,
        e.has_underretning() ? e.underretning().underretning_id() : e.referral().referral_id(),
        "inbox");
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
  deliver_due_inbox_rows(db_, settings_, *clock_, recipient);
  const TimePoint now_tp = clock_->now();
  // A row not yet available is unknown to the recipient: 404 like any other.
  sqlite::Stmt s(db_, std::string("SELECT ") + COLUMNS +
                          " FROM inbox WHERE notification_id = ? AND recipient_id = ? "
                          "AND available_at <= ?");
  s.bind(1, req.params.at("notificationId")).bind(2, recipient).bind(3, to_ms(now_tp));
  if (!s.step()) return http::problem(404, "Not Found", "no such notification in this inbox");
  v1::InboxEntry e = entry(s);
  if (s.is_null(7)) {  // acknowledging twice is the same as once
    const std::string now = rfc3339(now_tp);
    sqlite::Stmt up(db_,
                    "UPDATE inbox SET acked_at = ?, read_at = coalesce(read_at, ?) "
                    "WHERE notification_id = ?");
    up.bind(1, now).bind(2, now).bind(3, e.notification_id()).run();
    emit_delivery(db_, *clock_, e.notification_id(), recipient, s.text(3),
                  v1::DELIVERY_STATUS_ACKNOWLEDGED, CHANNEL_INBOX);
    *e.mutable_acknowledged_at() = ts(now);
    if (!e.has_read_at()) *e.mutable_read_at() = ts(now);
  }
  tx.commit();
  if (relay_) relay_->notify();
  return http::json(200, e);
}

}  // namespace henvis::notifier
