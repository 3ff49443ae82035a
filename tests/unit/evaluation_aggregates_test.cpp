// The statistics' cells (services/evaluation/aggregates.hpp): every documented
// query answered from the cells is the answer computed from the facts (the
// reference: load_facts / load_underretning_facts), disclosure control
// included, for random events applied in random order, and the cells follow
// withdrawals, corrections, a new cell key and a store migrated with facts in it.

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "aggregates.hpp"
#include "evaluation.hpp"
#include "henvis/events.hpp"
#include "henvis/http.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"
#include "support.hpp"
#include "underretning_stats.hpp"

namespace {

namespace ev = henvis::evaluation;
namespace v1 = henvis::v1;
using henvis::kafka::Message;
using henvis::test::dev_directory;
using henvis::test::message;
using henvis::test::TempDir;

const ev::CellKey& key_a() {
  static const ev::CellKey key(std::string(ev::CellKey::KEY_BYTES, 'a'));
  return key;
}
const ev::CellKey& key_b() {
  static const ev::CellKey key(std::string(ev::CellKey::KEY_BYTES, 'b'));
  return key;
}

google::protobuf::Timestamp at(std::int64_t unix_seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(unix_seconds);
  return t;
}

// 2023-11-01T00:00:00Z: the random events fall in the six months after it.
constexpr std::int64_t START = 1698796800;
constexpr std::int64_t DAY = 86400;
constexpr std::int64_t SPAN = 182 * DAY;

const int KOMMUNER[] = {657, 661, 665, 751, 101, 0};
const char* const DISTRICTS[] = {"mvj", "oj", "sjyl", ""};

// ------------------------------------------------------------ random events

struct Person {
  std::string offer_id, referral_id;
  bool yes = true;
  int kommunekode = 657;
  std::string district = "mvj";
  v1::Offence offence = v1::OFFENCE_DRUNK;
  std::int64_t charged = START;
  std::string centre;
};

Message offer_event(const Person& p) {
  v1::OfferRecorded o;
  o.set_offer_id(p.offer_id);
  if (p.yes) o.set_referral_id(p.referral_id);
  o.set_offence(p.offence);
  *o.mutable_charged_at() = at(p.charged);
  o.set_district_id(p.district);
  o.set_answer(p.yes ? v1::ANSWER_YES : v1::ANSWER_NO);
  o.set_kommunekode(p.kommunekode);
  o.set_covered(p.kommunekode != 751);
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_RECORDED,
                 p.yes ? p.referral_id : p.offer_id, o.SerializeAsString());
}

Message status_event(const Person& p, v1::ReferralStatus st, std::optional<std::int64_t> occurred,
                     std::int64_t when) {
  v1::ReferralStatusChanged s;
  s.set_referral_id(p.referral_id);
  s.set_offer_id(p.offer_id);
  s.set_status(st);
  s.set_centre_id(st == v1::REFERRAL_STATUS_UNROUTABLE ? "" : p.centre);
  *s.mutable_at() = at(when);
  if (occurred) *s.mutable_occurred_at() = at(*occurred);
  return message(henvis::topics::REFERRALS,
                 henvis::event_types::REFERRAL_PREFIX + henvis::events::status_name(st),
                 p.referral_id, s.SerializeAsString());
}

Message delivery_event(const Person& p, const std::string& recipient, v1::DeliveryStatus st) {
  v1::DeliveryEvent d;
  d.set_notification_id("n-" + p.referral_id);
  d.set_recipient_id(recipient);
  d.set_referral_id(p.referral_id);
  d.set_status(st);
  d.set_channel("inbox");
  *d.mutable_at() = at(p.charged + DAY);
  return message(henvis::topics::DELIVERIES, "henvis.delivery.delivered", recipient,
                 d.SerializeAsString());
}

Message withdrawal_event(const Person& p, bool with_referral) {
  v1::OfferWithdrawn w;
  w.set_offer_id(p.offer_id);
  if (with_referral) w.set_referral_id(p.referral_id);
  w.set_withdrawn_by(v1::ROLE_OFFICER);
  *w.mutable_at() = at(p.charged + DAY);
  return message(henvis::topics::OFFERS, henvis::event_types::OFFER_WITHDRAWN,
                 p.referral_id.empty() ? p.offer_id : p.referral_id, w.SerializeAsString());
}

// The same event under a new ce_id: a fact sent twice.
Message resent(Message m) {
  for (auto& [k, v] : m.headers)
    if (k == henvis::kafka::header::ID) v = henvis::new_uuid();
  return m;
}

// `n` persons' offers and outcomes, shuffled: yes and no, routed or not,
// delivered to the centre or elsewhere, contacts on random days (some
// before the charge, some without occurred_at), withdrawals with and
// without the referral id (some before the offer), statuses whose offer
// never comes, offers recorded again with other facts, facts sent twice.
std::vector<Message> random_referral_events(std::mt19937& rng, int n) {
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
  auto chance = [&](int percent) { return pick(100) < percent; };
  std::vector<Message> e;
  for (int i = 0; i < n; ++i) {
    Person p;
    p.offer_id = "offer-" + std::to_string(i);
    p.referral_id = "ref-" + std::to_string(i);
    p.yes = chance(80);
    p.kommunekode = KOMMUNER[pick(6)];
    p.district = DISTRICTS[pick(4)];
    p.offence = static_cast<v1::Offence>(pick(4));
    p.charged = START + static_cast<std::int64_t>(rng() % SPAN);
    p.centre = "rusmiddelcenter-" + std::to_string(p.kommunekode);
    const bool offer_comes = chance(95);
    if (offer_comes) e.push_back(offer_event(p));
    if (offer_comes && chance(5)) {
      // recorded again with other facts (another month, municipality, ...)
      Person q = p;
      q.kommunekode = KOMMUNER[pick(6)];
      q.charged = START + static_cast<std::int64_t>(rng() % SPAN);
      q.offence = static_cast<v1::Offence>(pick(4));
      e.push_back(offer_event(q));
    }
    if (chance(3)) e.push_back(withdrawal_event(p, chance(50)));
    if (!p.yes) continue;
    if (chance(10)) {
      e.push_back(status_event(p, v1::REFERRAL_STATUS_UNROUTABLE, std::nullopt, p.charged + 60));
      continue;
    }
    if (chance(90))
      e.push_back(status_event(p, v1::REFERRAL_STATUS_ROUTED, std::nullopt, p.charged));
    if (chance(60))
      e.push_back(
          delivery_event(p, chance(85) ? p.centre : "coordinator-mvj",
                         chance(90) ? v1::DELIVERY_STATUS_DELIVERED : v1::DELIVERY_STATUS_FAILED));
    if (chance(10))
      e.push_back(status_event(p, v1::REFERRAL_STATUS_ACKNOWLEDGED, std::nullopt, p.charged + DAY));
    const v1::ReferralStatus outcomes[] = {v1::REFERRAL_STATUS_CONTACT_ATTEMPTED,
                                           v1::REFERRAL_STATUS_REACHED,
                                           v1::REFERRAL_STATUS_CONVERSATION_HELD,
                                           v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED,
                                           v1::REFERRAL_STATUS_CLOSED,
                                           v1::REFERRAL_STATUS_UNREACHABLE};
    for (int k = pick(4); k > 0; --k) {
      const auto st = outcomes[pick(6)];
      const std::int64_t when = p.charged + (pick(40) - 2) * DAY + pick(DAY);
      e.push_back(status_event(p, st, chance(80) ? std::optional(when) : std::nullopt, when));
    }
    if (chance(5))
      e.push_back(
          status_event(p, v1::REFERRAL_STATUS_WITHDRAWN, std::nullopt, p.charged + 2 * DAY));
  }
  const std::size_t originals = e.size();
  for (std::size_t k = 0; k < originals / 20; ++k) e.push_back(resent(e[rng() % originals]));
  std::shuffle(e.begin(), e.end(), rng);
  return e;
}

struct Underretning {
  std::string id;
  std::int64_t created = START;
  std::optional<std::int64_t> incident;
  int kommunekode = 657;
  std::string district = "mvj";
  int children = 1;
  bool cross_district = false, cross_municipality = false;
  std::optional<std::int64_t> due;
};

Message underretning_event(const Underretning& u, const std::string& name, std::int64_t when,
                           std::optional<std::int64_t> receipt, v1::UnderretningResponse response) {
  v1::UnderretningEvent e;
  e.set_underretning_id(u.id);
  e.set_event(name);
  e.set_kommunekode(u.kommunekode);
  e.set_district_id(u.district);
  e.set_children(u.children);
  *e.mutable_created_at() = at(u.created);
  if (u.incident) *e.mutable_earliest_incident_at() = at(*u.incident);
  if (u.due) *e.mutable_receipt_due_at() = at(*u.due);
  if (receipt) *e.mutable_receipt_at() = at(*receipt);
  e.set_response(response);
  *e.mutable_at() = at(when);
  e.set_cross_district(u.cross_district);
  e.set_cross_municipality(u.cross_municipality);
  return message(henvis::topics::UNDERRETNINGER, henvis::event_types::UNDERRETNING_PREFIX + name,
                 u.id, e.SerializeAsString());
}

// `n` underretninger, each with a few lifecycle events in random order:
// around midnight and ISO-week and month ends, with and without an incident
// day, a receipt clock, a receipt (on time or late), a missed deadline, responses.
std::vector<Message> random_underretning_events(std::mt19937& rng, int n) {
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
  auto chance = [&](int percent) { return pick(100) < percent; };
  std::vector<Message> e;
  for (int i = 0; i < n; ++i) {
    Underretning u;
    u.id = "u-" + std::to_string(i);
    u.created = START + static_cast<std::int64_t>(rng() % SPAN);
    if (chance(70)) u.incident = u.created - pick(60) * DAY - pick(DAY);
    u.kommunekode = KOMMUNER[pick(6)];
    u.district = DISTRICTS[pick(3)];
    u.children = pick(5);
    u.cross_district = chance(30);
    u.cross_municipality = chance(20);
    if (chance(85)) u.due = u.created + 8 * DAY;
    const v1::UnderretningResponse responses[] = {
        v1::UNDERRETNING_RESPONSE_UNSPECIFIED, v1::UNDERRETNING_RESPONSE_NO_ACTION,
        v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED, v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE};
    e.push_back(underretning_event(u, "created", u.created, std::nullopt, responses[0]));
    if (chance(60))
      e.push_back(underretning_event(u, "delivered", u.created + 60, std::nullopt, responses[0]));
    std::optional<std::int64_t> receipt;
    if (u.due && chance(50)) {
      receipt = u.created + pick(12) * DAY;
      e.push_back(underretning_event(u, "receipt_recorded", *receipt, receipt, responses[0]));
    } else if (u.due && chance(40)) {
      e.push_back(underretning_event(u, "receipt_missed", *u.due + 60, std::nullopt, responses[0]));
    }
    for (int k = pick(3); k > 0; --k)
      e.push_back(underretning_event(u, "response_recorded", u.created + pick(30) * DAY, receipt,
                                     responses[pick(4)]));
  }
  std::shuffle(e.begin(), e.end(), rng);
  return e;
}

// Applies events as the consumer loop does: batches in one transaction, each
// event in a savepoint of it.
void apply_all(ev::Applier& a, henvis::sqlite::Db& db, const std::vector<Message>& events,
               std::size_t from = 0, std::size_t to = SIZE_MAX) {
  to = std::min(to, events.size());
  for (std::size_t i = from; i < to;) {
    henvis::sqlite::Transaction tx(db);
    for (std::size_t k = 0; k < 50 && i < to; ++k, ++i) {
      db.exec("SAVEPOINT event");
      a.apply(events[i], db);
      db.exec("RELEASE event");
    }
    tx.commit();
  }
}

// ------------------------------------------------------- the query space

// Every groupBy of `dims`: each subset in each order, the empty one first.
std::vector<std::string> every_group_by(const std::vector<std::string>& dims) {
  std::vector<std::string> out;
  const int n = static_cast<int>(dims.size());
  for (int mask = 0; mask < (1 << n); ++mask) {
    std::vector<std::string> chosen;
    for (int i = 0; i < n; ++i)
      if (mask & (1 << i)) chosen.push_back(dims[i]);
    std::sort(chosen.begin(), chosen.end());
    do {
      std::string g;
      for (const auto& d : chosen) g += (g.empty() ? "" : ",") + d;
      out.push_back(g);
    } while (std::next_permutation(chosen.begin(), chosen.end()));
  }
  return out;
}

// Open, half-open and closed windows of whole months: inside the data, over
// its edges, one month, and none of it.
const std::vector<std::pair<std::string, std::string>> WINDOWS = {{"", ""},
                                                                  {"2023-12-01", ""},
                                                                  {"", "2024-02-01"},
                                                                  {"2024-01-01", "2024-02-01"},
                                                                  {"2023-10-01", "2024-03-01"},
                                                                  {"2024-04-01", "2024-06-01"},
                                                                  {"2025-01-01", ""}};

std::map<std::string, std::string> params(const std::string& group_by,
                                          const std::pair<std::string, std::string>& window,
                                          const std::string& date_basis = "") {
  std::map<std::string, std::string> p;
  if (!group_by.empty()) p["groupBy"] = group_by;
  if (!window.first.empty()) p["from"] = window.first;
  if (!window.second.empty()) p["to"] = window.second;
  if (!date_basis.empty()) p["dateBasis"] = date_basis;
  return p;
}

std::string json(const google::protobuf::Message& m) {
  std::string out;
  REQUIRE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

struct Store {
  TempDir tmp{"henvis-evaluation-aggregates-test"};
  std::string path = tmp.file("evaluation.db");
  henvis::sqlite::Db db{path};
  henvis::Directory directory = dev_directory();
  Store() { db.migrate(ev::migrations()); }

  // The referral answer from the facts (the reference) and from the cells.
  std::string from_facts(const std::map<std::string, std::string>& p, int min_cell,
                         const ev::CellKey& key) {
    const auto q = ev::parse_query(p);
    const auto s = ev::compute(ev::load_facts(db, q, key), q, min_cell, directory);
    return json(s) + ev::to_csv(s, q);
  }
  std::string from_cells(const std::map<std::string, std::string>& p, int min_cell,
                         const ev::CellKey& key) {
    const auto q = ev::parse_query(p);
    const auto s = ev::aggregates::referral_stats(db, key, q, min_cell, directory);
    // The service's own JSON writer writes what http::json writes.
    REQUIRE(ev::to_json(s) == henvis::http::json(200, s).body);
    // The row cap's count (counted before an answer is computed) is its rows.
    REQUIRE(ev::aggregates::referral_rows(db, key, q) == s.rows_size());
    return json(s) + ev::to_csv(s, q);
  }
  std::string u_from_facts(const std::map<std::string, std::string>& p, int min_cell,
                           const ev::CellKey& key) {
    const auto q = ev::parse_query(p, ev::underretning_dims(), ev::underretning_date_bases());
    const auto s =
        ev::compute_underretninger(ev::load_underretning_facts(db, q, key), q, min_cell, directory);
    return json(s) + ev::to_csv(s, q);
  }
  std::string u_from_cells(const std::map<std::string, std::string>& p, int min_cell,
                           const ev::CellKey& key) {
    const auto q = ev::parse_query(p, ev::underretning_dims(), ev::underretning_date_bases());
    const auto s = ev::aggregates::underretning_stats(db, key, q, min_cell, directory);
    REQUIRE(ev::to_json(s) == henvis::http::json(200, s).body);
    REQUIRE(ev::aggregates::underretning_rows(db, key, q) == s.rows_size());
    return json(s) + ev::to_csv(s, q);
  }

  // Every referral query gives the same answer from the cells as from the
  // facts; `group_bys` and min_cell 1 (exact) and 5 (disclosure control on).
  void check_referrals(const std::vector<std::string>& group_bys, const ev::CellKey& key) {
    for (const auto& g : group_bys)
      for (const auto& w : WINDOWS)
        for (int min_cell : {1, 5}) {
          INFO("groupBy=" << g << " from=" << w.first << " to=" << w.second
                          << " min_cell=" << min_cell);
          REQUIRE(from_cells(params(g, w), min_cell, key) ==
                  from_facts(params(g, w), min_cell, key));
        }
  }
  void check_underretninger(const std::vector<std::string>& group_bys, const ev::CellKey& key) {
    for (const auto& g : group_bys)
      for (const auto& w : WINDOWS)
        for (const char* basis : {"notice", "incident"})
          for (int min_cell : {1, 5}) {
            INFO("groupBy=" << g << " from=" << w.first << " to=" << w.second
                            << " dateBasis=" << basis << " min_cell=" << min_cell);
            REQUIRE(u_from_cells(params(g, w, basis), min_cell, key) ==
                    u_from_facts(params(g, w, basis), min_cell, key));
          }
  }
};

std::int64_t scalar(henvis::sqlite::Db& db, const std::string& sql) {
  return henvis::test::scalar(db, sql);
}

}  // namespace

TEST_CASE("the cells answer every referral query as the facts do, for random events in any order",
          "[evaluation][aggregates]") {
  const auto all = every_group_by({"municipality", "month", "offence", "district"});
  REQUIRE(all.size() == 65);
  for (unsigned seed : {1u, 2u}) {
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    Store s;
    ev::Applier applier(key_a());
    const auto events = random_referral_events(rng, 400);
    // Part of the stream, then all of it: intermediate states too (outcomes
    // before their offers, withdrawals waiting for theirs).
    apply_all(applier, s.db, events, 0, events.size() / 3);
    s.check_referrals({"", "municipality,month,offence,district", "month", "district,offence"},
                      key_a());
    apply_all(applier, s.db, events, events.size() / 3);
    s.check_referrals(all, key_a());
    // Not a vacuous comparison: the table has groups, withheld and perturbed cells.
    const auto q = ev::parse_query({{"groupBy", "municipality,month"}});
    const auto stats = ev::aggregates::referral_stats(s.db, key_a(), q, 5, s.directory);
    CHECK(stats.rows_size() > 20);
    CHECK(stats.total().offered() > 300);
    int withheld = 0;
    for (const auto& r : stats.rows()) withheld += r.suppressed_size();
    CHECK(withheld > 0);
    CHECK(stats.total().has_median_days_to_first_contact());
  }
}

TEST_CASE("the cells answer every underretning query as the facts do, by notice and incident date",
          "[evaluation][aggregates]") {
  for (unsigned seed : {1u, 2u}) {
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    Store s;
    ev::Applier applier(key_a());
    const auto events = random_underretning_events(rng, 300);
    apply_all(applier, s.db, events, 0, events.size() / 2);
    s.check_underretninger({"", "week,municipality,district", "district"}, key_a());
    apply_all(applier, s.db, events, events.size() / 2);
    s.check_underretninger(every_group_by({"week", "municipality", "district"}), key_a());
    const auto q = ev::parse_query({{"groupBy", "week"}}, ev::underretning_dims(),
                                   ev::underretning_date_bases());
    const auto stats = ev::aggregates::underretning_stats(s.db, key_a(), q, 5, s.directory);
    CHECK(stats.rows_size() > 20);
    CHECK(stats.total().underretninger() > 250);
  }
}

TEST_CASE("a withdrawal moves its person into the withdrawn column of the cells",
          "[evaluation][aggregates]") {
  Store s;
  ev::Applier applier(key_a());
  Person p;
  p.offer_id = "offer-w";
  p.referral_id = "ref-w";
  p.charged = START + 10 * DAY;
  p.centre = "rusmiddelcenter-657";
  Person q = p;
  q.offer_id = "offer-w2";
  q.referral_id = "ref-w2";
  // The second withdrawal names only the offer and comes before its offer.
  apply_all(applier, s.db,
            {offer_event(p), status_event(p, v1::REFERRAL_STATUS_ROUTED, std::nullopt, p.charged),
             withdrawal_event(q, false)});
  auto total = [&] {
    return ev::aggregates::referral_stats(s.db, key_a(), ev::parse_query({}), 1, s.directory)
        .total();
  };
  CHECK(total().offered() == 1);
  CHECK(total().withdrawn() == 0);
  apply_all(applier, s.db, {withdrawal_event(p, false)});
  CHECK(total().withdrawn() == 1);
  apply_all(applier, s.db, {offer_event(q)});
  CHECK(total().offered() == 2);
  CHECK(total().withdrawn() == 2);
  CHECK(s.from_cells({}, 1, key_a()) == s.from_facts({}, 1, key_a()));
}

TEST_CASE("an offer recorded again in another month moves between cells and leaves none empty",
          "[evaluation][aggregates]") {
  Store s;
  ev::Applier applier(key_a());
  Person p;
  p.offer_id = "offer-m";
  p.referral_id = "ref-m";
  p.charged = START + 5 * DAY;  // November 2023
  apply_all(applier, s.db, {offer_event(p)});
  CHECK(scalar(s.db, "SELECT count(*) FROM referral_cells WHERE month = '2023-11' AND grain = 7") ==
        1);
  p.charged = START + 40 * DAY;  // December 2023
  p.kommunekode = 661;
  apply_all(applier, s.db, {offer_event(p)});
  CHECK(scalar(s.db, "SELECT count(*) FROM referral_cells WHERE month = '2023-11' AND grain = 7") ==
        0);
  CHECK(scalar(s.db,
               "SELECT count(*) FROM referral_cells WHERE month = '2023-12' AND grain = 7 AND "
               "kommunekode = 661 AND records = 1") == 1);
  s.check_referrals({"month", "municipality"}, key_a());
}

TEST_CASE("the cells are rebuilt from the facts when the cell key changes",
          "[evaluation][aggregates]") {
  std::mt19937 rng(7);
  Store s;
  ev::Applier applier(key_a());
  apply_all(applier, s.db, random_referral_events(rng, 200));
  apply_all(applier, s.db, random_underretning_events(rng, 100));
  REQUIRE(ev::aggregates::built(s.db, key_a()));
  CHECK_FALSE(ev::aggregates::built(s.db, key_b()));
  // When the statistics are asked for under another key, the cells are
  // rebuilt under it: the answers are those of the facts under that key.
  CHECK(ev::aggregates::ensure(s.db, key_b()));
  CHECK(ev::aggregates::built(s.db, key_b()));
  CHECK_FALSE(ev::aggregates::ensure(s.db, key_b()));
  s.check_referrals({"", "municipality,month", "offence,district,month,municipality"}, key_b());
  s.check_underretninger({"", "municipality,week", "district"}, key_b());
  // And the answers differ from those under the old key (the perturbation is keyed).
  CHECK(s.from_cells({{"groupBy", "municipality,month"}}, 5, key_b()) !=
        s.from_facts({{"groupBy", "municipality,month"}}, 5, key_a()));
}

TEST_CASE("a store that had facts before the cells' migration gets its cells built at start",
          "[evaluation][aggregates][migration]") {
  // Given a current store with random facts
  std::mt19937 rng(11);
  Store now;
  ev::Applier applier(key_a());
  apply_all(applier, now.db, random_referral_events(rng, 200));
  apply_all(applier, now.db, random_underretning_events(rng, 100));
  // And the same facts in a store of every step before the cells
  TempDir tmp("henvis-evaluation-aggregates-migration");
  henvis::sqlite::Db old(tmp.file("old.db"));
  const auto steps = ev::migrations();
  old.migrate({steps.begin(), steps.end() - 1});
  henvis::sqlite::Stmt(old, "ATTACH ? AS cur").bind(1, now.path).run();
  old.exec("INSERT INTO facts SELECT * FROM cur.facts");
  old.exec("INSERT INTO deliveries SELECT * FROM cur.deliveries");
  old.exec("INSERT INTO underretninger SELECT * FROM cur.underretninger");
  old.exec("DETACH cur");
  // When it is migrated and the service starts (Api builds the cells)
  old.migrate(steps);
  CHECK(scalar(old, "SELECT count(*) FROM referral_cells") == 0);
  CHECK_FALSE(ev::aggregates::built(old, key_a()));
  CHECK(ev::aggregates::ensure(old, key_a()));
  // Then its cells are the current store's, row for row
  henvis::sqlite::Stmt(old, "ATTACH ? AS cur").bind(1, now.path).run();
  for (const char* table : {"referral_cells", "underretning_cells"}) {
    INFO(table);
    CHECK(scalar(old, std::string("SELECT count(*) FROM cur.") + table) > 10);
    CHECK(scalar(old, std::string("SELECT count(*) FROM (SELECT * FROM ") + table +
                          " EXCEPT SELECT * FROM cur." + table + ")") == 0);
    CHECK(scalar(old, std::string("SELECT count(*) FROM (SELECT * FROM cur.") + table +
                          " EXCEPT SELECT * FROM " + table + ")") == 0);
  }
  old.exec("DETACH cur");
}

TEST_CASE("the statistics' JSON writer writes what http::json writes, escapes and numbers included",
          "[evaluation][aggregates][json]") {
  v1::ReferralStats s;
  s.set_from("2024-01-01");
  s.add_group_by("municipality");
  s.set_min_cell(5);
  auto* row = s.add_rows();
  row->set_kommunekode(-7);
  row->set_municipality_name("Ringkøbing-Skjern \"<b>\" & \\ \n\t\u2028\x01");
  row->set_offence(static_cast<v1::Offence>(42));  // a number this build does not know
  row->set_offered(0);                             // optional: shown although 0
  row->set_routed_rate(0.0001);
  row->set_delivered_rate(1.0 / 3.0);
  row->set_median_days_to_first_contact(12);
  row->add_suppressed("accepted");
  auto* t = s.mutable_total();
  t->set_total(true);
  t->set_offered(123456);
  t->set_withdrawn_rate(1e-7);
  CHECK(ev::to_json(s) == henvis::http::json(200, s).body);
  CHECK(ev::to_json(v1::ReferralStats()) == henvis::http::json(200, v1::ReferralStats()).body);
  // Doubles: shares (4 decimals), half-day medians and anything else.
  std::mt19937 rng(5);
  std::vector<double> values = {0.0,  -0.0, 0.0001, 0.001,  0.01,    0.1,        0.3,
                                0.5,  1.0,  2.5,    -3.25,  12.5,    99999999.5, 1e9,
                                1e15, 1e-5, 0.1234, 0.9999, 1.0 / 7, 123456.0009};
  for (int i = 0; i < 2000; ++i) {
    values.push_back(ev::round4(static_cast<double>(rng() % 100001) / 100000.0));
    values.push_back(static_cast<double>(rng() % 2000) / 2.0);
    values.push_back(static_cast<double>(rng()) / 977.0);
  }
  for (double v : values) {
    v1::ReferralStatsRow r;
    r.set_routed_rate(v);
    INFO(v);
    CHECK(ev::to_json(r) == henvis::http::json(200, r).body);
  }
}
