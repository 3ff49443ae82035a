#pragma once
// The notifier's store (docs/decisions.md 17): its schema, its migrations and
// every SQL statement it runs, behind typed rows. The applier, the API and
// the dispatcher call it and never write SQL; transactions stay theirs
// (sqlite::Transaction on the store's connection).
//
// Every instant is stored as INTEGER Unix milliseconds (docs/decisions.md 16).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "henvis/sqlite.hpp"
#include "henvis/v1/events.pb.h"

namespace henvis::notifier {

using sqlite::Instant;

// The schema, in order; applied by the host before the service is built.
std::vector<std::string> migrations();

// A notification to store in its recipient's inbox.
struct NewInboxRow {
  std::string notification_id;
  std::string recipient_id;
  v1::NotificationKind kind = v1::NOTIFICATION_KIND_UNSPECIFIED;
  v1::ReferralContact contact;  // its referral_id is the row's
  // Empty when the event's time cannot be held as an instant.
  std::optional<Instant> requested_at;
  // When it becomes available; also its delivered_at until it is delivered.
  Instant available_at;
  std::string state;                   // STATE_PENDING or STATE_DELIVERED
  std::optional<std::string> channel;  // set when delivered at once
  std::optional<v1::UnderretningNotice> underretning;
};

// Where a row stands in its inbox's order: the paging key.
struct InboxKey {
  std::int64_t available_ms = -1;  // the first page starts before every row
  std::int64_t rowid = -1;
};

// An inbox row as its recipient sees it (GET /v1/inbox, the ack).
struct InboxRow {
  std::string notification_id;
  std::string recipient_id;
  v1::NotificationKind kind = v1::NOTIFICATION_KIND_UNSPECIFIED;
  std::string referral_id;
  v1::ReferralContact contact;
  Instant delivered_at;
  std::optional<Instant> read_at;
  std::optional<Instant> acked_at;
  std::optional<v1::UnderretningNotice> underretning;
  InboxKey key;  // set by inbox()
};

// A pending row whose time has come, for the pull inbox.
struct DueRow {
  std::string notification_id;
  std::string recipient_id;
  std::string referral_id;
};

// A pending row a push channel (webhook, file) is to deliver.
struct PushRow {
  std::string id;
  std::string recipient;
  v1::NotificationKind kind = v1::NOTIFICATION_KIND_UNSPECIFIED;
  std::string referral_id;
  v1::ReferralContact contact;
  // Socialsøg's UNDERRETNING and RECEIPT_MISSED carry the notice instead.
  std::optional<v1::UnderretningNotice> underretning;
  int attempts = 0;
};

// A row's contact, for erasing person data.
struct ContactRow {
  std::string notification_id;
  v1::ReferralContact contact;
};

// The notifier's statements on one connection. Cheap to make: it holds a
// reference to the connection, whose prepared statements it reuses.
class Store {
 public:
  explicit Store(sqlite::Db& db) : db_(db) {}
  // The connection, for transactions and the kit's outbox and access log.
  sqlite::Db& db() { return db_; }

  // ------------------------------------------------------------ the inbox
  // False if a row with this notification id is stored already.
  bool add(const NewInboxRow& row);
  // Pending rows available at `now`, oldest first; of one recipient unless
  // `recipient_id` is empty.
  std::vector<DueRow> due(Instant now, const std::string& recipient_id);
  // Pending -> delivered through the pull inbox; false if it was not pending.
  bool mark_inbox_delivered(const std::string& notification_id, Instant at);
  // A recipient's rows available at `now`, oldest first, after `after` and
  // at most `limit`; unacknowledged ones only unless `all`.
  std::vector<InboxRow> inbox(const std::string& recipient_id, Instant now, bool all,
                              InboxKey after, std::size_t limit);
  // One of the recipient's rows if it is available at `now`.
  std::optional<InboxRow> available(const std::string& notification_id,
                                    const std::string& recipient_id, Instant now);
  void mark_read(const std::string& notification_id, Instant at);
  // Acknowledged at `at`, and read then unless read before.
  void mark_acked(const std::string& notification_id, Instant at);

  // ------------------------------------------------------- push channels
  // Pending rows due at `now` (their time has come and no retry is waiting),
  // at most `limit`, oldest first.
  std::vector<PushRow> due_pushes(Instant now, int limit);
  // Pending -> delivered; false if it was not pending.
  bool mark_webhook_delivered(const std::string& notification_id, Instant at);
  bool mark_file_delivered(const std::string& notification_id, Instant at, const std::string& file);
  // A failed attempt to be tried again at `next`.
  void schedule_retry(const std::string& notification_id, int attempts, Instant next,
                      const std::string& error);
  // Pending -> failed after the last attempt; false if it was not pending.
  bool mark_failed(const std::string& notification_id, const std::string& channel, int attempts,
                   const std::string& error);
  void set_escalation(const std::string& notification_id, const std::string& escalation_id);

  // ----------------------------------------------------------- withdrawal
  bool is_withdrawn(const std::string& referral_id);
  std::vector<ContactRow> contacts_of(const std::string& referral_id);
  void set_contact(const std::string& notification_id, const v1::ReferralContact& contact);
  // Records (again) that the referral's consent was withdrawn at `at`.
  void record_withdrawal(const std::string& referral_id, Instant at);

  // Retention: deletes the rows acknowledged at or before `before`; returns how many.
  int purge_acknowledged(Instant before);
  // Deletes the rows never acknowledged, delivered (or failed) and due at or
  // before `before`; pending rows stay. Returns how many.
  int purge_unacknowledged(Instant before);

 private:
  sqlite::Db& db_;
};

}  // namespace henvis::notifier
