// socialsog: the pure phases of a scan (scan_phases.hpp) on plain structs,
// without a database: the rules for one child, households, and what an
// underretning says (docs/socialsog.md).

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "henvis/v1/socialsog.pb.h"
#include "scan_phases.hpp"
#include "socialsog.hpp"
#include "support.hpp"

namespace {

using henvis::test::ts;
namespace v1 = henvis::v1;
namespace ss = henvis::socialsog;

constexpr const char* FATHER = "1505801235";
constexpr const char* MOTHER = "0202822468";
constexpr const char* CHILD = "0103154123";  // born 2015-03-01
constexpr const char* TEEN = "0306064123";   // born 2006-06-03

const ss::Rules& rules() {
  static const ss::Rules r = ss::Rules::from(ss::default_rules());  // threshold 6, 12 months
  return r;
}

std::int64_t sec(const std::string& s) { return ts(s).seconds(); }

// `adult` in incident `id` with the given weight, watched, as a suspect.
ss::Involvement involved(const std::string& adult, const std::string& id, const std::string& when,
                         int weight, bool severe = false,
                         v1::PersonRole role = v1::PERSON_ROLE_SUSPECT) {
  ss::Involvement i;
  i.adult = adult;
  i.role = role;
  i.incident_id = id;
  i.occurred_at = sec(when);
  i.watched = true;
  i.weight = weight;
  i.severe = severe;
  return i;
}

// The scan reference and the start of its look-back (functions: ts() may
// assert, which Catch allows only inside a test).
std::int64_t ref() { return sec("2024-06-03T04:00:00Z"); }
std::int64_t from() { return ss::months_before(ref(), 12); }

ss::ChildHit hit(const std::string& cpr, int home, std::set<std::string> adults) {
  ss::ChildHit h;
  h.cpr = cpr;
  h.home = home;
  h.adults = std::move(adults);
  return h;
}

ss::StoredIncident stored(const std::string& id, const std::string& district,
                          const std::string& when, std::int64_t seq) {
  ss::StoredIncident si;
  si.incident.set_incident_id(id);
  si.incident.set_district_id(district);
  *si.incident.mutable_occurred_at() = ts(when);
  si.seq = seq;
  si.match.watched = true;
  si.match.weight = 3;
  auto* p = si.incident.add_involved();
  p->set_cpr(FATHER);
  p->set_name("Far " + id);
  p->set_role(v1::PERSON_ROLE_SUSPECT);
  return si;
}

}  // namespace

TEST_CASE("Socialsøg phases: a child who turns 18 on the reference day is skipped",
          "[socialsog][phases]") {
  // Given a severe incident of the father of a child born 2006-06-03
  ss::ChildFacts teen{
      TEEN, "Barn", 657, {involved(FATHER, "inc-1", "2024-05-20T21:00:00Z", 6, true)}, {}};
  // When the rules look back from the 18th birthday, and from the day before
  const auto on_birthday = ss::evaluate_child(teen, rules(), from(), ref());
  const auto day_before = ss::evaluate_child(teen, rules(), from(), sec("2024-06-02T21:59:59Z"));
  // Then on the birthday the child is no longer Socialsøg's concern; the day before it is a hit
  CHECK(on_birthday.outcome == ss::ChildOutcome::adult);
  CHECK(day_before.outcome == ss::ChildOutcome::hit);
}

TEST_CASE("Socialsøg phases: a witness's incidents and unwatched incidents do not count",
          "[socialsog][phases]") {
  // Given a severe incident where the father was only a witness, and an
  // unwatched one where he was a suspect
  ss::ChildFacts child{CHILD, "Barn", 657, {}, {}};
  child.involvements.push_back(
      involved(FATHER, "inc-1", "2024-05-20T21:00:00Z", 6, true, v1::PERSON_ROLE_WITNESS));
  auto unwatched = involved(FATHER, "inc-2", "2024-05-21T21:00:00Z", 6, true);
  unwatched.watched = false;
  child.involvements.push_back(unwatched);
  // When the rules are applied
  const auto v = ss::evaluate_child(child, rules(), from(), ref());
  // Then the child is not flagged
  CHECK(v.outcome == ss::ChildOutcome::not_flagged);
}

TEST_CASE("Socialsøg phases: a threshold hit rests on every counted incident of every adult",
          "[socialsog][phases]") {
  // Given three weak incidents (2 + 2 + 2) of two adults, one of them both
  // parents', and a witness role of the mother that does not count
  ss::ChildFacts child{CHILD, "Barn", 657, {}, {}};
  child.involvements = {
      involved(FATHER, "inc-1", "2024-01-10T21:00:00Z", 2),
      involved(MOTHER, "inc-2", "2024-03-10T21:00:00Z", 2),
      involved(FATHER, "inc-3", "2024-05-30T21:00:00Z", 2),
      involved(MOTHER, "inc-3", "2024-05-30T21:00:00Z", 2, false, v1::PERSON_ROLE_VICTIM),
      involved(MOTHER, "inc-1", "2024-01-10T21:00:00Z", 2, false, v1::PERSON_ROLE_WITNESS)};
  // When the rules are applied
  const auto v = ss::evaluate_child(child, rules(), from(), ref());
  // Then it is a threshold hit on all three, each counted once, with both adults, all fresh
  REQUIRE(v.outcome == ss::ChildOutcome::hit);
  CHECK(v.hit.assessment.threshold_rule);
  CHECK_FALSE(v.hit.assessment.severe_rule);
  CHECK(v.hit.assessment.total_weight == 6);
  CHECK(v.hit.qualifying == std::set<std::string>{"inc-1", "inc-2", "inc-3"});
  CHECK(v.hit.fresh == v.hit.qualifying);
  CHECK(v.hit.adults == std::set<std::string>{FATHER, MOTHER});
  CHECK(v.hit.cpr == CHILD);
  CHECK(v.hit.home == 657);
}

TEST_CASE("Socialsøg phases: known and sent-at-scene incidents are not fresh",
          "[socialsog][phases]") {
  // Given a severe incident the child was notified about earlier, and one
  // where an underretning was sent at the scene
  ss::ChildFacts child{CHILD, "Barn", 657, {}, {}};
  child.involvements.push_back(involved(FATHER, "inc-1", "2024-05-01T21:00:00Z", 6, true));
  auto at_scene = involved(FATHER, "inc-2", "2024-05-20T21:00:00Z", 6, true);
  at_scene.sent_at_scene = true;
  child.involvements.push_back(at_scene);
  child.notified = {"inc-1"};
  // When the rules are applied
  const auto known = ss::evaluate_child(child, rules(), from(), ref());
  // Then the child is flagged but already notified
  CHECK(known.outcome == ss::ChildOutcome::already_notified);

  // When a new weak incident arrives
  child.involvements.push_back(involved(FATHER, "inc-3", "2024-05-30T21:00:00Z", 2));
  const auto v = ss::evaluate_child(child, rules(), from(), ref());
  // Then it is a hit listing all three incidents, only the new one fresh
  REQUIRE(v.outcome == ss::ChildOutcome::hit);
  CHECK(v.hit.qualifying == std::set<std::string>{"inc-1", "inc-2", "inc-3"});
  CHECK(v.hit.fresh == std::set<std::string>{"inc-3"});
}

TEST_CASE("Socialsøg phases: households join children of one municipality through shared adults",
          "[socialsog][phases]") {
  // Given four hits in Herning: a and b share the father, b and c the
  // mother, d has another adult; and e in Aarhus shares the father
  const std::vector<ss::ChildHit> hits{hit("a", 657, {FATHER}), hit("e", 751, {FATHER}),
                                       hit("b", 657, {FATHER, MOTHER}),
                                       hit("d", 657, {"0101901234"}), hit("c", 657, {MOTHER})};
  // When grouped
  const auto groups = ss::households(hits);
  // Then a, b and c are one household; d and e are each their own
  CHECK(groups == std::vector<std::vector<std::size_t>>{{0, 2, 4}, {1}, {3}});
}

TEST_CASE("Socialsøg phases: households match a pairwise grouping on random hits",
          "[socialsog][phases]") {
  // Given random hits in three municipalities, each naming one to three of a
  // small pool of adults (so that chains of shared adults form)
  std::mt19937 rng(20261201);
  for (int round = 0; round < 50; ++round) {
    const int n = 1 + static_cast<int>(rng() % 120);
    const int pool = 1 + static_cast<int>(rng() % 80);
    std::vector<ss::ChildHit> hits;
    for (int i = 0; i < n; ++i) {
      std::set<std::string> adults;
      for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k)
        adults.insert("adult-" + std::to_string(rng() % static_cast<unsigned>(pool)));
      hits.push_back(hit("child-" + std::to_string(i), static_cast<int>(657 + rng() % 3), adults));
    }
    // When grouped
    const auto groups = ss::households(hits);
    // Then the groups are those of the pairwise comparison: every pair of one
    // municipality sharing an adult joined, transitively, each group in
    // order, the groups in the order of their first member
    std::vector<int> group(hits.size(), -1);
    std::vector<std::vector<std::size_t>> expected;
    for (std::size_t i = 0; i < hits.size(); ++i) {
      if (group[i] >= 0) continue;
      group[i] = static_cast<int>(expected.size());
      std::vector<std::size_t> members{i}, todo{i};
      while (!todo.empty()) {
        const std::size_t a = todo.back();
        todo.pop_back();
        for (std::size_t b = 0; b < hits.size(); ++b) {
          if (group[b] >= 0 || hits[a].home != hits[b].home) continue;
          bool shared = false;
          for (const auto& x : hits[a].adults) shared = shared || hits[b].adults.count(x) > 0;
          if (!shared) continue;
          group[b] = group[i];
          members.push_back(b);
          todo.push_back(b);
        }
      }
      std::sort(members.begin(), members.end());
      expected.push_back(members);
    }
    INFO("round " << round << ", " << n << " hits, " << pool << " adults");
    CHECK(groups == expected);
  }
}

TEST_CASE("Socialsøg phases: the newest fresh incident's district sends the underretning",
          "[socialsog][phases]") {
  // Given a household of two children: one severe (old incident known, a new
  // one fresh), one on the threshold, over three incidents in two districts
  const auto i1 = stored("inc-1", "mvj", "2024-01-10T21:00:00Z", 1);
  const auto i2 = stored("inc-2", "oj", "2024-03-10T21:00:00Z", 2);
  const auto i3 = stored("inc-3", "mvj", "2024-05-30T21:00:00Z", 3);
  ss::ChildHit a = hit(CHILD, 657, {FATHER});
  a.assessment.severe_rule = true;
  a.assessment.total_weight = 6;
  a.qualifying = {"inc-1", "inc-2"};
  a.fresh = {"inc-2"};
  ss::ChildHit b = hit("1207174246", 657, {FATHER});
  b.assessment.threshold_rule = true;
  b.qualifying = {"inc-1", "inc-3"};
  ss::Household h{{&a, &b}, {&i1, &i2, &i3}};
  // When described
  const v1::UnderretningNotice n = ss::describe_household(h, rules());
  // Then oj sends it (inc-3 is newer, but not fresh), marking only inc-2 as new
  CHECK(n.district_id() == "oj");
  REQUIRE(n.incidents_size() == 3);
  CHECK_FALSE(n.incidents(0).new_since_previous());
  CHECK(n.incidents(1).new_since_previous());
  CHECK_FALSE(n.incidents(2).new_since_previous());
  // And the rule is severe, as one child's is; the adult is named by the newest incident
  CHECK(n.rule() == v1::SOCIALSOG_RULE_SEVERE);
  CHECK(n.kommunekode() == 657);
  CHECK(n.threshold() == rules().threshold());
  REQUIRE(n.children_size() == 2);
  CHECK(n.children(0).rules(0) == v1::SOCIALSOG_RULE_SEVERE);
  CHECK(n.children(1).rules(0) == v1::SOCIALSOG_RULE_THRESHOLD);
  REQUIRE(n.adults_size() == 1);
  CHECK(n.adults(0).name() == "Far inc-3");
  REQUIRE(n.incidents(0).adults_size() == 1);
  CHECK(n.incidents(0).adults(0).role() == v1::PERSON_ROLE_SUSPECT);
}
