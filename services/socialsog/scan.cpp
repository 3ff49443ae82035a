// The scan: which children the rules flag, grouped into one underretning per
// household and home municipality; the weekly schedule; the receipt clock.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "henvis/ids.hpp"
#include "henvis/service.hpp"
#include "henvis/validate.hpp"
#include "socialsog.hpp"
#include "store.hpp"

namespace henvis::socialsog {

namespace {
constexpr const char* WATERMARK = "watermark_seq";
constexpr const char* WEEKLY_SLOT = "weekly_slot";

google::protobuf::Timestamp seconds_ts(std::int64_t s) {
  google::protobuf::Timestamp t;
  t.set_seconds(s);
  return t;
}

struct StoredIncident {
  v1::Incident incident;
  std::int64_t seq = 0;
  IncidentMatch match;
};

// Loads incidents once per scan.
class IncidentCache {
 public:
  IncidentCache(sqlite::Db& db, const Rules& rules) : db_(db), rules_(rules) {}
  const StoredIncident& get(const std::string& id) {
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
    sqlite::Stmt s(db_, "SELECT payload, seq FROM incidents WHERE incident_id = ?");
    s.bind(1, id);
    if (!s.step()) throw std::runtime_error("incident vanished during a scan");
    StoredIncident si;
    si.incident.ParseFromString(s.blob(0));
    si.seq = s.i64(1);
    si.match = rules_.match(si.incident);
    return cache_.emplace(id, std::move(si)).first->second;
  }

 private:
  sqlite::Db& db_;
  const Rules& rules_;
  std::map<std::string, StoredIncident> cache_;
};

struct ChildHit {
  std::string cpr, name;
  int home = 0;
  Assessment assessment;
  std::set<std::string> adults;      // the child's adults involved in its qualifying incidents
  std::set<std::string> qualifying;  // incident ids
  std::set<std::string> fresh;       // of those, not yet notified for this child
};

bool adult_at(const std::chrono::year_month_day& born, std::int64_t at) {
  using namespace std::chrono;
  const year_month_day day{floor<days>(sys_seconds{seconds(at)})};
  year_month_day eighteen = born + years(18);
  if (!eighteen.ok()) eighteen = eighteen.year() / eighteen.month() / last;
  return day >= eighteen;
}
}  // namespace

Scanner::Scanner(Directory directory, Settings settings, workdays::Calendar calendar,
                 const Clock& clock)
    : directory_(std::move(directory)),
      settings_(std::move(settings)),
      calendar_(std::move(calendar)),
      clock_(clock) {}

std::int64_t Scanner::watermark(sqlite::Db& db) { return state_get(db, WATERMARK, 0); }

v1::ScanView Scanner::scan(sqlite::Db& db, const ScanSpec& spec) {
  using namespace std::chrono;
  const auto now_tp = clock_.now();
  const std::string now = rfc3339(now_tp);
  const std::int64_t now_s = duration_cast<seconds>(now_tp.time_since_epoch()).count();
  const Rules& rules = settings_.rules;

  sqlite::Transaction tx(db);
  v1::ScanView view;
  view.set_scan_id(new_uuid());
  view.set_kind(spec.weekly ? "weekly" : "on_demand");
  *view.mutable_started_at() = parse_timestamp(now);
  view.set_rules_version(rules.version());
  view.set_requested_by(spec.requested_by);

  // 1. The incidents this scan is about.
  std::vector<std::string> triggers;
  std::int64_t ref = now_s;  // the look-back ends here
  std::int64_t high = 0;
  if (spec.from && spec.to) {
    *view.mutable_window_from() = seconds_ts(*spec.from);
    *view.mutable_window_to() = seconds_ts(*spec.to);
    sqlite::Stmt s(db,
                   "SELECT incident_id FROM incidents WHERE occurred_at >= ? AND occurred_at < ? "
                   "ORDER BY seq");
    s.bind(1, *spec.from).bind(2, *spec.to);
    while (s.step()) triggers.push_back(s.text(0));
    ref = std::min(now_s, *spec.to - 1);
  } else {
    const std::int64_t from_seq = state_get(db, WATERMARK, 0);
    {
      sqlite::Stmt m(db, "SELECT coalesce(max(seq), 0) FROM incidents");
      m.step();
      high = std::max(m.i64(0), from_seq);
    }
    view.set_received_after_seq(from_seq);
    view.set_received_up_to_seq(high);
    sqlite::Stmt s(db, "SELECT incident_id FROM incidents WHERE seq > ? AND seq <= ? ORDER BY seq");
    s.bind(1, from_seq).bind(2, high);
    while (s.step()) triggers.push_back(s.text(0));
  }
  const std::int64_t look_back_from = months_before(ref, rules.look_back_months());
  IncidentCache incidents(db, rules);

  // 2. The children whose adults appear in them (and the children listed).
  std::set<std::string> candidates;
  {
    sqlite::Stmt kids(db, "SELECT DISTINCT child_cpr FROM adult_children WHERE adult_cpr = ?");
    for (const auto& id : triggers) {
      const StoredIncident& si = incidents.get(id);
      if (si.match.watched) view.set_incidents_watched(view.incidents_watched() + 1);
      for (const auto& p : si.incident.involved()) {
        for (const auto& c : p.children()) candidates.insert(c.cpr());
        kids.bind(1, p.cpr());
        while (kids.step()) candidates.insert(kids.text(0));
        kids.reset();
      }
    }
  }
  view.set_incidents_considered(static_cast<int>(triggers.size()));

  // 3. Each child under the rules.
  std::vector<ChildHit> hits;
  sqlite::Stmt adults_of(db, "SELECT DISTINCT adult_cpr FROM adult_children WHERE child_cpr = ?");
  sqlite::Stmt latest(db,
                      "SELECT ac.incident_id FROM adult_children ac JOIN incidents i "
                      "ON i.incident_id = ac.incident_id WHERE ac.child_cpr = ? "
                      "ORDER BY i.occurred_at DESC, i.seq DESC LIMIT 1");
  sqlite::Stmt of_adult(db,
                        "SELECT ip.incident_id, ip.role FROM incident_persons ip JOIN incidents i "
                        "ON i.incident_id = ip.incident_id WHERE ip.cpr = ? "
                        "AND i.occurred_at >= ? AND i.occurred_at <= ?");
  sqlite::Stmt notified(db, "SELECT incident_id FROM notified WHERE child_cpr = ?");
  for (const auto& child : candidates) {
    ChildHit hit;
    hit.cpr = child;
    // Name and home municipality as the most recent incident listing the child says.
    latest.bind(1, child);
    if (latest.step()) {
      const StoredIncident& si = incidents.get(latest.text(0));
      for (const auto& p : si.incident.involved())
        for (const auto& c : p.children())
          if (c.cpr() == child) {
            hit.name = c.name();
            hit.home = c.home_kommunekode();
          }
    }
    latest.reset();
    // Children who have turned 18 are no longer Socialsøg's concern.
    if (auto born = validate::cpr_birth_date(child); born && adult_at(*born, ref)) continue;

    std::map<std::string, WeightedIncident> weighted;
    std::map<std::string, std::set<std::string>> adults_in;  // incident -> counted adults
    adults_of.bind(1, child);
    std::vector<std::string> adults;
    while (adults_of.step()) adults.push_back(adults_of.text(0));
    adults_of.reset();
    for (const auto& adult : adults) {
      of_adult.bind(1, adult).bind(2, look_back_from).bind(3, ref);
      while (of_adult.step()) {
        if (!rules.counted(static_cast<v1::PersonRole>(of_adult.i64(1)))) continue;
        const std::string id = of_adult.text(0);
        const StoredIncident& si = incidents.get(id);
        if (!si.match.watched) continue;
        weighted[id] = WeightedIncident{id, si.incident.occurred_at().seconds(), si.match.weight,
                                        si.match.severe};
        adults_in[id].insert(adult);
      }
      of_adult.reset();
    }
    std::vector<WeightedIncident> list;
    for (auto& [id, w] : weighted) list.push_back(w);
    hit.assessment = assess(list, look_back_from, ref, rules.threshold());
    if (!hit.assessment.flagged()) continue;
    view.set_children_flagged(view.children_flagged() + 1);

    // Already notified: in an earlier underretning for this child, or an
    // underretning was sent at the scene.
    std::set<std::string> known;
    notified.bind(1, child);
    while (notified.step()) known.insert(notified.text(0));
    notified.reset();
    for (const auto& id : hit.assessment.qualifying) {
      hit.qualifying.insert(id);
      for (const auto& a : adults_in[id]) hit.adults.insert(a);
      if (!known.count(id) && !incidents.get(id).incident.underretning_sent_at_scene())
        hit.fresh.insert(id);
    }
    if (hit.fresh.empty()) {
      view.set_children_already_notified(view.children_already_notified() + 1);
      continue;
    }
    hits.push_back(std::move(hit));
  }

  // 4. Households: children of one home municipality connected through a
  // shared adult.
  std::vector<std::size_t> parent(hits.size());
  std::iota(parent.begin(), parent.end(), 0);
  std::function<std::size_t(std::size_t)> find = [&](std::size_t i) {
    return parent[i] == i ? i : parent[i] = find(parent[i]);
  };
  for (std::size_t i = 0; i < hits.size(); ++i)
    for (std::size_t j = i + 1; j < hits.size(); ++j) {
      if (hits[i].home != hits[j].home) continue;
      for (const auto& a : hits[i].adults)
        if (hits[j].adults.count(a)) {
          parent[find(j)] = find(i);
          break;
        }
    }
  std::map<std::size_t, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < hits.size(); ++i) groups[find(i)].push_back(i);

  // 5. One underretning per household.
  for (const auto& [root, members] : groups) {
    v1::UnderretningNotice n;
    n.set_underretning_id(new_uuid());
    const int k = hits[members.front()].home;
    n.set_kommunekode(k);
    const v1::Municipality* municipality = k ? directory_.municipality(k) : nullptr;
    if (municipality) n.set_municipality_name(municipality->name());
    n.set_rules_version(rules.version());
    n.set_threshold(rules.threshold());
    n.set_look_back_months(rules.look_back_months());
    n.set_scan_id(view.scan_id());
    *n.mutable_created_at() = parse_timestamp(now);

    std::set<std::string> incident_ids, fresh, adults;
    bool severe = false;
    for (std::size_t m : members) {
      const ChildHit& h = hits[m];
      incident_ids.insert(h.qualifying.begin(), h.qualifying.end());
      fresh.insert(h.fresh.begin(), h.fresh.end());
      adults.insert(h.adults.begin(), h.adults.end());
      severe = severe || h.assessment.severe_rule;
      auto* c = n.add_children();
      c->set_cpr(h.cpr);
      c->set_name(h.name);
      c->set_home_kommunekode(h.home);
      if (h.assessment.severe_rule) c->add_rules(v1::SOCIALSOG_RULE_SEVERE);
      if (h.assessment.threshold_rule) c->add_rules(v1::SOCIALSOG_RULE_THRESHOLD);
      c->set_total_weight(h.assessment.total_weight);
    }
    n.set_rule(severe ? v1::SOCIALSOG_RULE_SEVERE : v1::SOCIALSOG_RULE_THRESHOLD);

    std::vector<const StoredIncident*> ordered;
    for (const auto& id : incident_ids) ordered.push_back(&incidents.get(id));
    std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
      return std::make_pair(a->incident.occurred_at().seconds(), a->seq) <
             std::make_pair(b->incident.occurred_at().seconds(), b->seq);
    });
    // The adults as the most recent incident names them.
    std::map<std::string, v1::UnderretningAdult> adult_info;
    std::string sending_district;
    for (const StoredIncident* si : ordered) {
      const auto& in = si->incident;
      auto* ui = n.add_incidents();
      ui->set_incident_id(in.incident_id());
      ui->set_journal_number(in.journal_number());
      *ui->mutable_occurred_at() = in.occurred_at();
      ui->set_district_id(in.district_id());
      ui->set_location_kommunekode(in.location_kommunekode());
      for (const auto& c : si->match.incident_codes) ui->add_incident_codes(c);
      for (const auto& c : si->match.offence_codes) ui->add_offence_codes(c);
      for (auto c : si->match.categories) ui->add_categories(c);
      ui->set_weight(si->match.weight);
      ui->set_severe(si->match.severe);
      ui->set_sent_at_scene(in.underretning_sent_at_scene());
      ui->set_new_since_previous(fresh.count(in.incident_id()) > 0);
      for (const auto& p : in.involved()) {
        if (!adults.count(p.cpr())) continue;
        auto* r = ui->add_adults();
        r->set_cpr(p.cpr());
        r->set_role(p.role());
        v1::UnderretningAdult a;
        a.set_cpr(p.cpr());
        a.set_name(p.name());
        a.set_home_kommunekode(p.home_kommunekode());
        adult_info[p.cpr()] = a;
      }
      if (fresh.count(in.incident_id())) sending_district = in.district_id();
    }
    for (auto& [cpr, a] : adult_info) *n.add_adults() = a;
    n.set_district_id(sending_district);
    n.set_sender(settings_.sender(sending_district, directory_));

    // The earlier underretning about any of these children.
    {
      sqlite::Stmt prev(db,
                        "SELECT underretning_id, seq FROM notified WHERE child_cpr = ? "
                        "ORDER BY seq DESC LIMIT 1");
      std::int64_t best = -1;
      for (std::size_t m : members) {
        prev.bind(1, hits[m].cpr);
        if (prev.step() && prev.i64(1) > best) {
          best = prev.i64(1);
          n.set_previous_underretning_id(prev.text(0));
        }
        prev.reset();
      }
    }

    // The recipient: the municipality, else the sending district's coordinator.
    std::string recipient;
    const std::string municipality_id = "kommune-" + std::to_string(k);
    const v1::Recipient* r = municipality ? directory_.recipient(municipality_id) : nullptr;
    if (r && r->kind() == v1::RECIPIENT_KIND_MUNICIPALITY) {
      recipient = r->id();
      const auto due = calendar_.deadline(floor<seconds>(now_tp), settings_.receipt_working_days);
      *n.mutable_receipt_due_at() = seconds_ts(due.time_since_epoch().count());
    } else {
      n.set_reason(municipality ? "municipality_not_configured" : "municipality_unknown");
      std::vector<std::string> districts{sending_district};
      for (const StoredIncident* si : ordered) districts.push_back(si->incident.district_id());
      for (const auto& d : districts)
        if (const auto* c = directory_.coordinator(d)) {
          recipient = c->id();
          break;
        }
    }
    std::string notification_id;
    if (!recipient.empty())
      notification_id =
          request_notification(db, recipient, v1::NOTIFICATION_KIND_UNDERRETNING, n, now);
    else
      spdlog::warn(
          "no recipient for underretning underretning_id={} district={} (listed for "
          "the district's coordinators)",
          n.underretning_id(), sending_district);

    sqlite::Stmt ins(db,
                     "INSERT INTO underretninger(underretning_id, kommunekode, recipient_id, "
                     "district_id, notice, notification_id, created_at, receipt_due_at) "
                     "VALUES (?,?,?,?,?,?,?,?)");
    ins.bind(1, n.underretning_id()).bind(2, k).bind(3, recipient).bind(4, sending_district);
    ins.bind_blob(5, n.SerializeAsString()).bind(6, notification_id).bind(7, now);
    if (n.has_receipt_due_at())
      ins.bind(8, n.receipt_due_at().seconds());
    else
      ins.bind_null(8);
    ins.run();
    const std::int64_t seq = sqlite3_last_insert_rowid(db.raw());
    sqlite::Stmt dist(db,
                      "INSERT OR IGNORE INTO underretning_districts(underretning_id, district_id) "
                      "VALUES (?,?)");
    dist.bind(1, n.underretning_id()).bind(2, sending_district).run();
    dist.reset();
    for (const StoredIncident* si : ordered) {
      dist.bind(1, n.underretning_id()).bind(2, si->incident.district_id()).run();
      dist.reset();
    }
    sqlite::Stmt mark(
        db,
        "INSERT OR IGNORE INTO notified(child_cpr, incident_id, underretning_id, seq) "
        "VALUES (?,?,?,?)");
    for (std::size_t m : members)
      for (const auto& id : hits[m].qualifying) {
        mark.bind(1, hits[m].cpr).bind(2, id).bind(3, n.underretning_id()).bind(4, seq).run();
        mark.reset();
      }
    auto stored = load_underretning(db, n.underretning_id());
    emit_event(db, *stored, "created", now);
    view.add_underretning_ids(n.underretning_id());
    view.set_underretninger_created(view.underretninger_created() + 1);
    if (!n.previous_underretning_id().empty())
      view.set_underretninger_linked(view.underretninger_linked() + 1);
    spdlog::info(
        "underretning created underretning_id={} kommunekode={} recipient={} district={} "
        "children={} incidents={} rule={} rules_version={} previous={} reason={}",
        n.underretning_id(), k, recipient, sending_district, n.children_size(), n.incidents_size(),
        v1::SocialsogRule_Name(n.rule()), rules.version(), n.previous_underretning_id(),
        n.reason());
  }

  sqlite::Stmt ins(db, "INSERT INTO scans(scan_id, kind, started_at, view) VALUES (?,?,?,?)");
  ins.bind(1, view.scan_id()).bind(2, view.kind()).bind(3, now);
  ins.bind_blob(4, view.SerializeAsString()).run();
  if (spec.weekly) {
    // The watermark moves with the scan's results, in one transaction.
    state_set(db, WATERMARK, high);
    state_set(db, WEEKLY_SLOT, spec.weekly_slot);
  }
  tx.commit();
  spdlog::info(
      "scan done scan_id={} kind={} considered={} watched={} flagged={} already_notified={} "
      "underretninger={} linked={} watermark={}..{}",
      view.scan_id(), view.kind(), view.incidents_considered(), view.incidents_watched(),
      view.children_flagged(), view.children_already_notified(), view.underretninger_created(),
      view.underretninger_linked(), view.received_after_seq(), view.received_up_to_seq());
  return view;
}

std::int64_t Scanner::last_slot(std::chrono::system_clock::time_point now) const {
  using namespace std::chrono;
  const auto now_s = floor<seconds>(now);
  const sys_days today{workdays::local_day(now_s)};
  for (int back = 0; back <= 7; ++back) {
    const sys_days d = today - days(back);
    if (weekday(d) != settings_.scan_weekday) continue;
    const auto at = workdays::at_local(year_month_day(d), settings_.scan_time);
    if (at <= now_s) return at.time_since_epoch().count();
  }
  return 0;  // unreachable: some matching day within 8 days is in the past
}

std::optional<v1::ScanView> Scanner::weekly_if_due(sqlite::Db& db) {
  if (!settings_.weekly_scan) return std::nullopt;
  const std::int64_t slot = last_slot(clock_.now());
  if (slot <= state_get(db, WEEKLY_SLOT, -1)) return std::nullopt;
  ScanSpec spec;
  spec.weekly = true;
  spec.weekly_slot = slot;
  spec.requested_by = "schedule";
  return scan(db, spec);
}

int Scanner::check_receipts(sqlite::Db& db) {
  const auto now_tp = clock_.now();
  const std::string now = rfc3339(now_tp);
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now_tp.time_since_epoch()).count();
  sqlite::Transaction tx(db);
  std::vector<std::string> due;
  {
    sqlite::Stmt s(db,
                   "SELECT underretning_id FROM underretninger WHERE receipt_due_at IS NOT NULL "
                   "AND receipt_due_at <= ? AND receipt_at IS NULL AND missed_at IS NULL "
                   "ORDER BY receipt_due_at");
    s.bind(1, now_s);
    while (s.step()) due.push_back(s.text(0));
  }
  for (const auto& id : due) {
    auto v = load_underretning(db, id);
    sqlite::Stmt up(db, "UPDATE underretninger SET missed_at = ? WHERE underretning_id = ?");
    up.bind(1, now).bind(2, id).run();
    v->set_receipt_missed(true);
    // The coordinator needs to know which underretning and municipality,
    // not the children's details.
    v1::UnderretningNotice brief = v->notice();
    brief.clear_children();
    brief.clear_adults();
    for (auto& i : *brief.mutable_incidents()) i.clear_adults();
    brief.set_reason("receipt_missed");
    std::vector<std::string> districts{brief.district_id()};
    for (const auto& i : brief.incidents()) districts.push_back(i.district_id());
    std::string coordinator;
    for (const auto& d : districts)
      if (const auto* c = directory_.coordinator(d)) {
        coordinator = c->id();
        break;
      }
    if (!coordinator.empty())
      request_notification(db, coordinator, v1::NOTIFICATION_KIND_RECEIPT_MISSED, brief, now);
    else
      spdlog::warn("no coordinator to report a missed receipt underretning_id={}", id);
    emit_event(db, *v, "receipt_missed", now, "receipt_missed");
    spdlog::info("receipt missed underretning_id={} recipient={} coordinator={}", id,
                 v->recipient_id(), coordinator);
  }
  tx.commit();
  return static_cast<int>(due.size());
}

int Scanner::purge_incidents(sqlite::Db& db) {
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  const std::int64_t horizon = months_before(now_s, settings_.incident_retention_months);
  sqlite::Transaction tx(db);
  for (const char* sql : {"DELETE FROM incident_persons WHERE incident_id IN "
                          "(SELECT incident_id FROM incidents WHERE occurred_at < ?)",
                          "DELETE FROM adult_children WHERE incident_id IN "
                          "(SELECT incident_id FROM incidents WHERE occurred_at < ?)"}) {
    sqlite::Stmt del(db, sql);
    del.bind(1, horizon).run();
  }
  sqlite::Stmt del(db, "DELETE FROM incidents WHERE occurred_at < ?");
  del.bind(1, horizon).run();
  const int erased = static_cast<int>(db.changes());
  tx.commit();
  // secure_delete zeroes the pages; the WAL still holds the old ones until
  // it is checkpointed, which a reader can hold up: then again next pass.
  if (erased > 0) wal_holds_erased_ = true;
  if (wal_holds_erased_ && db.checkpoint_truncate()) wal_holds_erased_ = false;
  if (erased > 0) {
    spdlog::info("incidents erased after retention count={} occurred_before={} months={}", erased,
                 rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(horizon))),
                 settings_.incident_retention_months);
  }
  return erased;
}

int Worker::run_once(sqlite::Db& db) {
  int n = 0;
  if (scanner_.weekly_if_due(db)) ++n;
  n += scanner_.check_receipts(db);
  scanner_.purge_incidents(db);
  if (n && relay_) relay_->notify();
  return n;
}

void Worker::run(const std::atomic<bool>& stop) {
  sqlite::Db db(db_path_);
  every(std::chrono::seconds(scanner_.settings().check_interval_seconds), stop,
        "socialsog scheduled pass", [&] { run_once(db); });
}

}  // namespace henvis::socialsog
