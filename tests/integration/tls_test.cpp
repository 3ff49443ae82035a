// TLS on every hop (docs/production.md "TLS"): a production-like stack
// (Stack(extra, true): every service HTTPS with a test CA, no `dev`) driven
// by henvisctl over https, the services' own Kafka paths in between, and
// webhooks over https to receivers with a per-recipient CA; plain HTTP
// refused at start outside dev.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"
#include "henvis/auth.hpp"
#include "henvis/http.hpp"
#include "henvis/http_client.hpp"
#include "henvis/tls.hpp"

using namespace henvis::testing;
namespace fs = std::filesystem;
namespace kit = henvis::http;

namespace {

// A webhook receiver: a kit HTTPS server with `ca`'s certificate, keeping
// every body posted to /hook.
class Receiver {
 public:
  explicit Receiver(const TestCa& ca) {
    kit::Router router;
    router.add_open("POST", "/hook", [this](kit::Request& r) {
      std::lock_guard lock(mu_);
      bodies_.push_back(r.body);
      return kit::Response(200, "text/plain", "ok\n");
    });
    kit::ServerOptions o;
    o.tls = henvis::tls::server_context({ca.cert(), ca.key(), {}});
    server_.emplace(std::move(o), tokens_, std::move(router), metrics_, [] { return true; });
    server_->start();
  }
  std::string url(const std::string& host) const {
    return "https://" + host + ":" + std::to_string(server_->port()) + "/hook";
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  double handshake_failures() {
    return metrics_
        .counter("henvis_http_tls_handshake_failures_total",
                 "TLS handshakes that failed or timed out")
        .Value();
  }

 private:
  henvis::auth::TokenStore tokens_;
  kit::Metrics metrics_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::optional<kit::Server> server_;
};

// The dev directory with `centre` on the webhook channel at `url`, trusting
// the CA file `ca_file`.
std::string with_webhook(std::string d, const std::string& centre, const std::string& url,
                         const std::string& ca_file) {
  const auto at = d.find("id: \"" + centre + "\"");
  REQUIRE(at != std::string::npos);
  const auto ch = d.find("channel: CHANNEL_INBOX", at);
  REQUIRE(ch != std::string::npos);
  d.replace(ch, std::string("channel: CHANNEL_INBOX").size(),
            "channel: CHANNEL_WEBHOOK\n  webhook_url: \"" + url +
                "\"\n  webhook_secret_file: \"webhook.key\"\n  webhook_ca_file: \"" + ca_file +
                "\"");
  return d;
}

// Starts a notifier in dir (its own directory file, the stack's TLS and
// tokens, quick retries: two attempts 200 ms apart) once intake runs.
std::unique_ptr<Process> start_notifier(const Stack& s, const fs::path& dir, int& port) {
  std::ofstream(dir / "notifier.textproto")
      << "service: \"notifier\"\n"
      << "kafka { bootstrap_file: \"" << (s.dir() / "bootstrap.txt").string() << "\" }\n"
      << "http { address: \"127.0.0.1\" port: 0 tls { cert_chain_file: \"" << tls_ca()->cert()
      << "\" key_file: \"" << tls_ca()->key() << "\" } }\n"
      << "database: \"" << (dir / "notifier.db").string() << "\"\n"
      << "directory_file: \"directory.textproto\"\n"
      << "tokens_file: \"" << (s.dir() / "tokens.textproto").string() << "\"\n"
      << "notifier { webhook_initial_backoff_ms: 200 webhook_max_attempts: 2 "
         "dispatch_interval_ms: 50 }\n"
      // the sealed contact opened with intake's data key, fetched over https
      << data_keys_config(dir, "notifier", s.port("intake"));
  return start_service(dir, "notifier", port, std::chrono::seconds(60));
}

}  // namespace

TEST_CASE(
    "TLS stack: henvisctl, intake, router and notifier over https - a webhook reaches a receiver "
    "trusted through its recipient's CA file and never one whose certificate is not trusted",
    "[integration][tls]") {
  // Given a production-like stack (HTTPS everywhere, no dev) and two webhook
  // receivers: Herning's centre's with a certificate from the receivers' CA
  // (its webhook_ca_file), Holstebro's centre's with one from a CA nobody trusts
  Stack s({}, true);
  const TestCa receivers_ca = make_test_ca(s.dir() / "receivers-ca");
  const TestCa rogue_ca = make_test_ca(s.dir() / "rogue-ca");
  Receiver trusted(receivers_ca), untrusted(rogue_ca);
  const fs::path dir = s.dir() / "channels";
  fs::create_directories(dir);
  std::string directory =
      slurp(fs::path(HENVIS_SOURCE_DIR) / "deploy/config/dev/directory.textproto");
  directory =
      with_webhook(directory, "rusmiddelcenter-657", trusted.url("localhost"), receivers_ca.ca());
  directory =
      with_webhook(directory, "rusmiddelcenter-661", untrusted.url("127.0.0.1"), receivers_ca.ca());
  std::ofstream(dir / "directory.textproto") << directory;
  std::ofstream(dir / "webhook.key") << "tls-test-webhook-key\n";
  s.start_broker();
  s.start("intake");
  s.start("router");
  int notifier_port = 0;
  auto notifier = start_notifier(s, dir, notifier_port);

  // When an officer registers a Herning offer with henvisctl over https, trusting the stack's CA
  std::ofstream(s.dir() / "person.json")
      << R"({"cpr": "010190-1234", "name": "Jens Testesen", "phone": "+45 22 33 44 55"})";
  std::ofstream(s.dir() / "officer-token") << "dev-officer-mvj\n";
  const std::string globals = "--intake https://localhost:" + std::to_string(s.port("intake")) +
                              " --ca-file " + tls_ca()->ca() + " --json --token-file " +
                              (s.dir() / "officer-token").string();
  const auto offer = henvisctl(
      s.dir(), globals +
                   " offer register --offer-id tls-1 --journal 4100-84123-00042-26 --offence drunk"
                   " --officer MVJ-1 --answer yes --kommunekode 657 --person " +
                   (s.dir() / "person.json").string());
  INFO(offer.err);
  REQUIRE(offer.status == 0);
  // And a Holstebro offer over https with the kit client
  REQUIRE(henvis::testing::http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                                offer_json("tls-2", 661, true, "020290-1234", "Hanne Hemmelig"))
              .status == 201);

  // Then Herning's receiver gets the signed contact over https
  REQUIRE(eventually([&] { return trusted.bodies().size() == 1; }));
  CHECK(trusted.bodies()[0].find("Jens Testesen") != std::string::npos);
  // And Holstebro's receiver, whose certificate its CA file does not vouch for,
  // gets nothing: each attempt ends in the TLS handshake, and the delivery fails
  REQUIRE(eventually([&] { return untrusted.handshake_failures() >= 2; }));
  CHECK(untrusted.bodies().empty());
  CHECK(
      eventually([&] { return metric(notifier_port, "henvis_notifier_push_failed_total") >= 1; }));
  const std::string log = slurp(dir / "notifier.log");
  CHECK(log.find("certificate verify failed") != std::string::npos);
  CHECK(log.find("Hanne") == std::string::npos);

  // And henvisctl without the CA (the system's trust store) refuses the stack's certificate
  const auto untrusting = henvisctl(
      s.dir(), "--router https://127.0.0.1:" + std::to_string(s.port("router")) + " --token-file " +
                   (s.dir() / "officer-token").string() + " referrals list");
  CHECK(untrusting.status == 3);
  CHECK(untrusting.err.find("certificate verify failed") != std::string::npos);
  // And plain HTTP to a service's port gets no answer
  CHECK_THROWS(henvis::http::request({"127.0.0.1", std::to_string(s.port("intake"))}, "GET",
                                     "/healthz", {}, {}, {std::chrono::seconds(5)}));
}

TEST_CASE(
    "a service config without http.tls and without dev is refused at start and by config check, "
    "naming http.tls",
    "[integration][tls][config]") {
  // Given an intake config as a test stack writes it, less `dev: true`
  Stack s;
  std::string cfg = slurp(s.dir() / "intake.textproto");
  const auto dev = cfg.find("dev: true\n");
  REQUIRE(dev != std::string::npos);
  cfg.erase(dev, std::string("dev: true\n").size());
  std::ofstream(s.dir() / "prod-intake.textproto") << cfg;
  // When config check reads it / Then it fails with one line naming the field
  const auto check =
      henvisctl(s.dir(), "config check " + (s.dir() / "prod-intake.textproto").string());
  CHECK(check.status != 0);
  CHECK(check.err.find("http.tls is required") != std::string::npos);
  // When the intake starts with it / Then it exits 2 saying the same
  Process intake(std::string(HENVIS_BUILD_DIR) + "/services/intake/henvis-intake",
                 {"--config", (s.dir() / "prod-intake.textproto").string()},
                 s.dir() / "prod-intake.log");
  CHECK(intake.wait(std::chrono::seconds(30)) == 2);
  CHECK(slurp(s.dir() / "prod-intake.log").find("configuration error: http.tls is required") !=
        std::string::npos);
  // And the dev config is checked as plain http, dev only
  const auto ok = henvisctl(s.dir(), "config check " + (s.dir() / "intake.textproto").string());
  CHECK(ok.status == 0);
  CHECK(ok.out.find("plain http: dev only") != std::string::npos);
}
