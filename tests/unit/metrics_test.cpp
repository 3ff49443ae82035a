// What GET /metrics exposes: prometheus-cpp's text format, counters as
// counters, request latency by route pattern (never by raw path). The
// consumer lag gauge needs a broker and is left to the integration tests.

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "henvis/consumer_loop.hpp"
#include "henvis/http.hpp"
#include "henvis/outbox.hpp"
#include "henvis/v1/config.pb.h"
#include "support.hpp"

namespace {

using henvis::test::TempDir;

// The names of the families `text` declares with "# TYPE <name> <type>".
std::vector<std::string> families_of_type(const std::string& text, const std::string& type) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string hash, keyword, name, t;
    words >> hash >> keyword >> name >> t;
    if (hash == "#" && keyword == "TYPE" && t == type) out.push_back(name);
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

henvis::auth::TokenStore dev_tokens() {
  return henvis::auth::TokenStore(henvis::config::load<henvis::v1::Tokens>(
      henvis::test::dev_config("tokens.textproto").string()));
}

henvis::http::Response get(henvis::http::Server& server, const std::string& path) {
  henvis::http::Request req;
  req.method = "GET";
  req.path = path;
  req.headers["authorization"] = "Bearer dev-admin";
  return server.handle(req);
}

}  // namespace

TEST_CASE("metrics: every *_total of the consumer, the relay and the HTTP server is a counter",
          "[metrics]") {
  // Given a consumer loop that applied one event, a relay and a server that answered one request
  TempDir tmp("henvis-metrics-test");
  henvis::sqlite::Db db(tmp.file("svc.db"));
  db.migrate({std::string(henvis::outbox::MIGRATION) + henvis::ConsumerLoop::MIGRATION});
  henvis::ConsumerLoop loop(
      "test", "", "", {{"henvis.test.v1", "henvis.test.v1.dlq.test"}},
      [](const henvis::kafka::Message&, henvis::sqlite::Db&) {}, nullptr, nullptr);
  henvis::outbox::Relay relay(tmp.file("svc.db"), "", nullptr);
  henvis::http::Metrics metrics;
  loop.report_to(metrics);
  relay.report_to(metrics);
  henvis::kafka::Message m;
  m.topic = "henvis.test.v1";
  m.headers = {{henvis::kafka::header::ID, "id-1"}};
  loop.apply_batch(db, {m});
  const auto tokens = dev_tokens();
  henvis::http::Server server({}, tokens, henvis::http::Router{}, metrics, [] { return true; });
  get(server, "/healthz");

  // When /metrics is rendered
  const std::string text = get(server, "/metrics").body;

  // Then every family named *_total is declared a counter, none a gauge
  for (const auto& name : families_of_type(text, "gauge")) CHECK_FALSE(ends_with(name, "_total"));
  const auto counters = families_of_type(text, "counter");
  for (const std::string name :
       {"henvis_consumer_applied_total", "henvis_consumer_duplicates_total",
        "henvis_consumer_dead_lettered_total", "henvis_consumer_skipped_offsets_total",
        "henvis_outbox_published_total", "henvis_outbox_producer_restarts_total",
        "henvis_http_requests_total"}) {
    CHECK(std::find(counters.begin(), counters.end(), name) != counters.end());
  }
  // And an unlabelled counter is the line "<name> <value>" the integration
  // harness reads
  CHECK(has_line(text, "henvis_consumer_applied_total 1"));
  CHECK(has_line(text, "henvis_outbox_published_total 0"));
  // And the batch apply latency is a histogram
  CHECK(has_line(text, "# TYPE henvis_consumer_batch_apply_seconds histogram"));
  // And the relay's unconfirmed messages are a gauge, read at scrape time
  CHECK(has_line(text, "# TYPE henvis_outbox_in_flight gauge"));
  CHECK(has_line(text, "henvis_outbox_in_flight 0"));
}

TEST_CASE("metrics: a request is timed under its route pattern, never under its path",
          "[metrics][http]") {
  // Given a server with a route whose path carries an id
  const auto tokens = dev_tokens();
  henvis::http::Router router;
  router.add("GET", "/v1/things/{id}", {henvis::v1::ROLE_ADMIN}, [](henvis::http::Request&) {
    return henvis::http::Response{200, "text/plain", ""};
  });
  henvis::http::Metrics metrics;
  henvis::http::Server server({}, tokens, std::move(router), metrics, [] { return true; });

  // When one request goes through Server::handle to it, and one to a path no
  // route matches (ids in both)
  REQUIRE(get(server, "/v1/things/ref-4711").status == 200);
  REQUIRE(get(server, "/v1/nothing/0101901234").status == 404);
  const std::string text = metrics.render();

  // Then a request latency histogram counts each under its pattern, method
  // and status class
  CHECK(has_line(text, "# TYPE henvis_http_request_duration_seconds histogram"));
  CHECK(has_line(text,
                 "henvis_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/things/"
                 "{id}\",status_class=\"2xx\"} 1"));
  CHECK(has_line(text,
                 "henvis_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\","
                 "status_class=\"4xx\"} 1"));
  // And no label value holds an id from a path
  CHECK(text.find("ref-4711") == std::string::npos);
  CHECK(text.find("0101901234") == std::string::npos);
}
