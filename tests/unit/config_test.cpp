// Configuration files (protobuf text format) and bearer-token authentication.

#include "henvis/config.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "henvis/auth.hpp"
#include "henvis/digest.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/config.pb.h"
#include "support.hpp"

namespace {

using henvis::test::dev_config;
using henvis::test::TempDir;

henvis::auth::TokenStore dev_tokens() {
  return henvis::auth::TokenStore(
      henvis::config::load<henvis::v1::Tokens>(dev_config("tokens.textproto").string()));
}

}  // namespace

TEST_CASE("config::load refuses an unknown field and names file, line and column", "[config]") {
  // Given a Directory file whose third line holds a field the schema lacks
  TempDir tmp("henvis-config-test");
  const auto p = tmp.write("dir.textproto",
                           "version: \"t-1\"\n"
                           "districts { id: \"mvj\" }\n"
                           "  bogus_field: 3\n");
  // When loaded
  // Then config::Error names the file, line 3 and a column, and the field
  // (protobuf's parser reports the column after the field name, here 14)
  henvis::v1::Directory d;
  try {
    henvis::config::load(p.string(), d);
    FAIL("no error");
  } catch (const henvis::config::Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK_THAT(what, Catch::StartsWith(p.string() + ":3:"));
    CHECK_THAT(what, Catch::Matches(".*dir\\.textproto:3:[0-9]+: .*"));
    CHECK_THAT(what, Catch::Contains("bogus_field"));
  }
}

TEST_CASE("config::load refuses a missing file naming it", "[config]") {
  // Given a path that does not exist
  TempDir tmp("henvis-config-test");
  const auto p = tmp.path / "missing.textproto";
  // When loaded / Then config::Error names the path
  henvis::v1::Directory d;
  CHECK_THROWS_AS(henvis::config::load(p.string(), d), henvis::config::Error);
  CHECK_THROWS_WITH(henvis::config::load(p.string(), d), Catch::Contains(p.string()));
}

TEST_CASE("config::load parses the dev service configs", "[config]") {
  // Given the dev intake, router and notifier configs
  for (const char* f : {"intake.textproto", "router.textproto", "notifier.textproto"}) {
    // When loaded / Then each parses and names its directory and tokens files
    auto c = henvis::config::load<henvis::v1::ServiceConfig>(dev_config(f).string());
    CHECK(c.directory_file() == "directory.textproto");
    CHECK(c.tokens_file() == "tokens.textproto");
  }
}

TEST_CASE("config::resolve keeps absolute paths and joins relative ones", "[config]") {
  // Given absolute, relative and empty paths / When resolved against a base
  // Then absolute ones are kept and relative ones are joined and normalised
  CHECK(henvis::config::resolve("/etc/henvis", "/var/x.db") == "/var/x.db");
  CHECK(henvis::config::resolve("/etc/henvis/dev", "../../var/x.db") == "/etc/var/x.db");
  CHECK(henvis::config::resolve("/etc/henvis", "") == "");
  CHECK(henvis::config::dir_of("x.textproto") == ".");
  CHECK(henvis::config::dir_of("/a/b/x.textproto") == "/a/b");
}

TEST_CASE("TokenStore: the dev admin token authenticates as admin", "[auth]") {
  // Given the dev tokens
  const auto store = dev_tokens();
  // docs/design.md's ten (a coordinator per district) and a centre token for each of the 11,
  // henvis-web's delegating token, and the router's and the notifier's data-key tokens
  REQUIRE(store.size() == 22);
  // When "Bearer dev-admin" is presented
  auto p = store.authenticate("Bearer dev-admin");
  // Then it is the admin
  REQUIRE(p.has_value());
  CHECK(p->role == henvis::v1::ROLE_ADMIN);
  CHECK(p->label == "dev-admin");
}

TEST_CASE("dev config: every district has a coordinator recipient and a coordinator token",
          "[auth][directory]") {
  // Given the dev directory and tokens
  const auto dir = henvis::test::dev_directory();
  const auto store = dev_tokens();
  REQUIRE(dir.raw().districts_size() >= 2);
  for (const auto& d : dir.raw().districts()) {
    CAPTURE(d.id());
    // Then its unroutable referrals have a coordinator to be told
    CHECK(dir.coordinator(d.id()) != nullptr);
    // And that coordinator a dev token scoped to the district
    const auto p = store.authenticate("Bearer dev-coordinator-" + d.id());
    REQUIRE(p.has_value());
    CHECK(p->role == henvis::v1::ROLE_COORDINATOR);
    CHECK(p->scope == d.id());
  }
}

TEST_CASE("TokenStore: the dev centre token carries its recipient scope", "[auth]") {
  // Given the dev tokens / When "Bearer dev-center-657" is presented
  // Then it is a centre scoped to rusmiddelcenter-657
  const auto store = dev_tokens();
  auto p = store.authenticate("Bearer dev-center-657");
  REQUIRE(p.has_value());
  CHECK(p->role == henvis::v1::ROLE_CENTRE);
  CHECK(p->scope == "rusmiddelcenter-657");
}

TEST_CASE("TokenStore: a wrong token or a value without 'Bearer ' is refused", "[auth]") {
  // Given the dev tokens
  const auto store = dev_tokens();
  // When presented with a wrong token, the token alone, an empty value or a bare scheme
  // Then none authenticates
  CHECK_FALSE(store.authenticate("Bearer dev-admin2").has_value());
  CHECK_FALSE(store.authenticate("Bearer not-a-token").has_value());
  CHECK_FALSE(store.authenticate("dev-admin").has_value());
  CHECK_FALSE(store.authenticate("Basic dev-admin").has_value());
  CHECK_FALSE(store.authenticate("Bearer ").has_value());
  CHECK_FALSE(store.authenticate("").has_value());
  CHECK_FALSE(store.authenticate("Bearer  dev-admin").has_value());
}

TEST_CASE("TokenStore refuses a hash that is not 64 lowercase hex digits", "[auth]") {
  // Given a Tokens config with one entry (valid, then with bad hashes)
  auto make = [](const std::string& hash) {
    henvis::v1::Tokens t;
    auto* e = t.add_tokens();
    e->set_label("someone");
    e->set_sha256_hex(hash);
    e->set_role(henvis::v1::ROLE_OFFICER);
    return t;
  };
  const std::string good = henvis::sha256_hex("secret");
  REQUIRE_NOTHROW(henvis::auth::TokenStore(make(good)));
  // Given a non-hex, a short, an upper-case and an empty hash / Then each is refused by label
  std::string nonhex = good;
  nonhex[10] = 'g';
  std::string upper = good;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& bad : {nonhex, good.substr(0, 63), upper, std::string()}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(henvis::auth::TokenStore(make(bad)), std::invalid_argument);
    CHECK_THROWS_WITH(henvis::auth::TokenStore(make(bad)), Catch::Contains("someone"));
  }
}

TEST_CASE("TokenStore refuses a repeated hash and a missing role", "[auth]") {
  // Given two entries with the same hash
  henvis::v1::Tokens t;
  for (const char* label : {"first", "second"}) {
    auto* e = t.add_tokens();
    e->set_label(label);
    e->set_sha256_hex(henvis::sha256_hex("same"));
    e->set_role(henvis::v1::ROLE_OFFICER);
  }
  // Then refused naming the second
  CHECK_THROWS_AS(henvis::auth::TokenStore(t), std::invalid_argument);
  CHECK_THROWS_WITH(henvis::auth::TokenStore(t), Catch::Contains("second"));

  // Given an entry without role / Then refused
  henvis::v1::Tokens r;
  auto* e = r.add_tokens();
  e->set_label("norole");
  e->set_sha256_hex(henvis::sha256_hex("x"));
  CHECK_THROWS_AS(henvis::auth::TokenStore(r), std::invalid_argument);
}

TEST_CASE("token scopes are checked against the directory, naming the token by its label",
          "[auth][scope]") {
  const auto directory = henvis::test::dev_directory();
  const auto dev =
      henvis::config::load<henvis::v1::Tokens>(dev_config("tokens.textproto").string());
  // Given the dev tokens / Then every scope is right for its role
  REQUIRE_NOTHROW(henvis::auth::check_scopes(dev, directory));
  // Given one token added with a scope wrong for its role
  auto refused = [&](const std::string& label, henvis::v1::Role role, const std::string& scope) {
    henvis::v1::Tokens t = dev;
    auto* e = t.add_tokens();
    e->set_label(label);
    e->set_sha256_hex(henvis::sha256_hex("clear-token-" + label));
    e->set_role(role);
    e->set_scope(scope);
    try {
      henvis::auth::check_scopes(t, directory);
    } catch (const std::invalid_argument& ex) {
      const std::string what = ex.what();
      // Then the error names the label, never the token or its hash
      CHECK(what.find("token '" + label + "'") != std::string::npos);
      CHECK(what.find("clear-token-") == std::string::npos);
      CHECK(what.find(e->sha256_hex()) == std::string::npos);
      return what;
    }
    return std::string();
  };
  // A centre with an empty scope, or a district's id, or a municipality's recipient id
  CHECK(refused("centre-empty", henvis::v1::ROLE_CENTRE, "").find("scope is empty") !=
        std::string::npos);
  CHECK_FALSE(refused("centre-district", henvis::v1::ROLE_CENTRE, "mvj").empty());
  CHECK_FALSE(refused("centre-kommune", henvis::v1::ROLE_CENTRE, "kommune-657").empty());
  // An officer or coordinator with an empty or unknown district
  CHECK(refused("officer-unknown", henvis::v1::ROLE_OFFICER, "nowhere")
            .find("'nowhere' is not a district") != std::string::npos);
  CHECK_FALSE(refused("officer-empty", henvis::v1::ROLE_OFFICER, "").empty());
  CHECK_FALSE(refused("coordinator-empty", henvis::v1::ROLE_COORDINATOR, "").empty());
  // A municipality scoped to a centre, or to nothing
  CHECK_FALSE(
      refused("municipality-centre", henvis::v1::ROLE_MUNICIPALITY, "rusmiddelcenter-657").empty());
  CHECK_FALSE(refused("municipality-empty", henvis::v1::ROLE_MUNICIPALITY, "").empty());
  // An evaluator or admin with a scope (nothing would enforce it)
  CHECK_FALSE(refused("evaluator-scoped", henvis::v1::ROLE_EVALUATOR, "mvj").empty());
  CHECK_FALSE(refused("admin-scoped", henvis::v1::ROLE_ADMIN, "mvj").empty());
  // And the right scopes for each role are accepted
  CHECK(refused("ok-officer", henvis::v1::ROLE_OFFICER, "oj").empty());
  CHECK(refused("ok-centre", henvis::v1::ROLE_CENTRE, "rusmiddelcenter-661").empty());
  CHECK(refused("ok-municipality", henvis::v1::ROLE_MUNICIPALITY, "kommune-751").empty());
  CHECK(refused("ok-evaluator", henvis::v1::ROLE_EVALUATOR, "").empty());
}

TEST_CASE("config check refuses a negative or too long retention period, naming the field",
          "[config][retention]") {
  using henvis::config::check_ranges;
  henvis::v1::ServiceConfig c;
  c.mutable_router()->mutable_closed_retention()->set_days(180);
  c.mutable_notifier()->mutable_acknowledged_retention()->set_seconds(2);
  CHECK_NOTHROW(check_ranges(c));
  const auto refused = [&](const std::string& field) {
    try {
      check_ranges(c);
    } catch (const henvis::config::Error& e) {
      return std::string(e.what()).rfind(field + ": ", 0) == 0;
    }
    return false;
  };
  c.mutable_router()->mutable_unreachable_retention()->set_days(-1);
  CHECK(refused("router.unreachable_retention.days"));
  c.mutable_router()->mutable_unreachable_retention()->set_days(1);
  c.mutable_notifier()->mutable_unacknowledged_retention()->set_seconds(86401);
  CHECK(refused("notifier.unacknowledged_retention.seconds"));
  c.mutable_notifier()->mutable_unacknowledged_retention()->set_seconds(0);
  c.mutable_notifier()->set_retention_check_seconds(-5);
  CHECK(refused("notifier.retention_check_seconds"));
}

// ---- Keys outside the database (issue 12 item 9, docs/decisions.md 23) ----

namespace {
// A key kept "in the database": what key_from_file_or_dev_db's callbacks see.
struct KeptKey {
  std::optional<std::string> value;
  int generated = 0;
  std::function<std::optional<std::string>()> kept() {
    return [this] { return value; };
  }
  std::function<void(const std::string&)> keep() {
    return [this](const std::string& k) {
      value = k;
      ++generated;
    };
  }
};
}  // namespace

TEST_CASE("outside dev a key without a key file is refused, naming the config field",
          "[config][keys]") {
  TempDir tmp("henvis-keys");
  henvis::sqlite::Db db(tmp.file("k.db"));
  KeptKey k;
  CHECK_THROWS_WITH(henvis::config::key_from_file_or_dev_db("router.person_key_file", "", 16, false,
                                                            db, k.kept(), k.keep()),
                    Catch::StartsWith("router.person_key_file is required"));
  CHECK(k.generated == 0);
}

TEST_CASE("in dev a key without a key file is generated once and kept in the database",
          "[config][keys]") {
  TempDir tmp("henvis-keys");
  henvis::sqlite::Db db(tmp.file("k.db"));
  KeptKey k;
  const std::string first = henvis::config::key_from_file_or_dev_db(
      "evaluation.cell_key_file", "", 16, true, db, k.kept(), k.keep());
  const std::string again = henvis::config::key_from_file_or_dev_db(
      "evaluation.cell_key_file", "", 16, true, db, k.kept(), k.keep());
  CHECK(first.size() == 32);
  CHECK(again == first);
  CHECK(k.generated == 1);
}

TEST_CASE("a named key file is used as it is, in dev or not, and a short one is refused",
          "[config][keys]") {
  TempDir tmp("henvis-keys");
  henvis::sqlite::Db db(tmp.file("k.db"));
  KeptKey k;
  const auto key = tmp.write("key", "0123456789abcdef\n");
  CHECK(henvis::config::key_from_file_or_dev_db("router.person_key_file", key.string(), 16, false,
                                                db, k.kept(), k.keep()) == "0123456789abcdef\n");
  const auto short_key = tmp.write("short", "0123");
  CHECK_THROWS_WITH(
      henvis::config::key_from_file_or_dev_db("router.person_key_file", short_key.string(), 16,
                                              true, db, k.kept(), k.keep()),
      "router.person_key_file must hold at least 16 bytes");
  CHECK(k.generated == 0);
}

TEST_CASE(
    "config::check_key_files refuses a non-dev router, evaluation or intake config without a key "
    "file",
    "[config][keys]") {
  TempDir tmp("henvis-keys");
  henvis::v1::ServiceConfig router;
  router.set_service("router");
  CHECK_THROWS_WITH(henvis::config::check_key_files(router, tmp.path.string()),
                    Catch::StartsWith("router.person_key_file is required"));
  henvis::v1::ServiceConfig evaluation;
  evaluation.set_service("evaluation");
  CHECK_THROWS_WITH(henvis::config::check_key_files(evaluation, tmp.path.string()),
                    Catch::StartsWith("evaluation.cell_key_file is required"));
  evaluation.set_dev(true);
  CHECK(henvis::config::check_key_files(evaluation, tmp.path.string()) ==
        "evaluation.cell_key_file (dev: kept in the database)");
  tmp.write("person-key", std::string(32, 'k'));
  router.mutable_router()->set_person_key_file("person-key");
  CHECK(henvis::config::check_key_files(router, tmp.path.string()) == "router.person_key_file");
  henvis::v1::ServiceConfig intake;
  intake.set_service("intake");
  CHECK_THROWS_WITH(henvis::config::check_key_files(intake, tmp.path.string()),
                    Catch::StartsWith("intake.partition_key_file is required"));
  intake.mutable_intake()->set_partition_key_file("person-key");
  CHECK(henvis::config::check_key_files(intake, tmp.path.string()) == "intake.partition_key_file");
  henvis::v1::ServiceConfig notifier;
  notifier.set_service("notifier");
  CHECK(henvis::config::check_key_files(notifier, tmp.path.string()).empty());
}

TEST_CASE(
    "config::read_secret_file drops trailing line breaks and names the setting, not the secret",
    "[config][keys]") {
  TempDir tmp("henvis-keys");
  CHECK(henvis::config::read_secret_file(tmp.write("t", "s3cret\r\n").string(), "web.x") ==
        "s3cret");
  CHECK_THROWS_WITH(henvis::config::read_secret_file(tmp.write("e", "\n").string(), "web.x"),
                    "web.x: " + tmp.file("e") + " is empty");
  CHECK_THROWS_WITH(henvis::config::read_secret_file(tmp.file("absent"), "web.x"),
                    "web.x: cannot read " + tmp.file("absent"));
}

TEST_CASE("the shipped dev configs are dev and the production example names its person key",
          "[config][keys]") {
  for (const char* f : {"intake.textproto", "router.textproto", "notifier.textproto",
                        "evaluation.textproto", "socialsog.textproto", "web.textproto"})
    CHECK(henvis::config::load<henvis::v1::ServiceConfig>(dev_config(f).string()).dev());
  const auto prod = henvis::config::load<henvis::v1::ServiceConfig>(
      (std::filesystem::path(HENVIS_SOURCE_DIR) / "deploy/config/prod-example/router.textproto")
          .string());
  CHECK_FALSE(prod.dev());
  CHECK_FALSE(prod.router().person_key_file().empty());
}
