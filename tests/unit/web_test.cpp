// henvis-web's parts (services/web): users and their Argon2id passwords,
// sessions and the login throttle on a manual clock, the /auth endpoints
// through the server's dispatch (no sockets), what forwarding passes each
// way, the static files' paths and types, and the kit's open routes.
#include <sodium.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>

#include "henvis/clock.hpp"
#include "henvis/config.hpp"
#include "henvis/digest.hpp"
#include "henvis/http.hpp"
#include "henvis/v1/web.pb.h"
#include "support.hpp"
#include "web.hpp"

namespace {

namespace fs = std::filesystem;
namespace http = henvis::http;
namespace web = henvis::web;
namespace v1 = henvis::v1;
using henvis::test::TempDir;
using namespace std::chrono_literals;

const auto T0 = std::chrono::sys_days{std::chrono::year{2026} / 3 / 2} + 9h;

// A cheap Argon2id string (the minimum cost), so tests need not wait for the
// interactive one.
std::string quick_hash(const std::string& password) {
  REQUIRE(sodium_init() >= 0);
  char out[crypto_pwhash_STRBYTES];
  REQUIRE(crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                            crypto_pwhash_MEMLIMIT_MIN) == 0);
  return out;
}

// The same users (and hashes: a hash has a random salt) at every call.
v1::Users test_users() {
  static const v1::Users users = [] {
    v1::Users u;
    auto& officer = *u.add_users();
    officer.set_username("betjent-mvj");
    officer.set_display_name("Betjent");
    officer.set_password_hash(quick_hash("rigtigt"));
    officer.set_role(v1::ROLE_OFFICER);
    officer.set_scope("mvj");
    auto& evaluator = *u.add_users();
    evaluator.set_username("evaluator");
    evaluator.set_password_hash(quick_hash("andet"));
    evaluator.set_role(v1::ROLE_EVALUATOR);
    return u;
  }();
  return users;
}

http::Request request(const std::string& method, const std::string& path,
                      const std::string& body = "") {
  http::Request r;
  r.method = method;
  r.path = path;
  r.body = body;
  r.remote_address = "192.0.2.7";
  r.headers["host"] = "henvis.test";
  return r;
}

std::string login_body(const std::string& user, const std::string& password) {
  return R"({"username":")" + user + R"(","password":")" + password + R"("})";
}

// An Api on a migrated temporary database and a manual clock, served by a
// server's dispatch (Server::handle).
struct Web {
  TempDir tmp{"web-unit"};
  henvis::ManualClock clock{T0};
  http::Metrics metrics;
  henvis::auth::TokenStore tokens;
  std::unique_ptr<web::Api> api;
  std::unique_ptr<http::Server> server;

  Web() {
    fs::create_directories(tmp.path / "dist/assets");
    tmp.write("dist/index.html", "<!doctype html><title>henvis</title>");
    tmp.write("dist/assets/app.js", "console.log('henvis');");
    tmp.write("secret.txt", "not to be served");
    fs::create_symlink(tmp.path / "secret.txt", tmp.path / "dist/link.txt");
    henvis::sqlite::Db(tmp.file("web.db")).migrate(web::migrations());
    start(test_users());
  }

  // (Re)starts henvis-web on the same database with this users file.
  void start(const v1::Users& users) {
    web::Settings s;
    s.users = std::make_unique<web::Users>(users, henvis::test::dev_directory());
    v1::WebSettings w;
    auto& up = *w.add_upstreams();
    up.set_service("intake");
    up.set_url("http://127.0.0.1:1");  // nothing listens there
    s.upstreams = std::make_unique<web::Upstreams>(w);
    s.delegation_token = "web-token";
    s.assets_dir = fs::canonical(tmp.path / "dist");
    api = std::make_unique<web::Api>(std::move(s), tmp.file("web.db"), clock, metrics);
    http::Router r;
    api->register_routes(r);
    server = std::make_unique<http::Server>(http::ServerOptions{}, tokens, std::move(r), metrics,
                                            [] { return true; });
  }

  http::Response handle(http::Request r) { return server->handle(r); }

  // Logs in; the session cookie's value and the CSRF token.
  std::pair<std::string, std::string> login(const std::string& user = "betjent-mvj",
                                            const std::string& password = "rigtigt") {
    const auto res = handle(request("POST", "/auth/login", login_body(user, password)));
    REQUIRE(res.status == 200);
    const std::string cookie = res.headers.at("Set-Cookie");
    const auto value = cookie.substr(0, cookie.find(';')).substr(cookie.find('=') + 1);
    v1::WebSession s;
    http::parse_json(res.body, s);
    return {value, s.csrf_token()};
  }

  http::Request with_session(http::Request r, const std::string& cookie,
                             const std::string& csrf = "") {
    r.headers["cookie"] = "other=1; " + std::string(web::SESSION_COOKIE) + "=" + cookie;
    if (!csrf.empty()) r.headers["x-csrf-token"] = csrf;
    return r;
  }
};

}  // namespace

// ------------------------------------------------------------------ users

TEST_CASE("web users: the right password verifies, a wrong one and an unknown user do not",
          "[web]") {
  const web::Users users(test_users(), henvis::test::dev_directory());
  const auto ok = users.verify("betjent-mvj", "rigtigt");
  REQUIRE(ok);
  CHECK(ok->scope() == "mvj");
  CHECK_FALSE(users.verify("betjent-mvj", "forkert"));
  CHECK_FALSE(users.verify("ukendt", "rigtigt"));
  CHECK_FALSE(users.verify("evaluator", "rigtigt"));  // another user's password
}

TEST_CASE("web users: a non-Argon2id hash, a repeated name and a wrong scope are refused",
          "[web]") {
  const auto dir = henvis::test::dev_directory();
  auto plain = test_users();
  plain.mutable_users(0)->set_password_hash("rigtigt");
  CHECK_THROWS_WITH(web::Users(plain, dir), Catch::Contains("betjent-mvj") &&
                                                Catch::Contains("Argon2id") &&
                                                !Catch::Contains("rigtigt"));
  auto twice = test_users();
  *twice.add_users() = twice.users(0);
  CHECK_THROWS_WITH(web::Users(twice, dir), Catch::Contains("listed twice"));
  auto scope = test_users();
  scope.mutable_users(0)->set_scope("nowhere");
  CHECK_THROWS_WITH(web::Users(scope, dir), Catch::Contains("betjent-mvj"));
}

TEST_CASE("web users: hash_password makes an interactive Argon2id string that verifies", "[web]") {
  const std::string h = web::hash_password("henvis-dev");
  CHECK(h.rfind("$argon2id$", 0) == 0);
  CHECK(crypto_pwhash_str_verify(h.c_str(), "henvis-dev", 10) == 0);
  CHECK(crypto_pwhash_str_needs_rehash(h.c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0);
}

TEST_CASE("web users: every dev user logs in with henvis-dev and fits the dev directory", "[web]") {
  const auto file =
      henvis::config::load<v1::Users>(henvis::test::dev_config("users.textproto").string());
  const web::Users users(file, henvis::test::dev_directory());
  CHECK(users.size() == static_cast<std::size_t>(file.users_size()));
  CHECK(users.find("betjent-mvj"));
  CHECK(users.find("center-657"));
  CHECK(users.find("kommune-751"));
  CHECK(users.find("koordinator-oj"));
  CHECK(users.find("evaluator"));
  CHECK_FALSE(users.find("admin"));  // admin is not a web role
  // They share one hash (gen-dev-config): one verification covers all.
  for (const auto& u : file.users()) CHECK(u.password_hash() == file.users(0).password_hash());
  CHECK(users.verify("evaluator", "henvis-dev"));
}

// ---------------------------------------------------------------- sessions

TEST_CASE("web sessions: idle for 30 minutes or alive for 8 hours ends a session", "[web]") {
  TempDir tmp("web-sessions");
  henvis::sqlite::Db(tmp.file("web.db")).migrate(web::migrations());
  henvis::ManualClock clock(T0);
  web::Sessions sessions(tmp.file("web.db"), clock, {});
  const auto s = sessions.create("betjent-mvj");
  CHECK(s.id.size() == 64);
  CHECK(s.session.csrf_token.size() == 64);
  CHECK(s.session.csrf_token != s.id);
  clock.advance(29min);
  REQUIRE(sessions.resume(s.id));  // in use: the idle clock starts again
  clock.advance(29min);
  REQUIRE(sessions.resume(s.id));
  clock.advance(30min);
  CHECK_FALSE(sessions.resume(s.id));
  CHECK_FALSE(sessions.resume(s.id));  // deleted, not only refused

  clock.set(T0);
  const auto kept = sessions.create("betjent-mvj");
  for (int i = 0; i < 16; ++i) {  // used every 29 minutes: 7 h 44 min
    clock.advance(29min);
    REQUIRE(sessions.resume(kept.id));
  }
  clock.advance(16min);  // 8 h after log-in
  CHECK_FALSE(sessions.resume(kept.id));
  CHECK_FALSE(sessions.resume(""));
  CHECK_FALSE(sessions.resume("not-a-session"));
}

TEST_CASE("web sessions: only the SHA-256 of a session id is stored", "[web]") {
  TempDir tmp("web-sessions");
  henvis::sqlite::Db(tmp.file("web.db")).migrate(web::migrations());
  henvis::ManualClock clock(T0);
  std::string id;
  {
    web::Sessions sessions(tmp.file("web.db"), clock, {});
    id = sessions.create("betjent-mvj").id;
  }
  std::string bytes;
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    std::ifstream in(e.path(), std::ios::binary);
    bytes += std::string(std::istreambuf_iterator<char>(in), {});
  }
  CHECK(bytes.find(id) == std::string::npos);
  CHECK(bytes.find(henvis::sha256_hex(id)) != std::string::npos);
  // And a new connection (a restarted henvis-web) resumes it.
  web::Sessions again(tmp.file("web.db"), clock, {});
  CHECK(again.resume(id));
}

TEST_CASE(
    "web throttle: the 6th log-in after 5 failures for a user from one address waits until the "
    "oldest leaves the 15 minutes",
    "[web]") {
  TempDir tmp("web-throttle");
  henvis::sqlite::Db(tmp.file("web.db")).migrate(web::migrations());
  henvis::ManualClock clock(T0);
  web::Sessions sessions(tmp.file("web.db"), clock, {});
  auto fail = [&](const std::string& user, const std::string& address) {
    REQUIRE(sessions.attempt_login(user, address).wait_seconds == 0);
  };
  for (int i = 0; i < 5; ++i) {
    CHECK(sessions.throttled("betjent-mvj", "192.0.2.1") == 0);
    fail("betjent-mvj", "192.0.2.1");
    clock.advance(1min);
  }
  // The first failure was 5 minutes ago: 10 minutes to wait, from this address
  CHECK(sessions.throttled("betjent-mvj", "192.0.2.1") == 600);
  CHECK(sessions.attempt_login("betjent-mvj", "192.0.2.1").wait_seconds == 600);
  // but not from another: one address cannot lock a person out
  CHECK(sessions.throttled("betjent-mvj", "192.0.2.99") == 0);
  CHECK(sessions.throttled("evaluator", "192.0.2.1") == 0);  // another user
  clock.advance(10min);
  CHECK(sessions.throttled("betjent-mvj", "192.0.2.1") == 0);
  // A right password forgets the user's failures from that address
  clock.advance(5min);  // the other four have left the window too
  fail("betjent-mvj", "192.0.2.1");
  const auto ok = sessions.attempt_login("betjent-mvj", "192.0.2.1");
  REQUIRE(ok.wait_seconds == 0);
  sessions.login_succeeded(ok);
  for (int i = 0; i < 4; ++i) fail("betjent-mvj", "192.0.2.1");
  CHECK(sessions.throttled("betjent-mvj", "192.0.2.1") == 0);
}

TEST_CASE(
    "web throttle: 50 failures for one user from many addresses throttle that user "
    "everywhere",
    "[web]") {
  TempDir tmp("web-throttle");
  henvis::sqlite::Db(tmp.file("web.db")).migrate(web::migrations());
  henvis::ManualClock clock(T0);
  web::Sessions sessions(tmp.file("web.db"), clock, {});
  for (int i = 0; i < 50; ++i)
    REQUIRE(sessions.attempt_login("betjent-mvj", "198.51.100." + std::to_string(i)).wait_seconds ==
            0);
  CHECK(sessions.throttled("betjent-mvj", "203.0.113.1") == 900);
  CHECK(sessions.throttled("evaluator", "203.0.113.1") == 0);
}

TEST_CASE("web throttle: 20 failures from one address throttle every user from it", "[web]") {
  TempDir tmp("web-throttle");
  henvis::sqlite::Db(tmp.file("web.db")).migrate(web::migrations());
  henvis::ManualClock clock(T0);
  web::Sessions sessions(tmp.file("web.db"), clock, {});
  for (int i = 0; i < 20; ++i)
    REQUIRE(sessions.attempt_login("user-" + std::to_string(i), "192.0.2.1").wait_seconds == 0);
  CHECK(sessions.throttled("new-user", "192.0.2.1") == 900);
  CHECK(sessions.throttled("new-user", "192.0.2.2") == 0);
  clock.advance(web::THROTTLE_WINDOW);
  sessions.prune();
  CHECK(sessions.throttled("new-user", "192.0.2.1") == 0);
}

TEST_CASE(
    "web throttle: behind a trusted proxy the browser's address is the last "
    "X-Forwarded-For entry, from anyone else the peer's",
    "[web]") {
  henvis::http::Request r;
  r.remote_address = "10.0.0.5";
  r.headers["x-forwarded-for"] = "203.0.113.9, 198.51.100.7";
  CHECK(web::client_address(r, {"10.0.0.5"}) == "198.51.100.7");
  CHECK(web::client_address(r, {}) == "10.0.0.5");  // a header anyone can send
  r.headers.erase("x-forwarded-for");
  CHECK(web::client_address(r, {"10.0.0.5"}) == "10.0.0.5");
}

// ---------------------------------------------------------------- /auth

TEST_CASE("web login: a wrong password and an unknown user get the same 401", "[web]") {
  Web w;
  const auto wrong = w.handle(request("POST", "/auth/login", login_body("betjent-mvj", "x")));
  const auto unknown = w.handle(request("POST", "/auth/login", login_body("ukendt", "x")));
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body == unknown.body);
  CHECK(wrong.headers.count("Set-Cookie") == 0);
  const auto missing = w.handle(request("POST", "/auth/login", R"({"username":"betjent-mvj"})"));
  CHECK(missing.status == 400);
  CHECK_THAT(missing.body, Catch::Contains(R"("field":"password")"));
}

TEST_CASE(
    "web login: the session cookie is HttpOnly, Secure, SameSite=Strict, Path=/ and the "
    "answer names the user",
    "[web]") {
  Web w;
  const auto res = w.handle(request("POST", "/auth/login", login_body("betjent-mvj", "rigtigt")));
  REQUIRE(res.status == 200);
  const std::string cookie = res.headers.at("Set-Cookie");
  CHECK(cookie.rfind("henvis_session=", 0) == 0);
  for (const char* flag : {"; HttpOnly", "; Secure", "; SameSite=Strict", "; Path=/"})
    CHECK_THAT(cookie, Catch::Contains(flag));
  v1::WebSession s;
  http::parse_json(res.body, s);
  CHECK(s.user().username() == "betjent-mvj");
  CHECK(s.user().display_name() == "Betjent");
  CHECK(s.user().role() == "officer");
  CHECK(s.user().scope() == "mvj");
  CHECK(s.csrf_token().size() == 64);
}

TEST_CASE(
    "web session: GET /auth/session answers the session's user and CSRF token, else 401 "
    "session-expired",
    "[web]") {
  Web w;
  const auto [cookie, csrf] = w.login();
  const auto res = w.handle(w.with_session(request("GET", "/auth/session"), cookie));
  REQUIRE(res.status == 200);
  v1::WebSession s;
  http::parse_json(res.body, s);
  CHECK(s.csrf_token() == csrf);
  const auto none = w.handle(request("GET", "/auth/session"));
  CHECK(none.status == 401);
  CHECK_THAT(none.body, Catch::Contains(R"("type":"/problems/session-expired")"));
  w.clock.advance(31min);
  CHECK(w.handle(w.with_session(request("GET", "/auth/session"), cookie)).status == 401);
}

TEST_CASE("web session: a new password, role or scope in the users file ends the user's sessions",
          "[web]") {
  Web w;
  auto session_status = [&](const std::string& cookie) {
    return w.handle(w.with_session(request("GET", "/auth/session"), cookie)).status;
  };
  // Unchanged file, restarted: the session goes on
  auto [cookie, csrf] = w.login();
  w.start(test_users());
  CHECK(session_status(cookie) == 200);
  // Another scope for the user
  auto moved = test_users();
  for (auto& u : *moved.mutable_users())
    if (u.username() == "betjent-mvj") u.set_scope("oj");
  w.start(moved);
  CHECK(session_status(cookie) == 401);
  // Another password hash
  w.start(test_users());
  std::tie(cookie, csrf) = w.login();
  auto rehashed = test_users();
  for (auto& u : *rehashed.mutable_users())
    if (u.username() == "betjent-mvj") u.set_password_hash(quick_hash("rigtigt"));
  w.start(rehashed);
  CHECK(session_status(cookie) == 401);
}

TEST_CASE("web logout: needs the CSRF token, deletes the session and clears the cookie", "[web]") {
  Web w;
  const auto [cookie, csrf] = w.login();
  CHECK(w.handle(w.with_session(request("POST", "/auth/logout"), cookie)).status == 403);
  CHECK(w.handle(w.with_session(request("POST", "/auth/logout"), cookie, "wrong")).status == 403);
  const auto res = w.handle(w.with_session(request("POST", "/auth/logout"), cookie, csrf));
  CHECK(res.status == 204);
  CHECK_THAT(res.headers.at("Set-Cookie"),
             Catch::Contains("henvis_session=;") && Catch::Contains("Max-Age=0"));
  CHECK(w.handle(w.with_session(request("GET", "/auth/session"), cookie)).status == 401);
}

TEST_CASE("web CSRF: a state change from another origin is refused even with the token", "[web]") {
  Web w;
  const auto [cookie, csrf] = w.login();
  auto r = w.with_session(request("POST", "/auth/logout"), cookie, csrf);
  r.headers["origin"] = "https://evil.example";
  CHECK(w.handle(r).status == 403);
  r.headers["origin"] = "http://henvis.test";  // plain http without insecure_cookies
  CHECK(w.handle(r).status == 403);
  auto login = request("POST", "/auth/login", login_body("betjent-mvj", "rigtigt"));
  login.headers["origin"] = "https://evil.example";
  CHECK(w.handle(login).status == 403);
  r.headers["origin"] = "https://henvis.test";
  CHECK(w.handle(r).status == 204);
}

TEST_CASE(
    "web throttle: the 6th log-in after 5 wrong passwords is 429 with Retry-After, even "
    "with the right password",
    "[web]") {
  Web w;
  for (int i = 0; i < 5; ++i)
    REQUIRE(w.handle(request("POST", "/auth/login", login_body("betjent-mvj", "x"))).status == 401);
  const auto res = w.handle(request("POST", "/auth/login", login_body("betjent-mvj", "rigtigt")));
  CHECK(res.status == 429);
  CHECK(res.headers.at("Retry-After") == "900");
  w.clock.advance(15min);
  CHECK(w.handle(request("POST", "/auth/login", login_body("betjent-mvj", "rigtigt"))).status ==
        200);
}

// ------------------------------------------------------------- forwarding

TEST_CASE(
    "web forwarding: no session is 401 session-expired, a state change needs the CSRF "
    "token, a service down is 502",
    "[web]") {
  Web w;
  const auto none = w.handle(request("GET", "/api/intake/v1/offers"));
  CHECK(none.status == 401);
  CHECK_THAT(none.body, Catch::Contains("session-expired"));
  const auto [cookie, csrf] = w.login();
  CHECK(w.handle(w.with_session(request("POST", "/api/intake/v1/offers", "{}"), cookie)).status ==
        403);
  CHECK(w.handle(w.with_session(request("GET", "/api/intake/v1/offers"), cookie)).status == 502);
  CHECK(w.handle(w.with_session(request("GET", "/api/elsewhere/v1/x"), cookie)).status == 404);
}

TEST_CASE("web forwarding: the target is the path after /api/<service> with the query as sent",
          "[web]") {
  auto r = request("GET", "/api/router/v1/referrals");
  r.raw_query = "status=open&q=a%20b";
  CHECK(web::upstream_target(r, "router") == "/v1/referrals?status=open&q=a%20b");
  r.path = "/api//router/v1/referrals";
  CHECK_FALSE(web::upstream_target(r, "router"));
  // Only the services' /v1/ API: not their operator routes
  for (const std::string path : {"/api/router/metrics", "/api/router/readyz",
                                 "/api/router/openapi.json", "/api/router/v1"}) {
    r.path = path;
    CHECK_FALSE(web::upstream_target(r, "router"));
  }
}

TEST_CASE(
    "web forwarding: only Content-Type, Accept and Idempotency-Key pass from the browser, "
    "the token and the person headers are henvis-web's",
    "[web]") {
  auto r = request("POST", "/api/intake/v1/offers", "{}");
  r.headers["content-type"] = "application/json";
  r.headers["accept"] = "application/json";
  r.headers["idempotency-key"] = "k-1";
  r.headers["authorization"] = "Bearer dev-admin";
  r.headers["henvis-person"] = "someone-else";
  r.headers["henvis-person-role"] = "admin";
  r.headers["cookie"] = "henvis_session=secret";
  r.headers["x-csrf-token"] = "csrf";
  const auto h = web::upstream_headers(r, "web-token", {"betjent-mvj", "officer", "mvj"});
  const http::Headers want = {
      {"Content-Type", "application/json"}, {"Accept", "application/json"},
      {"Idempotency-Key", "k-1"},           {"Authorization", "Bearer web-token"},
      {"Henvis-Person", "betjent-mvj"},     {"Henvis-Person-Role", "officer"},
      {"Henvis-Person-Scope", "mvj"}};
  CHECK(h == want);
}

TEST_CASE(
    "web forwarding: status, body, Content-Type, Content-Disposition and Retry-After come "
    "back, other headers do not",
    "[web]") {
  http::ClientResponse c;
  c.status = 429;
  c.content_type = "text/csv";
  c.body = "a,b\n";
  c.headers = {{"Content-Disposition", "attachment; filename=x.csv"},
               {"retry-after", "3"},
               {"Set-Cookie", "x=1"},
               {"WWW-Authenticate", "Bearer"}};
  const auto r = web::to_browser(c);
  CHECK(r.status == 429);
  CHECK(r.content_type == "text/csv");
  CHECK(r.body == "a,b\n");
  CHECK(r.headers ==
        std::map<std::string, std::string>{{"Content-Disposition", "attachment; filename=x.csv"},
                                           {"Retry-After", "3"}});
}

TEST_CASE(
    "web upstreams: an unknown service, a URL with a path and a repeated service are "
    "refused",
    "[web]") {
  const auto settings = [](const std::string& service, const std::string& url, int n = 1) {
    v1::WebSettings w;
    for (int i = 0; i < n; ++i) {
      auto& u = *w.add_upstreams();
      u.set_service(service);
      u.set_url(url);
    }
    return w;
  };
  CHECK_NOTHROW(web::Upstreams(settings("router", "http://127.0.0.1:8082")));
  CHECK_THROWS_WITH(web::Upstreams(settings("web", "http://127.0.0.1:8080")),
                    Catch::Contains("'web'"));
  CHECK_THROWS_WITH(web::Upstreams(settings("router", "http://127.0.0.1:8082/v1")),
                    Catch::Contains("without a path"));
  // https upstreams (TLS, port 443 unless given); http only in a dev config
  CHECK(web::Upstreams(settings("router", "https://x")).find("router")->tls);
  CHECK(web::Upstreams(settings("router", "https://x")).find("router")->port == "443");
  CHECK_THROWS_WITH(web::Upstreams(settings("router", "http://127.0.0.1:8082"), false),
                    Catch::Contains("https://"));
  CHECK_THROWS_WITH(web::Upstreams(settings("router", "ftp://x")), Catch::Contains("https://"));
  CHECK_THROWS_WITH(web::Upstreams(settings("router", "http://127.0.0.1:8082", 2)),
                    Catch::Contains("twice"));
}

// ------------------------------------------------------------ static files

TEST_CASE(
    "web assets: files by path with their type, index.html for app routes, nothing "
    "outside the directory",
    "[web]") {
  Web w;
  const auto js = w.handle(request("GET", "/assets/app.js"));
  CHECK(js.status == 200);
  CHECK(js.content_type == "text/javascript; charset=utf-8");
  CHECK(js.body == "console.log('henvis');");
  for (const char* route : {"/", "/betjent", "/center/henvisning/abc-123"}) {
    const auto page = w.handle(request("GET", route));
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
  }
  for (const char* refused : {"/missing.js", "/../secret.txt", "/assets/../../secret.txt",
                              "/link.txt", "/assets/..", "/api/x", "/auth/nothing", "/a\\b"})
    CHECK(w.handle(request("GET", refused)).status == 404);
}

TEST_CASE("web assets: types by extension", "[web]") {
  CHECK(web::content_type_of("index.html") == "text/html; charset=utf-8");
  CHECK(web::content_type_of("/x/app.css") == "text/css; charset=utf-8");
  CHECK(web::content_type_of("font.WOFF2") == "font/woff2");
  CHECK(web::content_type_of("icons.svg") == "image/svg+xml");
  CHECK(web::content_type_of("README") == "application/octet-stream");
  CHECK(web::content_type_of("x.exe") == "application/octet-stream");
  CHECK(web::is_app_route("/center/henvisning/0d6f"));
  CHECK_FALSE(web::is_app_route("/app.js"));
  CHECK_FALSE(web::is_safe_path("/a/../b"));
  CHECK_FALSE(web::is_safe_path("/./b"));
  CHECK(web::is_safe_path("/a/b.c"));
}

TEST_CASE(
    "web cookies and origins: the session cookie is found among others, Origin must be the "
    "web's own",
    "[web]") {
  CHECK(web::cookie_value("a=1; henvis_session=abc; b=2", "henvis_session") == "abc");
  CHECK(web::cookie_value("xhenvis_session=abc", "henvis_session").empty());
  CHECK(web::cookie_value("", "henvis_session").empty());
  auto r = request("POST", "/auth/logout");
  CHECK(web::origin_allowed(r, "", false));  // no Origin: a same-origin form or a tool
  r.headers["origin"] = "http://henvis.test";
  CHECK_FALSE(web::origin_allowed(r, "", false));
  CHECK(web::origin_allowed(r, "", true));
  CHECK_FALSE(web::origin_allowed(r, "https://henvis.example", true));
  r.headers["origin"] = "https://henvis.example";
  CHECK(web::origin_allowed(r, "https://henvis.example", false));
}

// ------------------------------------------------------ the kit's open routes

TEST_CASE("http open routes: no token needed, a rest route takes the rest of the path", "[web]") {
  http::Router r;
  r.add_open(
      "GET", "/api/{service}/{path}",
      [](http::Request& q) {
        return http::Response{200, "text/plain", q.params["service"] + "|" + q.params["path"]};
      },
      true);
  r.add("GET", "/closed", {v1::ROLE_ADMIN}, [](http::Request&) {
    return http::Response{200, "text/plain", "closed"};
  });
  henvis::auth::TokenStore tokens;
  http::Metrics metrics;
  http::Server server(http::ServerOptions{}, tokens, std::move(r), metrics, [] { return true; });
  auto get = [&](const std::string& path) {
    http::Request q;
    q.method = "GET";
    q.path = path;
    return server.handle(q);
  };
  CHECK(get("/api/router/v1/referrals/x%2Fy").body == "router|v1/referrals/x/y");
  CHECK(get("/api/router/v1").body == "router|v1");
  CHECK(get("/api/router").status == 404);
  CHECK(get("/closed").status == 401);
  CHECK_THROWS(http::Router().add_open("GET", "/fixed", {}, true));
}
