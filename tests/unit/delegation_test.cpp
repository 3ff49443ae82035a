// Delegated principals (docs/decisions.md "Delegated principals (henvis-web)"):
// a delegating token acts only as the person its request names in the
// Henvis-Person* headers; another token's headers are ignored.

#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "henvis/access_log.hpp"
#include "henvis/auth.hpp"
#include "henvis/digest.hpp"
#include "henvis/http.hpp"
#include "support.hpp"

namespace {

namespace auth = henvis::auth;
namespace http = henvis::http;
namespace v1 = henvis::v1;

const std::string WEB_TOKEN = "web-secret-token";
const std::string CENTRE_TOKEN = "centre-secret-token";

v1::Tokens tokens() {
  v1::Tokens t;
  auto* web = t.add_tokens();
  web->set_label("henvis-web");
  web->set_sha256_hex(henvis::sha256_hex(WEB_TOKEN));
  web->set_delegating(true);  // no role or scope of its own
  auto* centre = t.add_tokens();
  centre->set_label("center-657");
  centre->set_sha256_hex(henvis::sha256_hex(CENTRE_TOKEN));
  centre->set_role(v1::ROLE_CENTRE);
  centre->set_scope("rusmiddelcenter-657");
  return t;
}

auth::TokenStore store() { return auth::TokenStore(tokens(), henvis::test::dev_directory()); }

// The header a refusal names, or "" if `r` is a principal.
std::string refused_header(const std::variant<auth::Principal, auth::Refusal>& r) {
  const auto* refusal = std::get_if<auth::Refusal>(&r);
  return refusal ? refusal->header : "";
}

}  // namespace

TEST_CASE("a delegating token acts as the named person with their role and scope",
          "[auth][delegation]") {
  // Given henvis-web's delegating token and a centre person's headers
  const auto s = store();
  const auto r =
      s.authenticate("Bearer " + WEB_TOKEN, {"anne.centre-1", "centre", "rusmiddelcenter-657"});
  // Then the principal is that person, in the centre's role and scope, under the token's label
  REQUIRE(std::holds_alternative<auth::Principal>(r));
  const auto& p = std::get<auth::Principal>(r);
  CHECK(p.label == "henvis-web");
  CHECK(p.person == "anne.centre-1");
  CHECK(p.role == v1::ROLE_CENTRE);
  CHECK(p.scope == "rusmiddelcenter-657");
  // And an evaluator needs (and may have) no scope
  CHECK(refused_header(s.authenticate("Bearer " + WEB_TOKEN, {"eva", "evaluator", ""})).empty());
}

TEST_CASE("a delegating token without a valid Henvis-Person is refused naming that header",
          "[auth][delegation]") {
  const auto s = store();
  const std::string bearer = "Bearer " + WEB_TOKEN;
  // Given no person, one too long, and ones with characters outside [a-z0-9._-]
  for (const std::string& person :
       {std::string(), std::string(65, 'a'), std::string("Anne"), std::string("anne hansen"),
        std::string("anne/x"), std::string("ånne")}) {
    CAPTURE(person);
    const auto r = s.authenticate(bearer, {person, "centre", "rusmiddelcenter-657"});
    // Then refused naming Henvis-Person, and the reason never echoes the value
    REQUIRE(refused_header(r) == "Henvis-Person");
    if (!person.empty()) CHECK(std::get<auth::Refusal>(r).reason.find(person) == std::string::npos);
  }
  // And 64 characters of the allowed ones are a user name
  CHECK(refused_header(s.authenticate(bearer, {std::string(64, 'z'), "evaluator", ""})).empty());
  // And the one-argument authenticate refuses the delegating token outright
  CHECK_FALSE(s.authenticate(bearer).has_value());
}

TEST_CASE("a delegating token's person role must be a delegated role, and admin is not",
          "[auth][delegation]") {
  const auto s = store();
  const std::string bearer = "Bearer " + WEB_TOKEN;
  // Given a missing role, an unknown one, a capitalised one, and admin
  for (const std::string role : {"", "root", "Centre", "ROLE_CENTRE", "admin"}) {
    CAPTURE(role);
    // Then refused naming Henvis-Person-Role
    CHECK(refused_header(s.authenticate(bearer, {"anne", role, ""})) == "Henvis-Person-Role");
  }
}

TEST_CASE("a delegating token's person scope must suit the role in the directory",
          "[auth][delegation][scope]") {
  const auto s = store();
  const std::string bearer = "Bearer " + WEB_TOKEN;
  auto header = [&](const std::string& role, const std::string& scope) {
    return refused_header(s.authenticate(bearer, {"anne", role, scope}));
  };
  // Given scopes wrong for the role (as auth::check_scopes judges a token's)
  // Then refused naming Henvis-Person-Scope
  CHECK(header("centre", "") == "Henvis-Person-Scope");
  CHECK(header("centre", "mvj") == "Henvis-Person-Scope");
  CHECK(header("centre", "kommune-657") == "Henvis-Person-Scope");
  CHECK(header("officer", "nowhere") == "Henvis-Person-Scope");
  CHECK(header("coordinator", "") == "Henvis-Person-Scope");
  CHECK(header("municipality", "rusmiddelcenter-657") == "Henvis-Person-Scope");
  CHECK(header("evaluator", "mvj") == "Henvis-Person-Scope");
  // And the reason never echoes the scope asserted
  const auto r = s.authenticate(bearer, {"anne", "officer", "nowhere"});
  CHECK(std::get<auth::Refusal>(r).reason.find("nowhere") == std::string::npos);
  // And the right scopes pass
  CHECK(header("officer", "oj").empty());
  CHECK(header("coordinator", "mvj").empty());
  CHECK(header("municipality", "kommune-751").empty());
  CHECK(header("centre", "rusmiddelcenter-661").empty());
}

TEST_CASE("a token that is not delegating ignores Henvis-Person headers", "[auth][delegation]") {
  // Given the centre's own token with headers claiming another person, role and scope
  const auto r = store().authenticate("Bearer " + CENTRE_TOKEN, {"mallory", "coordinator", "mvj"});
  // Then it is the centre as configured, with no person
  REQUIRE(std::holds_alternative<auth::Principal>(r));
  const auto& p = std::get<auth::Principal>(r);
  CHECK(p.role == v1::ROLE_CENTRE);
  CHECK(p.scope == "rusmiddelcenter-657");
  CHECK(p.person.empty());
}

TEST_CASE("a delegating token may be configured without role or scope, others still need a role",
          "[auth][delegation][config]") {
  // Given the tokens above / Then they load and their scopes pass the start-up check
  REQUIRE_NOTHROW(store());
  CHECK_NOTHROW(auth::check_scopes(tokens(), henvis::test::dev_directory()));
  // Given a token without role that is not delegating / Then refused
  v1::Tokens t = tokens();
  t.mutable_tokens(0)->set_delegating(false);
  CHECK_THROWS_AS(auth::TokenStore(t), std::invalid_argument);
}

namespace {
// A server with one centre route answering the principal's person, role and scope.
struct Server {
  Server() : server({}, tokens_, routes(), metrics, [] { return true; }) {}
  static http::Router routes() {
    http::Router r;
    r.add("GET", "/v1/me", {v1::ROLE_CENTRE}, [](http::Request& req) {
      return http::Response{200, "text/plain",
                            req.principal.person + "|" +
                                std::string(auth::role_name(req.principal.role)) + "|" +
                                req.principal.scope};
    });
    return r;
  }
  http::Response get(const std::string& token, std::map<std::string, std::string> headers) {
    http::Request req;
    req.method = "GET";
    req.path = "/v1/me";
    req.remote_address = "127.0.0.1";
    req.headers = std::move(headers);
    req.headers["authorization"] = "Bearer " + token;
    return server.handle(req);
  }
  auth::TokenStore tokens_ = store();
  http::Metrics metrics;
  http::Server server;
};
}  // namespace

TEST_CASE("the server answers 401 naming the Henvis-Person header a delegating request lacks",
          "[http][delegation]") {
  Server s;
  // Given a delegating request with a person and role but a scope of another kind
  const auto r = s.get(WEB_TOKEN, {{"henvis-person", "anne"},
                                   {"henvis-person-role", "centre"},
                                   {"henvis-person-scope", "kommune-657"}});
  // Then 401 problem+json naming Henvis-Person-Scope, never echoing its value
  CHECK(r.status == 401);
  CHECK(r.content_type == "application/problem+json");
  CHECK(r.body.find("\"field\":\"Henvis-Person-Scope\"") != std::string::npos);
  CHECK(r.body.find("kommune-657") == std::string::npos);
  // Given one without any Henvis-Person header / Then 401 naming Henvis-Person
  const auto none = s.get(WEB_TOKEN, {});
  CHECK(none.status == 401);
  CHECK(none.body.find("\"field\":\"Henvis-Person\"") != std::string::npos);
  // And the refusals are counted by their own reason
  CHECK(s.metrics.render().find("henvis_http_auth_failures_total{reason=\"person\"} 2") !=
        std::string::npos);
}

TEST_CASE("the server runs a delegating request as the person, whose role decides the route",
          "[http][delegation]") {
  Server s;
  // Given a centre person's request / Then the handler sees that person, role and scope
  const auto ok = s.get(WEB_TOKEN, {{"henvis-person", "anne"},
                                    {"henvis-person-role", "centre"},
                                    {"henvis-person-scope", "rusmiddelcenter-657"}});
  CHECK(ok.status == 200);
  CHECK(ok.body == "anne|centre|rusmiddelcenter-657");
  // Given an officer person on the centre's route / Then 403 by the person's role
  const auto officer = s.get(
      WEB_TOKEN,
      {{"henvis-person", "bo"}, {"henvis-person-role", "officer"}, {"henvis-person-scope", "mvj"}});
  CHECK(officer.status == 403);
  // Given the centre's own token with a person header / Then it runs with no person
  const auto own = s.get(CENTRE_TOKEN, {{"henvis-person", "mallory"}});
  CHECK(own.status == 200);
  CHECK(own.body == "|centre|rusmiddelcenter-657");
}

TEST_CASE("access_log::record keeps the acting person beside the token's label",
          "[access_log][delegation]") {
  // Given a database with the access log and its person step
  henvis::test::TempDir tmp("henvis-delegation-test");
  henvis::sqlite::Db db((tmp.path / "a.db").string());
  db.exec(henvis::access_log::migration_all());
  // When a delegated principal and a direct one are recorded
  henvis::access_log::record(db, {"henvis-web", v1::ROLE_CENTRE, "rusmiddelcenter-657", "anne"},
                             "r-1", "read");
  henvis::access_log::record(db, {"center-657", v1::ROLE_CENTRE, "rusmiddelcenter-657", ""}, "r-1",
                             "read");
  // Then each row holds its person ("" for the direct token)
  auto q = db.query("SELECT who, person FROM access_log ORDER BY id");
  REQUIRE(q->step());
  CHECK(q->text(0) == "henvis-web");
  CHECK(q->text(1) == "anne");
  REQUIRE(q->step());
  CHECK(q->text(0) == "center-657");
  CHECK(q->text(1).empty());
}
