#include "channels.hpp"

#include <google/protobuf/util/time_util.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "henvis/config.hpp"
#include "henvis/csv.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/tls.hpp"

namespace henvis::notifier {

namespace {
std::string lower_suffix(const std::string& enum_name, const std::string& prefix) {
  std::string s = enum_name.rfind(prefix, 0) == 0 ? enum_name.substr(prefix.size()) : enum_name;
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

HttpUrl parse_http_url(const std::string& url, bool plain_allowed) {
  HttpUrl u;
  u.tls = url.rfind("https://", 0) == 0;
  if (!u.tls && !(plain_allowed && url.rfind("http://", 0) == 0))
    throw std::invalid_argument(plain_allowed ? "must start with https:// or http://"
                                              : "must start with https:// (http:// only in a "
                                                "dev config)");
  if (u.tls) u.port = "443";
  std::string rest = url.substr(u.tls ? 8 : 7);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.target = rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos)
    throw std::invalid_argument("must name a host (host:port, no user info)");
  auto colon = authority.rfind(':');
  u.host = authority.substr(0, colon);
  if (colon != std::string::npos) {
    u.port = authority.substr(colon + 1);
    if (u.port.empty() || u.port.size() > 5 ||
        u.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(u.port) == 0 ||
        std::stoi(u.port) > 65535)
      throw std::invalid_argument("has a bad port");
  }
  if (u.host.empty()) throw std::invalid_argument("must name a host");
  for (char c : u.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      throw std::invalid_argument("has a space or control character in the path");
  return u;
}

std::chrono::minutes parse_hh_mm(const std::string& s) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.size() != 5 || !digit(s[0]) || !digit(s[1]) || s[2] != ':' || !digit(s[3]) || !digit(s[4]))
    throw std::invalid_argument("must be HH:MM");
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) throw std::invalid_argument("must be a time of day 00:00-23:59");
  return std::chrono::minutes(h * 60 + m);
}

namespace {
// The delivery mode: immediate, or a daily list at a local time.
void set_mode(RecipientChannel& c, const v1::Recipient& r, const std::string& who) {
  switch (r.mode()) {
    case v1::DELIVERY_MODE_UNSPECIFIED:
    case v1::DELIVERY_MODE_IMMEDIATE:
      if (!r.daily_at().empty())
        throw config::Error(who + "daily_at is set but mode is not DELIVERY_MODE_DAILY");
      break;
    case v1::DELIVERY_MODE_DAILY:
      c.daily = true;
      try {
        c.daily_at = parse_hh_mm(r.daily_at());
      } catch (const std::invalid_argument& e) {
        throw config::Error(who + "daily_at " + e.what() + " (Europe/Copenhagen)");
      }
      break;
    default:
      throw config::Error(who + "mode is not a known DeliveryMode");
  }
}

// The key in `file` (relative to `config_dir`); a config::Error naming the
// field and the path, never the key, when it cannot be used.
std::string key_of(const std::string& field, const std::string& config_dir,
                   const std::string& file) {
  try {
    return config::read_secret_file(config::resolve(config_dir, file), field);
  } catch (const std::invalid_argument& e) {
    throw config::Error(e.what());
  }
}

// `dev`: http:// URLs allowed (ServiceConfig.dev).
void set_webhook(RecipientChannel& c, const v1::Recipient& r, const std::string& who,
                 const std::string& config_dir, bool dev) {
  c.channel = v1::CHANNEL_WEBHOOK;
  if (r.webhook_url().empty()) throw config::Error(who + "webhook_url is required");
  try {
    c.webhook = parse_http_url(r.webhook_url(), dev);
  } catch (const std::invalid_argument& e) {
    throw config::Error(who + "webhook_url " + e.what());
  }
  c.webhook_url = r.webhook_url();
  if (!r.webhook_ca_file().empty()) {
    if (!c.webhook.tls) throw config::Error(who + "webhook_ca_file is set for an http:// URL");
    c.webhook_ca_file = config::resolve(config_dir, r.webhook_ca_file());
    try {
      tls::client_context(c.webhook_ca_file);  // loads it once, as every post will
    } catch (const std::invalid_argument& e) {
      throw config::Error(who + "webhook_ca_file: " + e.what());
    }
  }
  if (r.webhook_secret_file().empty()) throw config::Error(who + "webhook_secret_file is required");
  c.webhook_keys.push_back(
      key_of(who + "webhook_secret_file", config_dir, r.webhook_secret_file()));
  // During a rotation both keys sign.
  if (!r.webhook_secret_file_next().empty())
    c.webhook_keys.push_back(
        key_of(who + "webhook_secret_file_next", config_dir, r.webhook_secret_file_next()));
}

void set_file_drop(RecipientChannel& c, const v1::Recipient& r, const std::string& who,
                   const std::string& config_dir, bool create_dirs) {
  // The CSV file is a centre's contact list (CSV_HEADER). Municipalities
  // and coordinators receive underretninger and receipt notices, which
  // it cannot carry; they would get rows without them.
  if (r.kind() != v1::RECIPIENT_KIND_CENTRE)
    throw config::Error(who +
                        "channel CHANNEL_FILE (a CSV contact list) is for centres only; a "
                        "municipality or coordinator receives underretninger: use "
                        "CHANNEL_INBOX or CHANNEL_WEBHOOK");
  c.channel = v1::CHANNEL_FILE;
  if (r.file_drop_dir().empty()) throw config::Error(who + "file_drop_dir is required");
  c.drop_dir = config::resolve(config_dir, r.file_drop_dir());
  std::error_code ec;
  if (create_dirs) std::filesystem::create_directories(c.drop_dir, ec);
  const bool ok = create_dirs ? !ec && std::filesystem::is_directory(c.drop_dir)
                              : !std::filesystem::exists(c.drop_dir) ||
                                    std::filesystem::is_directory(c.drop_dir);
  if (!ok) throw config::Error(who + "file_drop_dir " + c.drop_dir + " cannot be created");
}

RecipientChannel channel_of(const v1::Recipient& r, const std::string& config_dir, bool create_dirs,
                            bool dev) {
  const std::string who = "recipient " + r.id() + ": ";
  RecipientChannel c;
  set_mode(c, r, who);
  switch (r.channel()) {
    case v1::CHANNEL_UNSPECIFIED:
    case v1::CHANNEL_INBOX:
      c.channel = v1::CHANNEL_INBOX;
      break;
    case v1::CHANNEL_WEBHOOK:
      set_webhook(c, r, who, config_dir, dev);
      break;
    case v1::CHANNEL_FILE:
      set_file_drop(c, r, who, config_dir, create_dirs);
      break;
    default:
      throw config::Error(who + "channel is not a known Channel");
  }
  return c;
}
}  // namespace

Settings::Settings(const Directory& directory, const v1::ServiceConfig& config,
                   const std::string& config_dir, bool create_dirs)
    : calendar_(config.calendar()) {
  const auto& n = config.notifier();
  if (n.webhook_max_attempts() < 0 || n.webhook_initial_backoff_ms() < 0 ||
      n.dispatch_interval_ms() < 0)
    throw config::Error(
        "notifier: webhook_max_attempts, webhook_initial_backoff_ms and "
        "dispatch_interval_ms must not be negative");
  if (n.webhook_max_attempts() > 0) max_attempts_ = n.webhook_max_attempts();
  if (n.webhook_initial_backoff_ms() > 0)
    initial_backoff_ = std::chrono::milliseconds(n.webhook_initial_backoff_ms());
  if (n.dispatch_interval_ms() > 0)
    dispatch_interval_ = std::chrono::milliseconds(n.dispatch_interval_ms());
  for (const auto& r : directory.raw().recipients())
    by_recipient_[r.id()] = channel_of(r, config_dir, create_dirs, config.dev());
}

const RecipientChannel& Settings::of(const std::string& recipient_id) const {
  static const RecipientChannel inbox;
  auto it = by_recipient_.find(recipient_id);
  return it == by_recipient_.end() ? inbox : it->second;
}

std::chrono::milliseconds Settings::backoff(int failed_attempts) const {
  auto d = initial_backoff_;
  for (int i = 1; i < failed_attempts && d < std::chrono::hours(24); ++i) d *= 2;
  return d;
}

TimePoint next_list_time(const workdays::Calendar& calendar, std::chrono::minutes at,
                         TimePoint now) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(now);
  workdays::Day d = workdays::local_day(secs);
  if (calendar.is_working_day(d)) {
    TimePoint today = workdays::at_local(d, at);
    if (today >= now) return today;
  }
  return workdays::at_local(calendar.next_working_day(d), at);
}

std::string webhook_signed_content(const std::string& timestamp, const std::string& notification_id,
                                   const std::string& body) {
  return timestamp + "." + notification_id + "." + body;
}

std::string webhook_signature(const std::vector<std::string>& keys, const std::string& timestamp,
                              const std::string& notification_id, const std::string& body) {
  const std::string content = webhook_signed_content(timestamp, notification_id, body);
  std::string out;
  for (const auto& key : keys) {
    if (!out.empty()) out += ", ";
    out += "v2=" + hmac_sha256_hex(key, content);
  }
  return out;
}

namespace {
// Unix seconds from a decimal header value (digits only, at most 12).
std::optional<std::int64_t> unix_seconds_of(const std::string& s) {
  if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(s);
}

// The "v2=" entries of a signature header, separated by commas and spaces.
std::vector<std::string> v2_entries(const std::string& header) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < header.size()) {
    const std::size_t end = std::min(header.find(',', i), header.size());
    std::string item = header.substr(i, end - i);
    const auto first = item.find_first_not_of(' ');
    const auto last = item.find_last_not_of(' ');
    item = first == std::string::npos ? "" : item.substr(first, last - first + 1);
    if (item.rfind("v2=", 0) == 0) out.push_back(item.substr(3));
    i = end + 1;
  }
  return out;
}
}  // namespace

bool verify_webhook_signature(const std::string& signature, const std::string& timestamp,
                              const std::string& notification_id, const std::string& body,
                              const std::vector<std::string>& keys, TimePoint now,
                              std::chrono::seconds tolerance) {
  const auto sent = unix_seconds_of(timestamp);
  if (!sent) return false;
  const auto now_s = std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
  if (*sent < now_s - tolerance.count() || *sent > now_s + tolerance.count()) return false;
  const std::string content = webhook_signed_content(timestamp, notification_id, body);
  for (const auto& key : keys) {
    const std::string expected = hmac_sha256_hex(key, content);
    for (const auto& got : v2_entries(signature))
      if (got.size() == expected.size() &&
          CRYPTO_memcmp(got.data(), expected.data(), expected.size()) == 0)
        return true;
  }
  return false;
}

PostResult http_post(const HttpUrl& url, const http::Headers& headers, const std::string& body,
                     std::chrono::milliseconds timeout, const std::string& ca_file) {
  http::Headers all{{"User-Agent", "henvis-notifier"}};
  all.insert(all.end(), headers.begin(), headers.end());
  try {
    const auto res = http::request({url.host, url.port, url.tls}, "POST", url.target, all, body,
                                   {timeout, WEBHOOK_BODY_LIMIT, ca_file});
    return {res.status, {}};
  } catch (const std::exception& e) {
    return {0, e.what()};
  }
}

std::string kind_name(v1::NotificationKind k) {
  return lower_suffix(v1::NotificationKind_Name(k), "NOTIFICATION_KIND_");
}

std::string offence_name(v1::Offence o) { return lower_suffix(v1::Offence_Name(o), "OFFENCE_"); }

std::string csv_line(const std::string& notification_id, v1::NotificationKind kind,
                     const v1::ReferralContact& c) {
  const auto& p = c.person();
  std::string municipality = c.municipality_name();
  if (municipality.empty() && c.kommunekode() != 0) municipality = std::to_string(c.kommunekode());
  const std::string charged =
      c.has_charged_at() ? google::protobuf::util::TimeUtil::ToString(c.charged_at()) : "";
  const std::vector<std::string> fields = {
      notification_id,
      kind_name(kind),
      c.referral_id(),
      municipality,
      c.offence() == v1::OFFENCE_UNSPECIFIED ? "" : offence_name(c.offence()),
      charged,
      p.cpr(),
      p.name(),
      p.phone(),
      p.email(),
      p.preferred_contact_time(),
      std::to_string(c.prior_referrals_90d()),
      std::to_string(c.prior_referrals_5y())};
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += csv::cell(fields[i]);
  }
  line += "\r\n";
  return line;
}

}  // namespace henvis::notifier
