// The scan: which children the rules flag, grouped into one underretning per
// household and home municipality; the weekly schedule; the receipt clock.
// Scanner::scan runs the phases of a ScanRun; those that need no database are
// in scan_phases.cpp.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "henvis/ids.hpp"
#include "henvis/service.hpp"
#include "scan_phases.hpp"
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

// The first of `districts` with a coordinator: its recipient id, else empty.
std::string first_coordinator(const Directory& directory,
                              const std::vector<std::string>& districts) {
  for (const auto& d : districts)
    if (const auto* c = directory.coordinator(d)) return c->id();
  return {};
}

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

// The incidents a scan is about and the look-back it applies.
struct Window {
  std::vector<std::string> triggers;  // incident ids, in ingest order
  std::int64_t ref = 0;               // the look-back ends here
  std::int64_t look_back_from = 0;
  std::int64_t high = 0;  // the highest ingest number covered (the next watermark)
};

// What the database says about each candidate child (ChildFacts), with the
// statements prepared once per scan.
class ChildLoader {
 public:
  ChildLoader(sqlite::Db& db, IncidentCache& incidents, const Window& window)
      : incidents_(incidents),
        window_(window),
        adults_of_(db, "SELECT DISTINCT adult_cpr FROM adult_children WHERE child_cpr = ?"),
        latest_(db,
                "SELECT ac.incident_id FROM adult_children ac JOIN incidents i "
                "ON i.incident_id = ac.incident_id WHERE ac.child_cpr = ? "
                "ORDER BY i.occurred_at DESC, i.seq DESC LIMIT 1"),
        of_adult_(db,
                  "SELECT ip.incident_id, ip.role FROM incident_persons ip JOIN incidents i "
                  "ON i.incident_id = ip.incident_id WHERE ip.cpr = ? "
                  "AND i.occurred_at >= ? AND i.occurred_at <= ?"),
        notified_(db, "SELECT incident_id FROM notified WHERE child_cpr = ?") {}

  ChildFacts load(const std::string& child) {
    ChildFacts f;
    f.cpr = child;
    identify(f);
    for (const auto& adult : adults(child)) involve(f, adult);
    notified_.bind(1, child);
    while (notified_.step()) f.notified.insert(notified_.text(0));
    notified_.reset();
    return f;
  }

 private:
  // Name and home municipality as the most recent incident listing the child says.
  void identify(ChildFacts& f) {
    latest_.bind(1, f.cpr);
    if (latest_.step()) {
      const StoredIncident& si = incidents_.get(latest_.text(0));
      for (const auto& p : si.incident.involved())
        for (const auto& c : p.children())
          if (c.cpr() == f.cpr) {
            f.name = c.name();
            f.home = c.home_kommunekode();
          }
    }
    latest_.reset();
  }

  std::vector<std::string> adults(const std::string& child) {
    std::vector<std::string> out;
    adults_of_.bind(1, child);
    while (adults_of_.step()) out.push_back(adults_of_.text(0));
    adults_of_.reset();
    return out;
  }

  // The adult's incidents within the look-back.
  void involve(ChildFacts& f, const std::string& adult) {
    of_adult_.bind(1, adult).bind(2, window_.look_back_from).bind(3, window_.ref);
    while (of_adult_.step()) {
      const StoredIncident& si = incidents_.get(of_adult_.text(0));
      f.involvements.push_back(Involvement{
          adult, static_cast<v1::PersonRole>(of_adult_.i64(1)), si.incident.incident_id(),
          si.incident.occurred_at().seconds(), si.match.watched, si.match.weight, si.match.severe,
          si.incident.underretning_sent_at_scene()});
    }
    of_adult_.reset();
  }

  IncidentCache& incidents_;
  const Window& window_;
  sqlite::Stmt adults_of_, latest_, of_adult_, notified_;
};

// One scan inside its transaction: the phases that read and write the
// database, around the pure ones (scan_phases.hpp). Fills in the scan's view.
class ScanRun {
 public:
  ScanRun(sqlite::Db& db, const Scanner& scanner, const ScanSpec& spec,
          std::chrono::system_clock::time_point now)
      : db_(db),
        scanner_(scanner),
        rules_(scanner.settings().rules),
        spec_(spec),
        now_tp_(now),
        now_(rfc3339(now)),
        incidents_(db, rules_) {
    view_.set_scan_id(new_uuid());
    view_.set_kind(spec.weekly ? "weekly" : "on_demand");
    *view_.mutable_started_at() = parse_timestamp(now_);
    view_.set_rules_version(rules_.version());
    view_.set_requested_by(spec.requested_by);
  }

  const v1::ScanView& view() const { return view_; }

  // 1. The incidents this scan is about: those that occurred in the window,
  // else those received since the watermark.
  Window load_window() {
    using namespace std::chrono;
    Window w;
    w.ref = duration_cast<seconds>(now_tp_.time_since_epoch()).count();
    if (spec_.from && spec_.to) {
      *view_.mutable_window_from() = seconds_ts(*spec_.from);
      *view_.mutable_window_to() = seconds_ts(*spec_.to);
      sqlite::Stmt s(db_,
                     "SELECT incident_id FROM incidents WHERE occurred_at >= ? AND occurred_at < ? "
                     "ORDER BY seq");
      s.bind(1, *spec_.from).bind(2, *spec_.to);
      while (s.step()) w.triggers.push_back(s.text(0));
      w.ref = std::min(w.ref, *spec_.to - 1);
    } else {
      const std::int64_t from_seq = state_get(db_, WATERMARK, 0);
      {
        sqlite::Stmt m(db_, "SELECT coalesce(max(seq), 0) FROM incidents");
        m.step();
        w.high = std::max(m.i64(0), from_seq);
      }
      view_.set_received_after_seq(from_seq);
      view_.set_received_up_to_seq(w.high);
      sqlite::Stmt s(db_,
                     "SELECT incident_id FROM incidents WHERE seq > ? AND seq <= ? ORDER BY seq");
      s.bind(1, from_seq).bind(2, w.high);
      while (s.step()) w.triggers.push_back(s.text(0));
    }
    w.look_back_from = months_before(w.ref, rules_.look_back_months());
    return w;
  }

  // 2. The children whose adults appear in the triggers (and the children listed).
  std::set<std::string> candidates(const Window& w) {
    std::set<std::string> out;
    sqlite::Stmt kids(db_, "SELECT DISTINCT child_cpr FROM adult_children WHERE adult_cpr = ?");
    for (const auto& id : w.triggers) {
      const StoredIncident& si = incidents_.get(id);
      if (si.match.watched) view_.set_incidents_watched(view_.incidents_watched() + 1);
      for (const auto& p : si.incident.involved()) {
        for (const auto& c : p.children()) out.insert(c.cpr());
        kids.bind(1, p.cpr());
        while (kids.step()) out.insert(kids.text(0));
        kids.reset();
      }
    }
    view_.set_incidents_considered(static_cast<int>(w.triggers.size()));
    return out;
  }

  // 3. Each child under the rules: the hits with something new to notify.
  std::vector<ChildHit> flag_children(const std::set<std::string>& children, const Window& w) {
    ChildLoader loader(db_, incidents_, w);
    std::vector<ChildHit> hits;
    for (const auto& child : children) {
      ChildVerdict v = evaluate_child(loader.load(child), rules_, w.look_back_from, w.ref);
      if (v.outcome == ChildOutcome::adult || v.outcome == ChildOutcome::not_flagged) continue;
      view_.set_children_flagged(view_.children_flagged() + 1);
      if (v.outcome == ChildOutcome::already_notified)
        view_.set_children_already_notified(view_.children_already_notified() + 1);
      else
        hits.push_back(std::move(v.hit));
    }
    return hits;
  }

  // 4. One underretning for the household `members` (indexes into `hits`).
  void underretning(const std::vector<ChildHit>& hits, const std::vector<std::size_t>& members) {
    const Household h = household(hits, members);
    v1::UnderretningNotice n = describe_household(h, rules_);
    n.set_underretning_id(new_uuid());
    const int k = n.kommunekode();
    const v1::Municipality* municipality = k ? directory().municipality(k) : nullptr;
    if (municipality) n.set_municipality_name(municipality->name());
    n.set_scan_id(view_.scan_id());
    *n.mutable_created_at() = parse_timestamp(now_);
    n.set_sender(scanner_.settings().sender(n.district_id(), directory()));
    link_previous(h, n);
    const std::string recipient = address(n, municipality, h);
    const std::string notification_id = notify(n, recipient);
    store(n, recipient, notification_id, h);
    announce(n, recipient);
  }

  // 5. The scan itself, and for a weekly scan the watermark.
  void record(std::int64_t high) {
    sqlite::Stmt ins(db_, "INSERT INTO scans(scan_id, kind, started_at, view) VALUES (?,?,?,?)");
    ins.bind(1, view_.scan_id()).bind(2, view_.kind()).bind(3, now_);
    ins.bind_blob(4, view_.SerializeAsString()).run();
    if (spec_.weekly) {
      // The watermark moves with the scan's results, in one transaction.
      state_set(db_, WATERMARK, high);
      state_set(db_, WEEKLY_SLOT, spec_.weekly_slot);
    }
  }

 private:
  const Directory& directory() const { return scanner_.directory(); }

  Household household(const std::vector<ChildHit>& hits, const std::vector<std::size_t>& members) {
    Household h;
    std::set<std::string> incident_ids;
    for (std::size_t m : members) {
      h.children.push_back(&hits[m]);
      incident_ids.insert(hits[m].qualifying.begin(), hits[m].qualifying.end());
    }
    for (const auto& id : incident_ids) h.incidents.push_back(&incidents_.get(id));
    std::sort(h.incidents.begin(), h.incidents.end(), [](const auto* a, const auto* b) {
      return std::make_pair(a->incident.occurred_at().seconds(), a->seq) <
             std::make_pair(b->incident.occurred_at().seconds(), b->seq);
    });
    return h;
  }

  // The earlier underretning about any of these children.
  void link_previous(const Household& h, v1::UnderretningNotice& n) {
    sqlite::Stmt prev(db_,
                      "SELECT underretning_id, seq FROM notified WHERE child_cpr = ? "
                      "ORDER BY seq DESC LIMIT 1");
    std::int64_t best = -1;
    for (const ChildHit* c : h.children) {
      prev.bind(1, c->cpr);
      if (prev.step() && prev.i64(1) > best) {
        best = prev.i64(1);
        n.set_previous_underretning_id(prev.text(0));
      }
      prev.reset();
    }
  }

  // The recipient: the municipality (with the receipt deadline), else the
  // sending district's coordinator (or another district's in the incidents),
  // with the reason; empty when there is none.
  std::string address(v1::UnderretningNotice& n, const v1::Municipality* municipality,
                      const Household& h) {
    using namespace std::chrono;
    const std::string municipality_id = "kommune-" + std::to_string(n.kommunekode());
    const v1::Recipient* r = municipality ? directory().recipient(municipality_id) : nullptr;
    if (r && r->kind() == v1::RECIPIENT_KIND_MUNICIPALITY) {
      const auto due = scanner_.calendar().deadline(floor<seconds>(now_tp_),
                                                    scanner_.settings().receipt_working_days);
      *n.mutable_receipt_due_at() = seconds_ts(due.time_since_epoch().count());
      return r->id();
    }
    n.set_reason(municipality ? "municipality_not_configured" : "municipality_unknown");
    std::vector<std::string> districts{n.district_id()};
    for (const StoredIncident* si : h.incidents) districts.push_back(si->incident.district_id());
    return first_coordinator(directory(), districts);
  }

  // Asks notifier to deliver it; returns the notification id (empty without
  // a recipient: then the district's coordinators see it listed).
  std::string notify(const v1::UnderretningNotice& n, const std::string& recipient) {
    if (!recipient.empty())
      return request_notification(db_, recipient, v1::NOTIFICATION_KIND_UNDERRETNING, n, now_);
    spdlog::warn(
        "no recipient for underretning underretning_id={} district={} (listed for "
        "the district's coordinators)",
        n.underretning_id(), n.district_id());
    return {};
  }

  // Stores the underretning, its districts, and which incidents each child
  // has now been notified about.
  void store(const v1::UnderretningNotice& n, const std::string& recipient,
             const std::string& notification_id, const Household& h) {
    sqlite::Stmt ins(db_,
                     "INSERT INTO underretninger(underretning_id, kommunekode, recipient_id, "
                     "district_id, notice, notification_id, created_at, receipt_due_at) "
                     "VALUES (?,?,?,?,?,?,?,?)");
    ins.bind(1, n.underretning_id()).bind(2, n.kommunekode()).bind(3, recipient);
    ins.bind(4, n.district_id()).bind_blob(5, n.SerializeAsString()).bind(6, notification_id);
    ins.bind(7, now_);
    if (n.has_receipt_due_at())
      ins.bind(8, n.receipt_due_at().seconds());
    else
      ins.bind_null(8);
    ins.run();
    const std::int64_t seq = sqlite3_last_insert_rowid(db_.raw());
    sqlite::Stmt dist(db_,
                      "INSERT OR IGNORE INTO underretning_districts(underretning_id, district_id) "
                      "VALUES (?,?)");
    dist.bind(1, n.underretning_id()).bind(2, n.district_id()).run();
    dist.reset();
    for (const StoredIncident* si : h.incidents) {
      dist.bind(1, n.underretning_id()).bind(2, si->incident.district_id()).run();
      dist.reset();
    }
    sqlite::Stmt mark(
        db_,
        "INSERT OR IGNORE INTO notified(child_cpr, incident_id, underretning_id, seq) "
        "VALUES (?,?,?,?)");
    for (const ChildHit* c : h.children)
      for (const auto& id : c->qualifying) {
        mark.bind(1, c->cpr).bind(2, id).bind(3, n.underretning_id()).bind(4, seq).run();
        mark.reset();
      }
  }

  // The created event, the scan's counts and the log line.
  void announce(const v1::UnderretningNotice& n, const std::string& recipient) {
    auto stored = load_underretning(db_, n.underretning_id());
    emit_event(db_, *stored, "created", now_);
    view_.add_underretning_ids(n.underretning_id());
    view_.set_underretninger_created(view_.underretninger_created() + 1);
    if (!n.previous_underretning_id().empty())
      view_.set_underretninger_linked(view_.underretninger_linked() + 1);
    spdlog::info(
        "underretning created underretning_id={} kommunekode={} recipient={} district={} "
        "children={} incidents={} rule={} rules_version={} previous={} reason={}",
        n.underretning_id(), n.kommunekode(), recipient, n.district_id(), n.children_size(),
        n.incidents_size(), v1::SocialsogRule_Name(n.rule()), rules_.version(),
        n.previous_underretning_id(), n.reason());
  }

  sqlite::Db& db_;
  const Scanner& scanner_;
  const Rules& rules_;
  const ScanSpec& spec_;
  const std::chrono::system_clock::time_point now_tp_;
  const std::string now_;
  IncidentCache incidents_;
  v1::ScanView view_;
};
}  // namespace

Scanner::Scanner(Directory directory, Settings settings, workdays::Calendar calendar,
                 const Clock& clock)
    : directory_(std::move(directory)),
      settings_(std::move(settings)),
      calendar_(std::move(calendar)),
      clock_(clock) {}

std::int64_t Scanner::watermark(sqlite::Db& db) { return state_get(db, WATERMARK, 0); }

v1::ScanView Scanner::scan(sqlite::Db& db, const ScanSpec& spec) {
  sqlite::Transaction tx(db);
  ScanRun run(db, *this, spec, clock_.now());
  const Window window = run.load_window();
  const std::vector<ChildHit> hits = run.flag_children(run.candidates(window), window);
  for (const auto& members : households(hits)) run.underretning(hits, members);
  run.record(window.high);
  tx.commit();
  const v1::ScanView& view = run.view();
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
    const std::string coordinator = first_coordinator(directory_, districts);
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
