#include "store.hpp"

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/outbox.hpp"
#include "henvis/partition_keys.hpp"

namespace henvis::notifier {

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
              access_log::migration_unix_ms(),
          // And so do the notifier's own (available_at and next_attempt_at
          // were milliseconds already). SQLite cannot drop a column an index
          // names: inbox_recipient goes while delivered_at is rebuilt.
          "DROP INDEX inbox_recipient;\n" + sqlite::to_unix_ms("inbox", "requested_at", "rfc3339") +
              sqlite::to_unix_ms("inbox", "delivered_at", "rfc3339") +
              sqlite::to_unix_ms("inbox", "read_at", "rfc3339") +
              sqlite::to_unix_ms("inbox", "acked_at", "rfc3339") +
              "CREATE INDEX inbox_recipient ON inbox(recipient_id, delivered_at);\n" +
              sqlite::to_unix_ms("withdrawn_referrals", "withdrawn_at", "rfc3339"),
          // The person acting through henvis-web (docs/decisions.md "Delegated principals").
          access_log::MIGRATION_PERSON,
          // The access log hash-chained and append-only (docs/decisions.md 23).
          access_log::migration_chain(),
          // Partition-aligned routers (docs/decisions.md 24): the Kafka key a
          // referral's deliveries carry, from its notifications.
          partition_keys::MIGRATION,
          // The retention pass (PURGE_ACKED, PURGE_UNACKED) reads the rows it
          // may delete, not the whole inbox every minute (docs/performance.md,
          // "Periodic passes"). Each index's condition is its query's own.
          R"sql(
CREATE INDEX inbox_acked ON inbox(acked_at) WHERE acked_at IS NOT NULL;
CREATE INDEX inbox_unacked ON inbox(delivered_at) WHERE acked_at IS NULL AND state <> 'pending';
)sql"};
}

namespace {
// ------------------------------------------------------------ statements

constexpr std::string_view ADD_ROW =
    "INSERT OR IGNORE INTO inbox(notification_id, recipient_id, kind, referral_id, contact, "
    "requested_at, delivered_at, available_at, state, channel, underretning) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?)";
constexpr std::string_view DUE_ROWS =
    "SELECT notification_id, recipient_id, referral_id FROM inbox "
    "WHERE state = 'pending' AND available_at <= ? ORDER BY available_at, rowid";
constexpr std::string_view DUE_ROWS_OF =
    "SELECT notification_id, recipient_id, referral_id FROM inbox "
    "WHERE state = 'pending' AND available_at <= ? AND recipient_id = ? "
    "ORDER BY available_at, rowid";
constexpr std::string_view MARK_INBOX_DELIVERED =
    "UPDATE inbox SET state = 'delivered', channel = 'inbox', delivered_at = ? "
    "WHERE notification_id = ? AND state = 'pending'";
// InboxRow's columns, in the order inbox_row() reads them.
// A page of the inbox: after the key (available_at, rowid) of the page
// before, in that order (docs/decisions.md 18).
constexpr std::string_view INBOX_ALL =
    "SELECT notification_id, recipient_id, kind, referral_id, contact, delivered_at, read_at, "
    "acked_at, underretning, available_at, rowid FROM inbox WHERE recipient_id = ? "
    "AND available_at <= ? AND (available_at, rowid) > (?, ?) "
    "ORDER BY available_at, rowid LIMIT ?";
constexpr std::string_view INBOX_UNACKED =
    "SELECT notification_id, recipient_id, kind, referral_id, contact, delivered_at, read_at, "
    "acked_at, underretning, available_at, rowid FROM inbox WHERE recipient_id = ? "
    "AND available_at <= ? AND acked_at IS NULL AND (available_at, rowid) > (?, ?) "
    "ORDER BY available_at, rowid LIMIT ?";
constexpr std::string_view AVAILABLE_ROW =
    "SELECT notification_id, recipient_id, kind, referral_id, contact, delivered_at, read_at, "
    "acked_at, underretning FROM inbox WHERE notification_id = ? AND recipient_id = ? "
    "AND available_at <= ?";
constexpr std::string_view MARK_READ = "UPDATE inbox SET read_at = ? WHERE notification_id = ?";
constexpr std::string_view MARK_ACKED =
    "UPDATE inbox SET acked_at = ?1, read_at = coalesce(read_at, ?1) WHERE notification_id = ?2";

constexpr std::string_view DUE_PUSHES =
    "SELECT notification_id, recipient_id, kind, referral_id, contact, attempts, underretning "
    "FROM inbox WHERE state = 'pending' AND available_at <= ?1 "
    "AND coalesce(next_attempt_at, 0) <= ?1 ORDER BY available_at, rowid LIMIT ?2";
constexpr std::string_view MARK_WEBHOOK_DELIVERED =
    "UPDATE inbox SET state = 'delivered', channel = 'webhook', delivered_at = ?, "
    "attempts = attempts + 1, next_attempt_at = NULL, last_error = NULL "
    "WHERE notification_id = ? AND state = 'pending'";
constexpr std::string_view MARK_FILE_DELIVERED =
    "UPDATE inbox SET state = 'delivered', channel = 'file', delivered_at = ?, "
    "delivered_file = ?, attempts = attempts + 1, next_attempt_at = NULL, last_error = NULL "
    "WHERE notification_id = ? AND state = 'pending'";
constexpr std::string_view SCHEDULE_RETRY =
    "UPDATE inbox SET attempts = ?, next_attempt_at = ?, last_error = ? "
    "WHERE notification_id = ? AND state = 'pending'";
constexpr std::string_view MARK_FAILED =
    "UPDATE inbox SET state = 'failed', channel = ?, attempts = ?, next_attempt_at = NULL, "
    "last_error = ? WHERE notification_id = ? AND state = 'pending'";
constexpr std::string_view SET_ESCALATION =
    "UPDATE inbox SET escalation_id = ? WHERE notification_id = ?";

constexpr std::string_view IS_WITHDRAWN = "SELECT 1 FROM withdrawn_referrals WHERE referral_id = ?";
constexpr std::string_view CONTACTS_OF =
    "SELECT notification_id, contact FROM inbox WHERE referral_id = ?";
constexpr std::string_view SET_CONTACT = "UPDATE inbox SET contact = ? WHERE notification_id = ?";
// (withdrawn_referrals.checkpointed is no longer used: the connection that
// erases truncates the WAL when it commits, sqlite::Db::note_erasure.)
constexpr std::string_view RECORD_WITHDRAWAL =
    "INSERT INTO withdrawn_referrals(referral_id, withdrawn_at) VALUES (?, ?) "
    "ON CONFLICT(referral_id) DO NOTHING";

// Retention (docs/security.md "Retention"). delivered_at is when the row
// was delivered, or for a failed push when it was due.
constexpr std::string_view PURGE_ACKED =
    "DELETE FROM inbox WHERE acked_at IS NOT NULL AND acked_at <= ?";
constexpr std::string_view PURGE_UNACKED =
    "DELETE FROM inbox WHERE acked_at IS NULL AND state <> 'pending' AND delivered_at <= ?";

// --------------------------------------------------------------- helpers

template <class M>
std::optional<M> maybe_message(const sqlite::Stmt& s, int col) {
  if (s.is_null(col)) return std::nullopt;
  M m;
  m.ParseFromString(s.blob(col));
  return m;
}

v1::ReferralContact contact_at(const sqlite::Stmt& s, int col) {
  v1::ReferralContact c;
  c.ParseFromString(s.blob(col));
  return c;
}

// A row of INBOX_ALL, INBOX_UNACKED or AVAILABLE_ROW.
InboxRow inbox_row(const sqlite::Stmt& s) {
  InboxRow r;
  r.notification_id = s.text(0);
  r.recipient_id = s.text(1);
  r.kind = static_cast<v1::NotificationKind>(s.i64(2));
  r.referral_id = s.text(3);
  r.contact = contact_at(s, 4);
  r.delivered_at = s.instant(5);
  r.read_at = s.maybe_instant(6);
  r.acked_at = s.maybe_instant(7);
  r.underretning = maybe_message<v1::UnderretningNotice>(s, 8);
  return r;
}
}  // namespace

// ------------------------------------------------------------- the inbox

bool Store::add(const NewInboxRow& row) {
  auto q = db_.query(ADD_ROW);
  q->bind(1, row.notification_id).bind(2, row.recipient_id).bind(3, static_cast<int>(row.kind));
  q->bind(4, row.contact.referral_id()).bind_blob(5, row.contact.SerializeAsString());
  q->bind(6, row.requested_at).bind(7, row.available_at).bind(8, row.available_at);
  q->bind(9, row.state);
  if (row.channel)
    q->bind(10, *row.channel);
  else
    q->bind_null(10);
  if (row.underretning)
    q->bind_blob(11, row.underretning->SerializeAsString());
  else
    q->bind_null(11);
  q->run();
  return db_.changes() > 0;
}

std::vector<DueRow> Store::due(Instant now, const std::string& recipient_id) {
  auto q = db_.query(recipient_id.empty() ? DUE_ROWS : DUE_ROWS_OF);
  q->bind(1, now);
  if (!recipient_id.empty()) q->bind(2, recipient_id);
  std::vector<DueRow> out;
  while (q->step()) out.push_back({q->text(0), q->text(1), q->text(2)});
  return out;
}

bool Store::mark_inbox_delivered(const std::string& notification_id, Instant at) {
  auto q = db_.query(MARK_INBOX_DELIVERED);
  q->bind(1, at).bind(2, notification_id).run();
  return db_.changes() > 0;
}

std::vector<InboxRow> Store::inbox(const std::string& recipient_id, Instant now, bool all,
                                   InboxKey after, std::size_t limit) {
  auto q = db_.query(all ? INBOX_ALL : INBOX_UNACKED);
  q->bind(1, recipient_id).bind(2, now).bind(3, after.available_ms).bind(4, after.rowid);
  q->bind(5, static_cast<std::int64_t>(limit));
  std::vector<InboxRow> out;
  while (q->step()) {
    out.push_back(inbox_row(*q));
    out.back().key = {q->i64(9), q->i64(10)};
  }
  return out;
}

std::optional<InboxRow> Store::available(const std::string& notification_id,
                                         const std::string& recipient_id, Instant now) {
  auto q = db_.query(AVAILABLE_ROW);
  q->bind(1, notification_id).bind(2, recipient_id).bind(3, now);
  if (!q->step()) return std::nullopt;
  return inbox_row(*q);
}

void Store::mark_read(const std::string& notification_id, Instant at) {
  db_.query(MARK_READ)->bind(1, at).bind(2, notification_id).run();
}

void Store::mark_acked(const std::string& notification_id, Instant at) {
  db_.query(MARK_ACKED)->bind(1, at).bind(2, notification_id).run();
}

// --------------------------------------------------------- push channels

std::vector<PushRow> Store::due_pushes(Instant now, int limit) {
  auto q = db_.query(DUE_PUSHES);
  q->bind(1, now).bind(2, limit);
  std::vector<PushRow> out;
  while (q->step()) {
    PushRow r;
    r.id = q->text(0);
    r.recipient = q->text(1);
    r.kind = static_cast<v1::NotificationKind>(q->i64(2));
    r.referral_id = q->text(3);
    r.contact = contact_at(*q, 4);
    r.attempts = static_cast<int>(q->i64(5));
    r.underretning = maybe_message<v1::UnderretningNotice>(*q, 6);
    out.push_back(std::move(r));
  }
  return out;
}

bool Store::mark_webhook_delivered(const std::string& notification_id, Instant at) {
  db_.query(MARK_WEBHOOK_DELIVERED)->bind(1, at).bind(2, notification_id).run();
  return db_.changes() > 0;
}

bool Store::mark_file_delivered(const std::string& notification_id, Instant at,
                                const std::string& file) {
  db_.query(MARK_FILE_DELIVERED)->bind(1, at).bind(2, file).bind(3, notification_id).run();
  return db_.changes() > 0;
}

void Store::schedule_retry(const std::string& notification_id, int attempts, Instant next,
                           const std::string& error) {
  auto q = db_.query(SCHEDULE_RETRY);
  q->bind(1, attempts).bind(2, next).bind(3, error).bind(4, notification_id).run();
}

bool Store::mark_failed(const std::string& notification_id, const std::string& channel,
                        int attempts, const std::string& error) {
  auto q = db_.query(MARK_FAILED);
  q->bind(1, channel).bind(2, attempts).bind(3, error).bind(4, notification_id).run();
  return db_.changes() > 0;
}

void Store::set_escalation(const std::string& notification_id, const std::string& escalation_id) {
  db_.query(SET_ESCALATION)->bind(1, escalation_id).bind(2, notification_id).run();
}

// ------------------------------------------------------------ withdrawal

bool Store::is_withdrawn(const std::string& referral_id) {
  auto q = db_.query(IS_WITHDRAWN);
  q->bind(1, referral_id);
  return q->step();
}

std::vector<ContactRow> Store::contacts_of(const std::string& referral_id) {
  auto q = db_.query(CONTACTS_OF);
  q->bind(1, referral_id);
  std::vector<ContactRow> out;
  while (q->step()) out.push_back({q->text(0), contact_at(*q, 1)});
  return out;
}

void Store::set_contact(const std::string& notification_id, const v1::ReferralContact& contact) {
  db_.query(SET_CONTACT)->bind_blob(1, contact.SerializeAsString()).bind(2, notification_id).run();
}

void Store::record_withdrawal(const std::string& referral_id, Instant at) {
  db_.query(RECORD_WITHDRAWAL)->bind(1, referral_id).bind(2, at).run();
}

int Store::purge_acknowledged(Instant before) {
  db_.query(PURGE_ACKED)->bind(1, before).run();
  return static_cast<int>(db_.changes());
}

int Store::purge_unacknowledged(Instant before) {
  db_.query(PURGE_UNACKED)->bind(1, before).run();
  return static_cast<int>(db_.changes());
}

}  // namespace henvis::notifier
