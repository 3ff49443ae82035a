#pragma once
// The notifier's dispatcher: a background loop (a RunSpec worker, so on a
// thread of its own) with its own SQLite connection that, every
// NotifierSettings.dispatch_interval_ms (default 500 ms):
//
//  - delivers pull-inbox rows whose list time has come (DAILY mode): marks
//    them delivered and emits DELIVERED through the outbox in one transaction;
//  - pushes due WEBHOOK rows, one signed POST each (HMAC-SHA256 over the
//    timestamp, notification id and exact body: channels.hpp, scheme v2); 2xx = DELIVERED (channel
//    "webhook"); otherwise the attempt count and the next attempt time (exponential backoff) are
//    stored, so a restart continues the schedule; after the last attempt FAILED and an ESCALATION
//    to the district's coordinator (reason "webhook_failed");
//  - writes each FILE recipient's due rows as one CSV file (temp file, fsync,
//    rename, fsync of the directory), then records the file and emits
//    DELIVERED (channel "file"); a file that cannot be written is retried and
//    escalated like a webhook (reason "file_failed");
//
// (The WAL is truncated after a consent withdrawal by the connection that
// erased, sqlite::Db::note_erasure.)
//
// Nothing is retried forever and nothing is dropped: a row that failed stays
// readable in the recipient's pull inbox and is escalated to a person.
// Pushes are at-least-once: a crash between a successful POST (or a written
// file) and the commit that records it repeats the push; receivers
// de-duplicate by X-Henvis-Notification-Id / notification_id.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "channels.hpp"
#include "henvis/clock.hpp"
#include "henvis/directory.hpp"
#include "henvis/http.hpp"
#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"
#include "store.hpp"

namespace henvis::notifier {

class Dispatcher {
 public:
  // Opens its connection (the schema must be migrated already) and removes
  // temp files an interrupted file drop left behind.
  Dispatcher(const std::string& db_path, Directory directory, Settings settings,
             outbox::Relay* relay, const Clock& clock = system_clock(),
             http::Metrics* metrics = nullptr);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Runs a round every dispatch interval until `stop` is set (checked at
  // least every 100 ms). A failed round is logged and the next one tries
  // again: the state is in SQLite.
  void run(const std::atomic<bool>& stop);

  // One round on the caller's thread (tests call it directly with a
  // ManualClock; never while run() runs). Returns the number of rows
  // delivered, retried or failed.
  int run_once();

 private:
  using Row = PushRow;
  int push_webhook(const std::string& recipient, std::vector<Row>& rows);
  int drop_file(const std::string& recipient, std::vector<Row>& rows);
  // Records a failed attempt; after the last, FAILED and the escalation.
  void failed_attempt(const Row& row, const std::string& channel, const std::string& error,
                      const std::string& reason);
  void escalate(const Row& row, const std::string& reason);

  std::string db_path_;
  Directory directory_;
  Settings settings_;
  outbox::Relay* relay_;
  const Clock* clock_;
  // Counters, null without metrics.
  prometheus::Counter* webhook_attempts_ = nullptr;
  prometheus::Counter* file_drop_failures_ = nullptr;
  prometheus::Counter* files_written_ = nullptr;
  prometheus::Counter* push_failed_ = nullptr;
  std::unique_ptr<sqlite::Db> db_;
  Store store_;  // on db_
};

}  // namespace henvis::notifier
