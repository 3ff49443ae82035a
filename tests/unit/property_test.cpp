// Property tests on the pure parts (issue 5, "Property tests"), with
// deterministic seeded generators (std::mt19937 with fixed seeds; a failure
// names its seed and case, so it can be reproduced):
//  - applying an event twice (the same event, or the same event under a new
//    ce_id: the Appliers never see the ce_id) gives the state of applying it
//    once, for the router, notifier and evaluation Appliers;
//  - replaying the log from the start, on a fresh database or on top of the
//    state it already made, gives the same state; for the evaluation also in
//    any (shuffled) order;
//  - no sequence of outcomes through router::Api::record_outcome leaves the
//    lifecycle table (lifecycle.hpp): every accepted outcome is allowed from
//    the status before it, every refused one is not, final statuses never
//    change, contact_attempts never exceeds the configured maximum.
// "State" is every row of the service's tables, compared as text; outbox
// rows are compared by topic, key and ce_type (their ce_ids and created_at
// are fresh by design). Every Applier runs on a ManualClock that moves only
// between events, so timestamps are part of the comparison.

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "evaluation.hpp"
#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"
#include "lifecycle.hpp"
#include "notifier.hpp"
#include "router.hpp"
#include "support.hpp"

namespace {

namespace v1 = henvis::v1;
using henvis::kafka::Message;
using henvis::test::dev_directory;
using henvis::test::TempDir;

constexpr std::int64_t T0 = 1714557600;  // 2024-05-01T10:00:00Z
constexpr int RUNS = 25;                 // seeds per property
constexpr int EVENTS = 24;               // events per run (x 25 runs = 600 cases)

std::chrono::system_clock::time_point at(std::int64_t s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

Message msg(const std::string& topic, const std::string& type, const std::string& key,
            const std::string& payload, const std::string& id) {
  Message m;
  m.topic = topic;
  m.key = key;
  m.payload = payload;
  m.headers = {{henvis::kafka::header::ID, id}, {henvis::kafka::header::TYPE, type}};
  return m;
}

// Every row of `sql`, each column as text (NULL as "∅"), rows joined by '\n'.
std::string dump(henvis::sqlite::Db& db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.raw(), sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      if (sqlite3_column_type(st, c) == SQLITE_NULL) {
        out += "∅";
      } else {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(st, c));
        out.append(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
      }
      out += '|';
    }
    out += '\n';
  }
  sqlite3_finalize(st);
  return out;
}

std::string outbox_dump(henvis::sqlite::Db& db) {
  henvis::sqlite::Stmt s(db, "SELECT topic, key, headers FROM outbox ORDER BY id");
  std::string out;
  while (s.step()) {
    v1::Headers hs;
    hs.ParseFromString(s.blob(2));
    std::string type;
    for (const auto& h : hs.header())
      if (h.key() == henvis::kafka::header::TYPE) type = h.value();
    out += s.text(0) + "|" + s.blob(1) + "|" + type + "\n";
  }
  return out;
}

// Applies like the consumer loop: a refused event leaves nothing behind.
// Returns false if it was refused (henvis::Rejected).
template <class A>
bool apply(A& applier, henvis::sqlite::Db& db, const Message& m) {
  henvis::sqlite::Transaction tx(db);
  db.exec("SAVEPOINT event");
  bool ok = true;
  try {
    applier.apply(m, db);
    db.exec("RELEASE event");
  } catch (const henvis::Rejected&) {
    db.exec("ROLLBACK TO event");
    db.exec("RELEASE event");
    ok = false;
  }
  tx.commit();
  return ok;
}

// ------------------------------------------------------------------ events

const int KOMMUNER[] = {657, 661, 665, 751, 999};

std::string centre_of(int k) { return "rusmiddelcenter-" + std::to_string(k); }

v1::OfferRecorded offer(const std::string& id, bool yes, int kommunekode, std::int64_t charged) {
  v1::OfferRecorded o;
  o.set_offer_id("o-" + id);
  if (yes) o.set_referral_id("r-" + id);
  o.set_journal_number("4100-84123-00042-24");
  o.set_offence(v1::OFFENCE_DRUNK);
  o.mutable_charged_at()->set_seconds(charged);
  o.set_officer_id("officer-17");
  o.set_district_id(kommunekode == 751 ? "oj" : "mvj");
  o.set_answer(yes ? v1::ANSWER_YES : v1::ANSWER_NO);
  o.set_kommunekode(kommunekode);
  if (yes) {
    o.mutable_person()->set_cpr("0101901234");
    o.mutable_person()->set_name("Jens Testesen");
    o.mutable_person()->set_phone("+4523456789");
    o.mutable_consent()->set_text_version("consent-v1");
    o.mutable_consent()->mutable_given_at()->set_seconds(charged + 60);
  }
  return o;
}

std::string delivery_type(v1::DeliveryStatus s) {
  std::string n = v1::DeliveryStatus_Name(s).substr(16);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  return henvis::event_types::DELIVERY_PREFIX + n;
}

// A random log of offers (yes/no, several municipalities), withdrawals and
// delivery events about a small pool of referrals, plus a few events that
// must be refused (unknown referral, missing fields).
std::vector<Message> router_log(std::mt19937& rng, int n) {
  std::vector<Message> log;
  std::vector<std::pair<std::string, int>> offered;  // id, kommunekode
  auto pick = [&](int k) { return std::uniform_int_distribution<int>(0, k - 1)(rng); };
  for (int i = 0; i < n; ++i) {
    const std::string eid = "e" + std::to_string(i);
    const int what = pick(10);
    if (what < 4 || offered.empty()) {
      // Sometimes the same offer again (a re-registration under a new ce_id).
      std::string id =
          offered.empty() || pick(4) ? std::to_string(i) : offered[pick(offered.size())].first;
      // An offer id always comes with the same body (intake refuses another: 409).
      const int h = std::stoi(id);
      const int k = KOMMUNER[h % 5];
      const bool yes = h % 7 != 3;
      auto o = offer(id, yes, k, T0 - 86400 * (h * 37 % 400));
      log.push_back(msg(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "r-" + id,
                        o.SerializeAsString(), eid));
      if (yes) offered.emplace_back(id, k);
    } else if (what < 5) {
      v1::OfferWithdrawn w;
      const std::string id = pick(6) ? offered[pick(offered.size())].first : "unknown";
      w.set_offer_id("o-" + id);
      w.set_referral_id("r-" + id);
      w.set_withdrawn_by(v1::ROLE_OFFICER);
      log.push_back(msg(henvis::topics::OFFERS, henvis::event_types::OFFER_WITHDRAWN, "r-" + id,
                        w.SerializeAsString(), eid));
    } else if (what < 9) {
      const auto& [id, k] = offered[pick(offered.size())];
      v1::DeliveryEvent d;
      d.set_notification_id("n-" + eid);
      d.set_recipient_id(pick(5) ? centre_of(k) : "coordinator-mvj");
      d.set_referral_id(pick(8) ? "r-" + id : "r-unknown");
      const v1::DeliveryStatus ss[] = {v1::DELIVERY_STATUS_DELIVERED, v1::DELIVERY_STATUS_READ,
                                       v1::DELIVERY_STATUS_ACKNOWLEDGED,
                                       v1::DELIVERY_STATUS_FAILED};
      d.set_status(ss[pick(4)]);
      d.set_channel("inbox");
      d.mutable_at()->set_seconds(T0 + i);
      log.push_back(msg(henvis::topics::DELIVERIES, delivery_type(d.status()), d.recipient_id(),
                        d.SerializeAsString(), eid));
    } else {
      auto o = offer(std::to_string(i), true, 657, T0);
      o.clear_referral_id();  // refused: a yes without a referral id
      log.push_back(msg(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "x",
                        o.SerializeAsString(), eid));
    }
  }
  return log;
}

std::vector<Message> notifier_log(std::mt19937& rng, int n) {
  std::vector<Message> log;
  auto pick = [&](int k) { return std::uniform_int_distribution<int>(0, k - 1)(rng); };
  const v1::NotificationKind kinds[] = {
      v1::NOTIFICATION_KIND_NEW_REFERRAL, v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL,
      v1::NOTIFICATION_KIND_REMINDER, v1::NOTIFICATION_KIND_ESCALATION,
      v1::NOTIFICATION_KIND_WITHDRAWN};
  const char* recipients[] = {"rusmiddelcenter-657", "rusmiddelcenter-661", "coordinator-mvj",
                              "coordinator-oj", "nobody"};
  for (int i = 0; i < n; ++i) {
    v1::NotificationRequested r;
    // Sometimes an earlier notification id again (a re-sent outbox row).
    r.set_notification_id("n-" + std::to_string(pick(3) ? i : pick(i + 1)));
    r.set_recipient_id(recipients[pick(5)]);
    r.set_kind(kinds[pick(5)]);
    auto* c = r.mutable_referral();
    c->set_referral_id("r-" + std::to_string(pick(6)));
    c->set_journal_number("4100-84123-00042-24");
    c->set_offence(v1::OFFENCE_DRUG);
    c->set_kommunekode(657);
    c->mutable_person()->set_cpr("0101901234");
    c->mutable_person()->set_name("Jens Testesen");
    c->mutable_person()->set_phone("+4523456789");
    c->set_status(v1::REFERRAL_STATUS_ROUTED);
    r.mutable_requested_at()->set_seconds(T0 + i);
    log.push_back(msg(henvis::topics::NOTIFICATIONS, henvis::event_types::NOTIFICATION_REQUESTED,
                      r.recipient_id(), r.SerializeAsString(), "e" + std::to_string(i)));
  }
  return log;
}

std::vector<Message> evaluation_log(std::mt19937& rng, int n) {
  std::vector<Message> log;
  auto pick = [&](int k) { return std::uniform_int_distribution<int>(0, k - 1)(rng); };
  for (int i = 0; i < n; ++i) {
    // Ids 0-5; 3 is a declined offer (h % 4 == 3 below), which has no
    // referral: no status or delivery event, no withdrawal naming a referral.
    const int what = pick(8);
    const int h = what < 3 ? pick(6) : std::vector<int>{0, 1, 2, 4, 5}[pick(5)];
    const std::string id = std::to_string(h);
    const std::string eid = "e" + std::to_string(i);
    if (what < 2) {
      // An offer id always comes with the same body (intake refuses another: 409).
      auto o = offer(id, h % 4 != 3, KOMMUNER[h % 5], T0 - 86400 * (h * 7 % 30));
      log.push_back(msg(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "r-" + id,
                        o.SerializeAsString(), eid));
    } else if (what < 3) {
      v1::OfferWithdrawn w;
      w.set_offer_id("o-" + id);
      if (h % 4 != 3 && pick(2)) w.set_referral_id("r-" + id);
      log.push_back(msg(henvis::topics::OFFERS, henvis::event_types::OFFER_WITHDRAWN, "r-" + id,
                        w.SerializeAsString(), eid));
    } else if (what < 6) {
      v1::ReferralStatusChanged s;
      s.set_referral_id("r-" + id);
      s.set_offer_id("o-" + id);
      s.set_status(static_cast<v1::ReferralStatus>(1 + pick(14)));
      s.set_centre_id("rusmiddelcenter-657");
      s.mutable_at()->set_seconds(T0 + 3600 * pick(500));
      if (pick(2)) s.mutable_occurred_at()->set_seconds(T0 + 3600 * pick(500));
      log.push_back(
          msg(henvis::topics::REFERRALS,
              henvis::event_types::REFERRAL_PREFIX + henvis::router::status_name(s.status()),
              "r-" + id, s.SerializeAsString(), eid));
    } else {
      v1::DeliveryEvent d;
      d.set_notification_id("n-" + eid);
      d.set_recipient_id(pick(3) ? "rusmiddelcenter-657" : "coordinator-mvj");
      d.set_referral_id("r-" + id);
      d.set_status(static_cast<v1::DeliveryStatus>(1 + pick(4)));
      log.push_back(msg(henvis::topics::DELIVERIES, delivery_type(d.status()), d.recipient_id(),
                        d.SerializeAsString(), eid));
    }
  }
  // A complete log: every referral's offer is in it somewhere (the evaluation
  // folds a withdrawal that named only the offer id, and came first, into the
  // referral's row when the offer arrives; a log without the offer leaves it
  // waiting, and a replay of such an incomplete log may then find the row).
  for (int h = 0; h < 6; ++h) {
    bool offered = false;
    for (const auto& m : log)
      offered |= m.topic == henvis::topics::OFFERS &&
                 m.header(henvis::kafka::header::TYPE) == henvis::event_types::OFFER_RECORDED &&
                 m.key == "r-" + std::to_string(h);
    if (offered) continue;
    const std::string id = std::to_string(h);
    log.push_back(
        msg(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "r-" + id,
            offer(id, h % 4 != 3, KOMMUNER[h % 5], T0 - 86400 * (h * 7 % 30)).SerializeAsString(),
            "e-offer-" + id));
  }
  return log;
}

// ------------------------------------------------------------- services

struct RouterSvc {
  static constexpr const char* NAME = "router";
  TempDir tmp{"henvis-prop-router"};
  henvis::sqlite::Db db{tmp.file("router.db")};
  henvis::ManualClock clock{at(T0)};
  henvis::router::Applier applier{dev_directory(), settings(), clock};
  static henvis::router::Settings settings() {
    henvis::router::Settings s;
    s.person_key = "property-test-person-key";
    return s;
  }
  RouterSvc() { db.migrate(henvis::router::migrations()); }
  bool apply(const Message& m) { return ::apply(applier, db, m); }
  std::string state() {
    return dump(db, "SELECT * FROM referrals ORDER BY referral_id") +
           dump(db, "SELECT * FROM referral_history ORDER BY id") +
           dump(db, "SELECT * FROM person_index ORDER BY referral_id") + outbox_dump(db);
  }
  static std::vector<Message> log(std::mt19937& rng, int n) { return router_log(rng, n); }
};

struct NotifierSvc {
  static constexpr const char* NAME = "notifier";
  TempDir tmp{"henvis-prop-notifier"};
  henvis::sqlite::Db db{tmp.file("notifier.db")};
  henvis::ManualClock clock{at(T0)};
  henvis::notifier::Applier applier{dev_directory(), henvis::notifier::Settings(), clock};
  NotifierSvc() { db.migrate(henvis::notifier::migrations()); }
  bool apply(const Message& m) { return ::apply(applier, db, m); }
  std::string state() {
    return dump(db, "SELECT * FROM inbox ORDER BY notification_id") +
           dump(db, "SELECT * FROM withdrawn_referrals ORDER BY referral_id") + outbox_dump(db);
  }
  static std::vector<Message> log(std::mt19937& rng, int n) { return notifier_log(rng, n); }
};

struct EvaluationSvc {
  static constexpr const char* NAME = "evaluation";
  TempDir tmp{"henvis-prop-evaluation"};
  henvis::sqlite::Db db{tmp.file("evaluation.db")};
  henvis::ManualClock clock{at(T0)};
  const henvis::evaluation::CellKey cell_key{
      std::string(henvis::evaluation::CellKey::KEY_BYTES, 'k')};
  henvis::evaluation::Applier applier{cell_key};
  EvaluationSvc() { db.migrate(henvis::evaluation::migrations()); }
  bool apply(const Message& m) { return ::apply(applier, db, m); }
  // The facts and the statistics' cells kept from them (aggregates.hpp).
  std::string state() {
    return dump(db, "SELECT * FROM facts ORDER BY key") +
           dump(db, "SELECT * FROM deliveries ORDER BY referral_id, recipient_id") +
           dump(db,
                "SELECT * FROM referral_cells ORDER BY month, kommunekode, district_id, "
                "offence") +
           dump(db,
                "SELECT * FROM underretning_cells ORDER BY basis, month, week, "
                "kommunekode, district_id") +
           outbox_dump(db);
  }
  static std::vector<Message> log(std::mt19937& rng, int n) { return evaluation_log(rng, n); }
};

Message with_new_id(Message m) {
  for (auto& [k, v] : m.headers)
    if (k == henvis::kafka::header::ID) v += "-again";
  return m;
}

template <class Svc>
void check_apply_twice() {
  for (int seed = 1; seed <= RUNS; ++seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    const auto log = Svc::log(rng, EVENTS);
    Svc once, twice;
    for (std::size_t i = 0; i < log.size(); ++i) {
      INFO(Svc::NAME << " seed " << seed << " event " << i);
      const bool a = once.apply(log[i]);
      const bool b = twice.apply(log[i]);
      // The duplicate: the same event, or (every other time) under a new ce_id.
      const bool c = twice.apply(i % 2 ? with_new_id(log[i]) : log[i]);
      CHECK(a == b);
      (void)c;
      REQUIRE(once.state() == twice.state());
      once.clock.advance(std::chrono::minutes(1));
      twice.clock.advance(std::chrono::minutes(1));
    }
  }
}

template <class Svc>
void check_replay(bool shuffled) {
  for (int seed = 1; seed <= RUNS; ++seed) {
    std::mt19937 rng(static_cast<unsigned>(1000 + seed));
    auto log = Svc::log(rng, EVENTS);
    INFO(Svc::NAME << " seed " << seed);
    Svc first;
    for (const auto& m : log) first.apply(m);
    const std::string state = first.state();
    // Replaying the whole log on top of the state it made changes nothing
    // (a consumer that lost its offsets reads from the start).
    for (const auto& m : log) first.apply(m);
    REQUIRE(first.state() == state);
    // And a fresh database fed the same log (or a permutation of it) gets the same state.
    if (shuffled) std::shuffle(log.begin(), log.end(), rng);
    Svc fresh;
    for (const auto& m : log) fresh.apply(m);
    if (shuffled) {
      // The outbox holds only dead letters here, in arrival order: compare the rest.
      REQUIRE(dump(fresh.db, "SELECT * FROM facts ORDER BY key") ==
              dump(first.db, "SELECT * FROM facts ORDER BY key"));
      REQUIRE(dump(fresh.db, "SELECT * FROM deliveries ORDER BY referral_id, recipient_id") ==
              dump(first.db, "SELECT * FROM deliveries ORDER BY referral_id, recipient_id"));
    } else {
      REQUIRE(fresh.state() == state);
    }
  }
}

}  // namespace

TEST_CASE("property: applying an event twice equals applying it once (router)", "[property]") {
  check_apply_twice<RouterSvc>();
}

TEST_CASE("property: applying an event twice equals applying it once (notifier)", "[property]") {
  check_apply_twice<NotifierSvc>();
}

TEST_CASE("property: applying an event twice equals applying it once (evaluation)", "[property]") {
  check_apply_twice<EvaluationSvc>();
}

TEST_CASE("property: replaying the log from the start gives the same state (router)",
          "[property]") {
  check_replay<RouterSvc>(false);
}

TEST_CASE("property: replaying the log from the start gives the same state (notifier)",
          "[property]") {
  check_replay<NotifierSvc>(false);
}

TEST_CASE("property: replaying the log, in order or shuffled, gives the same state (evaluation)",
          "[property]") {
  check_replay<EvaluationSvc>(false);
  check_replay<EvaluationSvc>(true);
}

TEST_CASE("property: no sequence of outcomes leaves the lifecycle table", "[property]") {
  TempDir tmp("henvis-prop-lifecycle");
  const std::string path = tmp.file("router.db");
  henvis::ManualClock clock(at(T0));
  auto settings = RouterSvc::settings();
  settings.max_contact_attempts = 3;
  henvis::router::Api api(path, dev_directory(), settings, clock, nullptr);
  henvis::sqlite::Db db(path);
  db.migrate(henvis::router::migrations());  // the host migrates before building the Api
  henvis::router::Applier applier(dev_directory(), settings, clock);

  std::mt19937 rng(42);
  auto pick = [&](int k) { return std::uniform_int_distribution<int>(0, k - 1)(rng); };
  constexpr int REFERRALS = 40, STEPS = 12;  // 480 outcomes
  int accepted = 0, refused = 0, bad = 0;
  for (int r = 0; r < REFERRALS; ++r) {
    const std::string id = std::to_string(r);
    REQUIRE(apply(applier, db,
                  msg(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED, "r-" + id,
                      offer(id, true, 657, T0 - 86400).SerializeAsString(), "e-" + id)));
    // Some start delivered or acknowledged, as the notifier would make them.
    for (int d = 0, n = pick(3); d < n; ++d) {
      v1::DeliveryEvent ev;
      ev.set_notification_id("n-" + id);
      ev.set_recipient_id("rusmiddelcenter-657");
      ev.set_referral_id("r-" + id);
      ev.set_status(d == 0 ? v1::DELIVERY_STATUS_DELIVERED : v1::DELIVERY_STATUS_ACKNOWLEDGED);
      apply(applier, db,
            msg(henvis::topics::DELIVERIES, delivery_type(ev.status()), "c", ev.SerializeAsString(),
                "d-" + id + "-" + std::to_string(d)));
    }
    for (int step = 0; step < STEPS; ++step) {
      henvis::sqlite::Stmt before_s(
          db, "SELECT status, contact_attempts FROM referrals WHERE referral_id = ?");
      before_s.bind(1, "r-" + id);
      REQUIRE(before_s.step());
      const auto before = static_cast<v1::ReferralStatus>(before_s.i64(0));
      const auto attempts_before = before_s.i64(1);
      before_s.reset();
      // Mostly outcomes; sometimes a status that is not one, or an unknown number.
      const int o = pick(10) ? 5 + pick(6) : pick(16);
      const auto outcome = static_cast<v1::ReferralStatus>(o == 11 ? 8 : o);
      henvis::http::Request req;
      req.method = "POST";
      req.params["id"] = "r-" + id;
      req.principal = {"prop", v1::ROLE_CENTRE, "rusmiddelcenter-657", {}};
      req.body = "{\"outcome\":" + std::to_string(static_cast<int>(outcome)) + "}";
      const auto res = api.record_outcome(req);
      clock.advance(std::chrono::minutes(5));

      henvis::sqlite::Stmt after_s(
          db, "SELECT status, contact_attempts FROM referrals WHERE referral_id = ?");
      after_s.bind(1, "r-" + id);
      REQUIRE(after_s.step());
      const auto after = static_cast<v1::ReferralStatus>(after_s.i64(0));
      const auto attempts = after_s.i64(1);
      const auto allowed = henvis::router::allowed_outcomes(before);
      const bool is_allowed = std::find(allowed.begin(), allowed.end(), outcome) != allowed.end();
      INFO("referral " << id << " step " << step << " from " << henvis::router::status_name(before)
                       << " outcome " << o << " answered " << res.status << " " << res.body);
      CHECK(v1::ReferralStatus_IsValid(after));
      CHECK(attempts <= settings.max_contact_attempts);
      if (res.status == 200) {
        ++accepted;
        CHECK(is_allowed);
        CHECK_FALSE(henvis::router::is_final(before));
        const bool maxed = outcome == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED &&
                           attempts >= settings.max_contact_attempts;
        CHECK(after == (maxed ? v1::REFERRAL_STATUS_UNREACHABLE : outcome));
        CHECK(attempts ==
              attempts_before + (outcome == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED ? 1 : 0));
      } else {
        CHECK(after == before);
        CHECK(attempts == attempts_before);
        CHECK(res.content_type == "application/problem+json");
        if (res.status == 409) {
          ++refused;
          CHECK(henvis::router::is_outcome(outcome));
          CHECK_FALSE(is_allowed);
        } else {
          ++bad;
          CHECK(res.status == 400);
          CHECK_FALSE(henvis::router::is_outcome(outcome));
        }
      }
      // The last history row is the current status.
      henvis::sqlite::Stmt h(
          db, "SELECT status FROM referral_history WHERE referral_id = ? ORDER BY id DESC LIMIT 1");
      h.bind(1, "r-" + id);
      REQUIRE(h.step());
      CHECK(h.i64(0) == static_cast<std::int64_t>(after));
    }
  }
  // The generator reaches all three answers.
  CHECK(accepted > 50);
  CHECK(refused > 50);
  CHECK(bad > 5);
}
