// evaluation: the statistics read model and GET /v1/stats/referrals
// (docs/design.md "Statistics for evaluators"): exact funnel counts from a known
// set of events, order independence, idempotency, windows and grouping,
// disclosure control (primary and complementary suppression, rates and the
// median under N), the defence against differencing (cell-key perturbation,
// whole-month windows), CSV, and no personal data in the database or responses.

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
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
#include "henvis/v1/events.pb.h"
#include "henvis/v1/stats.pb.h"
#include "stats.hpp"
#include "support.hpp"

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

// Personal data put into the events; none of it may come out.
constexpr const char* CPR = "1203874417";
constexpr const char* CPR_DASHED = "120387-4417";
constexpr const char* NAME = "Mette Fjordside Kragelund";
constexpr const char* PHONE = "+4571829364";
constexpr const char* PHONE_DIGITS = "71829364";
constexpr const char* EMAIL = "mette.kragelund@example.dk";
constexpr const char* JOURNAL = "4100-84123-00777-24";

using henvis::test::message;

// An OfferRecorded; on yes it carries a full person and consent.
henvis::kafka::Message offer(const std::string& id, bool yes, int kommunekode,
                             const std::string& charged_at = "2024-05-01T10:00:00Z",
                             v1::Offence offence = v1::OFFENCE_DRUNK,
                             const std::string& district = "mvj") {
  v1::OfferRecorded o;
  o.set_offer_id(id);
  if (yes) o.set_referral_id("ref-" + id);
  o.set_journal_number(JOURNAL);
  o.set_offence(offence);
  *o.mutable_charged_at() = ts(charged_at);
  o.set_officer_id("MVJ-4711");
  o.set_district_id(district);
  o.set_answer(yes ? v1::ANSWER_YES : v1::ANSWER_NO);
  o.set_kommunekode(kommunekode);
  if (yes) {
    auto* p = o.mutable_person();
    p->set_cpr(CPR);
    p->set_name(NAME);
    p->set_phone(PHONE);
    p->set_email(EMAIL);
    p->set_preferred_contact_time("efter kl. 16");
    o.mutable_consent()->set_text_version("rusmiddel-samtykke-v1");
    *o.mutable_consent()->mutable_given_at() = ts(charged_at);
  }
  *o.mutable_recorded_at() = ts(charged_at);
  o.set_covered(kommunekode != 751);
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED,
                 yes ? o.referral_id() : o.offer_id(), o.SerializeAsString());
}

std::string lower_status(v1::ReferralStatus s) {
  std::string n = v1::ReferralStatus_Name(s).substr(std::string("REFERRAL_STATUS_").size());
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

// A ReferralStatusChanged for the referral of offer `id`.
henvis::kafka::Message status(const std::string& id, v1::ReferralStatus st,
                              const std::string& occurred_at = "",
                              const std::string& centre = "rusmiddelcenter-657") {
  v1::ReferralStatusChanged s;
  s.set_referral_id("ref-" + id);
  s.set_offer_id(id);
  s.set_status(st);
  s.set_centre_id(st == v1::REFERRAL_STATUS_UNROUTABLE ? "" : centre);
  s.set_kommunekode(657);
  s.set_district_id("mvj");
  s.set_offence(v1::OFFENCE_DRUNK);
  *s.mutable_charged_at() = ts("2024-05-01T10:00:00Z");
  *s.mutable_at() = ts("2024-06-30T10:00:00Z");
  if (!occurred_at.empty()) *s.mutable_occurred_at() = ts(occurred_at);
  return message(henvis::topics::REFERRALS, henvis::event_types::REFERRAL_PREFIX + lower_status(st),
                 s.referral_id(), s.SerializeAsString());
}

henvis::kafka::Message delivered(const std::string& id,
                                 const std::string& recipient = "rusmiddelcenter-657") {
  v1::DeliveryEvent d;
  d.set_notification_id("n-" + id);
  d.set_recipient_id(recipient);
  d.set_referral_id("ref-" + id);
  d.set_status(v1::DELIVERY_STATUS_DELIVERED);
  d.set_channel("inbox");
  *d.mutable_at() = ts("2024-05-01T12:00:00Z");
  return message(henvis::topics::DELIVERIES, "henvis.delivery.delivered", recipient,
                 d.SerializeAsString());
}

henvis::kafka::Message withdrawn(const std::string& id, bool with_referral = true) {
  v1::OfferWithdrawn w;
  w.set_offer_id(id);
  if (with_referral) w.set_referral_id("ref-" + id);
  w.set_withdrawn_by(v1::ROLE_OFFICER);
  *w.mutable_at() = ts("2024-05-03T10:00:00Z");
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_WITHDRAWN, "ref-" + id,
                 w.SerializeAsString());
}

// The same event again under a new ce_id (a re-sent fact, not a replay).
henvis::kafka::Message fresh_id(henvis::kafka::Message m) {
  for (auto& [k, v] : m.headers)
    if (k == henvis::kafka::header::ID) v = henvis::new_uuid();
  return m;
}

// The known set:
//   Herning (657): 8 yes (h1..h8) and 3 no (hn1..hn3)
//   Aarhus (751, not in the programme): 2 yes, unroutable (a1, a2)
// h1..h8 routed; h1..h6 delivered by a delivery event, h7 by its status;
// h1..h6 contact attempted (h4 only "reached", h5/h6 only their conversation
// or further sessions: a later outcome implies the earlier ones);
// h1..h3, h5, h6 conversation held (h6 via further sessions); h5, h6 further
// sessions; h8 withdrawn. Days from charge (2024-05-01) to first contact:
// h1 1, h2 2, h3 3 (an earlier attempt than its conversation), h4 3,
// h5 10, h6 4 -> median of 1 2 3 3 4 10 = 3.
std::vector<henvis::kafka::Message> known_events() {
  std::vector<henvis::kafka::Message> e;
  for (int i = 1; i <= 8; ++i) e.push_back(offer("h" + std::to_string(i), true, 657));
  for (int i = 1; i <= 3; ++i) e.push_back(offer("hn" + std::to_string(i), false, 657));
  for (const char* a : {"a1", "a2"}) {
    e.push_back(offer(a, true, 751));
    e.push_back(status(a, v1::REFERRAL_STATUS_RECEIVED, "", ""));
    e.push_back(status(a, v1::REFERRAL_STATUS_UNROUTABLE));
  }
  for (int i = 1; i <= 8; ++i) {
    e.push_back(status("h" + std::to_string(i), v1::REFERRAL_STATUS_RECEIVED));
    e.push_back(status("h" + std::to_string(i), v1::REFERRAL_STATUS_ROUTED));
  }
  for (int i = 1; i <= 6; ++i) e.push_back(delivered("h" + std::to_string(i)));
  e.push_back(status("h7", v1::REFERRAL_STATUS_DELIVERED));
  e.push_back(status("h1", v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, "2024-05-02T09:00:00Z"));
  e.push_back(status("h1", v1::REFERRAL_STATUS_CONVERSATION_HELD, "2024-05-05T09:00:00Z"));
  e.push_back(status("h2", v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, "2024-05-03T09:00:00Z"));
  e.push_back(status("h2", v1::REFERRAL_STATUS_CONVERSATION_HELD, "2024-05-04T09:00:00Z"));
  e.push_back(status("h3", v1::REFERRAL_STATUS_CONVERSATION_HELD, "2024-05-08T09:00:00Z"));
  e.push_back(status("h3", v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, "2024-05-04T09:00:00Z"));
  e.push_back(status("h4", v1::REFERRAL_STATUS_REACHED, "2024-05-04T09:00:00Z"));
  e.push_back(status("h5", v1::REFERRAL_STATUS_CONVERSATION_HELD, "2024-05-11T09:00:00Z"));
  e.push_back(status("h5", v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED, "2024-05-20T09:00:00Z"));
  e.push_back(status("h6", v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED, "2024-05-05T09:00:00Z"));
  e.push_back(withdrawn("h8"));
  return e;
}

// Applies like the consumer loop does: inside a transaction.
void apply(ev::Applier& a, henvis::sqlite::Db& db, const henvis::kafka::Message& m) {
  henvis::sqlite::Transaction tx(db);
  a.apply(m, db);
  tx.commit();
}

struct Fixture {
  TempDir tmp{"henvis-evaluation-test"};
  std::string path = tmp.file("evaluation.db");
  henvis::sqlite::Db db{path};
  ev::Applier applier{test_cell_key()};
  henvis::Directory directory = dev_directory();
  Fixture() { db.migrate(ev::migrations()); }
  void apply_all(const std::vector<henvis::kafka::Message>& events) {
    for (const auto& m : events) apply(applier, db, m);
  }
  v1::ReferralStats stats(const std::map<std::string, std::string>& params, int min_cell) {
    const auto q = ev::parse_query(params);
    // As the service answers: from the cells (aggregates.hpp).
    return ev::aggregates::referral_stats(db, test_cell_key(), q, min_cell, directory);
  }
};

std::string json(const google::protobuf::Message& m) {
  std::string out;
  REQUIRE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

bool has(const v1::ReferralStatsRow& r, const std::string& field) {
  return std::find(r.suppressed().begin(), r.suppressed().end(), field) != r.suppressed().end();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_no_personal_data(const std::string& bytes) {
  CHECK(bytes.find(CPR) == std::string::npos);
  CHECK(bytes.find(CPR_DASHED) == std::string::npos);
  CHECK(bytes.find(NAME) == std::string::npos);
  CHECK(bytes.find("Kragelund") == std::string::npos);
  CHECK(bytes.find(PHONE_DIGITS) == std::string::npos);
  CHECK(bytes.find(EMAIL) == std::string::npos);
  CHECK(bytes.find(JOURNAL) == std::string::npos);
  CHECK(bytes.find("efter kl. 16") == std::string::npos);
  CHECK(bytes.find("MVJ-4711") == std::string::npos);
}

// GET `path`?`query` ("k=v&k=v") through the HTTP layer as `token`.
henvis::http::Response get(henvis::http::Server& server, const std::string& token,
                           const std::string& query,
                           const std::string& path = "/v1/stats/referrals") {
  henvis::http::Request req;
  req.method = "GET";
  req.path = path;
  if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
  std::istringstream qs(query);
  for (std::string kv; std::getline(qs, kv, '&');)
    if (!kv.empty()) req.query[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  return server.handle(req);
}

// An evaluation database in `tmp` with the known set applied, closed; its path.
std::string known_store(const TempDir& tmp) {
  const std::string path = tmp.file("evaluation.db");
  henvis::sqlite::Db db(path);
  db.migrate(ev::migrations());
  ev::Applier a{test_cell_key()};
  for (const auto& m : known_events()) apply(a, db, m);
  return path;
}

henvis::auth::TokenStore dev_tokens() {
  return henvis::auth::TokenStore(
      henvis::config::load<v1::Tokens>(dev_config("tokens.textproto").string()));
}

ev::Counts counts(std::initializer_list<int> v) {
  ev::Counts c{};
  int i = 0;
  for (int x : v) c[i++] = x;
  return c;
}

// Every relation of the table has 0 or at least 2 withheld cells, and every
// 0 < value < n is withheld.
void check_protected(const std::vector<ev::Counts>& rows,
                     const std::vector<std::array<bool, ev::NCOL>>& h, int n) {
  const std::size_t t = rows.size() - 1;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (int c = 0; c < ev::NCOL; ++c)
      if (rows[r][c] > 0 && rows[r][c] < n) CHECK(h[r][c]);
    const int a = h[r][ev::OFFERED] + h[r][ev::ACCEPTED] + h[r][ev::DECLINED];
    CHECK(a != 1);
    const int b = h[r][ev::ACCEPTED] + h[r][ev::ROUTED] + h[r][ev::UNROUTABLE];
    CHECK(b != 1);
  }
  if (t == 0) return;
  for (int c = 0; c < ev::NCOL; ++c) {
    int k = 0;
    for (std::size_t r = 0; r <= t; ++r) k += h[r][c];
    CHECK(k != 1);
  }
}

}  // namespace

TEST_CASE("evaluation: exact funnel counts for a known set of events", "[evaluation]") {
  // Given the known set applied in order
  Fixture f;
  f.apply_all(known_events());
  // When the totals are asked for with N = 1 (nothing suppressed)
  const auto s = f.stats({}, 1);
  // Then each count is exact
  const auto& t = s.total();
  CHECK(s.rows_size() == 0);
  CHECK(t.total());
  CHECK(t.offered() == 13);
  CHECK(t.accepted() == 10);
  CHECK(t.declined() == 3);
  CHECK(t.routed() == 8);
  CHECK(t.unroutable() == 2);
  CHECK(t.delivered() == 7);
  CHECK(t.contact_attempted() == 6);
  CHECK(t.conversation_held() == 5);
  CHECK(t.further_sessions_accepted() == 2);
  CHECK(t.withdrawn() == 1);
  // And the rates are shares of the accepted, the median in days
  CHECK(t.routed_rate() == Approx(0.8));
  CHECK(t.conversation_held_rate() == Approx(0.5));
  CHECK(t.further_sessions_accepted_rate() == Approx(0.2));
  CHECK(t.median_days_to_first_contact() == Approx(3.0));
  CHECK(t.suppressed_size() == 0);
  // And a 0 is shown as 0 in JSON, not left out (only withheld values are absent)
  const auto per = f.stats({{"groupBy", "municipality"}}, 1);
  REQUIRE(per.rows_size() == 2);
  CHECK(per.rows(1).kommunekode() == 751);
  CHECK(per.rows(1).municipality_name() == "Aarhus");
  CHECK(per.rows(1).has_routed());
  CHECK(per.rows(1).routed() == 0);
  CHECK(json(per.rows(1)).find("\"routed\":0") != std::string::npos);
}

TEST_CASE("evaluation: the read model does not depend on the order of the events", "[evaluation]") {
  // Given the known set applied in order, reversed, and in 5 random orders
  Fixture ordered;
  ordered.apply_all(known_events());
  const std::string expected = json(ordered.stats({{"groupBy", "municipality,month"}}, 1));
  auto events = known_events();
  std::reverse(events.begin(), events.end());
  // (reversed: every status and delivery comes before its offer)
  Fixture reversed;
  reversed.apply_all(events);
  CHECK(json(reversed.stats({{"groupBy", "municipality,month"}}, 1)) == expected);
  std::mt19937 rng(20240501);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(events.begin(), events.end(), rng);
    Fixture shuffled;
    shuffled.apply_all(events);
    // Then the statistics are the same
    CHECK(json(shuffled.stats({{"groupBy", "municipality,month"}}, 1)) == expected);
  }
}

TEST_CASE("evaluation: a status before its offer waits for the offer, then counts",
          "[evaluation]") {
  Fixture f;
  // Given a referral's routed, delivered and conversation events before its offer
  f.apply_all({status("x1", v1::REFERRAL_STATUS_ROUTED), delivered("x1"),
               status("x1", v1::REFERRAL_STATUS_CONVERSATION_HELD, "2024-05-03T09:00:00Z")});
  // Then nothing is counted yet (the offer is the denominator)
  CHECK(f.stats({}, 1).total().offered() == 0);
  // When the offer arrives
  f.apply_all({offer("x1", true, 657)});
  // Then it counts with everything that came before it
  const auto t = f.stats({}, 1).total();
  CHECK(t.offered() == 1);
  CHECK(t.accepted() == 1);
  CHECK(t.routed() == 1);
  CHECK(t.delivered() == 1);
  CHECK(t.contact_attempted() == 1);
  CHECK(t.conversation_held() == 1);
  CHECK(t.median_days_to_first_contact() == Approx(2.0));
}

TEST_CASE("evaluation: the same fact under a new ce_id is not counted twice", "[evaluation]") {
  // Given the known set applied twice, the second time under new event ids
  Fixture once;
  once.apply_all(known_events());
  Fixture twice;
  auto events = known_events();
  twice.apply_all(events);
  for (const auto& m : events) apply(twice.applier, twice.db, fresh_id(m));
  // Then the statistics are the same as once
  CHECK(json(twice.stats({{"groupBy", "municipality"}}, 1)) ==
        json(once.stats({{"groupBy", "municipality"}}, 1)));
  CHECK(twice.stats({}, 1).total().offered() == 13);
  // And a withdrawal naming only the offer id lands on the same referral
  apply(twice.applier, twice.db, withdrawn("h1", false));
  CHECK(twice.stats({}, 1).total().withdrawn() == 2);
  CHECK(twice.stats({}, 1).total().offered() == 13);
}

TEST_CASE("evaluation: a withdrawal naming only the offer id before the offer is kept",
          "[evaluation]") {
  Fixture f;
  f.apply_all(
      {withdrawn("w1", false), offer("w1", true, 657), status("w1", v1::REFERRAL_STATUS_ROUTED)});
  const auto t = f.stats({}, 1).total();
  CHECK(t.offered() == 1);
  CHECK(t.withdrawn() == 1);
  CHECK(t.routed() == 1);
  CHECK(henvis::test::scalar(f.db, "SELECT count(*) FROM facts") == 1);
}

TEST_CASE("evaluation: from/to filter on the Copenhagen charge date - groupBy in order",
          "[evaluation]") {
  Fixture f;
  // Given offers charged late on 30 April UTC (1 May in Copenhagen, CEST),
  // on 31 May, and in June, of two offences and two districts
  f.apply_all({offer("m1", true, 657, "2024-04-30T22:30:00Z"),
               offer("m2", false, 661, "2024-05-31T21:59:59Z", v1::OFFENCE_DRUG),
               offer("m3", true, 657, "2024-05-31T22:00:00Z", v1::OFFENCE_BOTH),
               offer("m4", true, 751, "2024-06-15T10:00:00Z", v1::OFFENCE_DRUNK, "oj")});
  // When May is asked for ([2024-05-01, 2024-06-01))
  auto may = f.stats({{"from", "2024-05-01"}, {"to", "2024-06-01"}}, 1);
  // Then the two offers of May count, the one of 1 June (local) not
  CHECK(may.total().offered() == 2);
  CHECK(may.from() == "2024-05-01");
  CHECK(may.to() == "2024-06-01");
  CHECK(f.stats({{"to", "2024-05-01"}}, 1).total().offered() == 0);
  CHECK(f.stats({{"from", "2024-06-01"}}, 1).total().offered() == 2);
  // And groupBy=offence,municipality gives one row per combination, sorted in that order
  auto g = f.stats({{"groupBy", "offence,municipality"}}, 1);
  REQUIRE(g.group_by_size() == 2);
  CHECK(g.group_by(0) == "offence");
  REQUIRE(g.rows_size() == 4);
  CHECK(g.rows(0).offence() == v1::OFFENCE_DRUNK);
  CHECK(g.rows(0).kommunekode() == 657);
  CHECK(g.rows(1).offence() == v1::OFFENCE_DRUNK);
  CHECK(g.rows(1).kommunekode() == 751);
  CHECK(g.rows(2).offence() == v1::OFFENCE_DRUG);
  CHECK(g.rows(2).municipality_name() == "Holstebro");
  CHECK(g.rows(3).offence() == v1::OFFENCE_BOTH);
  CHECK(g.rows(0).month().empty());  // not grouped by month
  // And month and district
  auto md = f.stats({{"groupBy", "month,district"}}, 1);
  REQUIRE(md.rows_size() == 3);
  CHECK(md.rows(0).month() == "2024-05");
  CHECK(md.rows(0).offered() == 2);
  CHECK(md.rows(1).month() == "2024-06");
  CHECK(md.rows(1).district_id() == "mvj");
  CHECK(md.rows(2).district_id() == "oj");
  CHECK(md.rows(2).district_name() == "Østjyllands Politi");
  CHECK(md.rows(0).kommunekode() == 0);
}

TEST_CASE("evaluation: bad query parameters get 400 naming the parameter", "[evaluation]") {
  auto field_of = [](const std::map<std::string, std::string>& p) -> std::string {
    try {
      ev::parse_query(p);
    } catch (const henvis::http::Problem& e) {
      CHECK(e.response.status == 400);
      CHECK(e.response.content_type == "application/problem+json");
      return e.response.body;
    }
    return "no problem";
  };
  CHECK_THAT(field_of({{"from", "2024-02-30"}}), Catch::Contains("\"field\":\"from\""));
  // Windows are whole calendar months (docs/statistics.md, differencing)
  CHECK_THAT(field_of({{"from", "2024-05-02"}}), Catch::Contains("\"field\":\"from\""));
  CHECK_THAT(field_of({{"from", "2024-05-01"}, {"to", "2024-05-31"}}),
             Catch::Contains("\"field\":\"to\""));
  CHECK_THAT(field_of({{"to", "01-05-2024"}}), Catch::Contains("\"field\":\"to\""));
  CHECK_THAT(field_of({{"from", "2024-05-01"}, {"to", "2024-05-01"}}),
             Catch::Contains("\"field\":\"to\""));
  CHECK_THAT(field_of({{"groupBy", "municipality,cpr"}}), Catch::Contains("\"field\":\"groupBy\""));
  CHECK_THAT(field_of({{"groupBy", "month,month"}}), Catch::Contains("\"field\":\"groupBy\""));
  CHECK_THAT(field_of({{"groupBy", "month,"}}), Catch::Contains("\"field\":\"groupBy\""));
  CHECK_THAT(field_of({{"format", "xml"}}), Catch::Contains("\"field\":\"format\""));
  CHECK_THAT(field_of({{"period", "2024"}}), Catch::Contains("\"field\":\"period\""));
  // And good ones parse
  auto q =
      ev::parse_query({{"from", "2024-01-01"}, {"groupBy", "district,month"}, {"format", "csv"}});
  CHECK(q.csv);
  CHECK(q.group_by == std::vector<ev::Dim>{ev::Dim::district, ev::Dim::month});
  CHECK(ev::parse_query({{"groupBy", ""}}).group_by.empty());
}

TEST_CASE("evaluation: a small cell is suppressed and so is its complement in the row",
          "[evaluation][disclosure]") {
  // Given one row (the total): 20 offered, 3 accepted, 17 declined
  auto h = ev::suppress({counts({20, 3, 17})}, 5);
  // Then accepted is suppressed (3 < 5) and declined with it, or it would be
  // 20 - 17; offered stays
  CHECK(h[0][ev::ACCEPTED]);
  CHECK(h[0][ev::DECLINED]);
  CHECK_FALSE(h[0][ev::OFFERED]);
  // And a 0 is never suppressed for being small
  auto z = ev::suppress({counts({20, 20, 0, 20, 0})}, 5);
  for (int c = 0; c < ev::NCOL; ++c) CHECK_FALSE(z[0][c]);
  // And routed = 12, unroutable = 2 of accepted = 14: both withheld
  auto r = ev::suppress({counts({30, 14, 16, 12, 2})}, 5);
  CHECK(r[0][ev::UNROUTABLE]);
  CHECK(r[0][ev::ROUTED]);
  CHECK_FALSE(r[0][ev::ACCEPTED]);
}

TEST_CASE("evaluation: a small cell in a column gets a complementary cell in that column",
          "[evaluation][disclosure]") {
  // Given three groups with 3, 12 and 30 withdrawn... (column WITHDRAWN) and the total 45
  std::vector<ev::Counts> rows = {counts({40, 40, 0, 40, 0, 40, 40, 40, 40, 3}),
                                  counts({40, 40, 0, 40, 0, 40, 40, 40, 40, 12}),
                                  counts({40, 40, 0, 40, 0, 40, 40, 40, 40, 30}),
                                  counts({120, 120, 0, 120, 0, 120, 120, 120, 120, 45})};
  auto h = ev::suppress(rows, 5);
  // Then 3 is suppressed, and the next smallest of the column (12), not the total
  CHECK(h[0][ev::WITHDRAWN]);
  CHECK(h[1][ev::WITHDRAWN]);
  CHECK_FALSE(h[2][ev::WITHDRAWN]);
  CHECK_FALSE(h[3][ev::WITHDRAWN]);
  check_protected(rows, h, 5);
}

TEST_CASE("evaluation: complementary suppression cascades across rows and columns",
          "[evaluation][disclosure]") {
  // Given two groups; the first has 2 accepted, 10 declined
  std::vector<ev::Counts> rows = {counts({12, 2, 10, 2}), counts({30, 20, 10, 20}),
                                  counts({42, 22, 20, 22})};
  auto h = ev::suppress(rows, 5);
  // Then the first row's accepted (primary) and declined (row complement) go,
  // the columns accepted and declined each need a second withheld cell (the
  // second row's), and every relation ends with 0 or >= 2 withheld cells
  CHECK(h[0][ev::ACCEPTED]);
  CHECK(h[0][ev::DECLINED]);
  CHECK(h[1][ev::DECLINED]);
  CHECK(h[1][ev::ACCEPTED]);
  check_protected(rows, h, 5);
  // And for random tables the same holds
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small(0, 9), nrows(1, 6);
  for (int round = 0; round < 300; ++round) {
    std::vector<ev::Counts> t(nrows(rng));
    ev::Counts total{};
    for (auto& row : t) {
      row[ev::ACCEPTED] = small(rng);
      row[ev::DECLINED] = small(rng);
      row[ev::OFFERED] = row[ev::ACCEPTED] + row[ev::DECLINED];
      row[ev::ROUTED] = std::min(row[ev::ACCEPTED], small(rng));
      row[ev::UNROUTABLE] = row[ev::ACCEPTED] - row[ev::ROUTED];
      for (int c = ev::DELIVERED; c < ev::NCOL; ++c) row[c] = std::min(row[ev::ROUTED], small(rng));
      for (int c = 0; c < ev::NCOL; ++c) total[c] += row[c];
    }
    t.push_back(total);
    check_protected(t, ev::suppress(t, 5), 5);
  }
}

TEST_CASE("evaluation: suppressed cells are absent and named - rates and median need N",
          "[evaluation][disclosure]") {
  Fixture f;
  // Given the known set (Herning 8 yes, 3 no; Aarhus 2 yes) with N = 5
  f.apply_all(known_events());
  auto s = f.stats({{"groupBy", "municipality"}}, 5);
  REQUIRE(s.rows_size() == 2);
  CHECK(s.min_cell() == 5);
  const auto& herning = s.rows(0);
  const auto& aarhus = s.rows(1);
  // Then Aarhus's 2 offered/accepted/unroutable are suppressed (absent in JSON)
  CHECK_FALSE(aarhus.has_offered());
  CHECK_FALSE(aarhus.has_accepted());
  CHECK_FALSE(aarhus.has_unroutable());
  CHECK(has(aarhus, "offered"));
  CHECK(has(aarhus, "unroutable"));
  CHECK(json(aarhus).find("\"offered\":") == std::string::npos);
  // And its zeros are withheld too (rule 1b: a 0 beside "fewer than 5
  // offered" would tell what each of them did)
  CHECK_FALSE(aarhus.has_declined());
  CHECK(has(aarhus, "declined"));
  // And Herning's 3 declined is suppressed, and with it (offered = accepted +
  // declined) one more cell of that row
  CHECK_FALSE(herning.has_declined());
  CHECK(herning.suppressed_size() > 0);
  const int hidden_in_row =
      !herning.has_offered() + !herning.has_accepted() + !herning.has_declined();
  CHECK(hidden_in_row >= 2);
  // And no column can be completed from the total: Herning's unroutable 0 is
  // shown, Aarhus's 2 is not, so the total's unroutable (2) is not shown either
  CHECK_FALSE(s.total().has_unroutable());
  // And the total's withdrawn (1) is suppressed, Herning's too (same 1)
  CHECK_FALSE(s.total().has_withdrawn());
  CHECK_FALSE(herning.has_withdrawn());
  // And rates are hidden where accepted < 5 (Aarhus) or accepted is withheld
  CHECK_FALSE(aarhus.has_routed_rate());
  CHECK(has(aarhus, "routedRate"));
  if (!herning.has_accepted()) CHECK_FALSE(herning.has_routed_rate());
  // And the median needs 5 first contacts: Herning has 6, Aarhus none
  CHECK(herning.has_median_days_to_first_contact());
  CHECK(herning.median_days_to_first_contact() == Approx(3.0));
  CHECK_FALSE(aarhus.has_median_days_to_first_contact());
  CHECK(has(aarhus, "medianDaysToFirstContact"));
}

TEST_CASE("evaluation: rates are shown from N accepted, hidden below", "[evaluation][disclosure]") {
  Fixture f;
  // Given 4 accepted offers, all routed
  for (int i = 0; i < 4; ++i) {
    const std::string id = "r" + std::to_string(i);
    f.apply_all({offer(id, true, 657), status(id, v1::REFERRAL_STATUS_ROUTED)});
  }
  auto four = f.stats({}, 5).total();
  // Then accepted (4) is suppressed and no rate is shown
  CHECK_FALSE(four.has_accepted());
  CHECK_FALSE(four.has_routed_rate());
  CHECK(has(four, "routedRate"));
  // When a fifth arrives
  f.apply_all({offer("r4", true, 657), status("r4", v1::REFERRAL_STATUS_ROUTED)});
  auto five = f.stats({}, 5).total();
  // Then the rate is shown: 5 of 5 routed (accepted and routed are the same
  // five persons, so the same cell key perturbs them alike)
  CHECK(std::abs(five.accepted() - 5) <= 2);
  CHECK(five.routed() == five.accepted());
  CHECK(five.routed_rate() == Approx(1.0));
  // And a rate over a zero numerator is 0, shown
  CHECK(five.has_withdrawn_rate());
  CHECK(five.withdrawn_rate() == 0.0);
  // And the median needs 5 persons with a first contact: none here
  CHECK_FALSE(five.has_median_days_to_first_contact());
}

TEST_CASE("evaluation: CSV has a header, a line per row and the total - withheld cells empty",
          "[evaluation][csv]") {
  Fixture f;
  f.apply_all(known_events());
  const auto q = ev::parse_query({{"groupBy", "municipality"}, {"format", "csv"}});
  const auto s = ev::compute(ev::load_facts(f.db, q, test_cell_key()), q, 5, f.directory);
  const std::string csv = ev::to_csv(s, q);
  std::vector<std::string> lines;
  std::istringstream in(csv);
  for (std::string l; std::getline(in, l);) {
    REQUIRE(!l.empty());
    REQUIRE(l.back() == '\r');
    l.pop_back();
    lines.push_back(l);
  }
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] ==
        "row,kommunekode,municipalityName,offered,accepted,declined,routed,unroutable,"
        "delivered,contactAttempted,conversationHeld,furtherSessionsAccepted,withdrawn,"
        "routedRate,unroutableRate,deliveredRate,contactAttemptedRate,conversationHeldRate,"
        "furtherSessionsAcceptedRate,withdrawnRate,medianDaysToFirstContact,suppressed,dateBasis");
  // Every line has as many cells as the header
  for (const auto& l : lines)
    CHECK(std::count(l.begin(), l.end(), ',') == std::count(lines[0].begin(), lines[0].end(), ','));
  // Aarhus: offered suppressed -> empty cell, named in the suppressed column
  CHECK(lines[2].rfind("group,751,Aarhus,,,,", 0) == 0);
  CHECK(lines[2].find("offered;accepted") != std::string::npos);
  CHECK(lines[3].rfind("total,,,", 0) == 0);
  // And with N = 1 every value is there
  const auto all =
      ev::to_csv(ev::compute(ev::load_facts(f.db, q, test_cell_key()), q, 1, f.directory), q);
  CHECK(all.find("total,,,13,10,3,8,2,7,6,5,2,1,0.8,0.2,0.7,0.6,0.5,0.2,0.1,3,,charged\r\n") !=
        std::string::npos);
  // And without groupBy: header without group columns, and only the total line
  const auto q0 = ev::parse_query({{"format", "csv"}});
  const auto t =
      ev::to_csv(ev::compute(ev::load_facts(f.db, q0, test_cell_key()), q0, 1, f.directory), q0);
  CHECK(t.rfind("row,offered,", 0) == 0);
  CHECK(std::count(t.begin(), t.end(), '\n') == 2);
}

TEST_CASE("evaluation: no personal data in the database file or in any response",
          "[evaluation][privacy]") {
  // Given the known set, whose yes offers carry CPR, name, phone, e-mail
  // and journal number, applied and the database closed
  TempDir tmp("henvis-evaluation-privacy");
  const std::string path = known_store(tmp);
  std::string responses;
  auto tokens = dev_tokens();
  for (int n : {1, 5}) {
    // When every kind of response is produced through the HTTP layer, with
    // N = 1 (everything shown) and N = 5
    ev::Api api(path, dev_directory(), n, "", /*dev=*/true);
    henvis::http::Router router;
    api.register_routes(router);
    henvis::http::Metrics metrics;
    henvis::http::Server server({}, tokens, std::move(router), metrics, [] { return true; });
    for (const std::string query :
         {"groupBy=municipality,month,offence,district&format=json",
          "groupBy=municipality,month,offence,district&format=csv", "format=csv", "",
          "groupBy=district", "from=2024-05-01&to=2024-06-01&groupBy=offence"}) {
      auto res = get(server, "dev-evaluator", query);
      REQUIRE(res.status == 200);
      CHECK(res.content_type == (query.find("csv") != std::string::npos ? "text/csv; charset=utf-8"
                                                                        : "application/json"));
      responses += res.body;
    }
    // And a bad parameter is a problem naming it
    auto bad = get(server, "dev-evaluator", "groupBy=cpr");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("\"field\":\"groupBy\"") != std::string::npos);
    responses += bad.body;
    // And every other role gets 403, no token 401
    for (const std::string token : {"dev-officer-mvj", "dev-center-657", "dev-municipality-657",
                                    "dev-coordinator-mvj", "dev-admin"})
      CHECK(get(server, token, "").status == 403);
    CHECK(get(server, "", "").status == 401);
  }
  // Then no response holds any of the personal data
  REQUIRE(responses.find("Herning") != std::string::npos);  // the scan is not blind
  check_no_personal_data(responses);
  // And no byte of the database files (db, -wal, -shm) does
  std::string bytes;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path)) bytes += read_file(e.path());
  REQUIRE(bytes.find("ref-h1") != std::string::npos);  // the scan is not blind
  check_no_personal_data(bytes);
}

TEST_CASE(
    "evaluation: an answer of more rows than max_rows is refused with 400 naming groupBy - one "
    "of max_rows rows is answered",
    "[evaluation]") {
  // Given the known set applied
  TempDir tmp("henvis-evaluation-max-rows");
  const std::string path = known_store(tmp);
  auto tokens = dev_tokens();
  auto serve = [&](int max_rows, const std::string& query, const std::string& stats_path) {
    ev::Api api(path, dev_directory(), 1, "", /*dev=*/true, max_rows);
    henvis::http::Router router;
    api.register_routes(router);
    henvis::http::Metrics metrics;
    henvis::http::Server server({}, tokens, std::move(router), metrics, [] { return true; });
    return get(server, "dev-evaluator", query, stats_path);
  };
  const std::string all = "groupBy=municipality,month,offence,district";
  v1::ReferralStats uncapped;
  REQUIRE(google::protobuf::util::JsonStringToMessage(serve(0, all, "/v1/stats/referrals").body,
                                                      &uncapped)
              .ok());
  const int rows = uncapped.rows_size();
  REQUIRE(rows >= 2);
  for (const std::string format : {"json", "csv"}) {
    INFO("format " << format);
    // When the cap is the answer's rows, it is answered whole
    auto at_cap = serve(rows, all + "&format=" + format, "/v1/stats/referrals");
    CHECK(at_cap.status == 200);
    // When it is one row less, the query is refused, naming groupBy and the
    // cap, and without the dimensions (the total alone) it is answered
    auto over = serve(rows - 1, all + "&format=" + format, "/v1/stats/referrals");
    CHECK(over.status == 400);
    CHECK(over.content_type == "application/problem+json");
    CHECK_THAT(over.body, Catch::Contains("\"field\":\"groupBy\""));
    CHECK_THAT(over.body, Catch::Contains("more than " + std::to_string(rows - 1) + " rows"));
    CHECK(serve(rows - 1, "format=" + format, "/v1/stats/referrals").status == 200);
  }
  // (The underretning table's cap: evaluation_underretning_test.cpp.)
}

TEST_CASE("evaluation: events that can never be applied are rejected with a reason",
          "[evaluation]") {
  Fixture f;
  auto rejects = [&](const henvis::kafka::Message& m) -> std::string {
    try {
      apply(f.applier, f.db, m);
    } catch (const henvis::Rejected& r) {
      return r.what();
    }
    return "applied";
  };
  CHECK(rejects(message(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "k",
                        "\xff\xfe not protobuf")) ==
        "payload is not a valid henvis.v1.OfferRecorded");
  CHECK(rejects(message(henvis::topics::OFFERS, "henvis.offer.eaten", "k", "")) ==
        "unexpected ce_type for offers topic");
  // An offer without offer_id, or with no answer
  v1::OfferRecorded o;
  o.set_answer(v1::ANSWER_NO);
  auto m = message(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "k",
                   o.SerializeAsString());
  CHECK(rejects(m) == "missing field offer_id");
  o.set_offer_id("o1");
  o.set_answer(v1::ANSWER_UNSPECIFIED);
  m.payload = o.SerializeAsString();
  CHECK(rejects(m) == "field answer is not ANSWER_YES or ANSWER_NO");
  // A yes without referral id; its reason names the rule and never the person
  auto yes = offer("o2", true, 657);
  v1::OfferRecorded y;
  REQUIRE(y.ParseFromString(yes.payload));
  y.clear_referral_id();
  yes.payload = y.SerializeAsString();
  const std::string reason = rejects(yes);
  CHECK(reason == "missing field referral_id");
  CHECK(reason.find(CPR) == std::string::npos);
  // A status whose ce_type does not match its payload
  auto st = status("o3", v1::REFERRAL_STATUS_ROUTED);
  st.headers[1].second = "henvis.referral.delivered";
  CHECK(rejects(st) == "ce_type does not match field status");
  CHECK(rejects(message("police.incidents.v1", "x", "k", "")) ==
        "topic not consumed by evaluation");
  // And nothing was stored
  CHECK(henvis::test::scalar(f.db, "SELECT count(*) FROM facts") == 0);
}

TEST_CASE("fill_counts_and_shares shows a share only with both columns shown and N in the base",
          "[evaluation]") {
  const std::vector<int> counts = {10, 4, 3};
  const std::array<const char*, 3> fields = {"offered", "accepted", "routed"};
  const std::array<const char*, 3> json = {"offered", "accepted", "routed"};
  const std::vector<ev::Share> rate = {{"routed_rate", "routedRate", {2}, {1}}};
  auto suppressed = [](const v1::ReferralStatsRow& r) {
    return std::vector<std::string>(r.suppressed().begin(), r.suppressed().end());
  };
  // All shown, base 4 >= N 3: counts and the share
  v1::ReferralStatsRow shown;
  ev::fill_counts_and_shares(shown, counts, {false, false, false}, fields, json, rate, 3);
  CHECK(shown.offered() == 10);
  CHECK(shown.routed() == 3);
  CHECK(shown.routed_rate() == 0.75);
  CHECK(suppressed(shown).empty());
  // Base 4 < N 5: the share is withheld, the counts are not
  v1::ReferralStatsRow small;
  ev::fill_counts_and_shares(small, counts, {false, false, false}, fields, json, rate, 5);
  CHECK(small.routed() == 3);
  CHECK_FALSE(small.has_routed_rate());
  CHECK(suppressed(small) == std::vector<std::string>{"routedRate"});
  // A withheld numerator withholds the share too, counts named first
  v1::ReferralStatsRow hidden;
  ev::fill_counts_and_shares(hidden, counts, {false, false, true}, fields, json, rate, 3);
  CHECK_FALSE(hidden.has_routed());
  CHECK_FALSE(hidden.has_routed_rate());
  CHECK(suppressed(hidden) == std::vector<std::string>{"routed", "routedRate"});
}

// ------------------------------------------------------------------ differencing
// The attacker of docs/statistics.md ("Differencing"): an officer plants a
// group of 1-4 persons alone in one municipality x month x offence cell (so
// that cell itself is suppressed) among a background of other offers, all
// with a conversation held, and tries to recover the group's counts from
// published cells by subtraction: other groupings of the same period, other
// windows, and the total minus the other rows.
namespace differencing {

constexpr int PLANTED_KOMMUNE = 657;
constexpr int OTHER_KOMMUNE = 661;
const std::vector<std::string> MONTHS = {"2024-01", "2024-02", "2024-03",
                                         "2024-04", "2024-05", "2024-06"};

ev::Fact person(const ev::CellKey& key, const std::string& id, int kommunekode,
                const std::string& month, int offence, bool conversation) {
  ev::Fact f;
  f.in[ev::OFFERED] = f.in[ev::ACCEPTED] = f.in[ev::ROUTED] = f.in[ev::DELIVERED] = true;
  f.in[ev::CONTACT_ATTEMPTED] = f.in[ev::CONVERSATION_HELD] = conversation;
  f.kommunekode = kommunekode;
  f.district_id = "mvj";
  f.offence = offence;
  f.charged_day = month + "-15";
  f.record_key = key.record_key(id);
  return f;
}

// 10 background persons in every municipality x month x offence cell except
// the planted one (DRUG in 657, June), 8 of them with a conversation;
// then the planted group, each with a conversation.
std::vector<ev::Fact> population(const ev::CellKey& key, int planted) {
  std::vector<ev::Fact> out;
  for (int k : {PLANTED_KOMMUNE, OTHER_KOMMUNE})
    for (const auto& m : MONTHS)
      for (int o : {1, 2, 3}) {
        if (k == PLANTED_KOMMUNE && m == "2024-06" && o == 2) continue;
        for (int i = 0; i < 10; ++i)  // 8 of 10 with a conversation: no cell under N
          out.push_back(
              person(key, fmt::format("bg-{}-{}-{}-{}", k, m, o, i), k, m, o, i % 5 != 0));
      }
  for (int i = 0; i < planted; ++i)
    out.push_back(person(key, "planted-" + std::to_string(i), PLANTED_KOMMUNE, "2024-06", 2, true));
  return out;
}

v1::ReferralStats ask(const std::vector<ev::Fact>& all, const std::string& from,
                      const std::string& to, const std::string& group_by) {
  const auto q = ev::parse_query({{"from", from}, {"to", to}, {"groupBy", group_by}});
  std::vector<ev::Fact> in;
  for (const auto& f : all)
    if (f.charged_day >= from && f.charged_day < to) in.push_back(f);
  return ev::compute(in, q, 5, dev_directory());
}

// The published conversationHeld of the row matching, or nullopt (suppressed or absent).
std::optional<int> conv(const v1::ReferralStats& s, int kommunekode, int offence = 0,
                        const std::string& month = "") {
  for (const auto& r : s.rows()) {
    if (r.kommunekode() != kommunekode) continue;
    if (offence && r.offence() != offence) continue;
    if (!month.empty() && r.month() != month) continue;
    if (!r.has_conversation_held()) return std::nullopt;
    return r.conversation_held();
  }
  return std::nullopt;
}

// The attacker's estimates of the planted group's conversationHeld, one per
// way of subtracting published cells.
std::vector<int> estimates(const std::vector<ev::Fact>& all) {
  std::vector<int> out;
  // whole - sum(minus) + sum(plus), if every cell of it is published.
  auto push = [&](std::optional<int> whole, std::vector<std::optional<int>> minus,
                  std::vector<std::optional<int>> plus = {}) {
    if (!whole) return;
    int v = *whole;
    for (const auto& p : minus) {
      if (!p) return;
      v -= *p;
    }
    for (const auto& p : plus) {
      if (!p) return;
      v += *p;
    }
    out.push_back(v);
  };
  for (const std::string from :
       {"2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"}) {
    const auto to_july = ask(all, from, "2024-07-01", "municipality,offence");
    const auto to_june = ask(all, from, "2024-06-01", "municipality,offence");
    // 1. Two windows a month apart, the planted municipality x offence: the
    // classic differencing of a window that ends a month later.
    push(conv(to_july, PLANTED_KOMMUNE, 2), {conv(to_june, PLANTED_KOMMUNE, 2)});
    // 2. The same by municipality alone, minus June's other offences (each
    // itself a difference of two windows).
    push(conv(ask(all, from, "2024-07-01", "municipality"), PLANTED_KOMMUNE),
         {conv(ask(all, from, "2024-06-01", "municipality"), PLANTED_KOMMUNE),
          conv(to_july, PLANTED_KOMMUNE, 1), conv(to_july, PLANTED_KOMMUNE, 3)},
         {conv(to_june, PLANTED_KOMMUNE, 1), conv(to_june, PLANTED_KOMMUNE, 3)});
  }
  // 3. Offence x month over all municipalities minus the other municipality.
  const auto mo = ask(all, "2024-01-01", "2024-07-01", "month,offence");
  const auto kmo = ask(all, "2024-01-01", "2024-07-01", "municipality,month,offence");
  for (const auto& r : mo.rows())
    if (r.month() == "2024-06" && r.offence() == 2 && r.has_conversation_held())
      push(r.conversation_held(), {conv(kmo, OTHER_KOMMUNE, 2, "2024-06")});
  // 4. The total minus every other row of municipality x month x offence.
  std::vector<std::optional<int>> others;
  for (const auto& r : kmo.rows())
    if (!(r.kommunekode() == PLANTED_KOMMUNE && r.month() == "2024-06" && r.offence() == 2))
      others.push_back(r.has_conversation_held() ? std::optional<int>(r.conversation_held())
                                                 : std::nullopt);
  push(kmo.total().has_conversation_held() ? std::optional<int>(kmo.total().conversation_held())
                                           : std::nullopt,
       others);
  return out;
}

}  // namespace differencing

TEST_CASE(
    "evaluation: differencing windows, groupings and the total never gives a planted group "
    "of 1-4 persons exactly",
    "[evaluation][disclosure][differencing]") {
  using namespace differencing;
  for (const char k : {'a', 'b', 'c'}) {
    const ev::CellKey key(std::string(ev::CellKey::KEY_BYTES, k));
    for (int planted = 1; planted <= 4; ++planted) {
      INFO("key " << k << ", planted " << planted);
      const auto all = population(key, planted);
      // The planted cell itself is suppressed.
      const auto kmo = ask(all, "2024-06-01", "2024-07-01", "municipality,offence");
      CHECK_FALSE(conv(kmo, PLANTED_KOMMUNE, 2).has_value());
      // Every way of subtracting yields an estimate, and they disagree: the
      // attacker cannot tell which (if any) is the group's true count.
      const auto e = estimates(all);
      INFO("estimates " << ::Catch::Detail::stringify(e));
      REQUIRE(e.size() >= 5);
      CHECK(std::set<int>(e.begin(), e.end()).size() > 1);
      // Without the perturbation every estimate would be exact: the
      // attack itself is sound, the defence is what stops it.
      CHECK(std::count(e.begin(), e.end(), planted) < static_cast<long>(e.size()));
    }
  }
}

TEST_CASE(
    "evaluation: the same cell gets the same figure in every query - repetition averages "
    "nothing away",
    "[evaluation][disclosure][differencing]") {
  using namespace differencing;
  const ev::CellKey key(std::string(ev::CellKey::KEY_BYTES, 'r'));
  const auto all = population(key, 3);
  const auto first = ask(all, "2024-01-01", "2024-07-01", "municipality,month");
  for (int i = 0; i < 5; ++i)
    CHECK(json(ask(all, "2024-01-01", "2024-07-01", "municipality,month")) == json(first));
  // The same persons in another table (June alone, by municipality and
  // month) get the same published figure as in the half-year table.
  const auto june = ask(all, "2024-06-01", "2024-07-01", "municipality,month");
  CHECK(conv(june, OTHER_KOMMUNE, 0, "2024-06") == conv(first, OTHER_KOMMUNE, 0, "2024-06"));
}

TEST_CASE("evaluation: published counts are perturbed by at most 2 and an empty cell stays 0",
          "[evaluation][disclosure][differencing]") {
  std::map<int, int> seen;
  for (std::uint64_t k = 0; k < 20000; ++k) {
    const std::uint64_t cell_key = k * 0x9E3779B97F4A7C15ull;  // spread over 2^64
    const int d = ev::perturbation(10, cell_key);
    REQUIRE(d >= -2);
    REQUIRE(d <= 2);
    ++seen[d];
    CHECK(ev::perturbation(0, cell_key) == 0);
    CHECK(1 + ev::perturbation(1, cell_key) >= 1);
  }
  // Every noise value occurs, 0 about half the time.
  CHECK(seen.size() == 5);
  CHECK(seen[0] > 9000);
  CHECK(seen[0] < 11000);
}
