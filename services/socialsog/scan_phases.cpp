// The pure phases of a scan: the rules per child, households, the content of
// an underretning (scan_phases.hpp).
#include "scan_phases.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <unordered_map>

#include "henvis/validate.hpp"

namespace henvis::socialsog {

namespace {
bool adult_at(const std::chrono::year_month_day& born, std::int64_t at) {
  using namespace std::chrono;
  const year_month_day day{floor<days>(sys_seconds{seconds(at)})};
  year_month_day eighteen = born + years(18);
  if (!eighteen.ok()) eighteen = eighteen.year() / eighteen.month() / last;
  return day >= eighteen;
}

void add_child(v1::UnderretningNotice& n, const ChildHit& h) {
  auto* c = n.add_children();
  c->set_cpr(h.cpr);
  c->set_name(h.name);
  c->set_home_kommunekode(h.home);
  if (h.assessment.severe_rule) c->add_rules(v1::SOCIALSOG_RULE_SEVERE);
  if (h.assessment.threshold_rule) c->add_rules(v1::SOCIALSOG_RULE_THRESHOLD);
  c->set_total_weight(h.assessment.total_weight);
}

// Adds the incident with the household adults' roles; `adults` collects the
// adults as this incident names them.
void add_incident(v1::UnderretningNotice& n, const StoredIncident& si, bool fresh,
                  const std::set<std::string>& household_adults,
                  std::map<std::string, v1::UnderretningAdult>& adults) {
  const auto& in = si.incident;
  auto* ui = n.add_incidents();
  ui->set_incident_id(in.incident_id());
  ui->set_journal_number(in.journal_number());
  *ui->mutable_occurred_at() = in.occurred_at();
  ui->set_district_id(in.district_id());
  ui->set_location_kommunekode(in.location_kommunekode());
  for (const auto& c : si.match.incident_codes) ui->add_incident_codes(c);
  for (const auto& c : si.match.offence_codes) ui->add_offence_codes(c);
  for (auto c : si.match.categories) ui->add_categories(c);
  ui->set_weight(si.match.weight);
  ui->set_severe(si.match.severe);
  ui->set_sent_at_scene(in.underretning_sent_at_scene());
  ui->set_new_since_previous(fresh);
  for (const auto& p : in.involved()) {
    if (!household_adults.count(p.cpr())) continue;
    auto* r = ui->add_adults();
    r->set_cpr(p.cpr());
    r->set_role(p.role());
    v1::UnderretningAdult a;
    a.set_cpr(p.cpr());
    a.set_name(p.name());
    a.set_home_kommunekode(p.home_kommunekode());
    adults[p.cpr()] = a;
  }
}
}  // namespace

ChildVerdict evaluate_child(const ChildFacts& child, const Rules& rules, std::int64_t from,
                            std::int64_t ref) {
  ChildVerdict v;
  // Children who have turned 18 are no longer Socialsøg's concern.
  if (auto born = validate::cpr_birth_date(child.cpr); born && adult_at(*born, ref)) {
    v.outcome = ChildOutcome::adult;
    return v;
  }
  std::map<std::string, WeightedIncident> weighted;
  std::map<std::string, std::set<std::string>> adults_in;  // incident -> counted adults
  std::set<std::string> at_scene;
  for (const auto& i : child.involvements) {
    if (!rules.counted(i.role) || !i.watched) continue;
    weighted[i.incident_id] = WeightedIncident{i.incident_id, i.occurred_at, i.weight, i.severe};
    adults_in[i.incident_id].insert(i.adult);
    if (i.sent_at_scene) at_scene.insert(i.incident_id);
  }
  std::vector<WeightedIncident> list;
  for (auto& [id, w] : weighted) list.push_back(w);
  ChildHit& hit = v.hit;
  hit.assessment = assess(list, from, ref, rules.threshold());
  if (!hit.assessment.flagged()) return v;
  hit.cpr = child.cpr;
  hit.name = child.name;
  hit.home = child.home;
  // Already notified: in an earlier underretning for this child, or an
  // underretning was sent at the scene.
  for (const auto& id : hit.assessment.qualifying) {
    hit.qualifying.insert(id);
    for (const auto& a : adults_in[id]) hit.adults.insert(a);
    if (!child.notified.count(id) && !at_scene.count(id)) hit.fresh.insert(id);
  }
  v.outcome = hit.fresh.empty() ? ChildOutcome::already_notified : ChildOutcome::hit;
  return v;
}

std::vector<std::vector<std::size_t>> households(const std::vector<ChildHit>& hits) {
  // Union-find over the hits: each (home municipality, adult) joins every hit
  // that names it to the first one that did, so the work grows with the
  // number of (hit, adult) pairs, not with the pairs of hits.
  std::vector<std::size_t> parent(hits.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  std::unordered_map<std::string, std::size_t> first;  // "home/adult" -> a hit naming it
  std::string key;
  for (std::size_t i = 0; i < hits.size(); ++i)
    for (const auto& a : hits[i].adults) {
      key = std::to_string(hits[i].home);
      key += '/';
      key += a;
      const auto [it, fresh] = first.try_emplace(key, i);
      if (fresh) continue;
      const std::size_t x = find(it->second), y = find(i);
      if (x != y) parent[std::max(x, y)] = std::min(x, y);  // the root is the smallest member
    }
  // In the order of each household's first member, members in order.
  std::vector<std::vector<std::size_t>> out;
  std::vector<std::size_t> slot(hits.size(), hits.size());
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const std::size_t r = find(i);
    if (slot[r] == hits.size()) {
      slot[r] = out.size();
      out.emplace_back();
    }
    out[slot[r]].push_back(i);
  }
  return out;
}

v1::UnderretningNotice describe_household(const Household& h, const Rules& rules) {
  v1::UnderretningNotice n;
  n.set_kommunekode(h.children.front()->home);
  n.set_rules_version(rules.version());
  n.set_threshold(rules.threshold());
  n.set_look_back_months(rules.look_back_months());
  std::set<std::string> fresh, household_adults;
  bool severe = false;
  for (const ChildHit* c : h.children) {
    fresh.insert(c->fresh.begin(), c->fresh.end());
    household_adults.insert(c->adults.begin(), c->adults.end());
    severe = severe || c->assessment.severe_rule;
    add_child(n, *c);
  }
  n.set_rule(severe ? v1::SOCIALSOG_RULE_SEVERE : v1::SOCIALSOG_RULE_THRESHOLD);
  // The adults as the most recent incident names them.
  std::map<std::string, v1::UnderretningAdult> adults;
  std::string sending_district;
  for (const StoredIncident* si : h.incidents) {
    const bool is_fresh = fresh.count(si->incident.incident_id()) > 0;
    add_incident(n, *si, is_fresh, household_adults, adults);
    if (is_fresh) sending_district = si->incident.district_id();
  }
  for (auto& [cpr, a] : adults) *n.add_adults() = a;
  n.set_district_id(sending_district);
  return n;
}

}  // namespace henvis::socialsog
