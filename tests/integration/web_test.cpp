// henvis-web as the browser meets it (services/web, docs/decisions.md 19):
// the real binary on loopback, logging in with the dev users, its session
// cookie, CSRF and Origin checks, the login throttle, forwarding to the real
// intake and to an in-process upstream that shows what it was sent, the
// static files and the headers on every response.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "harness.hpp"
#include "henvis/http.hpp"
#include "henvis/ids.hpp"
#include "henvis/v1/web.pb.h"

using namespace henvis::testing;
namespace fs = std::filesystem;

namespace {

const std::string DEV_PASSWORD = "henvis-dev";
const std::string CSP =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

// The built frontend's stand-in.
fs::path write_assets(const fs::path& dir) {
  const fs::path assets = dir / "assets";
  fs::create_directories(assets / "fonts");
  std::ofstream(assets / "index.html") << "<!doctype html><title>henvis</title>";
  std::ofstream(assets / "app.js") << "console.log('henvis');";
  std::ofstream(assets / "app.css") << "body{}";
  std::ofstream(assets / "fonts/x.woff2") << "woff2";
  std::ofstream(dir / "secret.txt") << "not to be served";
  return assets;
}

struct Login {
  HttpResult result;
  std::string cookie;  // "henvis_session=<id>", as the browser sends it back
  std::string csrf;
};

Login login(int port, const std::string& user, const std::string& password = DEV_PASSWORD) {
  Login l;
  l.result = http("POST", port, "/auth/login", "",
                  R"({"username":")" + user + R"(","password":")" + password + R"("})");
  const std::string set_cookie = l.result.header("Set-Cookie");
  l.cookie = set_cookie.substr(0, set_cookie.find(';'));
  if (l.result.status == 200) l.csrf = parse<henvis::v1::WebSession>(l.result.body).csrf_token();
  return l;
}

// A request as the logged-in browser makes it: its cookie and, when given, the
// CSRF token, plus `extra` headers.
HttpResult browser(const std::string& method, int port, const std::string& target, const Login& l,
                   const std::string& body = "", bool csrf = true,
                   std::vector<std::pair<std::string, std::string>> extra = {}) {
  extra.emplace_back("Cookie", l.cookie);
  if (csrf) extra.emplace_back("X-CSRF-Token", l.csrf);
  return http(method, port, target, "", body, extra);
}

// An upstream that answers every request with what it was sent (method,
// target, headers, body) as JSON, plus headers of its own.
class EchoUpstream {
 public:
  EchoUpstream() {
    namespace h = henvis::http;
    h::Router r;
    for (const char* m : {"GET", "POST"})
      r.add_open(
          m, "/{path}",
          [](h::Request& q) {
            google::protobuf::Struct s;
            auto& f = *s.mutable_fields();
            f["method"].set_string_value(q.method);
            f["target"].set_string_value(q.path + (q.raw_query.empty() ? "" : "?" + q.raw_query));
            f["body"].set_string_value(q.body);
            auto& headers = *f["headers"].mutable_struct_value()->mutable_fields();
            for (const auto& [name, value] : q.headers) headers[name].set_string_value(value);
            std::string json;
            (void)google::protobuf::util::MessageToJsonString(s, &json);
            h::Response res(201, "application/json", json);
            res.headers["Content-Disposition"] = "attachment; filename=\"x.csv\"";
            res.headers["Retry-After"] = "7";
            res.headers["X-Internal"] = "not for the browser";
            return res;
          },
          true);
    server_ = std::make_unique<h::Server>(h::ServerOptions{}, tokens_, std::move(r), metrics_,
                                          [] { return true; });
    server_->start();
  }
  ~EchoUpstream() { server_->stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

 private:
  henvis::auth::TokenStore tokens_;
  henvis::http::Metrics metrics_;
  std::unique_ptr<henvis::http::Server> server_;
};

google::protobuf::Struct as_struct(const std::string& json) {
  google::protobuf::Struct s;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &s).ok());
  return s;
}

std::string field(const google::protobuf::Struct& s, const std::string& name) {
  const auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

}  // namespace

TEST_CASE("Web: a dev user logs in, a wrong password and an unknown user get the same 401",
          "[integration][web]") {
  Stack s;
  s.start_web(write_assets(s.dir()));
  const int web = s.port("web");
  const auto ok = login(web, "betjent-mvj");
  REQUIRE(ok.result.status == 200);
  const auto session = parse<henvis::v1::WebSession>(ok.result.body);
  CHECK(session.user().username() == "betjent-mvj");
  CHECK(session.user().role() == "officer");
  CHECK(session.user().scope() == "mvj");
  CHECK(session.user().display_name() == "Betjent, Midt- og Vestjyllands Politi");
  CHECK(ok.result.header("Cache-Control") == "no-store");
  const auto wrong = login(web, "betjent-mvj", "forkert");
  const auto unknown = login(web, "ingen-saadan", "forkert");
  CHECK(wrong.result.status == 401);
  CHECK(unknown.result.status == 401);
  CHECK(wrong.result.body == unknown.result.body);
  CHECK(wrong.result.header("Set-Cookie").empty());
}

TEST_CASE(
    "Web: the session cookie is HttpOnly, SameSite=Strict and Path=/, Secure unless "
    "insecure_cookies",
    "[integration][web]") {
  Stack s;
  s.start_web(write_assets(s.dir()));
  std::string cookie = login(s.port("web"), "evaluator").result.header("Set-Cookie");
  CHECK(cookie.rfind("henvis_session=", 0) == 0);
  CHECK(cookie.find("; HttpOnly") != std::string::npos);
  CHECK(cookie.find("; SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("; Path=/") != std::string::npos);
  CHECK(cookie.find("; Secure") != std::string::npos);
  s.stop("web");
  s.start_web(s.dir() / "assets", "insecure_cookies: true");
  cookie = login(s.port("web"), "evaluator").result.header("Set-Cookie");
  CHECK(cookie.find("; HttpOnly") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos);
}

TEST_CASE("Web: a session survives a restart of henvis-web, logout ends it and clears the cookie",
          "[integration][web]") {
  Stack s;
  s.start_web(write_assets(s.dir()));
  const auto l = login(s.port("web"), "kommune-657");
  REQUIRE(l.result.status == 200);
  s.stop("web");
  s.start_web(s.dir() / "assets");
  const int web = s.port("web");
  const auto again = browser("GET", web, "/auth/session", l, "", false);
  REQUIRE(again.status == 200);
  CHECK(parse<henvis::v1::WebSession>(again.body).csrf_token() == l.csrf);
  CHECK(browser("POST", web, "/auth/logout", l, "", false).status == 403);
  const auto out = browser("POST", web, "/auth/logout", l);
  CHECK(out.status == 204);
  CHECK(out.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
  const auto gone = browser("GET", web, "/auth/session", l, "", false);
  CHECK(gone.status == 401);
  CHECK(gone.body.find("session-expired") != std::string::npos);
}

TEST_CASE("Web: a session idle longer than the idle timeout is 401 session-expired",
          "[integration][web]") {
  Stack s;
  s.start_web(write_assets(s.dir()), "session_idle_seconds: 3");
  const int web = s.port("web");
  const auto l = login(web, "evaluator");
  REQUIRE(l.result.status == 200);
  CHECK(browser("GET", web, "/auth/session", l, "", false).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  const auto expired = browser("GET", web, "/auth/session", l, "", false);
  CHECK(expired.status == 401);
  CHECK(expired.content_type == "application/problem+json");
  CHECK(expired.body.find(R"("type":"/problems/session-expired")") != std::string::npos);
}

TEST_CASE(
    "Web: a state change without the CSRF token, with a wrong one or from another origin "
    "is 403",
    "[integration][web]") {
  Stack s;
  s.start_web(write_assets(s.dir()));
  const int web = s.port("web");
  const auto l = login(web, "betjent-mvj");
  REQUIRE(l.result.status == 200);
  const std::string body = "{}";
  CHECK(browser("POST", web, "/api/intake/v1/offers", l, body, false).status == 403);
  Login wrong = l;
  wrong.csrf = std::string(64, 'a');
  CHECK(browser("POST", web, "/api/intake/v1/offers", wrong, body).status == 403);
  CHECK(browser("POST", web, "/auth/logout", l, "", true, {{"Origin", "https://evil.example"}})
            .status == 403);
  CHECK(browser("GET", web, "/auth/session", l, "", false).status == 200);  // still logged in
}

TEST_CASE("Web: after 5 failed log-ins for a user name the next is 429 with Retry-After",
          "[integration][web]") {
  Stack s;
  s.start_web(write_assets(s.dir()));
  const int web = s.port("web");
  for (int i = 0; i < 5; ++i) REQUIRE(login(web, "center-657", "forkert").result.status == 401);
  const auto throttled = login(web, "center-657");  // even the right password
  CHECK(throttled.result.status == 429);
  const int wait = std::stoi(throttled.result.header("Retry-After"));
  CHECK(wait > 800);
  CHECK(wait <= 900);
  CHECK(login(web, "center-661").result.status == 200);  // another user from the same address
}

TEST_CASE(
    "Web: an officer registers an offer through /api/intake, the browser's Authorization "
    "header is not forwarded",
    "[integration][web]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start_web(write_assets(s.dir()));
  const int web = s.port("web");
  const auto l = login(web, "betjent-mvj");
  REQUIRE(l.result.status == 200);
  const std::string id = "it-web-" + henvis::new_uuid();
  // A centre's token would be refused by POST /v1/offers (officers only).
  const auto created = browser("POST", web, "/api/intake/v1/offers", l, offer_json(id, 657, true),
                               true, {{"Authorization", "Bearer dev-center-657"}});
  CHECK(created.status == 201);
  CHECK(created.content_type == "application/json");
  CHECK(parse<henvis::v1::OfferResponse>(created.body).offer_id() == id);
  // An operator route of the service is not the browser's
  CHECK(browser("GET", web, "/api/intake/openapi.json", l, "", false).status == 404);
  s.stop("intake");
  const auto down = browser("POST", web, "/api/intake/v1/offers", l, offer_json(id, 657, true));
  CHECK(down.status == 502);
  CHECK(down.content_type == "application/problem+json");
}

TEST_CASE(
    "Web: henvis-web refuses to start with a token that is not delegating - every user would "
    "act with its role",
    "[integration][web]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  CHECK_THROWS_WITH(s.start_web(write_assets(s.dir()), "", {}, "dev-officer-mvj"),
                    Catch::Contains("exited"));
  CHECK(slurp(s.dir() / "web.log").find("delegating: true") != std::string::npos);
}

TEST_CASE(
    "Web: a forwarded request carries henvis-web's token and the person headers, and only "
    "the listed headers pass each way",
    "[integration][web]") {
  EchoUpstream echo;
  Stack s;
  s.start_web(write_assets(s.dir()), "", {{"router", echo.url()}});
  const int web = s.port("web");
  const auto l = login(web, "center-657");
  REQUIRE(l.result.status == 200);
  const auto r = browser("POST", web, "/api/router/v1/referrals/r-1/outcomes?x=1&y=a%20b", l,
                         R"({"a":1})", true,
                         {{"Authorization", "Bearer dev-admin"},
                          {"Henvis-Person", "admin"},
                          {"Henvis-Person-Role", "admin"},
                          {"Idempotency-Key", "key-1"},
                          {"Accept", "application/json"},
                          {"X-Other", "dropped"}});
  REQUIRE(r.status == 201);
  CHECK(r.header("Content-Disposition") == "attachment; filename=\"x.csv\"");
  CHECK(r.header("Retry-After") == "7");
  CHECK(r.header("X-Internal").empty());
  const auto sent = as_struct(r.body);
  CHECK(field(sent, "method") == "POST");
  CHECK(field(sent, "target") == "/v1/referrals/r-1/outcomes?x=1&y=a%20b");
  CHECK(field(sent, "body") == R"({"a":1})");
  const auto& h = sent.fields().at("headers").struct_value();
  CHECK(field(h, "authorization") == "Bearer henvis-web");
  CHECK(field(h, "henvis-person") == "center-657");
  CHECK(field(h, "henvis-person-role") == "centre");
  CHECK(field(h, "henvis-person-scope") == "rusmiddelcenter-657");
  CHECK(field(h, "idempotency-key") == "key-1");
  CHECK(field(h, "accept") == "application/json");
  CHECK(field(h, "content-type") == "application/json");
  CHECK(field(h, "cookie").empty());
  CHECK(field(h, "x-csrf-token").empty());
  CHECK(field(h, "x-other").empty());
  const auto get = browser("GET", web, "/api/router/v1/referrals?status=open", l, "", false);
  CHECK(field(as_struct(get.body), "target") == "/v1/referrals?status=open");
}

TEST_CASE(
    "Web: files are served with their type and the CSP, app routes get index.html, "
    "traversal is refused",
    "[integration][web]") {
  Stack s;
  s.start_web(write_assets(s.dir()));
  const int web = s.port("web");
  const auto index = http("GET", web, "/");
  CHECK(index.status == 200);
  CHECK(index.content_type == "text/html; charset=utf-8");
  CHECK(index.body == "<!doctype html><title>henvis</title>");
  CHECK(index.header("Content-Security-Policy") == CSP);
  CHECK(index.header("X-Content-Type-Options") == "nosniff");
  CHECK(index.header("Referrer-Policy") == "no-referrer");
  CHECK(http("GET", web, "/app.js").content_type == "text/javascript; charset=utf-8");
  CHECK(http("GET", web, "/app.css").content_type == "text/css; charset=utf-8");
  CHECK(http("GET", web, "/fonts/x.woff2").content_type == "font/woff2");
  const auto route = http("GET", web, "/center/henvisning/abc");
  CHECK(route.status == 200);
  CHECK(route.body == index.body);
  CHECK(http("GET", web, "/nothing.js").status == 404);
  for (const char* t : {"/../secret.txt", "/fonts/../../secret.txt", "/%2e%2e/secret.txt"}) {
    const auto r = http("GET", web, t);
    INFO(t);
    CHECK(r.status == 404);
    CHECK(r.body.find("not to be served") == std::string::npos);
  }
  const auto api = http("GET", web, "/api/intake/openapi.json");  // no session
  CHECK(api.status == 401);
  CHECK(api.header("Content-Security-Policy") == CSP);
  CHECK(http("GET", web, "/readyz").status == 200);
}
