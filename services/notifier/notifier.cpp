#include "notifier.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <optional>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/paging.hpp"
#include "henvis/partition_keys.hpp"
#include "henvis/topics.hpp"

namespace henvis::notifier {

namespace {
// The inbox's paging key from a cursor's parts (http::page_request checked
// their number).
InboxKey inbox_key(const std::vector<std::string>& parts) {
  return {http::cursor_number(parts[0], 0, http::MAX_CURSOR_MS),
          http::cursor_number(parts[1], 0, INT64_MAX)};
}

constexpr const char* SOURCE = "/henvis/notifier";
constexpr const char* CHANNEL_INBOX = "inbox";

// The instant an event's time stands for; empty if no time_point can hold it.
std::optional<TimePoint> instant_of(const google::protobuf::Timestamp& t) {
  if (!valid_event_time(t)) return std::nullopt;
  return to_time_point(t);
}

v1::InboxEntry entry(const InboxRow& r) {
  v1::InboxEntry e;
  e.set_notification_id(r.notification_id);
  e.set_kind(r.kind);
  *e.mutable_referral() = r.contact;
  *e.mutable_delivered_at() = to_timestamp(r.delivered_at);
  if (r.read_at) *e.mutable_read_at() = to_timestamp(*r.read_at);
  if (r.acked_at) *e.mutable_acknowledged_at() = to_timestamp(*r.acked_at);
  if (r.underretning) *e.mutable_underretning() = *r.underretning;
  return e;
}

// Logs the disclosure of an inbox entry: an underretning (the children and
// adults it names) by its id, a referral's entries by the referral id.
void log_access(sqlite::Db& db, const auth::Principal& who, const v1::InboxEntry& e,
                const std::string& purpose) {
  access_log::record(
      db, who,
      e.has_underretning() ? e.underretning().underretning_id() : e.referral().referral_id(),
      purpose);
}
}  // namespace

std::int64_t to_ms(TimePoint t) { return sqlite::unix_ms(t); }

void emit_delivery(sqlite::Db& db, const Clock& clock, const std::string& notification_id,
                   const std::string& recipient_id, const std::string& referral_id,
                   v1::DeliveryStatus status, const std::string& channel) {
  v1::DeliveryEvent d;
  d.set_notification_id(notification_id);
  d.set_recipient_id(recipient_id);
  d.set_referral_id(referral_id);
  d.set_status(status);
  d.set_channel(channel);
  *d.mutable_at() = to_timestamp(clock.now());
  // Into the partition of the referral's offers, for the router instance
  // that owns it (docs/decisions.md 24).
  if (!referral_id.empty()) d.set_partition_key(partition_keys::of(db, referral_id));
  events::emit(db, SOURCE, d);
}

bool store_notification(sqlite::Db& db, const Settings& settings, const Clock& clock,
                        const v1::NotificationRequested& n, bool at_once) {
  Store store(db);
  NewInboxRow row;
  row.contact = n.referral();
  if (!row.contact.referral_id().empty() && store.is_withdrawn(row.contact.referral_id())) {
    // Consent was withdrawn before this (older or reordered) notification
    // arrived: keep what the recipient needs to know, never the person.
    row.contact.clear_person();
    row.contact.clear_consent();
  }
  const RecipientChannel& rc = settings.of(n.recipient_id());
  const TimePoint now = clock.now();
  row.available_at =
      (at_once || !rc.daily) ? now : next_list_time(settings.calendar(), rc.daily_at, now);
  const bool deliver_now = rc.channel == v1::CHANNEL_INBOX && row.available_at <= now;
  row.notification_id = n.notification_id();
  row.recipient_id = n.recipient_id();
  row.kind = n.kind();
  row.requested_at = instant_of(n.requested_at());
  row.state = deliver_now ? STATE_DELIVERED : STATE_PENDING;
  if (deliver_now) row.channel = CHANNEL_INBOX;
  if (n.has_underretning()) row.underretning = n.underretning();
  if (!store.add(row)) return false;  // same notification re-sent under a new ce_id
  const std::string& referral_id = row.contact.referral_id();
  if (!referral_id.empty() && !n.partition_key().empty())
    partition_keys::put(db, referral_id, n.partition_key());
  if (deliver_now) {
    emit_delivery(db, clock, n.notification_id(), n.recipient_id(), referral_id,
                  v1::DELIVERY_STATUS_DELIVERED, CHANNEL_INBOX);
    spdlog::info("delivered to inbox notification_id={} recipient={} referral_id={}",
                 n.notification_id(), n.recipient_id(), referral_id);
  } else {
    spdlog::info("scheduled notification_id={} recipient={} referral_id={} available_at={}",
                 n.notification_id(), n.recipient_id(), referral_id, rfc3339(row.available_at));
  }
  return true;
}

int deliver_due_inbox_rows(sqlite::Db& db, const Settings& settings, const Clock& clock,
                           const std::string& recipient_id) {
  Store store(db);
  const TimePoint now = clock.now();
  int n = 0;
  for (const DueRow& d : store.due(now, recipient_id)) {
    // A push channel's rows are the dispatcher's to deliver.
    if (settings.of(d.recipient_id).channel != v1::CHANNEL_INBOX) continue;
    if (!store.mark_inbox_delivered(d.notification_id, now)) continue;
    emit_delivery(db, clock, d.notification_id, d.recipient_id, d.referral_id,
                  v1::DELIVERY_STATUS_DELIVERED, CHANNEL_INBOX);
    spdlog::info("delivered to inbox notification_id={} recipient={} referral_id={}",
                 d.notification_id, d.recipient_id, d.referral_id);
    ++n;
  }
  return n;
}

int erase_person_data(sqlite::Db& db, const std::string& referral_id) {
  Store store(db);
  int n = 0;
  for (ContactRow& row : store.contacts_of(referral_id)) {
    v1::ReferralContact& c = row.contact;
    if (!c.has_person() && !c.has_consent()) continue;
    // Ids, municipality, offence, status and counts stay: the recipient
    // still needs to know which referral was withdrawn.
    c.clear_person();
    c.clear_consent();
    store.set_contact(row.notification_id, c);
    ++n;
  }
  return n;
}

Applier::Applier(Directory directory, Settings settings, const Clock& clock)
    : directory_(std::move(directory)), settings_(std::move(settings)), clock_(&clock) {
  subs_.on(this, &Applier::on_requested)
      .around_batch([this](const auto& batch, sqlite::Db&) { fetch_keys(batch); },
                    [this] {
                      keys_.forget();
                      underretning_keys_.forget();
                    });
}

void Applier::fetch_keys(const std::vector<kafka::Message>& batch) {
  if (!keys_.configured() && !underretning_keys_.configured()) return;
  std::vector<std::string> ids, underretninger;
  for (const auto& n : events::of_type<v1::NotificationRequested>(batch)) {
    if (n.referral().has_sealed_person() && !n.referral().referral_id().empty())
      ids.push_back(n.referral().referral_id());
    if (n.underretning().has_sealed_persons() && !n.underretning().underretning_id().empty())
      underretninger.push_back(n.underretning().underretning_id());
  }
  if (keys_.configured()) keys_.fetch(ids);
  if (underretning_keys_.configured()) underretning_keys_.fetch(underretninger);
}

std::optional<v1::NotificationRequested> Applier::unseal_underretning(v1::NotificationRequested n) {
  v1::UnderretningNotice& u = *n.mutable_underretning();
  if (!u.has_sealed_persons()) return n;
  if (u.underretning_id().empty()) throw Rejected("missing field underretning.underretning_id");
  if (n.notification_id().empty()) throw Rejected("missing field notification_id");
  if (u.sealed_persons().key_id() != u.underretning_id())
    throw Rejected("field underretning.sealed_persons.key_id is not the underretning_id");
  // Fetched for each batch and wiped after it, as the referrals' keys.
  const std::optional<std::string> key = underretning_keys_.key(u.underretning_id());
  if (!key) {
    ++shredded_;
    spdlog::info("underretning's key is gone, dropped notification_id={} underretning_id={}",
                 n.notification_id(), u.underretning_id());
    return std::nullopt;
  }
  if (!data_keys::open_underretning(*key, n.notification_id(), u))
    throw Rejected("field underretning.sealed_persons does not open under the underretning's key");
  return n;
}

std::optional<v1::NotificationRequested> Applier::unseal(const v1::NotificationRequested& n) {
  const v1::ReferralContact& c = n.referral();
  if (!c.has_sealed_person()) return n;
  if (c.referral_id().empty()) throw Rejected("missing field referral.referral_id");
  if (c.sealed_person().key_id() != c.referral_id())
    throw Rejected("field referral.sealed_person.key_id is not the referral_id");
  // Fetched for each batch and wiped after it: the notifier holds the person
  // it delivers, not the key.
  const std::optional<std::string> key = keys_.key(c.referral_id());
  if (!key) {
    ++shredded_;
    spdlog::info("notification's data key is gone, dropped notification_id={} referral_id={}",
                 n.notification_id(), c.referral_id());
    return std::nullopt;
  }
  auto person = data_keys::open(*key, c.sealed_person(),
                                data_keys::notification_ad(n.notification_id(), c.referral_id()));
  if (!person)
    throw Rejected("field referral.sealed_person does not open under the referral's data key");
  v1::NotificationRequested out = n;
  *out.mutable_referral()->mutable_person() = std::move(*person);
  out.mutable_referral()->clear_sealed_person();
  return out;
}

void Applier::on_requested(const v1::NotificationRequested& sealed, sqlite::Db& db) {
  std::optional<v1::NotificationRequested> opened = unseal(sealed);
  if (opened) opened = unseal_underretning(std::move(*opened));
  if (!opened) return;
  const v1::NotificationRequested& n = *opened;
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
  db.note_erasure();  // the WAL is truncated when the batch commits
  Store(db).record_withdrawal(referral_id, clock_->now());
  // (b) The withdrawal itself, at once whatever the recipient's mode: the
  // centre must stop contacting the person now, not at tomorrow's list.
  store_notification(db, settings_, *clock_, n, /*at_once=*/true);
  spdlog::info("consent withdrawn referral_id={} rows_erased={} notification_id={} recipient={}",
               referral_id, erased, n.notification_id(), n.recipient_id());
}

Api::Api(const std::string& db_path, Directory directory, outbox::Relay* relay, Settings settings,
         const Clock& clock)
    : dbs_(db_path),
      directory_(std::move(directory)),
      relay_(relay),
      settings_(std::move(settings)),
      clock_(&clock) {}

void Api::register_routes(http::Router& router) {
  const std::set<v1::Role> who = {v1::ROLE_CENTRE, v1::ROLE_MUNICIPALITY, v1::ROLE_COORDINATOR};
  router.add("GET", "/v1/inbox", who, [this](http::Request& r) { return inbox(r); });
  router.add("POST", "/v1/inbox/{notificationId}/ack", who,
             [this](http::Request& r) { return ack(r); });
  access_log::add_routes(router, dbs_);
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
  const http::PageRequest page = http::page_request(req, 2);
  InboxKey after;
  if (!page.after.empty()) after = inbox_key(page.after);
  sqlite::Transaction tx(db());
  // A daily list whose time has come is delivered before it is read, even if
  // the dispatcher has not got to it yet, so DELIVERED precedes READ.
  deliver_due_inbox_rows(db(), settings_, *clock_, recipient);
  const TimePoint now = sqlite::as_stored(clock_->now());
  v1::Inbox out;
  out.set_recipient_id(recipient);
  std::vector<InboxRow> rows = store().inbox(recipient, now, all, after, page.limit + 1);
  out.set_next_cursor(http::take_page(rows, page, [](const InboxRow& r) {
    return std::vector<std::string>{std::to_string(r.key.available_ms),
                                    std::to_string(r.key.rowid)};
  }));
  for (InboxRow& row : rows) {
    if (!row.read_at) {
      store().mark_read(row.notification_id, now);
      emit_delivery(db(), *clock_, row.notification_id, recipient, row.referral_id,
                    v1::DELIVERY_STATUS_READ, CHANNEL_INBOX);
      row.read_at = now;
    }
    v1::InboxEntry e = entry(row);
    log_access(db(), req.principal, e, "inbox");
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
  sqlite::Transaction tx(db());
  deliver_due_inbox_rows(db(), settings_, *clock_, recipient);
  const TimePoint now = sqlite::as_stored(clock_->now());
  // A row not yet available is unknown to the recipient: 404 like any other.
  auto row = store().available(req.params.at("notificationId"), recipient, now);
  if (!row) return http::problem(404, "Not Found", "no such notification in this inbox");
  if (!row->acked_at) {  // acknowledging twice is the same as once
    store().mark_acked(row->notification_id, now);
    emit_delivery(db(), *clock_, row->notification_id, recipient, row->referral_id,
                  v1::DELIVERY_STATUS_ACKNOWLEDGED, CHANNEL_INBOX);
    row->acked_at = now;
    if (!row->read_at) row->read_at = now;
  }
  v1::InboxEntry e = entry(*row);
  // The answer discloses the entry again; the row also tells who acknowledged
  // (a receipt, for an underretning), with the person acting through henvis-web.
  log_access(db(), req.principal, e, "ack");
  tx.commit();
  if (relay_) relay_->notify();
  return http::json(200, e);
}

InboxRetention::InboxRetention(std::string db_path, const v1::NotifierSettings& s,
                               const Clock& clock, http::Metrics* metrics)
    : db_path_(std::move(db_path)),
      acknowledged_(retention::period(s.has_acknowledged_retention(), s.acknowledged_retention(),
                                      std::chrono::days(30), "notifier.acknowledged_retention")),
      unacknowledged_(retention::period(s.has_unacknowledged_retention(),
                                        s.unacknowledged_retention(), std::chrono::days(180),
                                        "notifier.unacknowledged_retention")),
      interval_(s.retention_check_seconds() > 0 ? s.retention_check_seconds() : 60),
      clock_(clock),
      purge_("notifier_inbox", metrics) {}

int InboxRetention::run_once(sqlite::Db& db) {
  const Instant now = clock_.now();
  return purge_.run(db, [&] {
    Store store(db);
    return store.purge_acknowledged(now - acknowledged_) +
           store.purge_unacknowledged(now - unacknowledged_);
  });
}

void InboxRetention::run(const std::atomic<bool>& stop) {
  sqlite::Db db(db_path_);
  every(interval_, stop, "retention pass", [&] { run_once(db); });
}

}  // namespace henvis::notifier
