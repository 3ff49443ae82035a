#pragma once
// How each recipient is reached (docs/design.md "Contact lists"): the delivery
// mode (immediate, or a daily list at a local time on working days) and the
// channel (pull inbox, signed webhook, CSV file drop), checked once at start,
// plus the pieces the dispatcher uses to push: the HMAC signature, a small
// HTTP client and the CSV encoding.
//
// No e-mail channel: CPR numbers must not travel by e-mail.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/directory.hpp"
#include "henvis/http_client.hpp"
#include "henvis/v1/config.pb.h"
#include "henvis/v1/events.pb.h"
#include "henvis/workdays.hpp"

namespace henvis::notifier {

using TimePoint = std::chrono::system_clock::time_point;

// A system clock shared by the constructors that are not given one.
const Clock& system_clock();

// An http:// or https:// URL split for Boost.Beast.
struct HttpUrl {
  std::string host;
  std::string port = "80";   // 443 for https
  std::string target = "/";  // path and query
  bool tls = false;          // https
};

// Parses "https://host[:port][/path]", or "http://..." when `plain_allowed`
// (a dev config); throws std::invalid_argument otherwise.
HttpUrl parse_http_url(const std::string& url, bool plain_allowed = true);

// "HH:MM" (00:00-23:59) as minutes after midnight; throws std::invalid_argument.
std::chrono::minutes parse_hh_mm(const std::string& s);

struct RecipientChannel {
  v1::Channel channel = v1::CHANNEL_INBOX;
  bool daily = false;
  std::chrono::minutes daily_at{0};
  // CHANNEL_WEBHOOK
  std::string webhook_url;
  HttpUrl webhook;
  // The CA file the receiver's certificate must lead to (resolved); empty =
  // the system trust store.
  std::string webhook_ca_file;
  // The HMAC keys, one or (during a rotation: webhook_secret_file and
  // webhook_secret_file_next) two; never logged, never in an error.
  std::vector<std::string> webhook_keys;
  // CHANNEL_FILE: absolute or relative to the working directory, created.
  std::string drop_dir;
};

// Everything the notifier needs to know about delivery, checked at start.
class Settings {
 public:
  // Every recipient reached immediately through the pull inbox, default
  // retry settings, the default Danish calendar.
  Settings() = default;
  // Checks every recipient of the directory and loads webhook keys and
  // creates drop directories (paths relative to `config_dir`; with
  // `create_dirs` false, as `henvisctl config check` does, they are only
  // checked not to be something else). Throws config::Error naming the
  // recipient and the field on a bad value.
  Settings(const Directory& directory, const v1::ServiceConfig& config,
           const std::string& config_dir, bool create_dirs = true);

  // A recipient's channel; the default (inbox, immediate) for one not listed.
  const RecipientChannel& of(const std::string& recipient_id) const;
  const workdays::Calendar& calendar() const { return calendar_; }
  int webhook_max_attempts() const { return max_attempts_; }
  std::chrono::milliseconds webhook_initial_backoff() const { return initial_backoff_; }
  std::chrono::milliseconds dispatch_interval() const { return dispatch_interval_; }
  // The wait after the n-th failed attempt (n >= 1): initial * 2^(n-1).
  std::chrono::milliseconds backoff(int failed_attempts) const;

  // For tests: sets one recipient's channel directly (no file checks).
  void set(const std::string& recipient_id, RecipientChannel c) {
    by_recipient_[recipient_id] = std::move(c);
  }
  void set_retry(int max_attempts, std::chrono::milliseconds initial_backoff) {
    max_attempts_ = max_attempts;
    initial_backoff_ = initial_backoff;
  }

 private:
  std::map<std::string, RecipientChannel> by_recipient_;
  workdays::Calendar calendar_;
  int max_attempts_ = 6;
  std::chrono::milliseconds initial_backoff_{1000};
  std::chrono::milliseconds dispatch_interval_{500};
};

// When something handed to the notifier at `now` becomes available to a
// DAILY recipient: the list time `at` (Europe/Copenhagen) on the next working
// day, where today counts if it is a working day and the list time has not
// passed yet (a notification arriving exactly at the list time is on it).
TimePoint next_list_time(const workdays::Calendar& calendar, std::chrono::minutes at,
                         TimePoint now);

// Webhook signatures, scheme v2 (in the style of Stripe and Standard
// Webhooks). Every POST carries
//   X-Henvis-Notification-Id: <notification id>
//   X-Henvis-Timestamp: <Unix seconds, decimal>
//   X-Henvis-Signature: v2=<hex>[, v2=<hex>]   (one per active key)
//   X-Henvis-Signature-Tolerance: <seconds>    (WEBHOOK_TOLERANCE)
// where <hex> is the lowercase hex HMAC-SHA256 under a key of the signed
// content "<timestamp>.<notification id>.<body>" (the header values and the
// exact body bytes, joined by '.'). A receiver accepts a request when one of
// the v2 entries matches one of its keys and the timestamp is within the
// tolerance of its clock, and de-duplicates by the notification id.
inline constexpr std::chrono::seconds WEBHOOK_TOLERANCE{300};

// "<timestamp>.<notification id>.<body>".
std::string webhook_signed_content(const std::string& timestamp, const std::string& notification_id,
                                   const std::string& body);
// "v2=<hex>" for each key, joined by ", ".
std::string webhook_signature(const std::vector<std::string>& keys, const std::string& timestamp,
                              const std::string& notification_id, const std::string& body);
// The receiver's check (the reference for receivers; the tests use it):
// true when `timestamp` is Unix seconds within `tolerance` of `now` (either
// way) and an entry of `signature` is v2= over the signed content under one
// of `keys` (compared in constant time). A changed body, notification id or
// timestamp, a stale timestamp or an unknown key all give false.
bool verify_webhook_signature(const std::string& signature, const std::string& timestamp,
                              const std::string& notification_id, const std::string& body,
                              const std::vector<std::string>& keys, TimePoint now,
                              std::chrono::seconds tolerance = WEBHOOK_TOLERANCE);

struct PostResult {
  int status = 0;     // HTTP status; 0 when no response was read
  std::string error;  // transport error (never contains the body)
  bool ok() const { return status >= 200 && status < 300; }
};

// Bound on every webhook request (connect, write, read together).
inline constexpr std::chrono::seconds WEBHOOK_TIMEOUT{10};
// The largest answer read from a receiver; only its status is used.
inline constexpr std::size_t WEBHOOK_BODY_LIMIT = 64 * 1024;

// POSTs `body` with the headers on a fresh connection (henvis/http_client;
// https: the receiver's certificate verified against `ca_file`, or the
// system trust store when empty, and its host name checked, before a byte
// of the body is sent); synchronous, bounded by `timeout`. Never throws: a
// transport error is in `error` as "<step>: <message>".
PostResult http_post(const HttpUrl& url, const http::Headers& headers, const std::string& body,
                     std::chrono::milliseconds timeout = WEBHOOK_TIMEOUT,
                     const std::string& ca_file = {});

// The CSV contact list (RFC 4180: CRLF line ends, each field a csv::cell, so
// quoted where needed and never run by a spreadsheet as a formula).
inline constexpr const char* CSV_HEADER =
    "notification_id,kind,referral_id,municipality,offence,charged_at,cpr,name,phone,email,"
    "preferred_contact_time,prior_referrals_90d,prior_referrals_5y";
std::string csv_line(const std::string& notification_id, v1::NotificationKind kind,
                     const v1::ReferralContact& c);

// Lower-case names without the enum prefix: "new_referral", "drunk".
std::string kind_name(v1::NotificationKind k);
std::string offence_name(v1::Offence o);

}  // namespace henvis::notifier
