// notifier delivery modes and channels (docs/design.md "Contact lists"): daily
// lists at a local time on working days (DST included), the signed webhook
// with retries, backoff and escalation, the CSV file drop, and consent
// withdrawal erasing the person data of every row of the referral.

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "channels.hpp"
#include "dispatcher.hpp"
#include "henvis/clock.hpp"
#include "henvis/config.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"
#include "notifier.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using henvis::test::dev_directory;
using henvis::test::scalar;
using henvis::test::TempDir;
using namespace std::chrono_literals;

constexpr const char* CPR = "0101901234";
constexpr const char* NAME = "Jens Testesen";
constexpr const char* PHONE = "+4523456789";
constexpr const char* CENTRE = "rusmiddelcenter-657";
constexpr const char* COORDINATOR = "coordinator-mvj";
constexpr const char* MUNICIPALITY = "kommune-657";
constexpr const char* CHILD_CPR = "0101151234";
constexpr const char* KEY = "test-webhook-key";
constexpr const char* NEXT_KEY = "test-webhook-key-next";  // a rotation's new key

std::chrono::system_clock::time_point instant(const std::string& s) {
  auto t = henvis::test::ts(s);
  return std::chrono::system_clock::time_point(
      std::chrono::microseconds(google::protobuf::util::TimeUtil::TimestampToMicroseconds(t)));
}

std::int64_t ms(const std::string& s) { return henvis::notifier::to_ms(instant(s)); }

henvis::v1::NotificationRequested notification(
    const std::string& id, const std::string& recipient,
    henvis::v1::NotificationKind kind = henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL,
    const std::string& referral = "") {
  henvis::v1::NotificationRequested n;
  n.set_notification_id(id);
  n.set_recipient_id(recipient);
  n.set_kind(kind);
  auto* c = n.mutable_referral();
  c->set_referral_id(referral.empty() ? "ref-" + id : referral);
  c->set_journal_number("4100-84123-00042-24");
  c->set_offence(henvis::v1::OFFENCE_DRUNK);
  *c->mutable_charged_at() = henvis::test::ts("2025-05-15T22:10:00Z");
  c->set_kommunekode(657);
  c->set_municipality_name("Herning");
  c->set_centre_id(CENTRE);
  c->set_prior_referrals_90d(1);
  c->set_prior_referrals_5y(2);
  if (kind != henvis::v1::NOTIFICATION_KIND_WITHDRAWN) {
    c->mutable_person()->set_cpr(CPR);
    c->mutable_person()->set_name(NAME);
    c->mutable_person()->set_phone(PHONE);
    c->mutable_consent()->set_text_version("v1");
  }
  *n.mutable_requested_at() = henvis::now_timestamp();
  return n;
}

henvis::kafka::Message message(const henvis::v1::NotificationRequested& n) {
  henvis::kafka::Message m;
  m.topic = henvis::topics::NOTIFICATIONS;
  m.key = n.recipient_id();
  m.payload = n.SerializeAsString();
  m.headers = {{henvis::kafka::header::ID, henvis::new_uuid()},
               {henvis::kafka::header::TYPE, henvis::event_types::NOTIFICATION_REQUESTED}};
  return m;
}

std::vector<henvis::v1::DeliveryEvent> deliveries(henvis::sqlite::Db& db, const std::string& type) {
  std::vector<henvis::v1::DeliveryEvent> out;
  henvis::sqlite::Stmt s(db, "SELECT payload, headers FROM outbox ORDER BY id");
  while (s.step()) {
    henvis::v1::Headers hs;
    hs.ParseFromString(s.blob(1));
    std::string t;
    for (const auto& h : hs.header())
      if (h.key() == henvis::kafka::header::TYPE) t = h.value();
    if (t != type) continue;
    henvis::v1::DeliveryEvent d;
    REQUIRE(d.ParseFromString(s.blob(0)));
    out.push_back(d);
  }
  return out;
}

henvis::http::Request inbox_request(const std::string& scope,
                                    henvis::v1::Role role = henvis::v1::ROLE_CENTRE) {
  henvis::http::Request r;
  r.method = "GET";
  r.path = "/v1/inbox";
  r.principal = henvis::auth::Principal{"test-" + scope, role, scope, {}};
  return r;
}

henvis::v1::Inbox parse_inbox(const henvis::http::Response& r) {
  henvis::v1::Inbox out;
  INFO(r.body);
  REQUIRE(r.status == 200);
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok());
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A notifier on a temp directory: the dev directory with rusmiddelcenter-657
// changed by `configure`, the settings built and checked as at start, a
// migrated database, a ManualClock.
// A recipient reached by the signed webhook at `url`, keyed with webhook.key.
void webhook_to(henvis::v1::Recipient& r, const std::string& url) {
  r.set_channel(henvis::v1::CHANNEL_WEBHOOK);
  r.set_webhook_url(url);
  r.set_webhook_secret_file("webhook.key");
}

struct Notifier {
  // `configure` adjusts the recipient `configured` (the Herning centre unless
  // given) in the dev directory.
  explicit Notifier(const std::string& start,
                    const std::function<void(henvis::v1::Recipient&)>& configure,
                    const std::string& notifier_settings = "",
                    const std::string& configured = CENTRE)
      : tmp("henvis-notifier-channels"), clock(instant(start)) {
    tmp.write("webhook.key", std::string(KEY) + "\n");
    tmp.write("webhook-next.key", std::string(NEXT_KEY) + "\n");
    henvis::v1::Directory d = dev_directory().raw();
    for (auto& r : *d.mutable_recipients())
      if (r.id() == configured) configure(r);
    directory = henvis::Directory(d);
    henvis::v1::ServiceConfig config;
    if (!notifier_settings.empty()) {
      tmp.write("notifier.textproto", notifier_settings);
      henvis::config::load(tmp.file("notifier.textproto"), config);
    }
    config.set_dev(true);  // the test receivers speak plain http
    settings = henvis::notifier::Settings(directory, config, tmp.path.string());
    db_path = tmp.file("notifier.db");
    db = std::make_unique<henvis::sqlite::Db>(db_path);
    db->migrate(henvis::notifier::migrations());
    applier = std::make_unique<henvis::notifier::Applier>(directory, settings, clock);
    api = std::make_unique<henvis::notifier::Api>(db_path, directory, nullptr, settings, clock);
    restart_dispatcher();
  }
  void restart_dispatcher() {
    dispatcher.reset();
    dispatcher = std::make_unique<henvis::notifier::Dispatcher>(db_path, directory, settings,
                                                                nullptr, clock);
  }
  void apply(const henvis::v1::NotificationRequested& n) {
    henvis::sqlite::Transaction tx(*db);
    applier->apply(message(n), *db);
    tx.commit();
  }
  std::int64_t value(const std::string& sql, const std::string& arg) {
    return scalar(*db, sql, arg);
  }

  TempDir tmp;
  henvis::ManualClock clock;
  henvis::Directory directory;
  henvis::notifier::Settings settings;
  std::string db_path;
  std::unique_ptr<henvis::sqlite::Db> db;
  std::unique_ptr<henvis::notifier::Applier> applier;
  std::unique_ptr<henvis::notifier::Api> api;
  std::unique_ptr<henvis::notifier::Dispatcher> dispatcher;
};

void daily_at_0730(henvis::v1::Recipient& r) {
  r.set_mode(henvis::v1::DELIVERY_MODE_DAILY);
  r.set_daily_at("07:30");
}

// A webhook receiver written the way a centre would: it checks
// X-Henvis-Signature over the timestamp, notification id and body with the
// shared key, and the timestamp's freshness against the notifier's clock
// (henvis::notifier::verify_webhook_signature, the receivers' reference).
// One request per connection, on a thread of its own.
class Receiver {
 public:
  struct Received {
    std::string body;
    std::string signature;
    std::string notification_id;
    std::string timestamp;
    std::string content_type;
    std::string tolerance;
    bool signature_ok = false;
  };

  Receiver(std::string key, int status) : key_(std::move(key)), status_(status) {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    // Unblock accept() with a connection of our own.
    boost::system::error_code ec;
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  // The receiver's clock for the freshness check: the notifier's ManualClock.
  void set_clock(const henvis::Clock& clock) { clock_ = &clock; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/henvis/hook"; }
  void set_status(int status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void serve() {
    while (!stop_) {
      asio::ip::tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      beast::flat_buffer buffer;
      bhttp::request<bhttp::string_body> req;
      bhttp::read(socket, buffer, req, ec);
      if (ec) continue;
      Received r;
      r.body = req.body();
      r.signature = std::string(req["X-Henvis-Signature"]);
      r.notification_id = std::string(req["X-Henvis-Notification-Id"]);
      r.timestamp = std::string(req["X-Henvis-Timestamp"]);
      r.content_type = std::string(req[bhttp::field::content_type]);
      r.tolerance = std::string(req["X-Henvis-Signature-Tolerance"]);
      const auto now = clock_ ? clock_.load()->now() : std::chrono::system_clock::now();
      r.signature_ok = henvis::notifier::verify_webhook_signature(
          r.signature, r.timestamp, r.notification_id, r.body, {key_}, now);
      int status;
      {
        std::lock_guard lock(mu_);
        received_.push_back(r);
        status = status_;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
      res.set(bhttp::field::content_type, "text/plain");
      res.body() = "ok";
      res.prepare_payload();
      bhttp::write(socket, res, ec);
      socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    }
  }

  std::string key_;
  std::atomic<const henvis::Clock*> clock_{nullptr};
  std::mutex mu_;
  int status_;
  std::vector<Received> received_;
  std::atomic<bool> stop_{false};
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_{ioc_};
  unsigned short port_ = 0;
  std::thread thread_;
};

// A loopback port with nothing listening on it.
unsigned short closed_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("notifier channels: the list time is the next working day's, today counting if not past",
          "[notifier][channels]") {
  // Given the Danish calendar and a list time of 07:30 Europe/Copenhagen
  henvis::workdays::Calendar cal;
  auto next = [&](const std::string& now) {
    return henvis::notifier::next_list_time(cal, 7h + 30min, instant(now));
  };
  // When a notification arrives on a working day before, at and after the list time
  // Then the same morning counts until and including 07:30, after it the next working day
  CHECK(next("2025-05-14T05:00:00Z") == instant("2025-05-14T05:30:00Z"));  // Wed 07:00 CEST
  CHECK(next("2025-05-14T05:30:00Z") == instant("2025-05-14T05:30:00Z"));  // exactly 07:30
  CHECK(next("2025-05-14T05:30:01Z") == instant("2025-05-15T05:30:00Z"));  // Thu
  // And Maundy Thursday to Easter Monday are skipped (2025: 17-21 April)
  CHECK(next("2025-04-16T10:00:00Z") == instant("2025-04-22T05:30:00Z"));
}

TEST_CASE("notifier channels: a daily recipient gets Friday afternoon's notification Monday 07:30",
          "[notifier][channels][daily]") {
  // Given a DAILY 07:30 centre and the clock at Friday 2025-05-16 16:00 CEST
  Notifier nt("2025-05-16T14:00:00Z", daily_at_0730);
  // When a notification is requested
  nt.apply(notification("n-1", CENTRE));
  // Then it is stored for Monday 2025-05-19 07:30 CEST = 05:30Z, not delivered
  CHECK(nt.value("SELECT available_at FROM inbox WHERE notification_id = ?", "n-1") ==
        ms("2025-05-19T05:30:00Z"));
  CHECK(deliveries(*nt.db, "henvis.delivery.delivered").empty());
  CHECK(parse_inbox(nt.api->inbox(inbox_request(CENTRE))).entries_size() == 0);
  // When the dispatcher runs over the weekend until one second before the list time
  for (auto t : {"2025-05-16T23:00:00Z", "2025-05-18T12:00:00Z", "2025-05-19T05:29:59Z"}) {
    nt.clock.set(instant(t));
    CHECK(nt.dispatcher->run_once() == 0);
  }
  // Then nothing is delivered or visible yet
  CHECK(deliveries(*nt.db, "henvis.delivery.delivered").empty());
  CHECK(parse_inbox(nt.api->inbox(inbox_request(CENTRE))).entries_size() == 0);
  // When the list time comes
  nt.clock.set(instant("2025-05-19T05:30:00Z"));
  CHECK(nt.dispatcher->run_once() == 1);
  // Then one DELIVERED event (inbox) and the entry is in the inbox
  auto delivered = deliveries(*nt.db, "henvis.delivery.delivered");
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].notification_id() == "n-1");
  CHECK(delivered[0].channel() == "inbox");
  CHECK(delivered[0].at().seconds() == ms("2025-05-19T05:30:00Z") / 1000);
  auto inbox = parse_inbox(nt.api->inbox(inbox_request(CENTRE)));
  REQUIRE(inbox.entries_size() == 1);
  CHECK(inbox.entries(0).referral().person().cpr() == CPR);
  // And a second round delivers nothing again
  CHECK(nt.dispatcher->run_once() == 0);
  CHECK(deliveries(*nt.db, "henvis.delivery.delivered").size() == 1);
}

TEST_CASE("notifier channels: a daily list across the autumn DST change is at 07:30 CET",
          "[notifier][channels][daily]") {
  // Given a DAILY 07:30 centre and the clock on Saturday 2025-10-25 10:00 CEST,
  // the night before clocks go back
  Notifier nt("2025-10-25T08:00:00Z", daily_at_0730);
  // When a notification is requested
  nt.apply(notification("n-autumn", CENTRE));
  // Then it becomes available Monday 2025-10-27 07:30 CET = 06:30Z
  CHECK(nt.value("SELECT available_at FROM inbox WHERE notification_id = ?", "n-autumn") ==
        ms("2025-10-27T06:30:00Z"));
  // And not at 07:30 CEST's instant (05:30Z), nor a second before 06:30Z
  nt.clock.set(instant("2025-10-27T05:30:00Z"));
  CHECK(nt.dispatcher->run_once() == 0);
  nt.clock.set(instant("2025-10-27T06:29:59Z"));
  CHECK(nt.dispatcher->run_once() == 0);
  CHECK(parse_inbox(nt.api->inbox(inbox_request(CENTRE))).entries_size() == 0);
  // When it is 06:30Z
  nt.clock.set(instant("2025-10-27T06:30:00Z"));
  // Then the inbox shows it (delivered on read even before the dispatcher's round)
  CHECK(parse_inbox(nt.api->inbox(inbox_request(CENTRE))).entries_size() == 1);
  CHECK(deliveries(*nt.db, "henvis.delivery.delivered").size() == 1);
  CHECK(nt.dispatcher->run_once() == 0);
}

TEST_CASE("notifier channels: a daily list across the spring DST change is at 07:30 CEST",
          "[notifier][channels][daily]") {
  // Given a DAILY 07:30 centre and the clock on Friday 2025-03-28 16:00 CET
  Notifier nt("2025-03-28T15:00:00Z", daily_at_0730);
  // When a notification is requested
  nt.apply(notification("n-spring", CENTRE));
  // Then it becomes available Monday 2025-03-31 07:30 CEST = 05:30Z
  CHECK(nt.value("SELECT available_at FROM inbox WHERE notification_id = ?", "n-spring") ==
        ms("2025-03-31T05:30:00Z"));
  nt.clock.set(instant("2025-03-31T05:29:59Z"));
  CHECK(nt.dispatcher->run_once() == 0);
  nt.clock.set(instant("2025-03-31T05:30:00Z"));
  CHECK(nt.dispatcher->run_once() == 1);
  CHECK(deliveries(*nt.db, "henvis.delivery.delivered").size() == 1);
}

TEST_CASE("notifier channels: bad channel settings are configuration errors naming the recipient",
          "[notifier][channels][config]") {
  auto error_of = [](const std::function<void(henvis::v1::Recipient&)>& configure) {
    try {
      Notifier nt("2025-05-16T14:00:00Z", configure);
    } catch (const henvis::config::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  // Given a daily_at that is not HH:MM / When the settings are built / Then an error naming it
  auto e = error_of([](auto& r) {
    r.set_mode(henvis::v1::DELIVERY_MODE_DAILY);
    r.set_daily_at("7:30");
  });
  CHECK(e.find("rusmiddelcenter-657") != std::string::npos);
  CHECK(e.find("daily_at") != std::string::npos);
  CHECK_FALSE(error_of([](auto& r) {
                r.set_mode(henvis::v1::DELIVERY_MODE_DAILY);
                r.set_daily_at("24:00");
              }).empty());
  // Given a webhook without its secret file, or not an http(s) URL / Then errors naming the field
  e = error_of([](auto& r) {
    r.set_channel(henvis::v1::CHANNEL_WEBHOOK);
    r.set_webhook_url("http://127.0.0.1:9/hook");
    r.set_webhook_secret_file("missing.key");
  });
  CHECK(e.find("rusmiddelcenter-657") != std::string::npos);
  CHECK(e.find("webhook_secret_file") != std::string::npos);
  CHECK(e.find(KEY) == std::string::npos);
  e = error_of([](auto& r) {
    r.set_channel(henvis::v1::CHANNEL_WEBHOOK);
    r.set_webhook_url("ftp://centre.example/hook");
    r.set_webhook_secret_file("webhook.key");
  });
  CHECK(e.find("webhook_url") != std::string::npos);
  // Given a file drop without a directory / Then an error
  CHECK(error_of([](auto& r) { r.set_channel(henvis::v1::CHANNEL_FILE); }).find("file_drop_dir") !=
        std::string::npos);
  // And a good webhook configuration is accepted
  CHECK(error_of([](auto& r) { webhook_to(r, "http://127.0.0.1:9/hook"); }).empty());
}

TEST_CASE(
    "notifier channels: a webhook receiver verifies the signature and the delivery is recorded",
    "[notifier][channels][webhook]") {
  // Given a receiver that answers 200 and a centre reached by a signed webhook
  Receiver receiver(KEY, 200);
  Notifier nt("2025-05-16T14:00:00Z",
              [&](henvis::v1::Recipient& r) { webhook_to(r, receiver.url()); });
  receiver.set_clock(nt.clock);
  // When a notification arrives
  nt.apply(notification("n-hook", CENTRE));
  // Then nothing is delivered before the dispatcher pushes it
  CHECK(deliveries(*nt.db, "henvis.delivery.delivered").empty());
  CHECK(nt.dispatcher->run_once() == 1);
  // And the receiver got one POST whose HMAC-SHA256 over the body matches the header
  auto got = receiver.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].signature_ok);
  CHECK(got[0].signature.rfind("v2=", 0) == 0);
  CHECK(got[0].signature.size() == 3 + 64);
  CHECK(got[0].content_type == "application/json");
  CHECK(got[0].notification_id == "n-hook");
  CHECK(got[0].timestamp == std::to_string(ms("2025-05-16T14:00:00Z") / 1000));
  CHECK(got[0].tolerance == "300");
  // And the body is the InboxEntry in proto3 JSON, with the contact
  henvis::v1::InboxEntry e;
  REQUIRE(google::protobuf::util::JsonStringToMessage(got[0].body, &e).ok());
  CHECK(e.notification_id() == "n-hook");
  CHECK(e.kind() == henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL);
  CHECK(e.referral().person().cpr() == CPR);
  // And a tampered body would not verify with the key
  CHECK_FALSE(henvis::notifier::verify_webhook_signature(
      got[0].signature, got[0].timestamp, "n-hook", got[0].body + " ", {KEY}, nt.clock.now()));
  // And a DELIVERED event with channel webhook is in the outbox
  auto delivered = deliveries(*nt.db, "henvis.delivery.delivered");
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].notification_id() == "n-hook");
  CHECK(delivered[0].recipient_id() == CENTRE);
  CHECK(delivered[0].channel() == "webhook");
  // And the push is in the access log, and it is not pushed twice
  CHECK(scalar(*nt.db, "SELECT count(*) FROM access_log WHERE purpose = 'webhook'") == 1);
  CHECK(nt.dispatcher->run_once() == 0);
  CHECK(receiver.received().size() == 1);
}

TEST_CASE(
    "notifier channels: the webhook signature covers the timestamp, the notification id and the "
    "body",
    "[notifier][channels][webhook][signature]") {
  using henvis::notifier::verify_webhook_signature;
  // Given a request signed at 2025-05-16T14:00:00Z
  const auto now = instant("2025-05-16T14:00:00Z");
  const std::string ts = std::to_string(ms("2025-05-16T14:00:00Z") / 1000);
  const std::string body = R"({"notificationId":"n-1"})";
  const std::string sig = henvis::notifier::webhook_signature({KEY}, ts, "n-1", body);
  // Then it is one v2 signature, HMAC-SHA256 over "<timestamp>.<id>.<body>"
  CHECK(sig == "v2=" + henvis::hmac_sha256_hex(KEY, ts + ".n-1." + body));
  CHECK(verify_webhook_signature(sig, ts, "n-1", body, {KEY}, now));
  // And changing the timestamp, the notification id or the body fails verification
  const std::string ts_later = std::to_string(ms("2025-05-16T14:00:01Z") / 1000);
  CHECK_FALSE(verify_webhook_signature(sig, ts_later, "n-1", body, {KEY}, now));
  CHECK_FALSE(verify_webhook_signature(sig, ts, "n-2", body, {KEY}, now));
  CHECK_FALSE(verify_webhook_signature(sig, ts, "n-1", body + " ", {KEY}, now));
  // And so do another key, the old body-only scheme and a malformed timestamp
  CHECK_FALSE(verify_webhook_signature(sig, ts, "n-1", body, {"other-key"}, now));
  CHECK_FALSE(verify_webhook_signature("sha256=" + henvis::hmac_sha256_hex(KEY, body), ts, "n-1",
                                       body, {KEY}, now));
  CHECK_FALSE(verify_webhook_signature(sig, "2025-05-16T14:00:00Z", "n-1", body, {KEY}, now));
}

TEST_CASE("notifier channels: a webhook timestamp outside the 300 s window is refused",
          "[notifier][channels][webhook][signature]") {
  using henvis::notifier::verify_webhook_signature;
  // Given a request signed at 14:00:00Z
  const std::string ts = std::to_string(ms("2025-05-16T14:00:00Z") / 1000);
  const std::string sig = henvis::notifier::webhook_signature({KEY}, ts, "n-1", "{}");
  auto at = [&](const std::string& now) {
    return verify_webhook_signature(sig, ts, "n-1", "{}", {KEY}, instant(now));
  };
  // When the receiver checks it up to 300 s later (or earlier: clock skew) / Then it verifies
  CHECK(at("2025-05-16T14:05:00Z"));
  CHECK(at("2025-05-16T13:55:00Z"));
  // When it is replayed 301 s later, or arrives from 301 s in the future / Then it is refused
  CHECK_FALSE(at("2025-05-16T14:05:01Z"));
  CHECK_FALSE(at("2025-05-16T13:54:59Z"));
  // And a receiver may choose a shorter window
  CHECK_FALSE(verify_webhook_signature(sig, ts, "n-1", "{}", {KEY}, instant("2025-05-16T14:01:01Z"),
                                       std::chrono::seconds(60)));
}

TEST_CASE(
    "notifier channels: during a key rotation each webhook carries a signature per key and both "
    "verify",
    "[notifier][channels][webhook][signature]") {
  // Given a receiver that knows only the new key, and a centre with webhook_secret_file and
  // webhook_secret_file_next
  Receiver receiver(NEXT_KEY, 200);
  Notifier nt("2025-05-16T14:00:00Z", [&](henvis::v1::Recipient& r) {
    webhook_to(r, receiver.url());
    r.set_webhook_secret_file_next("webhook-next.key");
  });
  receiver.set_clock(nt.clock);
  // When a notification is pushed
  nt.apply(notification("n-rotate", CENTRE));
  CHECK(nt.dispatcher->run_once() == 1);
  // Then the header has two v2 signatures, ", "-separated, old key first
  auto got = receiver.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].signature.size() == 2 * (3 + 64) + 2);
  CHECK(got[0].signature.substr(3 + 64, 5) == ", v2=");
  // And a receiver with the new key, with the old key, or with both accepts it
  CHECK(got[0].signature_ok);
  for (const std::vector<std::string>& keys :
       {std::vector<std::string>{KEY}, std::vector<std::string>{KEY, NEXT_KEY}})
    CHECK(henvis::notifier::verify_webhook_signature(got[0].signature, got[0].timestamp, "n-rotate",
                                                     got[0].body, keys, nt.clock.now()));
  // And a missing next key file is a configuration error naming the field
  try {
    Notifier bad("2025-05-16T14:00:00Z", [&](henvis::v1::Recipient& r) {
      webhook_to(r, receiver.url());
      r.set_webhook_secret_file_next("missing-next.key");
    });
    FAIL("no configuration error");
  } catch (const henvis::config::Error& e) {
    const std::string what = e.what();
    CHECK(what.find("webhook_secret_file_next") != std::string::npos);
    CHECK(what.find(NEXT_KEY) == std::string::npos);
  }
}

TEST_CASE("notifier channels: a failing webhook is retried with backoff, then failed and escalated",
          "[notifier][channels][webhook]") {
  // Given a receiver answering 503, three attempts, 1 s initial backoff
  Receiver receiver(KEY, 503);
  Notifier nt(
      "2025-05-16T14:00:00Z", [&](henvis::v1::Recipient& r) { webhook_to(r, receiver.url()); },
      "notifier { webhook_max_attempts: 3 webhook_initial_backoff_ms: 1000 }");
  receiver.set_clock(nt.clock);
  const auto t0 = instant("2025-05-16T14:00:00Z");
  nt.apply(notification("n-fail", CENTRE));
  auto attempts = [&] {
    return nt.value("SELECT attempts FROM inbox WHERE notification_id = ?", "n-fail");
  };
  auto next_at = [&] {
    return nt.value("SELECT next_attempt_at FROM inbox WHERE notification_id = ?", "n-fail");
  };
  // When the first attempt fails
  CHECK(nt.dispatcher->run_once() == 1);
  // Then attempt 1 is stored with the next one 1 s later
  CHECK(attempts() == 1);
  CHECK(next_at() == henvis::notifier::to_ms(t0 + 1s));
  // And nothing happens before that time, even after a restart
  nt.restart_dispatcher();
  nt.clock.set(t0 + 999ms);
  CHECK(nt.dispatcher->run_once() == 0);
  CHECK(receiver.received().size() == 1);
  // When the clock reaches it, attempt 2 fails and the wait doubles
  nt.clock.set(t0 + 1s);
  CHECK(nt.dispatcher->run_once() == 1);
  CHECK(attempts() == 2);
  CHECK(next_at() == henvis::notifier::to_ms(t0 + 1s + 2s));
  CHECK(nt.value("SELECT count(*) FROM inbox WHERE state = ?", "pending") == 1);
  CHECK(deliveries(*nt.db, "henvis.delivery.failed").empty());
  // When the last attempt fails too
  nt.clock.set(t0 + 3s);
  CHECK(nt.dispatcher->run_once() == 1);
  // Then a FAILED event (webhook) and the row is failed after 3 attempts
  REQUIRE(receiver.received().size() == 3);
  for (const auto& r : receiver.received()) CHECK(r.signature_ok);
  CHECK(attempts() == 3);
  CHECK(nt.value("SELECT count(*) FROM inbox WHERE state = 'failed' AND notification_id = ?",
                 "n-fail") == 1);
  auto failed = deliveries(*nt.db, "henvis.delivery.failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].notification_id() == "n-fail");
  CHECK(failed[0].channel() == "webhook");
  CHECK(failed[0].status() == henvis::v1::DELIVERY_STATUS_FAILED);
  // And the coordinator has an ESCALATION with the reason and the contact to phone
  auto coord = parse_inbox(nt.api->inbox(inbox_request("mvj", henvis::v1::ROLE_COORDINATOR)));
  REQUIRE(coord.entries_size() == 1);
  const auto& esc = coord.entries(0);
  CHECK(esc.kind() == henvis::v1::NOTIFICATION_KIND_ESCALATION);
  CHECK(esc.referral().reason() == "webhook_failed");
  CHECK(esc.referral().referral_id() == "ref-n-fail");
  CHECK(esc.referral().centre_id() == CENTRE);
  CHECK(esc.referral().person().phone() == PHONE);
  // And nothing is lost: the centre's pull inbox still has the notification
  auto centre = parse_inbox(nt.api->inbox(inbox_request(CENTRE)));
  REQUIRE(centre.entries_size() == 1);
  CHECK(centre.entries(0).notification_id() == "n-fail");
  // And it is never retried again
  nt.clock.set(t0 + 1h);
  CHECK(nt.dispatcher->run_once() == 0);
  CHECK(receiver.received().size() == 3);
}

TEST_CASE("notifier channels: a webhook with nothing listening is retried, failed and escalated",
          "[notifier][channels][webhook]") {
  // Given a webhook URL where nothing listens, two attempts
  const auto port = closed_port();
  Notifier nt(
      "2025-05-16T14:00:00Z",
      [&](henvis::v1::Recipient& r) {
        webhook_to(r, "http://127.0.0.1:" + std::to_string(port) + "/hook");
      },
      "notifier { webhook_max_attempts: 2 webhook_initial_backoff_ms: 500 }");
  nt.apply(notification("n-down", CENTRE));
  // When the dispatcher tries, and again after the backoff
  CHECK(nt.dispatcher->run_once() == 1);
  CHECK(nt.value("SELECT attempts FROM inbox WHERE notification_id = ?", "n-down") == 1);
  nt.clock.advance(500ms);
  CHECK(nt.dispatcher->run_once() == 1);
  // Then FAILED, escalated, and still in the centre's inbox
  CHECK(deliveries(*nt.db, "henvis.delivery.failed").size() == 1);
  CHECK(scalar(*nt.db,
               "SELECT count(*) FROM inbox WHERE recipient_id = 'coordinator-mvj' AND "
               "kind = 4") == 1);
  CHECK(parse_inbox(nt.api->inbox(inbox_request(CENTRE))).entries_size() == 1);
}

TEST_CASE("notifier channels: a file drop writes one quoted CSV file and leaves no temp file",
          "[notifier][channels][file]") {
  // Given a centre reached by file drop into "drops" (relative to the config)
  Notifier nt("2025-05-16T14:00:00Z", [](henvis::v1::Recipient& r) {
    r.set_channel(henvis::v1::CHANNEL_FILE);
    r.set_file_drop_dir("drops");
  });
  const fs::path dir = nt.tmp.path / "drops";
  REQUIRE(fs::is_directory(dir));
  // And two notifications, one with a comma and quotes in the name
  auto a = notification("aaaaaaaa-1", CENTRE);
  auto b = notification("bbbbbbbb-2", CENTRE);
  b.mutable_referral()->mutable_person()->set_name("Jens \"JT\" Testesen, jr.");
  b.mutable_referral()->mutable_person()->set_preferred_contact_time("after 16");
  nt.apply(a);
  nt.apply(b);
  // When the dispatcher runs
  CHECK(nt.dispatcher->run_once() == 2);
  // Then one file with the expected name, header and RFC 4180 quoted rows
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(dir)) files.push_back(f.path());
  REQUIRE(files.size() == 1);
  CHECK(files[0].filename() == "henvis-rusmiddelcenter-657-20250516T140000Z-aaaaaaaa-1.csv");
  const std::string csv = read_file(files[0]);
  const std::string header =
      "notification_id,kind,referral_id,municipality,offence,charged_at,cpr,name,phone,email,"
      "preferred_contact_time,prior_referrals_90d,prior_referrals_5y\r\n";
  CHECK(csv == header +
                   "aaaaaaaa-1,new_referral,ref-aaaaaaaa-1,Herning,drunk,2025-05-15T22:10:00Z,"
                   "0101901234,Jens Testesen,+4523456789,,,1,2\r\n"
                   "bbbbbbbb-2,new_referral,ref-bbbbbbbb-2,Herning,drunk,2025-05-15T22:10:00Z,"
                   "0101901234,\"Jens \"\"JT\"\" Testesen, jr.\",+4523456789,,after 16,1,2\r\n");
  // And DELIVERED events (file) for both, the file name recorded, no temp file
  auto delivered = deliveries(*nt.db, "henvis.delivery.delivered");
  REQUIRE(delivered.size() == 2);
  for (const auto& d : delivered) CHECK(d.channel() == "file");
  CHECK(scalar(*nt.db,
               "SELECT count(*) FROM inbox WHERE delivered_file = "
               "'henvis-rusmiddelcenter-657-20250516T140000Z-aaaaaaaa-1.csv'") == 2);
  // And a later round writes no further file
  nt.clock.advance(1min);
  CHECK(nt.dispatcher->run_once() == 0);
  std::size_t count = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    CHECK(f.path().filename().string().rfind(".tmp-", 0) == std::string::npos);
    ++count;
  }
  CHECK(count == 1);
}

TEST_CASE(
    "notifier channels: two file drops in the same second whose first ids share their first "
    "characters are two files",
    "[notifier][channels][file]") {
  // Given a centre reached by file drop, and a first round's file
  Notifier nt("2025-05-16T14:00:00Z", [](henvis::v1::Recipient& r) {
    r.set_channel(henvis::v1::CHANNEL_FILE);
    r.set_file_drop_dir("drops");
  });
  nt.apply(notification("019ad3f1-0000-7000-8000-000000000001", CENTRE));
  REQUIRE(nt.dispatcher->run_once() == 1);
  // When a second notification, whose id was made in the same minute
  // (version 7 ids share their first characters then), is dropped in the
  // same second
  nt.apply(notification("019ad3f1-0000-7000-8000-000000000002", CENTRE));
  REQUIRE(nt.dispatcher->run_once() == 1);
  // Then both files are there: the second did not replace the first
  std::size_t files = 0;
  for (const auto& f : fs::directory_iterator(nt.tmp.path / "drops")) files += f.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE(
    "notifier channels: a withdrawal erases the person from every row and adds a WITHDRAWN row",
    "[notifier][channels][withdrawal]") {
  // Given a referral in the centre's inbox and a coordinator's escalation copy of it,
  // and another referral of someone else
  Notifier nt("2025-05-16T14:00:00Z", [](henvis::v1::Recipient&) {});
  nt.apply(notification("n-1", CENTRE, henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL, "ref-x"));
  nt.apply(notification("n-2", COORDINATOR, henvis::v1::NOTIFICATION_KIND_ESCALATION, "ref-x"));
  auto other = notification("n-3", CENTRE, henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL, "ref-y");
  other.mutable_referral()->mutable_person()->set_cpr("0202802345");
  other.mutable_referral()->mutable_person()->set_name("Else Anden");
  other.mutable_referral()->mutable_person()->set_phone("+4587654321");
  nt.apply(other);
  auto database_bytes = [&] {
    std::string bytes;
    for (const auto& f : fs::directory_iterator(nt.tmp.path))
      if (f.path().filename().string().rfind("notifier.db", 0) == 0) bytes += read_file(f.path());
    return bytes;
  };
  REQUIRE(database_bytes().find(CPR) != std::string::npos);  // the check below means something
  // When the router's WITHDRAWN notification for ref-x arrives (no person in it)
  nt.apply(notification("n-w", CENTRE, henvis::v1::NOTIFICATION_KIND_WITHDRAWN, "ref-x"));
  // And a dispatcher round checkpoints the WAL
  nt.dispatcher->run_once();
  // Then no byte of any SQLite file holds that person's CPR, name or phone
  const std::string bytes = database_bytes();
  REQUIRE_FALSE(bytes.empty());
  CHECK(bytes.find(CPR) == std::string::npos);
  CHECK(bytes.find(NAME) == std::string::npos);
  CHECK(bytes.find(PHONE) == std::string::npos);
  // And the other person's data is untouched
  CHECK(bytes.find("0202802345") != std::string::npos);
  // And the rows keep the ids, municipality and offence
  auto centre = parse_inbox(nt.api->inbox(inbox_request(CENTRE)));
  REQUIRE(centre.entries_size() == 3);
  int withdrawn = 0;
  for (const auto& e : centre.entries()) {
    if (e.referral().referral_id() != "ref-x") continue;
    CHECK_FALSE(e.referral().has_person());
    CHECK_FALSE(e.referral().has_consent());
    CHECK(e.referral().municipality_name() == "Herning");
    CHECK(e.referral().offence() == henvis::v1::OFFENCE_DRUNK);
    if (e.kind() == henvis::v1::NOTIFICATION_KIND_WITHDRAWN) ++withdrawn;
  }
  // And the centre sees one WITHDRAWN row, delivered
  CHECK(withdrawn == 1);
  CHECK(nt.value("SELECT count(*) FROM inbox WHERE state = 'delivered' AND notification_id = ?",
                 "n-w") == 1);
  auto coord = parse_inbox(nt.api->inbox(inbox_request("mvj", henvis::v1::ROLE_COORDINATOR)));
  REQUIRE(coord.entries_size() == 1);
  CHECK_FALSE(coord.entries(0).referral().has_person());
  // When a late notification about the withdrawn referral arrives (reordered)
  nt.apply(notification("n-late", COORDINATOR, henvis::v1::NOTIFICATION_KIND_REMINDER, "ref-x"));
  // Then it is stored without the person
  henvis::sqlite::Stmt s(*nt.db, "SELECT contact FROM inbox WHERE notification_id = 'n-late'");
  REQUIRE(s.step());
  henvis::v1::ReferralContact c;
  REQUIRE(c.ParseFromString(s.blob(0)));
  CHECK_FALSE(c.has_person());
  CHECK(c.referral_id() == "ref-x");
}

TEST_CASE("notifier channels: a withdrawal is pushed through the webhook at once, even when daily",
          "[notifier][channels][withdrawal][webhook]") {
  // Given a DAILY webhook centre and the clock Friday 16:00
  Receiver receiver(KEY, 200);
  Notifier nt("2025-05-16T14:00:00Z", [&](henvis::v1::Recipient& r) {
    daily_at_0730(r);
    webhook_to(r, receiver.url());
  });
  receiver.set_clock(nt.clock);
  // When a referral waiting for Monday's list is withdrawn
  nt.apply(notification("n-1", CENTRE, henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL, "ref-x"));
  nt.apply(notification("n-w", CENTRE, henvis::v1::NOTIFICATION_KIND_WITHDRAWN, "ref-x"));
  CHECK(nt.dispatcher->run_once() == 1);
  // Then the receiver gets the WITHDRAWN notification now, signed, without the person
  auto got = receiver.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].signature_ok);
  CHECK(got[0].notification_id == "n-w");
  henvis::v1::InboxEntry e;
  REQUIRE(google::protobuf::util::JsonStringToMessage(got[0].body, &e).ok());
  CHECK(e.kind() == henvis::v1::NOTIFICATION_KIND_WITHDRAWN);
  CHECK(got[0].body.find(CPR) == std::string::npos);
  // And Monday's list carries the referral without the person
  nt.clock.set(instant("2025-05-19T05:30:00Z"));
  CHECK(nt.dispatcher->run_once() == 1);
  got = receiver.received();
  REQUIRE(got.size() == 2);
  CHECK(got[1].notification_id == "n-1");
  CHECK(got[1].body.find(CPR) == std::string::npos);
  CHECK(got[1].body.find(NAME) == std::string::npos);
}

TEST_CASE("notifier channels: reminders and escalations from the router land in the inbox",
          "[notifier][channels]") {
  // Given an immediate inbox centre and its coordinator
  Notifier nt("2025-05-16T14:00:00Z", [](henvis::v1::Recipient&) {});
  // When the router sends a REMINDER to the centre and an ESCALATION to the coordinator
  auto reminder = notification("n-r", CENTRE, henvis::v1::NOTIFICATION_KIND_REMINDER, "ref-r");
  reminder.mutable_referral()->set_reason("no_outcome");
  nt.apply(reminder);
  nt.apply(notification("n-e", COORDINATOR, henvis::v1::NOTIFICATION_KIND_ESCALATION, "ref-r"));
  // Then each is delivered at once and shown with its referral context
  CHECK(deliveries(*nt.db, "henvis.delivery.delivered").size() == 2);
  auto centre = parse_inbox(nt.api->inbox(inbox_request(CENTRE)));
  REQUIRE(centre.entries_size() == 1);
  CHECK(centre.entries(0).kind() == henvis::v1::NOTIFICATION_KIND_REMINDER);
  CHECK(centre.entries(0).referral().reason() == "no_outcome");
  auto coord = parse_inbox(nt.api->inbox(inbox_request("mvj", henvis::v1::ROLE_COORDINATOR)));
  REQUIRE(coord.entries_size() == 1);
  CHECK(coord.entries(0).kind() == henvis::v1::NOTIFICATION_KIND_ESCALATION);
}

TEST_CASE("notifier channels: the CSV file channel is refused for a municipality",
          "[notifier][channels][config]") {
  // Given Herning Kommune (which receives underretninger) set to the CSV file
  // drop, a centre's contact list format that cannot carry them
  // When the settings are built / Then a configuration error names the recipient and the fix
  try {
    Notifier nt(
        "2025-05-16T14:00:00Z",
        [](henvis::v1::Recipient& r) {
          r.set_channel(henvis::v1::CHANNEL_FILE);
          r.set_file_drop_dir("drop");
        },
        "", MUNICIPALITY);
    FAIL("no configuration error");
  } catch (const henvis::config::Error& e) {
    const std::string what = e.what();
    CHECK(what.find(MUNICIPALITY) != std::string::npos);
    CHECK(what.find("CHANNEL_FILE") != std::string::npos);
    CHECK(what.find("CHANNEL_WEBHOOK") != std::string::npos);
  }
}

TEST_CASE(
    "notifier channels: an underretning pushed by webhook carries the notice, and goes whole to "
    "the coordinator when the push fails",
    "[notifier][channels][webhook][socialsog]") {
  // Given Herning Kommune reached by a signed webhook that answers 503, one attempt
  Receiver receiver(KEY, 503);
  Notifier nt(
      "2025-05-16T14:00:00Z", [&](henvis::v1::Recipient& r) { webhook_to(r, receiver.url()); },
      "notifier { webhook_max_attempts: 1 }", MUNICIPALITY);
  receiver.set_clock(nt.clock);
  // When an underretning about a child arrives for it
  henvis::v1::NotificationRequested n;
  n.set_notification_id("n-underretning");
  n.set_recipient_id(MUNICIPALITY);
  n.set_kind(henvis::v1::NOTIFICATION_KIND_UNDERRETNING);
  auto* u = n.mutable_underretning();
  u->set_underretning_id("u-1");
  u->set_kommunekode(657);
  u->add_children()->set_cpr(CHILD_CPR);
  *n.mutable_requested_at() = henvis::now_timestamp();
  nt.apply(n);
  CHECK(nt.dispatcher->run_once() == 1);
  // Then the webhook body is the InboxEntry with the notice and its child
  auto got = receiver.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].signature_ok);
  henvis::v1::InboxEntry e;
  REQUIRE(google::protobuf::util::JsonStringToMessage(got[0].body, &e).ok());
  CHECK(e.kind() == henvis::v1::NOTIFICATION_KIND_UNDERRETNING);
  CHECK(e.underretning().underretning_id() == "u-1");
  REQUIRE(e.underretning().children_size() == 1);
  CHECK(e.underretning().children(0).cpr() == CHILD_CPR);
  // And after the failed push the coordinator's escalation carries the same notice
  auto coord = parse_inbox(nt.api->inbox(inbox_request("mvj", henvis::v1::ROLE_COORDINATOR)));
  REQUIRE(coord.entries_size() == 1);
  CHECK(coord.entries(0).kind() == henvis::v1::NOTIFICATION_KIND_ESCALATION);
  CHECK(coord.entries(0).referral().reason() == "webhook_failed");
  CHECK(coord.entries(0).underretning().underretning_id() == "u-1");
  CHECK(coord.entries(0).underretning().children(0).cpr() == CHILD_CPR);
}

TEST_CASE("notifier channels: a name that is a spreadsheet formula is neutralised in the CSV list",
          "[notifier][channels][csv][security]") {
  henvis::v1::ReferralContact c;
  c.set_referral_id("ref-csv-1");
  c.mutable_person()->set_name("=HYPERLINK(\"http://x.example\",\"klik\")");
  c.mutable_person()->set_phone("+4522334455");
  const std::string line =
      henvis::notifier::csv_line("n-csv-1", henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL, c);
  CHECK(line.find(",\"'=HYPERLINK(") != std::string::npos);
  CHECK(line.find(",+4522334455,") != std::string::npos);
}
