// henvisctl config check: the offline check an operator runs before a
// deploy finds what the services themselves would refuse at start (the
// notifier's channels per recipient, Socialsøg's settings), not only
// malformed files.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "harness.hpp"

using namespace henvis::testing;
namespace fs = std::filesystem;

namespace {
const fs::path DEV = fs::path(HENVIS_SOURCE_DIR) / "deploy/config/dev";
}  // namespace

TEST_CASE("henvisctl config check finds what the services would refuse at start",
          "[integration][henvisctl][config]") {
  // Given the dev stack's notifier and socialsog configs as a test stack writes them
  Stack s;
  const std::string notifier = (s.dir() / "notifier.textproto").string();
  const std::string socialsog = (s.dir() / "socialsog.textproto").string();
  // When they are checked / Then both are ok, with the channels and settings checked too
  auto ok = henvisctl(s.dir(), "config check " + notifier + " " + socialsog);
  INFO(ok.err);
  CHECK(ok.status == 0);
  CHECK(ok.out.find("recipients' channels") != std::string::npos);
  CHECK(ok.out.find("socialsog settings (defaults) (rules placeholder-2024.1)") !=
        std::string::npos);
  // And the check created nothing beside them
  CHECK_FALSE(fs::exists(s.dir() / "drop"));

  // Given Socialsøg settings that keep incidents shorter than the look-back
  std::ofstream(s.dir() / "socialsog-settings.textproto") << "incident_retention_months: 6\n";
  // When checked / Then it fails naming the field
  auto short_retention = henvisctl(s.dir(), "config check " + socialsog);
  CHECK(short_retention.status != 0);
  CHECK(short_retention.err.find("incident_retention_months") != std::string::npos);

  // Given a directory that puts Herning Kommune on the CSV file channel
  std::string dir = slurp(DEV / "directory.textproto");
  const std::string herning = "id: \"kommune-657\"";
  const auto at = dir.find(herning);
  REQUIRE(at != std::string::npos);
  dir.insert(at + herning.size(), "\n  file_drop_dir: \"drop\"");
  const auto channel = dir.find("channel: CHANNEL_INBOX", at);
  REQUIRE(channel != std::string::npos);
  dir.replace(channel, std::string("channel: CHANNEL_INBOX").size(), "channel: CHANNEL_FILE");
  std::ofstream(s.dir() / "csv-directory.textproto") << dir;
  std::ofstream(s.dir() / "csv-notifier.textproto")
      << "service: \"notifier\"\n"
      << "dev: true\n"
      << "kafka { bootstrap_file: \"bootstrap.txt\" }\n"
      << "database: \"notifier.db\"\n"
      << "directory_file: \"csv-directory.textproto\"\n"
      << "tokens_file: \"" << (DEV / "tokens.textproto").string() << "\"\n";
  // When checked / Then it fails naming the recipient and the channel, and creates no directory
  auto csv = henvisctl(s.dir(), "config check " + (s.dir() / "csv-notifier.textproto").string());
  CHECK(csv.status != 0);
  CHECK(csv.err.find("kommune-657") != std::string::npos);
  CHECK(csv.err.find("CHANNEL_FILE") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir() / "drop"));
}

TEST_CASE(
    "henvisctl config check refuses numbers out of range and recognises the files a config names",
    "[integration][henvisctl][config]") {
  Stack s;
  const std::string notifier = (s.dir() / "notifier.textproto").string();
  // Given a service configuration with a port no socket can have
  std::string text = slurp(notifier);
  const auto port_at = text.find("port: 0");
  REQUIRE(port_at != std::string::npos);
  text.replace(port_at, 7, "port: 99999");
  std::ofstream(s.dir() / "bad-port.textproto") << text;
  // When checked / Then it fails naming the field and the range
  auto port = henvisctl(s.dir(), "config check " + (s.dir() / "bad-port.textproto").string());
  CHECK(port.status != 0);
  CHECK(port.err.find("http.port: 99999 is not in 0..65535") != std::string::npos);
  // Given the dev directory and tokens files on their own
  auto files = henvisctl(s.dir(), "config check " + (DEV / "directory.textproto").string() + " " +
                                      (DEV / "tokens.textproto").string());
  // Then each is recognised and checked as what it is
  INFO(files.err);
  CHECK(files.status == 0);
  CHECK(files.out.find("directory.textproto: ok (a directory file, version ") != std::string::npos);
  CHECK(files.out.find("tokens.textproto: ok (a tokens file, ") != std::string::npos);
  // And the socialsog config warns that its shipped rules are placeholder codes
  auto socialsog = henvisctl(s.dir(), "config check " + (s.dir() / "socialsog.textproto").string());
  CHECK(socialsog.status == 0);
  CHECK(
      socialsog.err.find("warning: the Socialsøg rules placeholder-2024.1 are placeholder codes") !=
      std::string::npos);
  // And a file that is none of these still gets the service configuration's error
  std::ofstream(s.dir() / "junk.textproto") << "nonsense: 1\n";
  auto junk = henvisctl(s.dir(), "config check " + (s.dir() / "junk.textproto").string());
  CHECK(junk.status != 0);
  CHECK(junk.err.find("nonsense") != std::string::npos);
}

TEST_CASE(
    "token scopes are checked against the directory by config check and at service start, "
    "naming the token's label",
    "[integration][henvisctl][config][scope]") {
  Stack s;
  // Given the dev configs as a test stack writes them / Then each passes, scopes checked
  for (const std::string svc : {"intake", "router", "notifier", "evaluation", "socialsog"}) {
    auto ok = henvisctl(s.dir(), "config check " + (s.dir() / (svc + ".textproto")).string());
    INFO(svc << ": " << ok.err);
    CHECK(ok.status == 0);
    CHECK(ok.out.find("scopes checked") != std::string::npos);
  }
  // Given a tokens file with a centre token without a scope, and one with an officer token
  // for a district the directory lacks, each named by a router config
  const std::string dev_tokens = slurp(DEV / "tokens.textproto");
  auto config_with = [&](const std::string& name, const std::string& extra_token) {
    std::ofstream(s.dir() / (name + "-tokens.textproto")) << dev_tokens << extra_token;
    std::string cfg = slurp(s.dir() / "router.textproto");
    const auto at = cfg.find("tokens_file: ");
    REQUIRE(at != std::string::npos);
    cfg.replace(at, cfg.find('\n', at) - at, "tokens_file: \"" + name + "-tokens.textproto\"");
    std::ofstream(s.dir() / (name + ".textproto")) << cfg;
    return (s.dir() / (name + ".textproto")).string();
  };
  const std::string hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const std::string centre =
      config_with("empty-centre", "tokens { label: \"centre-without-scope\" sha256_hex: \"" + hash +
                                      "\" role: ROLE_CENTRE scope: \"\" }\n");
  const std::string officer =
      config_with("unknown-district", "tokens { label: \"officer-of-nowhere\" sha256_hex: \"" +
                                          hash + "\" role: ROLE_OFFICER scope: \"nowhere\" }\n");
  // When checked / Then each fails naming the token by its label, never its hash
  auto empty = henvisctl(s.dir(), "config check " + centre);
  CHECK(empty.status != 0);
  CHECK(empty.err.find("token 'centre-without-scope' (centre): scope is empty") !=
        std::string::npos);
  CHECK(empty.err.find(hash) == std::string::npos);
  auto unknown = henvisctl(s.dir(), "config check " + officer);
  CHECK(unknown.status != 0);
  CHECK(unknown.err.find("token 'officer-of-nowhere' (officer): scope 'nowhere' is not a "
                         "district") != std::string::npos);
  // When the router is started with the first / Then it refuses to start, naming the label
  Process router(std::string(HENVIS_BUILD_DIR) + "/services/router/henvis-router",
                 {"--config", centre}, s.dir() / "empty-centre.log");
  CHECK(router.wait(std::chrono::seconds(30)) == 2);
  const std::string log = slurp(s.dir() / "empty-centre.log");
  CHECK(log.find("configuration error") != std::string::npos);
  CHECK(log.find("centre-without-scope") != std::string::npos);
  CHECK(log.find(hash) == std::string::npos);
}

TEST_CASE("henvisctl config check checks the notifier's key sources as the notifier would",
          "[integration][henvisctl][config]") {
  Stack s;
  std::ofstream(s.dir() / "token") << "dev-service-notifier\n";
  const auto notifier = [&](const std::string& name, const std::string& extra) {
    std::ofstream(s.dir() / name) << "service: \"notifier\"\n"
                                  << "kafka { bootstrap_file: \"bootstrap.txt\" }\n"
                                  << "database: \"notifier.db\"\n"
                                  << "directory_file: \"" << (DEV / "directory.textproto").string()
                                  << "\"\n"
                                  << "tokens_file: \"" << (DEV / "tokens.textproto").string()
                                  << "\"\n"
                                  << extra;
    return (s.dir() / name).string();
  };
  // Given a dev notifier fetching underretning keys over http
  const auto dev = notifier("dev.textproto",
                            "dev: true\nunderretning_keys { socialsog_url: "
                            "\"http://127.0.0.1:8083\" token_file: \"token\" }\n");
  // When checked / Then it is ok and says where the keys come from
  auto ok = henvisctl(s.dir(), "config check " + dev);
  INFO(ok.err);
  CHECK(ok.status == 0);
  CHECK(ok.out.find("underretning keys from socialsog") != std::string::npos);

  // Given a block without its token file, and one whose token file is missing
  const auto http = notifier("http.textproto",
                             "dev: true\nunderretning_keys { socialsog_url: "
                             "\"http://127.0.0.1:8083\" }\n");
  auto half = henvisctl(s.dir(), "config check " + http);
  // Then each fails naming the block
  CHECK(half.status != 0);
  CHECK(half.err.find("underretning_keys needs both socialsog_url and token_file") !=
        std::string::npos);
  const auto missing = notifier("missing.textproto",
                                "dev: true\nunderretning_keys { socialsog_url: "
                                "\"http://127.0.0.1:8083\" token_file: \"no-such-token\" }\n");
  auto gone = henvisctl(s.dir(), "config check " + missing);
  CHECK(gone.status != 0);
  CHECK(gone.err.find("underretning_keys.token_file") != std::string::npos);

  // Given the block in another service's config / Then it is refused
  std::ofstream(s.dir() / "router.textproto")
      << slurp(s.dir() / "dev.textproto")
             .replace(0, std::string("service: \"notifier\"").size(), "service: \"router\"");
  auto router = henvisctl(s.dir(), "config check " + (s.dir() / "router.textproto").string());
  CHECK(router.status != 0);
  CHECK(router.err.find("underretning_keys is read by the notifier only") != std::string::npos);
}
