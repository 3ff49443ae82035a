// evaluation: Socialsøg's underretninger in the statistics read model and
// GET /v1/stats/underretninger: exact counts per ISO week, municipality and
// district from a known set of henvis.underretninger.v1 events, order
// independence, the shared disclosure control, CSV, the HTTP layer, and
// events that can never be applied (DLQ).

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aggregates.hpp"
#include "evaluation.hpp"
#include "henvis/auth.hpp"
#include "henvis/config.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/http.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/socialsog.pb.h"
#include "henvis/v1/stats.pb.h"
#include "support.hpp"
#include "underretning_stats.hpp"

namespace {

namespace ev = henvis::evaluation;

// The statistics' cell key (cell_key.hpp) in these tests: fixed, so that
// every run perturbs alike.
const ev::CellKey& test_cell_key() {
  static const ev::CellKey key(std::string(ev::CellKey::KEY_BYTES, 'k'));
  return key;
}
namespace v1 = henvis::v1;
using henvis::test::dev_config;
using henvis::test::dev_directory;
using henvis::test::TempDir;
using henvis::test::ts;

struct U {
  std::string id;
  std::string created;  // RFC 3339
  int kommunekode;
  std::string district;
  int children;
  bool cross_district;
  bool cross_municipality;
  std::string due;  // empty: sent to a coordinator
};

// One henvis.underretninger.v1 event of `u` (its whole state, as socialsog sends it).
henvis::kafka::Message event(
    const U& u, const std::string& name, const std::string& at, const std::string& receipt_at = "",
    v1::UnderretningResponse response = v1::UNDERRETNING_RESPONSE_UNSPECIFIED) {
  v1::UnderretningEvent e;
  e.set_underretning_id(u.id);
  e.set_event(name);
  e.set_kommunekode(u.kommunekode);
  e.set_recipient_id(u.due.empty() ? "coordinator-" + u.district
                                   : "kommune-" + std::to_string(u.kommunekode));
  e.set_district_id(u.district);
  e.add_incident_districts(u.district);
  if (u.cross_district) e.add_incident_districts(u.district == "mvj" ? "oj" : "mvj");
  e.set_children(u.children);
  e.set_incidents(3);
  e.set_rule(v1::SOCIALSOG_RULE_THRESHOLD);
  e.set_rules_version("placeholder-2024.1");
  e.set_scan_id("scan-1");
  *e.mutable_created_at() = ts(u.created);
  if (!u.due.empty()) *e.mutable_receipt_due_at() = ts(u.due);
  if (!receipt_at.empty()) {
    *e.mutable_receipt_at() = ts(receipt_at);
    e.set_receipt_on_time(ts(receipt_at).seconds() < ts(u.due).seconds());
  }
  e.set_response(response);
  *e.mutable_at() = ts(at);
  e.set_cross_district(u.cross_district);
  e.set_cross_municipality(u.cross_municipality);
  henvis::kafka::Message m;
  m.topic = henvis::topics::UNDERRETNINGER;
  m.key = u.id;
  m.payload = e.SerializeAsString();
  m.headers = {{henvis::kafka::header::ID, henvis::new_uuid()},
               {henvis::kafka::header::TYPE, henvis::event_types::UNDERRETNING_PREFIX + name},
               {henvis::kafka::header::SPECVERSION, "1.0"}};
  return m;
}

// Five underretninger over ISO weeks 2024-W10 and 2024-W11:
//   u1 W10 Herning/mvj, 2 children, cross district+municipality, receipt on time,
//      assessment started
//   u2 W10 Herning/mvj, 1 child, receipt missed (then a late receipt)
//   u3 W10 Aarhus/oj, 3 children, cross district only, receipt pending
//   u4 W11 (Sunday 23:30 UTC = Monday 00:30 in Copenhagen), municipality unknown,
//      sent to the mvj coordinator: no receipt clock
//   u5 W11 Aarhus/mvj, 2 children, cross both, receipt on time, response no
//      action then support measure (the events arrive in the wrong order)
const U U1{"u1", "2024-03-05T09:00:00Z", 657, "mvj", 2, true, true, "2024-03-13T23:00:00Z"};
const U U2{"u2", "2024-03-06T09:00:00Z", 657, "mvj", 1, false, false, "2024-03-14T23:00:00Z"};
const U U3{"u3", "2024-03-06T10:00:00Z", 751, "oj", 3, true, false, "2024-03-14T23:00:00Z"};
const U U4{"u4", "2024-03-10T23:30:00Z", 0, "mvj", 1, false, false, ""};
const U U5{"u5", "2024-03-13T09:00:00Z", 751, "mvj", 2, true, true, "2024-03-21T23:00:00Z"};

std::vector<henvis::kafka::Message> known_events() {
  std::vector<henvis::kafka::Message> e;
  e.push_back(event(U1, "created", U1.created));
  e.push_back(event(U1, "delivered", "2024-03-05T09:01:00Z"));
  e.push_back(event(U1, "receipt_recorded", "2024-03-07T10:00:00Z", "2024-03-07T10:00:00Z"));
  e.push_back(event(U1, "response_recorded", "2024-03-20T10:00:00Z", "2024-03-07T10:00:00Z",
                    v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED));
  e.push_back(event(U2, "created", U2.created));
  e.push_back(event(U2, "receipt_missed", "2024-03-14T23:01:00Z"));
  e.push_back(event(U2, "receipt_recorded", "2024-03-15T08:00:00Z", "2024-03-15T08:00:00Z"));
  e.push_back(event(U3, "created", U3.created));
  e.push_back(event(U3, "delivered", "2024-03-06T10:01:00Z"));
  e.push_back(event(U4, "created", U4.created));
  // u5: the later response first, then the receipt, then the earlier response
  e.push_back(event(U5, "response_recorded", "2024-03-25T10:00:00Z", "2024-03-14T10:00:00Z",
                    v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE));
  e.push_back(event(U5, "receipt_recorded", "2024-03-14T10:00:00Z", "2024-03-14T10:00:00Z"));
  e.push_back(event(U5, "response_recorded", "2024-03-18T10:00:00Z", "2024-03-14T10:00:00Z",
                    v1::UNDERRETNING_RESPONSE_NO_ACTION));
  e.push_back(event(U5, "created", U5.created));
  return e;
}

void apply(ev::Applier& a, henvis::sqlite::Db& db, const henvis::kafka::Message& m) {
  henvis::sqlite::Transaction tx(db);
  a.apply(m, db);
  tx.commit();
}

struct Fixture {
  TempDir tmp{"henvis-evaluation-underretning-test"};
  std::string path = tmp.file("evaluation.db");
  henvis::sqlite::Db db{path};
  ev::Applier applier{test_cell_key()};
  henvis::Directory directory = dev_directory();
  Fixture() { db.migrate(ev::migrations()); }
  void apply_all(const std::vector<henvis::kafka::Message>& events) {
    for (const auto& m : events) apply(applier, db, m);
  }
  v1::UnderretningStats stats(const std::map<std::string, std::string>& params, int min_cell) {
    const auto q = ev::parse_query(params, ev::underretning_dims(), ev::underretning_date_bases());
    // As the service answers: from the cells (aggregates.hpp).
    return ev::aggregates::underretning_stats(db, test_cell_key(), q, min_cell, directory);
  }
  std::string csv(const std::map<std::string, std::string>& params, int min_cell) {
    const auto q = ev::parse_query(params, ev::underretning_dims(), ev::underretning_date_bases());
    return ev::to_csv(stats(params, min_cell), q);
  }
};

// The counts of a row in column order; -1 for a withheld one.
std::vector<int> counts(const v1::UnderretningStatsRow& r) {
  auto v = [](bool has, int x) { return has ? x : -1; };
  return {v(r.has_underretninger(), r.underretninger()),
          v(r.has_children_flagged(), r.children_flagged()),
          v(r.has_children_cross_district(), r.children_cross_district()),
          v(r.has_children_cross_municipality(), r.children_cross_municipality()),
          v(r.has_receipts_on_time(), r.receipts_on_time()),
          v(r.has_receipts_missed(), r.receipts_missed()),
          v(r.has_receipts_pending(), r.receipts_pending()),
          v(r.has_sent_to_coordinator(), r.sent_to_coordinator()),
          v(r.has_response_no_action(), r.response_no_action()),
          v(r.has_response_assessment_started(), r.response_assessment_started()),
          v(r.has_response_support_measure(), r.response_support_measure()),
          v(r.has_response_none(), r.response_none())};
}

std::vector<std::string> suppressed(const v1::UnderretningStatsRow& r) {
  return {r.suppressed().begin(), r.suppressed().end()};
}

}  // namespace

TEST_CASE("ISO weeks of Copenhagen dates", "[evaluation][underretninger]") {
  using namespace std::chrono;
  CHECK(ev::iso_week(2024y / March / 5) == "2024-W10");
  CHECK(ev::iso_week(2024y / March / 11) == "2024-W11");
  CHECK(ev::iso_week(2024y / December / 30) == "2025-W01");
  CHECK(ev::iso_week(2021y / January / 3) == "2020-W53");
  CHECK(ev::iso_week(2026y / January / 1) == "2026-W01");
  CHECK(ev::iso_week(2023y / January / 1) == "2022-W52");
}

TEST_CASE("underretning statistics: exact counts per week, municipality and district",
          "[evaluation][underretninger]") {
  Fixture f;
  f.apply_all(known_events());

  SECTION("the total (N = 1)") {
    const auto s = f.stats({}, 1);
    CHECK(s.rows_size() == 0);
    const auto& t = s.total();
    CHECK(t.total());
    CHECK(counts(t) == std::vector<int>{5, 9, 7, 4, 2, 1, 1, 1, 0, 1, 1, 3});
    CHECK(t.cross_district_share() == Approx(0.7778));
    CHECK(t.cross_municipality_share() == Approx(0.4444));
    CHECK(t.receipts_on_time_share() == Approx(0.6667));
    CHECK(t.suppressed_size() == 0);
  }
  SECTION("per ISO week of the Copenhagen creation date") {
    const auto s = f.stats({{"groupBy", "week"}}, 1);
    REQUIRE(s.rows_size() == 2);
    CHECK(s.rows(0).week() == "2024-W10");
    CHECK(counts(s.rows(0)) == std::vector<int>{3, 6, 5, 2, 1, 1, 1, 0, 0, 1, 0, 2});
    // u4 was created on Sunday 23:30 UTC, Monday in Copenhagen: week 11
    CHECK(s.rows(1).week() == "2024-W11");
    CHECK(counts(s.rows(1)) == std::vector<int>{2, 3, 2, 2, 1, 0, 0, 1, 0, 0, 1, 1});
  }
  SECTION("per municipality and district, with names from the directory") {
    const auto s = f.stats({{"groupBy", "municipality,district"}}, 1);
    REQUIRE(s.rows_size() == 4);
    CHECK(s.rows(0).kommunekode() == 0);  // unknown: to the coordinator
    CHECK(s.rows(0).municipality_name().empty());
    CHECK(s.rows(0).district_id() == "mvj");
    CHECK(counts(s.rows(0)) == std::vector<int>{1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1});
    CHECK(s.rows(1).kommunekode() == 657);
    CHECK(s.rows(1).municipality_name() == "Herning");
    CHECK(s.rows(1).district_name() == "Midt- og Vestjyllands Politi");
    CHECK(counts(s.rows(1)) == std::vector<int>{2, 3, 2, 2, 1, 1, 0, 0, 0, 1, 0, 1});
    CHECK(s.rows(2).kommunekode() == 751);
    CHECK(s.rows(2).district_id() == "mvj");
    CHECK(counts(s.rows(2)) == std::vector<int>{1, 2, 2, 2, 1, 0, 0, 0, 0, 0, 1, 0});
    CHECK(s.rows(3).kommunekode() == 751);
    CHECK(s.rows(3).district_id() == "oj");
    CHECK(s.rows(3).district_name() == "Østjyllands Politi");
    CHECK(counts(s.rows(3)) == std::vector<int>{1, 3, 3, 0, 0, 0, 1, 0, 0, 0, 0, 1});
  }
  SECTION("a window on the creation date (whole months)") {
    const auto march = f.stats({{"from", "2024-03-01"}, {"to", "2024-04-01"}}, 1);
    CHECK(march.from() == "2024-03-01");
    CHECK(counts(march.total()) == counts(f.stats({}, 1).total()));
    CHECK(counts(march.total())[0] == 5);
    const auto april = f.stats({{"from", "2024-04-01"}}, 1);
    CHECK(counts(april.total())[0] == 0);
  }
  SECTION("any order and any duplicate give the same rows") {
    Fixture g;
    auto events = known_events();
    std::reverse(events.begin(), events.end());
    g.apply_all(events);
    g.apply_all(known_events());
    CHECK(g.csv({{"groupBy", "week,municipality,district"}}, 1) ==
          f.csv({{"groupBy", "week,municipality,district"}}, 1));
  }
}

TEST_CASE("underretning statistics: the referral table's disclosure control",
          "[evaluation][underretninger][disclosure]") {
  Fixture f;
  f.apply_all(known_events());

  SECTION("N = 2 per week: primary, then complementary suppression in the row relations") {
    const auto s = f.stats({{"groupBy", "week"}}, 2);
    REQUIRE(s.rows_size() == 2);
    // W10: the single receipts (primary) and the one assessment, whose
    // response relation gets responseNone (2) suppressed as a complement
    CHECK(henvis::test::published_as(counts(s.rows(0)), {3, 6, 5, 2, -1, -1, -1, 0, 0, -1, 0, -1}));
    CHECK(suppressed(s.rows(0)) == std::vector<std::string>{"receiptsOnTime", "receiptsMissed",
                                                            "receiptsPending",
                                                            "responseAssessmentStarted",
                                                            "responseNone", "receiptsOnTimeShare"});
    // (shares of the published, perturbed counts)
    CHECK(s.rows(0).has_cross_district_share());
    CHECK(s.rows(0).has_cross_municipality_share());
    CHECK(henvis::test::published_as(counts(s.rows(1)), {2, 3, 2, 2, -1, 0, 0, -1, 0, 0, -1, -1}));
    CHECK(henvis::test::published_as(counts(s.total()), {5, 9, 7, 4, 2, -1, -1, -1, 0, -1, -1, 3}));
    CHECK_FALSE(s.total().has_receipts_on_time_share());
  }
  SECTION("the default N = 5 on the total") {
    const auto s = f.stats({}, 5);
    CHECK(henvis::test::published_as(counts(s.total()),
                                     {5, 9, 7, -1, -1, -1, -1, -1, 0, -1, -1, -1}));
    CHECK(s.total().has_cross_district_share());
    CHECK(s.total().cross_district_share() <= 1.0);
    CHECK_FALSE(s.total().has_cross_municipality_share());
  }
  SECTION("no relation is left with exactly one withheld cell") {
    for (int n : {2, 3, 4, 5, 6}) {
      for (const std::string g :
           {"week", "municipality", "district", "week,municipality,district"}) {
        const auto s = f.stats({{"groupBy", g}}, n);
        std::vector<std::vector<int>> rows;
        for (const auto& r : s.rows()) rows.push_back(counts(r));
        rows.push_back(counts(s.total()));
        auto hidden_in = [](const std::vector<int>& r, std::vector<int> cols) {
          int k = 0;
          for (int c : cols) k += r[c] < 0;
          return k;
        };
        for (const auto& r : rows) {
          CHECK(hidden_in(r, {0, 4, 5, 6, 7}) != 1);
          CHECK(hidden_in(r, {0, 8, 9, 10, 11}) != 1);
          for (int c = 0; c < ev::U_NCOL; ++c)
            if (r[c] >= 0) CHECK((r[c] == 0 || r[c] >= n - 2));  // perturbed by up to 2
        }
        if (rows.size() > 1) {
          for (int c = 0; c < ev::U_NCOL; ++c) {
            int k = 0;
            for (const auto& r : rows) k += r[c] < 0;
            CHECK(k != 1);
          }
        }
      }
    }
  }
}

TEST_CASE("underretning statistics as CSV", "[evaluation][underretninger][csv]") {
  Fixture f;
  f.apply_all(known_events());
  const std::string header =
      "row,week,underretninger,childrenFlagged,childrenCrossDistrict,childrenCrossMunicipality,"
      "receiptsOnTime,receiptsMissed,receiptsPending,sentToCoordinator,responseNoAction,"
      "responseAssessmentStarted,responseSupportMeasure,responseNone,crossDistrictShare,"
      "crossMunicipalityShare,receiptsOnTimeShare,suppressed,dateBasis\r\n";
  CHECK(f.csv({{"groupBy", "week"}}, 1) ==
        header + "group,2024-W10,3,6,5,2,1,1,1,0,0,1,0,2,0.8333,0.3333,0.5,,notice\r\n" +
            "group,2024-W11,2,3,2,2,1,0,0,1,0,0,1,1,0.6667,0.6667,1,,notice\r\n" +
            "total,,5,9,7,4,2,1,1,1,0,1,1,3,0.7778,0.4444,0.6667,,notice\r\n");
  // Withheld cells are empty and named in the column before dateBasis (the
  // shown counts perturbed, docs/statistics.md)
  CHECK(henvis::test::csv_published_as(
      f.csv({{"groupBy", "week"}}, 2),
      header +
          "group,2024-W10,3,6,5,2,,,,0,0,,0,,0.8333,0.3333,,"
          "receiptsOnTime;receiptsMissed;receiptsPending;responseAssessmentStarted;"
          "responseNone;receiptsOnTimeShare,notice\r\n" +
          "group,2024-W11,2,3,2,2,,0,0,,0,0,,,0.6667,0.6667,,"
          "receiptsOnTime;sentToCoordinator;responseSupportMeasure;responseNone;"
          "receiptsOnTimeShare,notice\r\n" +
          "total,,5,9,7,4,2,,,,0,,,3,0.7778,0.4444,,"
          "receiptsMissed;receiptsPending;sentToCoordinator;responseAssessmentStarted;"
          "responseSupportMeasure;receiptsOnTimeShare,notice\r\n"));
}

TEST_CASE("underretning events that can never be applied are refused",
          "[evaluation][underretninger]") {
  Fixture f;
  auto bad_type = event(U1, "created", U1.created);
  bad_type.headers[1].second = "henvis.underretning.delivered";
  CHECK_THROWS_AS(apply(f.applier, f.db, bad_type), henvis::Rejected);
  auto garbage = event(U1, "created", U1.created);
  garbage.payload = "\xff\xff\xff";
  CHECK_THROWS_AS(apply(f.applier, f.db, garbage), henvis::Rejected);
  U no_id = U1;
  no_id.id = "";
  CHECK_THROWS_AS(apply(f.applier, f.db, event(no_id, "created", U1.created)), henvis::Rejected);
  CHECK_THROWS_AS(apply(f.applier, f.db, event(U1, "exploded", U1.created)), henvis::Rejected);
  CHECK(henvis::test::scalar(f.db, "SELECT count(*) FROM underretninger") == 0);
}

TEST_CASE("a store written before the Unix-milliseconds step reads the same after migrating",
          "[evaluation][underretninger][migration]") {
  // Given the known set in a current store
  Fixture now;
  now.apply_all(known_events());
  // And the same underretninger in a store of the three steps before it,
  // with the receipt clock and `at` in Unix seconds as that schema kept them
  TempDir tmp("henvis-evaluation-migration-test");
  henvis::sqlite::Db old(tmp.file("old.db"));
  const auto steps = ev::migrations();
  REQUIRE(steps.size() >= 4);
  old.migrate({steps.begin(), steps.begin() + 3});
  const std::string columns =
      "underretning_id, created_day, kommunekode, district_id, children, cross_district, "
      "cross_municipality, missed, response";
  const std::string instants = "receipt_due_at, receipt_at, state_at";
  henvis::sqlite::Stmt(old, "ATTACH ? AS cur").bind(1, now.path).run();
  old.exec("INSERT INTO underretninger(" + columns + ", " + instants + ") SELECT " + columns +
           ", receipt_due_at / 1000, receipt_at / 1000, state_at / 1000 FROM cur.underretninger");
  old.exec("DETACH cur");
  REQUIRE(henvis::test::scalar(old, "SELECT count(*) FROM underretninger") == 5);

  // When it is migrated
  old.migrate(steps);

  // Then it holds the current store's rows, instants as INTEGER Unix milliseconds
  henvis::sqlite::Stmt(old, "ATTACH ? AS cur").bind(1, now.path).run();
  CHECK(henvis::test::scalar(old, "SELECT count(*) FROM (SELECT " + columns + ", " + instants +
                                      " FROM underretninger EXCEPT SELECT " + columns + ", " +
                                      instants + " FROM cur.underretninger)") == 0);
  old.exec("DETACH cur");
  CHECK(henvis::test::scalar(old,
                             "SELECT receipt_due_at FROM underretninger WHERE underretning_id = ?1",
                             U1.id) == ts(U1.due).seconds() * 1000);
  CHECK(henvis::test::scalar(old,
                             "SELECT count(*) FROM underretninger WHERE typeof(state_at) = "
                             "'integer' AND typeof(receipt_due_at) IN ('integer', 'null')") == 5);
  // And the statistics and later events treat it as the current store
  const auto q = ev::parse_query({{"groupBy", "week,municipality,district"}},
                                 ev::underretning_dims(), ev::underretning_date_bases());
  CHECK(ev::to_csv(ev::compute_underretninger(ev::load_underretning_facts(old, q, test_cell_key()),
                                              q, 1, now.directory),
                   q) == now.csv({{"groupBy", "week,municipality,district"}}, 1));
  ev::Applier a{test_cell_key()};
  apply(a, old,
        event(U5, "response_recorded", "2024-03-19T10:00:00Z", "2024-03-14T10:00:00Z",
              v1::UNDERRETNING_RESPONSE_NO_ACTION));  // older than the stored response
  CHECK(henvis::test::scalar(old, "SELECT response FROM underretninger WHERE underretning_id = ?1",
                             U5.id) == v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE);
}

TEST_CASE("underretning responses are ordered by `at` to the millisecond, in any order",
          "[evaluation][underretninger]") {
  // Given two responses of u5 within one second, the later one by 300 ms
  const auto first = event(U5, "response_recorded", "2024-03-18T10:00:00.200Z",
                           "2024-03-14T10:00:00Z", v1::UNDERRETNING_RESPONSE_NO_ACTION);
  const auto second = event(U5, "response_recorded", "2024-03-18T10:00:00.500Z",
                            "2024-03-14T10:00:00Z", v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE);
  // When they are applied in either order
  for (const auto& order : {std::vector{first, second}, std::vector{second, first}}) {
    Fixture f;
    f.apply_all(order);
    // Then the later one is the response
    CHECK(henvis::test::scalar(f.db,
                               "SELECT response FROM underretninger WHERE underretning_id = ?1",
                               U5.id) == v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE);
  }
}

TEST_CASE("GET /v1/stats/underretninger: evaluator only, parameters checked",
          "[evaluation][underretninger][api]") {
  TempDir tmp("henvis-evaluation-underretning-api");
  const std::string path = tmp.file("evaluation.db");
  {
    henvis::sqlite::Db db(path);
    db.migrate(ev::migrations());
    ev::Applier a{test_cell_key()};
    for (const auto& m : known_events()) apply(a, db, m);
  }
  henvis::auth::TokenStore tokens(
      henvis::config::load<v1::Tokens>(dev_config("tokens.textproto").string()));
  ev::Api api(path, dev_directory(), 1, "", /*dev=*/true);
  henvis::http::Router router;
  api.register_routes(router);
  henvis::http::Metrics metrics;
  henvis::http::Server server({}, tokens, std::move(router), metrics, [] { return true; });
  auto get = [&](const std::string& token, const std::map<std::string, std::string>& query) {
    henvis::http::Request req;
    req.method = "GET";
    req.path = "/v1/stats/underretninger";
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    req.query = query;
    return server.handle(req);
  };
  auto ok = get("dev-evaluator", {{"groupBy", "district"}});
  REQUIRE(ok.status == 200);
  CHECK(ok.content_type == "application/json");
  v1::UnderretningStats s;
  REQUIRE(google::protobuf::util::JsonStringToMessage(ok.body, &s).ok());
  REQUIRE(s.rows_size() == 2);
  CHECK(s.rows(0).district_id() == "mvj");
  CHECK(s.rows(0).underretninger() == 4);
  CHECK(ok.body.find("\"childrenFlagged\"") != std::string::npos);
  auto csv = get("dev-evaluator", {{"format", "csv"}});
  CHECK(csv.status == 200);
  CHECK(csv.content_type == "text/csv; charset=utf-8");
  // month and offence are the referral table's dimensions, not this one's
  auto bad = get("dev-evaluator", {{"groupBy", "month"}});
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"field\":\"groupBy\"") != std::string::npos);
  CHECK(bad.body.find("week, municipality, district") != std::string::npos);
  CHECK(get("dev-evaluator", {{"from", "2024-13-01"}}).status == 400);
  for (const std::string token :
       {"dev-officer-mvj", "dev-municipality-657", "dev-coordinator-mvj", "dev-admin"})
    CHECK(get(token, {}).status == 403);
  CHECK(get("", {}).status == 401);
  // The row cap: by district (2 rows) is answered with max_rows 2 and
  // refused with 1, naming groupBy
  henvis::http::Request by_district;
  by_district.query = {{"groupBy", "district"}};
  CHECK(ev::Api(path, dev_directory(), 1, "", true, 2).underretninger(by_district).status == 200);
  try {
    ev::Api(path, dev_directory(), 1, "", true, 1).underretninger(by_district);
    FAIL("answered with more rows than max_rows");
  } catch (const henvis::http::Problem& e) {
    CHECK(e.response.status == 400);
    CHECK(e.response.body.find("\"field\":\"groupBy\"") != std::string::npos);
  }
}

TEST_CASE("underretning statistics go by the notice date, or the earliest incident's on request",
          "[evaluation][underretninger][dateBasis]") {
  // Given u1 (created 5 March 2024) whose earliest incident was on 21 February
  // in Copenhagen (20 February 23:30 UTC), and u5 whose events carried no
  // incident date (sent before socialsog told it)
  auto with_incident = [](henvis::kafka::Message m, const std::string& at) {
    v1::UnderretningEvent e;
    REQUIRE(e.ParseFromString(m.payload));
    *e.mutable_earliest_incident_at() = ts(at);
    m.payload = e.SerializeAsString();
    return m;
  };
  Fixture f;
  f.apply_all({with_incident(event(U1, "created", U1.created), "2024-02-20T23:30:00Z"),
               event(U5, "created", U5.created)});
  const std::map<std::string, std::string> february = {{"from", "2024-02-01"},
                                                       {"to", "2024-03-01"}};
  // When February is asked for by the notice date (the default): nothing,
  // and the answer says which date it went by
  const auto notice = f.stats(february, 1);
  CHECK(notice.date_basis() == "notice");
  CHECK(notice.total().underretninger() == 0);
  // When by the incident date: u1, in the incident's ISO week
  auto params = february;
  params["dateBasis"] = "incident";
  params["groupBy"] = "week";
  const auto incident = f.stats(params, 1);
  CHECK(incident.date_basis() == "incident");
  CHECK(incident.total().underretninger() == 1);
  REQUIRE(incident.rows_size() == 1);
  CHECK(incident.rows(0).week() == "2024-W08");
  // And u5, without an incident date, is left out under that basis
  CHECK(f.stats({{"dateBasis", "incident"}}, 1).total().underretninger() == 1);
  CHECK(f.stats({}, 1).total().underretninger() == 2);
  // And the CSV says it on every line, in its last column
  const std::string csv = f.csv(params, 1);
  CHECK(csv.find(",suppressed,dateBasis\r\n") != std::string::npos);
  CHECK(csv.find(",incident\r\ntotal,") != std::string::npos);
  // And another basis is refused naming the parameter
  try {
    f.stats({{"dateBasis", "charged"}}, 1);
    FAIL("no problem thrown");
  } catch (const henvis::http::Problem& p) {
    CHECK(p.response.status == 400);
    CHECK(p.response.body.find("\"field\":\"dateBasis\"") != std::string::npos);
  }
}

TEST_CASE("referral statistics say they go by the charge date", "[evaluation][dateBasis]") {
  const auto q = ev::parse_query({{"dateBasis", "charged"}});
  CHECK(q.date_basis == "charged");
  CHECK(ev::parse_query({}).date_basis == "charged");
  CHECK_THROWS_AS(ev::parse_query({{"dateBasis", "notice"}}), henvis::http::Problem);
  const auto stats = ev::compute(std::vector<ev::Fact>{}, q, 5, dev_directory());
  CHECK(stats.date_basis() == "charged");
}
