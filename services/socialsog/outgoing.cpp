// What socialsog sends about its underretninger (outgoing.hpp).
#include "outgoing.hpp"

#include <algorithm>
#include <set>

#include "henvis/events.hpp"
#include "henvis/ids.hpp"
#include "henvis/notifications.hpp"
#include "store.hpp"

namespace henvis::socialsog {

void emit_event(sqlite::Db& db, const v1::UnderretningView& v, const std::string& event,
                sqlite::Instant at, const std::string& reason) {
  const auto& n = v.notice();
  v1::UnderretningEvent e;
  e.set_underretning_id(n.underretning_id());
  e.set_event(event);
  e.set_kommunekode(n.kommunekode());
  e.set_recipient_id(v.recipient_id());
  e.set_district_id(n.district_id());
  std::set<std::string> districts;
  std::set<int> kommuner;
  for (const auto& i : n.incidents()) {
    districts.insert(i.district_id());
    if (i.location_kommunekode()) kommuner.insert(i.location_kommunekode());
    if (!e.has_earliest_incident_at() ||
        i.occurred_at().seconds() < e.earliest_incident_at().seconds())
      *e.mutable_earliest_incident_at() = i.occurred_at();
  }
  if (v.has_forwarding()) *e.mutable_forwarded_at() = v.forwarding().forwarded_at();
  for (const auto& d : districts) e.add_incident_districts(d);
  for (int k : kommuner) e.add_incident_kommunekoder(k);
  e.set_children(n.children_size());
  e.set_incidents(n.incidents_size());
  e.set_rule(n.rule());
  e.set_rules_version(n.rules_version());
  e.set_previous_underretning_id(n.previous_underretning_id());
  e.set_scan_id(n.scan_id());
  *e.mutable_created_at() = n.created_at();
  if (n.has_receipt_due_at()) *e.mutable_receipt_due_at() = n.receipt_due_at();
  if (v.has_receipt_at()) *e.mutable_receipt_at() = v.receipt_at();
  e.set_response(v.response());
  *e.mutable_at() = to_timestamp(at);
  e.set_reason(reason.empty() ? n.reason() : reason);
  e.set_cross_district(districts.size() > 1);
  std::set<int> homes = kommuner;
  for (const auto& c : n.children())
    if (c.home_kommunekode()) homes.insert(c.home_kommunekode());
  for (const auto& a : n.adults())
    if (a.home_kommunekode()) homes.insert(a.home_kommunekode());
  e.set_cross_municipality(homes.size() > 1);
  if (v.has_receipt_at() && n.has_receipt_due_at())
    e.set_receipt_on_time(v.receipt_at().seconds() < n.receipt_due_at().seconds());
  events::emit(db, SOURCE, e);
}

std::string request_notification(sqlite::Db& db, const std::string& recipient_id,
                                 v1::NotificationKind kind, const v1::UnderretningNotice& notice,
                                 sqlite::Instant now) {
  // Children and adults travel sealed under the underretning's key
  // (docs/decisions.md 22); a notice without them (RECEIPT_MISSED) in clear.
  const bool persons = !notice.children().empty() || !notice.adults().empty() ||
                       std::any_of(notice.incidents().begin(), notice.incidents().end(),
                                   [](const auto& i) { return !i.adults().empty(); });
  const std::string key = persons ? store::underretning_key(db, notice.underretning_id()) : "";
  return henvis::request_notification(db, SOURCE, recipient_id, kind, notice, rfc3339(now), key);
}

}  // namespace henvis::socialsog
