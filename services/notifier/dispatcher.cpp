#include "dispatcher.hpp"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>

#include "henvis/access_log.hpp"
#include "henvis/ids.hpp"
#include "notifier.hpp"

namespace henvis::notifier {

namespace {
void count(prometheus::Counter* c) {
  if (c) c->Increment();
}

constexpr const char* CHANNEL_WEBHOOK = "webhook";
constexpr const char* CHANNEL_FILE = "file";
// Rows handled per round at most; the rest wait for the next round.
constexpr int ROUND_LIMIT = 1000;

// yyyymmddThhmmssZ (UTC).
std::string compact_utc(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Keeps [A-Za-z0-9._-] so that an id is safe in a file name.
std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s)
    out +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out;
}

void write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("write: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

void fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("open for fsync: ") + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error(std::string("fsync: ") + std::strerror(err));
}

v1::Role role_of(const v1::Recipient* r) {
  if (!r) return v1::ROLE_UNSPECIFIED;
  switch (r->kind()) {
    case v1::RECIPIENT_KIND_CENTRE:
      return v1::ROLE_CENTRE;
    case v1::RECIPIENT_KIND_MUNICIPALITY:
      return v1::ROLE_MUNICIPALITY;
    case v1::RECIPIENT_KIND_COORDINATOR:
      return v1::ROLE_COORDINATOR;
    default:
      return v1::ROLE_UNSPECIFIED;
  }
}

// The JSON body of a webhook POST: the entry as the pull inbox shows it. An
// underretning carries its notice; an escalation of one carries the notice
// and the referral part (why, and whose delivery failed).
std::string webhook_body(const std::string& notification_id, v1::NotificationKind kind,
                         const std::optional<v1::UnderretningNotice>& underretning,
                         const v1::ReferralContact& contact, TimePoint at) {
  v1::InboxEntry e;
  e.set_notification_id(notification_id);
  e.set_kind(kind);
  if (underretning) *e.mutable_underretning() = *underretning;
  if (!underretning || contact.ByteSizeLong() > 0) *e.mutable_referral() = contact;
  *e.mutable_delivered_at() = to_timestamp(at);
  std::string body;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = false;
  if (!google::protobuf::util::MessageToJsonString(e, &body, opts).ok())
    throw std::runtime_error("webhook body could not be encoded");
  return body;
}

// Writes `data` to `tmp`, syncs it, renames it to `final_path` and syncs the
// directory `dir`; throws std::runtime_error ("<step>: <reason>") and leaves
// no temp file behind on failure.
void write_file_durably(const std::string& tmp, const std::string& final_path,
                        const std::string& dir, const std::string& data) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) throw std::runtime_error(std::string("open: ") + std::strerror(errno));
  try {
    write_all(fd, data);
    if (::fsync(fd) != 0) throw std::runtime_error(std::string("fsync: ") + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(std::string("close: ") + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(std::string("rename: ") + std::strerror(err));
  }
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}
}  // namespace

Dispatcher::Dispatcher(const std::string& db_path, Directory directory, Settings settings,
                       outbox::Relay* relay, const Clock& clock, http::Metrics* metrics)
    : db_path_(db_path),
      directory_(std::move(directory)),
      settings_(std::move(settings)),
      relay_(relay),
      clock_(&clock),
      db_(std::make_unique<sqlite::Db>(db_path)),
      store_(*db_) {
  if (metrics) {
    webhook_attempts_ =
        &metrics->counter("henvis_notifier_webhook_attempts_total", "Webhook POSTs made");
    file_drop_failures_ =
        &metrics->counter("henvis_notifier_file_drop_failures_total", "File drops that failed");
    files_written_ = &metrics->counter("henvis_notifier_files_written_total", "Files dropped");
    push_failed_ = &metrics->counter("henvis_notifier_push_failed_total",
                                     "Notifications failed after their last attempt");
  }
  // A temp file is a drop that never committed; its rows are still pending
  // and will be written again.
  for (const auto& r : directory_.raw().recipients()) {
    const auto& c = settings_.of(r.id());
    if (c.channel != v1::CHANNEL_FILE) continue;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(c.drop_dir, ec)) {
      const std::string name = f.path().filename().string();
      if (name.rfind(".tmp-", 0) == 0) std::filesystem::remove(f.path(), ec);
    }
  }
}

void Dispatcher::run(const std::atomic<bool>& stop) {
  using namespace std::chrono_literals;
  while (!stop.load()) {
    try {
      run_once();
    } catch (const std::exception& e) {
      // SQLite's and the file system's messages carry no personal data.
      spdlog::error("dispatch round failed error={}", e.what());
    }
    const auto until = std::chrono::steady_clock::now() + settings_.dispatch_interval();
    while (!stop.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          100ms, until - std::chrono::steady_clock::now()));
  }
}

int Dispatcher::run_once() {
  sqlite::Db& db = *db_;
  int handled = 0;
  // Pull-inbox rows whose (daily list) time has come.
  {
    sqlite::Transaction tx(db);
    handled += deliver_due_inbox_rows(db, settings_, *clock_);
    tx.commit();
  }
  if (handled && relay_) relay_->notify();

  // Push rows that are due, grouped by recipient in the order they came.
  const TimePoint now = clock_->now();
  std::map<std::string, std::vector<Row>> by_recipient;
  for (Row& r : store_.due_pushes(now, ROUND_LIMIT))
    by_recipient[r.recipient].push_back(std::move(r));
  for (auto& [recipient, rows] : by_recipient) {
    switch (settings_.of(recipient).channel) {
      case v1::CHANNEL_WEBHOOK:
        handled += push_webhook(recipient, rows);
        break;
      case v1::CHANNEL_FILE:
        handled += drop_file(recipient, rows);
        break;
      default:
        break;  // inbox rows were delivered above
    }
  }
  return handled;
}

int Dispatcher::push_webhook(const std::string& recipient, std::vector<Row>& rows) {
  const RecipientChannel& c = settings_.of(recipient);
  const v1::Recipient* who = directory_.recipient(recipient);
  int handled = 0;
  for (const Row& row : rows) {
    // As stored: the body shows the delivered_at a later inbox read shows.
    const TimePoint at = sqlite::from_unix_ms(sqlite::unix_ms(clock_->now()));
    const std::string body = webhook_body(row.id, row.kind, row.underretning, row.contact, at);
    // The signature covers the timestamp, the notification id and the exact
    // body bytes (channels.hpp, scheme v2). The keys are never logged.
    const std::string timestamp =
        std::to_string(std::chrono::floor<std::chrono::seconds>(at).time_since_epoch().count());
    const http::Headers headers = {
        {"Content-Type", "application/json"},
        {"X-Henvis-Signature", webhook_signature(c.webhook_keys, timestamp, row.id, body)},
        {"X-Henvis-Notification-Id", row.id},
        {"X-Henvis-Timestamp", timestamp},
        {"X-Henvis-Signature-Tolerance", std::to_string(WEBHOOK_TOLERANCE.count())}};
    const PostResult res = http_post(c.webhook, headers, body, WEBHOOK_TIMEOUT, c.webhook_ca_file);
    count(webhook_attempts_);

    sqlite::Transaction tx(*db_);
    // The body may have reached the receiver whatever the answer.
    access_log::record(*db_, auth::Principal{"notifier-webhook", role_of(who), recipient, {}},
                       row.underretning ? row.underretning->underretning_id() : row.referral_id,
                       "webhook");
    if (res.ok()) {
      if (store_.mark_webhook_delivered(row.id, at))
        emit_delivery(*db_, *clock_, row.id, recipient, row.referral_id,
                      v1::DELIVERY_STATUS_DELIVERED, CHANNEL_WEBHOOK);
      tx.commit();
      spdlog::info("delivered by webhook notification_id={} recipient={} referral_id={} status={}",
                   row.id, recipient, row.referral_id, res.status);
    } else {
      const std::string error =
          res.status ? "HTTP status " + std::to_string(res.status) : res.error;
      failed_attempt(row, CHANNEL_WEBHOOK, error, "webhook_failed");
      tx.commit();
    }
    ++handled;
    if (relay_) relay_->notify();
    // The endpoint is failing: leave its other rows for a later round rather
    // than wait out a timeout for each of them now.
    if (!res.ok()) break;
  }
  return handled;
}

int Dispatcher::drop_file(const std::string& recipient, std::vector<Row>& rows) {
  const RecipientChannel& c = settings_.of(recipient);
  const v1::Recipient* who = directory_.recipient(recipient);
  const TimePoint at = clock_->now();
  std::string csv = std::string(CSV_HEADER) + "\r\n";
  for (const Row& row : rows) csv += csv_line(row.id, row.kind, row.contact);
  const std::string tmp = c.drop_dir + "/.tmp-" + new_uuid() + ".csv";
  const std::string name = "henvis-" + file_safe(recipient) + "-" + compact_utc(at) + "-" +
                           file_safe(rows.front().id) + ".csv";
  try {
    // Write the file first, then commit. If the commit below fails (or the
    // process dies in between), the rows are still pending and the next round
    // writes them into a new file: a duplicate file is acceptable, a lost row
    // is not. Rows in a file already dropped cannot be recalled by a later
    // consent withdrawal; the WITHDRAWN row that follows tells the centre.
    write_file_durably(tmp, c.drop_dir + "/" + name, c.drop_dir, csv);
  } catch (const std::exception& e) {
    count(file_drop_failures_);
    sqlite::Transaction tx(*db_);
    for (const Row& row : rows) failed_attempt(row, CHANNEL_FILE, e.what(), "file_failed");
    tx.commit();
    if (relay_) relay_->notify();
    return static_cast<int>(rows.size());
  }
  count(files_written_);
  sqlite::Transaction tx(*db_);
  for (const Row& row : rows) {
    if (!store_.mark_file_delivered(row.id, at, name)) continue;
    emit_delivery(*db_, *clock_, row.id, recipient, row.referral_id, v1::DELIVERY_STATUS_DELIVERED,
                  CHANNEL_FILE);
    access_log::record(*db_, auth::Principal{"notifier-file", role_of(who), recipient, {}},
                       row.referral_id, "file");
  }
  tx.commit();
  if (relay_) relay_->notify();
  spdlog::info("dropped contact list recipient={} file={} rows={}", recipient, name, rows.size());
  return static_cast<int>(rows.size());
}

void Dispatcher::failed_attempt(const Row& row, const std::string& channel,
                                const std::string& error, const std::string& reason) {
  const TimePoint now = clock_->now();
  const int attempts = row.attempts + 1;
  if (attempts < settings_.webhook_max_attempts()) {
    const TimePoint next = now + settings_.backoff(attempts);
    store_.schedule_retry(row.id, attempts, next, error);
    spdlog::warn(
        "{} delivery failed, will retry notification_id={} recipient={} attempt={} "
        "next_attempt_at={} error={}",
        channel, row.id, row.recipient, attempts, rfc3339(next), error);
    return;
  }
  if (!store_.mark_failed(row.id, channel, attempts, error)) return;
  count(push_failed_);
  emit_delivery(*db_, *clock_, row.id, row.recipient, row.referral_id, v1::DELIVERY_STATUS_FAILED,
                channel);
  spdlog::error("{} delivery gave up notification_id={} recipient={} attempts={} error={}", channel,
                row.id, row.recipient, attempts, error);
  escalate(row, reason);
}

void Dispatcher::escalate(const Row& row, const std::string& reason) {
  const v1::Recipient* failed = directory_.recipient(row.recipient);
  const v1::Recipient* coordinator =
      failed ? directory_.coordinator(failed->district_id()) : nullptr;
  if (!coordinator || coordinator->id() == row.recipient) {
    // The coordinator's own push failed (or there is none): escalating to
    // the same place again would loop. The row stays in the pull inbox.
    spdlog::error(
        "cannot escalate failed delivery notification_id={} recipient={}: no other "
        "coordinator; it stays in the recipient's pull inbox",
        row.id, row.recipient);
    return;
  }
  v1::NotificationRequested n;
  n.set_notification_id(new_uuid());
  n.set_recipient_id(coordinator->id());
  n.set_kind(v1::NOTIFICATION_KIND_ESCALATION);
  // The contact goes with it (the coordinator is entitled to it) so that a
  // person can phone the centre, or the person, today.
  *n.mutable_referral() = row.contact;
  n.mutable_referral()->set_reason(reason);
  if (n.referral().centre_id().empty()) n.mutable_referral()->set_centre_id(row.recipient);
  // An underretning the municipality did not get goes to the coordinator
  // whole: the children must not wait for the municipality's endpoint.
  if (row.underretning) *n.mutable_underretning() = *row.underretning;
  *n.mutable_requested_at() = to_timestamp(clock_->now());
  // At once whatever the coordinator's mode: a failed push is urgent.
  store_notification(*db_, settings_, *clock_, n, /*at_once=*/true);
  store_.set_escalation(row.id, n.notification_id());
  spdlog::warn(
      "escalated failed delivery notification_id={} recipient={} to={} escalation_id={} "
      "reason={}",
      row.id, row.recipient, coordinator->id(), n.notification_id(), reason);
}

}  // namespace henvis::notifier
