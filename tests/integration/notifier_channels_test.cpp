// The notifier's signed webhook through real processes: henvis-devbroker and
// henvis-notifier, a NotificationRequested produced to Kafka, a receiver in
// this test that verifies the v2 signatures of a key rotation (HMAC-SHA256
// over timestamp, notification id and body) and the timestamp's freshness, a receiver that fails
// at first, and a notifier killed with SIGKILL between attempts whose retry
// schedule continues after the restart.
//
// The Stack's own notifier config points at the shared dev directory (every
// centre on the pull inbox), so this test writes its own directory variant
// and notifier config next to the Stack's and starts the notifier itself.

#include <google/protobuf/util/json_util.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

constexpr const char* KEY = "integration-webhook-key";
constexpr const char* NEXT_KEY = "integration-webhook-key-next";  // being rotated in
constexpr const char* CPR = "0101901234";

// The receiver's check (README "Contact lists", scheme v2), written from the
// documentation rather than with the notifier's code: during this test's key
// rotation X-Henvis-Signature is "v2=<hex>, v2=<hex>", HMAC-SHA256 under the
// current and then the next key over "<timestamp>.<notification id>.<body>",
// and the timestamp (Unix seconds) is within the announced tolerance.
bool signed_and_fresh(const bhttp::request<bhttp::string_body>& req) {
  const std::string ts(req["X-Henvis-Timestamp"]);
  const std::string content =
      ts + "." + std::string(req["X-Henvis-Notification-Id"]) + "." + req.body();
  if (std::string(req["X-Henvis-Signature"]) !=
      "v2=" + hmac_sha256_hex(KEY, content) + ", v2=" + hmac_sha256_hex(NEXT_KEY, content))
    return false;
  if (std::string(req["X-Henvis-Signature-Tolerance"]) != "300" || ts.empty() ||
      ts.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return std::llabs(now - std::stoll(ts)) <= 300;
}

// A centre's webhook endpoint: checks the signature of every request and
// answers with the status set by the test.
class Receiver {
 public:
  Receiver() {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    boost::system::error_code ec;
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  void set_status(int s) { status_ = s; }
  int requests() const { return requests_; }
  int bad_signatures() const { return bad_signatures_; }
  std::string last_body() {
    std::lock_guard lock(mu_);
    return last_body_;
  }

 private:
  void serve() {
    while (!stop_) {
      asio::ip::tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      boost::beast::flat_buffer buffer;
      bhttp::request<bhttp::string_body> req;
      bhttp::read(socket, buffer, req, ec);
      if (ec) continue;
      if (!signed_and_fresh(req)) ++bad_signatures_;
      {
        std::lock_guard lock(mu_);
        last_body_ = req.body();
      }
      ++requests_;
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status_.load()), 11};
      res.prepare_payload();
      bhttp::write(socket, res, ec);
      socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    }
  }
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_{ioc_};
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{503};
  std::atomic<int> requests_{0};
  std::atomic<int> bad_signatures_{0};
  std::mutex mu_;
  std::string last_body_;
  std::thread thread_;
};

// The dev directory with rusmiddelcenter-657 on the webhook channel.
std::string webhook_directory(const std::string& url) {
  std::string d = slurp(fs::path(HENVIS_SOURCE_DIR) / "deploy/config/dev/directory.textproto");
  auto at = d.find("id: \"rusmiddelcenter-657\"");
  REQUIRE(at != std::string::npos);
  auto ch = d.find("channel: CHANNEL_INBOX", at);
  REQUIRE(ch != std::string::npos);
  d.replace(ch, std::string("channel: CHANNEL_INBOX").size(),
            "channel: CHANNEL_WEBHOOK\n  webhook_url: \"" + url +
                "\"\n  webhook_secret_file: \"webhook.key\"\n"
                "  webhook_secret_file_next: \"webhook-next.key\"");
  return d;
}

std::int64_t scalar(const std::string& db_path, const std::string& sql) {
  sqlite::Db db(db_path);
  sqlite::Stmt s(db, sql);
  return s.step() ? s.i64(0) : -1;
}
}  // namespace

TEST_CASE(
    "notifier (processes): a webhook that fails at first is retried across a SIGKILL and "
    "delivered signed",
    "[integration][notifier][webhook]") {
  // Given the broker, a webhook receiver answering 503, and a notifier whose
  // directory sends rusmiddelcenter-657 to that webhook (200 ms initial backoff)
  Stack stack;
  stack.start_broker();
  Receiver receiver;
  const fs::path dir = stack.dir() / "channels";
  fs::create_directories(dir);
  std::ofstream(dir / "directory.textproto") << webhook_directory(receiver.url());
  std::ofstream(dir / "webhook.key") << KEY << "\n";
  std::ofstream(dir / "webhook-next.key") << NEXT_KEY << "\n";
  int port = 0;  // bound by the notifier itself, kept across its restart
  const std::string db_path = (dir / "notifier.db").string();
  std::ofstream(dir / "notifier.textproto")
      << "service: \"notifier\"\n"
      << "dev: true\n"  // the receiver speaks plain http
      << "kafka { bootstrap_file: \"" << (stack.dir() / "bootstrap.txt").string() << "\" }\n"
      << "http { address: \"127.0.0.1\" port: 0 }\n"
      << "database: \"" << db_path << "\"\n"
      << "directory_file: \"directory.textproto\"\n"
      << "tokens_file: \""
      << (fs::path(HENVIS_SOURCE_DIR) / "deploy/config/dev/tokens.textproto").string() << "\"\n"
      << "notifier { webhook_initial_backoff_ms: 200 webhook_max_attempts: 8 "
         "dispatch_interval_ms: 50 }\n";
  auto start = [&] { return start_service(dir, "notifier", port, std::chrono::seconds(60)); };
  auto notifier = start();

  // When a NotificationRequested for the centre is produced to Kafka
  v1::NotificationRequested n;
  n.set_notification_id(new_uuid());
  n.set_recipient_id("rusmiddelcenter-657");
  n.set_kind(v1::NOTIFICATION_KIND_NEW_REFERRAL);
  n.mutable_referral()->set_referral_id("ref-it-webhook");
  n.mutable_referral()->set_municipality_name("Herning");
  n.mutable_referral()->mutable_person()->set_cpr(CPR);
  n.mutable_referral()->mutable_person()->set_phone("+4523456789");
  *n.mutable_requested_at() = now_timestamp();
  {
    kafka::Producer producer(stack.bootstrap(),
                             [](std::int64_t, bool ok, const std::string&) { CHECK(ok); });
    auto ev = kafka::make_event("/henvis/test", event_types::NOTIFICATION_REQUESTED,
                                n.recipient_id(), n.SerializeAsString());
    producer.produce(topics::NOTIFICATIONS, ev.key, ev.payload, ev.headers(), 1);
    REQUIRE(producer.flush(30000));
  }
  // Then the receiver is called and refuses, and the attempts are stored
  // (the notifier records an attempt after the receiver answered it: wait
  // for the record, not only for the request, before killing it)
  REQUIRE(eventually([&] {
    return receiver.requests() >= 2 && scalar(db_path, "SELECT attempts FROM inbox") >= 2;
  }));
  // When the notifier is killed between attempts and started again
  notifier->signal(SIGKILL);
  notifier->wait(std::chrono::seconds(10));
  notifier.reset();
  const auto attempts_before = scalar(db_path, "SELECT attempts FROM inbox");
  CHECK(attempts_before >= 2);
  CHECK(scalar(db_path, "SELECT count(*) FROM inbox WHERE state = 'pending'") == 1);
  receiver.set_status(200);
  notifier = start();
  // Then the schedule continues (the attempt count goes on from where it was)
  // and the notification is delivered, every request correctly signed
  REQUIRE(eventually([&] {
    return scalar(db_path,
                  "SELECT count(*) FROM inbox WHERE state = 'delivered' AND "
                  "channel = 'webhook'") == 1;
  }));
  CHECK(scalar(db_path, "SELECT attempts FROM inbox") > attempts_before);
  CHECK(receiver.bad_signatures() == 0);
  v1::InboxEntry body;
  REQUIRE(google::protobuf::util::JsonStringToMessage(receiver.last_body(), &body).ok());
  CHECK(body.notification_id() == n.notification_id());
  CHECK(body.referral().person().cpr() == CPR);
  // And a DELIVERED event with channel webhook reaches henvis.deliveries.v1
  kafka::Consumer consumer(stack.bootstrap(), "notifier-channels-test");
  consumer.assign({topics::DELIVERIES}, {}, 30000);
  bool seen = false;
  REQUIRE(eventually(
      [&] {
        for (const auto& m : consumer.poll_batch(100, 200)) {
          v1::DeliveryEvent d;
          if (d.ParseFromString(m.payload) && d.notification_id() == n.notification_id() &&
              d.status() == v1::DELIVERY_STATUS_DELIVERED && d.channel() == "webhook")
            seen = true;
        }
        return seen;
      },
      std::chrono::seconds(30)));
  // And the notification stays readable in the centre's pull inbox
  auto r = http("GET", port, "/v1/inbox", "dev-center-657");
  REQUIRE(r.status == 200);
  v1::Inbox inbox;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &inbox).ok());
  REQUIRE(inbox.entries_size() == 1);
  CHECK(inbox.entries(0).notification_id() == n.notification_id());
  CHECK(notifier->stop() == 0);
}
