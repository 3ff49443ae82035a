// The scan: which children the rules flag, grouped into one underretning per
// household and home municipality; the weekly schedule; the receipt clock.
// Scanner::scan runs the phases of a ScanRun; those that need no database are
// in scan_phases.cpp.
#include <spdlog/spdlog.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "henvis/ids.hpp"
#include "henvis/service.hpp"
#include "outgoing.hpp"
#include "scan_phases.hpp"
#include "socialsog.hpp"
#include "store.hpp"

namespace henvis::socialsog {

namespace {
using sqlite::Instant;

google::protobuf::Timestamp seconds_ts(std::int64_t s) {
  google::protobuf::Timestamp t;
  t.set_seconds(s);
  return t;
}

// The scan reckons in Unix seconds (the rules count whole seconds).
Instant at_second(std::int64_t unix_seconds) { return Instant(std::chrono::seconds(unix_seconds)); }

// The first of `districts` with a coordinator: its recipient id, else empty.
std::string first_coordinator(const Directory& directory,
                              const std::vector<std::string>& districts) {
  for (const auto& d : districts)
    if (const auto* c = directory.coordinator(d)) return c->id();
  return {};
}

// Loads a scan's incidents, keeping the most recently used CAPACITY of them:
// a child's adults and siblings read the same few incidents one after the
// other, and nothing needs the whole window in memory at once.
class IncidentCache {
 public:
  using Ptr = std::shared_ptr<const StoredIncident>;
  static constexpr std::size_t CAPACITY = 4096;
  IncidentCache(sqlite::Db& db, const Rules& rules) : db_(db), rules_(rules) {}
  Ptr get(const std::string& id) {
    if (auto hit = find(id)) return hit;
    const auto stored = store::find_incident(db_, id);
    if (!stored) throw std::runtime_error("incident vanished during a scan");
    return add(id, *stored);
  }
  // The same, with the stored incident a query has just read.
  Ptr get(const std::string& id, const store::StoredPayload& stored) {
    if (auto hit = find(id)) return hit;
    return add(id, stored);
  }

 private:
  Ptr find(const std::string& id) {
    auto it = cache_.find(id);
    if (it == cache_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.second);
    return it->second.first;
  }
  Ptr add(const std::string& id, const store::StoredPayload& stored) {
    auto si = std::make_shared<StoredIncident>();
    si->incident.ParseFromString(stored.payload);
    si->seq = stored.seq;
    si->match = rules_.match(si->incident);
    if (cache_.size() >= CAPACITY) {
      cache_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(id);
    cache_.emplace(id, std::make_pair(si, order_.begin()));
    return si;
  }

  sqlite::Db& db_;
  const Rules& rules_;
  std::list<std::string> order_;  // most recently used first
  std::unordered_map<std::string, std::pair<Ptr, std::list<std::string>::iterator>> cache_;
};

// The incidents a scan is about and the look-back it applies.
struct Window {
  std::vector<std::string> triggers;  // incident ids, in ingest order
  std::int64_t ref = 0;               // the look-back ends here
  std::int64_t look_back_from = 0;
  std::int64_t high = 0;  // the highest ingest number covered (the next watermark)
};

// What the database says about each candidate child (ChildFacts).
class ChildLoader {
 public:
  ChildLoader(sqlite::Db& db, IncidentCache& incidents, const Window& window)
      : db_(db), incidents_(incidents), window_(window) {}

  // The child's facts without its name and home (the rules do not read
  // them; identify() adds them to the few children flagged).
  ChildFacts load(const std::string& child) {
    ChildFacts f;
    f.cpr = child;
    for (const auto& adult : store::adults_of(db_, child)) involve(f, adult);
    for (auto& id : store::notified_incidents(db_, child)) f.notified.insert(std::move(id));
    return f;
  }

  // Name and home municipality as the most recent incident listing the child says.
  void identify(const std::string& cpr, std::string& name, int& home) {
    const auto latest = store::latest_incident_listing(db_, cpr);
    if (!latest) return;
    const auto si = incidents_.get(latest->incident_id, latest->stored);
    for (const auto& p : si->incident.involved())
      for (const auto& c : p.children())
        if (c.cpr() == cpr) {
          name = c.name();
          home = c.home_kommunekode();
        }
  }

 private:
  // The adult's incidents within the look-back [look_back_from, ref]: the
  // rules count whole seconds, so it ends where ref's second does. Siblings
  // share their adults: the most recent adults' are kept.
  void involve(ChildFacts& f, const std::string& adult) {
    if (auto it = adults_.find(adult); it != adults_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);
      const auto& known = it->second.first;
      f.involvements.insert(f.involvements.end(), known.begin(), known.end());
      return;
    }
    const Instant from = at_second(window_.look_back_from);
    const Instant before = at_second(window_.ref) + std::chrono::seconds(1);
    std::vector<Involvement> found;
    for (const auto& inv : store::involvements(db_, adult, from, before)) {
      const auto si = incidents_.get(inv.incident_id, inv.stored);
      found.push_back(Involvement{adult, inv.role, si->incident.incident_id(),
                                  si->incident.occurred_at().seconds(), si->match.watched,
                                  si->match.weight, si->match.severe,
                                  si->incident.underretning_sent_at_scene()});
    }
    f.involvements.insert(f.involvements.end(), found.begin(), found.end());
    if (adults_.size() >= ADULTS) {
      adults_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(adult);
    adults_.emplace(adult, std::make_pair(std::move(found), order_.begin()));
  }

  static constexpr std::size_t ADULTS = 1024;
  sqlite::Db& db_;
  IncidentCache& incidents_;
  const Window& window_;
  std::list<std::string> order_;  // most recently used first
  std::unordered_map<std::string,
                     std::pair<std::vector<Involvement>, std::list<std::string>::iterator>>
      adults_;
};

// An underretning as a scan's read phase plans it and its write phase stores
// and sends it.
struct Planned {
  v1::UnderretningNotice notice;       // complete: id, scan, recipient's deadline or reason, link
  std::string recipient;               // empty: listed for the districts' coordinators
  std::vector<std::string> districts;  // the sending district, then each incident's
  // Each child and the incidents it is now notified about.
  std::vector<std::pair<std::string, std::vector<std::string>>> notified;
};

// One scan: the phases that read the database (in a read transaction: 1-4)
// and write it (in the write transaction: 5), around the pure ones
// (scan_phases.hpp). Fills in the scan's view.
class ScanRun {
 public:
  ScanRun(sqlite::Db& db, const Scanner& scanner, const ScanSpec& spec,
          std::chrono::system_clock::time_point now)
      : db_(db),
        scanner_(scanner),
        rules_(scanner.settings().rules),
        spec_(spec),
        now_(sqlite::as_stored(now)),
        incidents_(db, rules_) {
    view_.set_scan_id(new_uuid());
    view_.set_kind(spec.weekly ? "weekly" : "on_demand");
    *view_.mutable_started_at() = to_timestamp(now_);
    view_.set_rules_version(rules_.version());
    view_.set_requested_by(spec.requested_by);
  }

  const v1::ScanView& view() const { return view_; }
  sqlite::Db& db() { return db_; }

  // 1. The incidents this scan is about: those that occurred in the window,
  // else those received since the watermark.
  Window load_window() {
    using namespace std::chrono;
    Window w;
    w.ref = duration_cast<seconds>(now_.time_since_epoch()).count();
    if (spec_.from && spec_.to) {
      *view_.mutable_window_from() = seconds_ts(*spec_.from);
      *view_.mutable_window_to() = seconds_ts(*spec_.to);
      view_.set_window_basis("occurred");
      w.triggers = store::incidents_occurred(db_, at_second(*spec_.from), at_second(*spec_.to));
      w.ref = std::min(w.ref, *spec_.to - 1);
    } else {
      const std::int64_t from_seq = store::watermark(db_);
      w.high = std::max(store::last_incident_seq(db_), from_seq);
      view_.set_received_after_seq(from_seq);
      view_.set_received_up_to_seq(w.high);
      view_.set_window_basis("received");
      w.triggers = store::incidents_received(db_, from_seq, w.high);
    }
    w.look_back_from = months_before(w.ref, rules_.look_back_months());
    return w;
  }

  // 2. The children whose adults appear in the triggers (and the children listed).
  // In the order found, so that the children of one adult come together.
  std::vector<std::string> candidates(const Window& w) {
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    auto add = [&](const std::string& child) {
      if (seen.insert(child).second) out.push_back(child);
    };
    for (const auto& id : w.triggers) {
      const auto si = incidents_.get(id);
      if (si->match.watched) view_.set_incidents_watched(view_.incidents_watched() + 1);
      for (const auto& p : si->incident.involved()) {
        for (const auto& c : p.children()) add(c.cpr());
        for (const auto& kid : store::children_of(db_, p.cpr())) add(kid);
      }
    }
    view_.set_incidents_considered(static_cast<int>(w.triggers.size()));
    return out;
  }

  // 3. Each child under the rules: the hits with something new to notify,
  // by CPR number.
  std::vector<ChildHit> flag_children(const std::vector<std::string>& children, const Window& w) {
    ChildLoader loader(db_, incidents_, w);
    std::vector<ChildHit> hits;
    for (const auto& child : children) {
      ChildVerdict v = evaluate_child(loader.load(child), rules_, w.look_back_from, w.ref);
      if (v.outcome == ChildOutcome::adult || v.outcome == ChildOutcome::not_flagged) continue;
      view_.set_children_flagged(view_.children_flagged() + 1);
      if (v.outcome == ChildOutcome::already_notified) {
        view_.set_children_already_notified(view_.children_already_notified() + 1);
        continue;
      }
      loader.identify(v.hit.cpr, v.hit.name, v.hit.home);
      hits.push_back(std::move(v.hit));
    }
    std::sort(hits.begin(), hits.end(),
              [](const ChildHit& a, const ChildHit& b) { return a.cpr < b.cpr; });
    return hits;
  }

  // 4. One underretning for the household `members` (indexes into `hits`),
  // as the write phase will store and send it. Reads only.
  Planned plan(const std::vector<ChildHit>& hits, const std::vector<std::size_t>& members) {
    std::vector<IncidentCache::Ptr> held;  // the household's incidents, while it is described
    const Household h = household(hits, members, held);
    Planned p;
    v1::UnderretningNotice& n = p.notice;
    n = describe_household(h, rules_);
    n.set_underretning_id(new_uuid());
    const int k = n.kommunekode();
    const v1::Municipality* municipality = k ? directory().municipality(k) : nullptr;
    if (municipality) n.set_municipality_name(municipality->name());
    n.set_scan_id(view_.scan_id());
    *n.mutable_created_at() = to_timestamp(now_);
    n.set_sender(scanner_.settings().sender(n.district_id(), directory()));
    link_previous(h, n);
    p.districts.push_back(n.district_id());
    for (const StoredIncident* si : h.incidents) p.districts.push_back(si->incident.district_id());
    p.recipient = address(n, municipality, p.districts);
    for (const ChildHit* c : h.children)
      p.notified.emplace_back(c->cpr,
                              std::vector<std::string>(c->qualifying.begin(), c->qualifying.end()));
    return p;
  }

  // 5. The write phase, in the write transaction: each planned underretning
  // requested from notifier and stored, then the scan itself and for a weekly
  // scan the watermark.
  void write(const std::vector<Planned>& planned) {
    for (const Planned& p : planned) {
      const std::string notification_id = notify(p.notice, p.recipient);
      save(p, notification_id);
      announce(p.notice, p.recipient);
    }
  }
  void record(std::int64_t high) {
    store::insert_scan(db_, {view_.scan_id(), view_.kind(), now_, view_});
    if (spec_.weekly) {
      // The watermark moves with the scan's results, in one transaction.
      store::set_watermark(db_, high);
      store::set_weekly_slot(db_, spec_.weekly_slot);
    }
  }

 private:
  const Directory& directory() const { return scanner_.directory(); }

  Household household(const std::vector<ChildHit>& hits, const std::vector<std::size_t>& members,
                      std::vector<IncidentCache::Ptr>& held) {
    Household h;
    std::set<std::string> incident_ids;
    for (std::size_t m : members) {
      h.children.push_back(&hits[m]);
      incident_ids.insert(hits[m].qualifying.begin(), hits[m].qualifying.end());
    }
    for (const auto& id : incident_ids) {
      held.push_back(incidents_.get(id));
      h.incidents.push_back(held.back().get());
    }
    std::sort(h.incidents.begin(), h.incidents.end(), [](const auto* a, const auto* b) {
      return std::make_pair(a->incident.occurred_at().seconds(), a->seq) <
             std::make_pair(b->incident.occurred_at().seconds(), b->seq);
    });
    return h;
  }

  // The earlier underretning about any of these children.
  void link_previous(const Household& h, v1::UnderretningNotice& n) {
    std::int64_t best = -1;
    for (const ChildHit* c : h.children) {
      const auto prev = store::last_notified(db_, c->cpr);
      if (prev && prev->seq > best) {
        best = prev->seq;
        n.set_previous_underretning_id(prev->underretning_id);
      }
    }
  }

  // The recipient: the municipality (with the receipt deadline), else the
  // sending district's coordinator (or another district's in the incidents,
  // `districts`), with the reason; empty when there is none.
  std::string address(v1::UnderretningNotice& n, const v1::Municipality* municipality,
                      const std::vector<std::string>& districts) {
    using namespace std::chrono;
    const std::string municipality_id = "kommune-" + std::to_string(n.kommunekode());
    const v1::Recipient* r = municipality ? directory().recipient(municipality_id) : nullptr;
    if (r && r->kind() == v1::RECIPIENT_KIND_MUNICIPALITY) {
      const auto due = scanner_.calendar().deadline(floor<seconds>(now_),
                                                    scanner_.settings().receipt_working_days);
      *n.mutable_receipt_due_at() = seconds_ts(due.time_since_epoch().count());
      return r->id();
    }
    n.set_reason(municipality ? "municipality_not_configured" : "municipality_unknown");
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
  void save(const Planned& p, const std::string& notification_id) {
    const v1::UnderretningNotice& n = p.notice;
    std::optional<Instant> due;
    if (n.has_receipt_due_at()) due = to_time_point(n.receipt_due_at());
    const std::int64_t seq =
        store::insert_underretning(db_, {n, p.recipient, notification_id, now_, due});
    for (const auto& d : p.districts) store::add_district(db_, n.underretning_id(), d);
    const store::Notified by{n.underretning_id(), seq};
    for (const auto& [child, incidents] : p.notified)
      for (const auto& id : incidents) store::mark_notified(db_, child, id, by);
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
  const Instant now_;  // as stored (whole milliseconds)
  IncidentCache incidents_;
  v1::ScanView view_;
};

// A read transaction: one snapshot of the database (WAL) for a scan's read
// phase, without the write lock. Ends (or rolls back) when destroyed.
class Snapshot {
 public:
  explicit Snapshot(sqlite::Db& db) : db_(db) {
    db_.exec("BEGIN");  // deferred: the snapshot is taken at the first read
  }
  ~Snapshot() { end(); }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  void end() {
    if (open_) {
      open_ = false;
      try {
        db_.exec("ROLLBACK");
      } catch (const std::exception& e) {
        spdlog::error("ending a scan's read transaction failed: {}", e.what());
      }
    }
  }

 private:
  sqlite::Db& db_;
  bool open_ = true;
};

// What a scan computed in its read phase.
struct Computed {
  Window window;
  std::vector<Planned> planned;
  store::ScanState state;  // what it rests on, as read
};

Computed compute(ScanRun& run) {
  Computed c;
  c.state = store::scan_state(run.db());
  c.window = run.load_window();
  const std::vector<ChildHit> hits = run.flag_children(run.candidates(c.window), c.window);
  for (const auto& members : households(hits)) c.planned.push_back(run.plan(hits, members));
  return c;
}
}  // namespace

Scanner::Scanner(Directory directory, Settings settings, workdays::Calendar calendar,
                 const Clock& clock, http::Metrics* metrics)
    : directory_(std::move(directory)),
      settings_(std::move(settings)),
      calendar_(std::move(calendar)),
      clock_(clock),
      incident_purge_("socialsog_incidents", metrics),
      underretning_purge_("socialsog_underretning_persons", metrics) {}

std::int64_t Scanner::watermark(sqlite::Db& db) { return store::watermark(db); }

v1::ScanView Scanner::scan(sqlite::Db& db, const ScanSpec& spec) {
  // One scan (or purge) at a time in this process: the read phase's snapshot
  // stays what the write phase rests on.
  std::lock_guard<std::mutex> one_at_a_time(mutex_);
  const auto now = clock_.now();
  // The read phase: which children, which households, what each underretning
  // says, on one snapshot and without the write lock, so the consumer goes
  // on storing incidents meanwhile (they are the next scan's).
  using Ms = std::chrono::duration<double, std::milli>;
  const auto started = std::chrono::steady_clock::now();
  auto run = std::make_unique<ScanRun>(db, *this, spec, now);
  Computed c;
  {
    Snapshot snapshot(db);
    c = compute(*run);
    if (read_phase_hook_) read_phase_hook_();
  }
  const auto read = std::chrono::steady_clock::now();
  // The write phase: the underretninger, their notifications and events, the
  // scan and the watermark, in one short transaction.
  sqlite::Transaction tx(db);
  if (store::scan_state(db) != c.state) {
    // Another connection scanned (or moved the watermark) since the snapshot:
    // compute again under the write lock, as if the scan had started now.
    spdlog::warn("scan state changed during the scan's read phase; scanning again under the lock");
    run = std::make_unique<ScanRun>(db, *this, spec, now);
    c = compute(*run);
  }
  run->write(c.planned);
  run->record(c.window.high);
  tx.commit();
  const auto written = std::chrono::steady_clock::now();
  const v1::ScanView& view = run->view();
  // read_ms: the read phase (no lock); write_ms: waiting for the write lock,
  // storing and committing (the time the lock is held, at most).
  spdlog::info(
      "scan done scan_id={} kind={} considered={} watched={} flagged={} already_notified={} "
      "underretninger={} linked={} watermark={}..{} read_ms={:.1f} write_ms={:.1f}",
      view.scan_id(), view.kind(), view.incidents_considered(), view.incidents_watched(),
      view.children_flagged(), view.children_already_notified(), view.underretninger_created(),
      view.underretninger_linked(), view.received_after_seq(), view.received_up_to_seq(),
      Ms(read - started).count(), Ms(written - read).count());
#ifdef __GLIBC__
  // A large scan's memory (candidates, hits, notices) goes back to the system
  // rather than staying in the allocator's free lists until the next one.
  malloc_trim(0);
#endif
  return view;
}

std::chrono::sys_seconds Scanner::last_slot(std::chrono::system_clock::time_point now) const {
  using namespace std::chrono;
  const auto now_s = floor<seconds>(now);
  const sys_days today{workdays::local_day(now_s)};
  for (int back = 0; back <= 7; ++back) {
    const sys_days d = today - days(back);
    if (weekday(d) != settings_.scan_weekday) continue;
    const auto at = workdays::at_local(year_month_day(d), settings_.scan_time);
    if (at <= now_s) return at;
  }
  return {};  // unreachable: some matching day within 8 days is in the past
}

std::optional<v1::ScanView> Scanner::weekly_if_due(sqlite::Db& db) {
  if (!settings_.weekly_scan) return std::nullopt;
  const std::chrono::sys_seconds slot = last_slot(clock_.now());
  if (const auto done = store::weekly_slot(db); done && slot <= *done) return std::nullopt;
  ScanSpec spec;
  spec.weekly = true;
  spec.weekly_slot = slot;
  spec.requested_by = "schedule";
  return scan(db, spec);
}

int Scanner::check_receipts(sqlite::Db& db) {
  const Instant now = sqlite::as_stored(clock_.now());
  sqlite::Transaction tx(db);
  const std::vector<std::string> due = store::receipts_due(db, now);
  for (const auto& id : due) {
    auto v = load_underretning(db, id);
    store::set_missed(db, id, now);
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
  std::lock_guard<std::mutex> not_during_a_scan(mutex_);
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  const std::int64_t horizon = months_before(now_s, settings_.incident_retention_months);
  // A checkpoint a reader held up at the commit is tried again each pass.
  const int erased = incident_purge_.run(
      db, [&] { return store::erase_incidents_before(db, at_second(horizon)); });
  if (erased > 0) {
    spdlog::info("incidents erased after retention count={} occurred_before={} months={}", erased,
                 rfc3339(at_second(horizon)), settings_.incident_retention_months);
  }
  return erased;
}

int Scanner::purge_underretninger(sqlite::Db& db) {
  // It erases the record of who was notified, which a scan reads.
  std::lock_guard<std::mutex> not_during_a_scan(mutex_);
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  const Instant horizon = at_second(months_before(now_s, settings_.underretning_retention_months));
  return underretning_purge_.run(
      db, [&] { return store::erase_underretning_persons(db, horizon, clock_.now()); });
}

int Worker::run_once(sqlite::Db& db) {
  int n = 0;
  if (scanner_.weekly_if_due(db)) ++n;
  n += scanner_.check_receipts(db);
  scanner_.purge_incidents(db);
  scanner_.purge_underretninger(db);
  if (n && relay_) relay_->notify();
  return n;
}

void Worker::run(const std::atomic<bool>& stop) {
  sqlite::Db db(db_path_);
  every(std::chrono::seconds(scanner_.settings().check_interval_seconds), stop,
        "socialsog scheduled pass", [&] { run_once(db); });
}

}  // namespace henvis::socialsog
