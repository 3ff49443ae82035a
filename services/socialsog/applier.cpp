// The incident window (consumed from police.incidents.v1) and deliveries of
// underretninger (henvis.deliveries.v1).
#include <spdlog/spdlog.h>

#include "henvis/ids.hpp"
#include "henvis/validate.hpp"
#include "outgoing.hpp"
#include "socialsog.hpp"
#include "store.hpp"

namespace henvis::socialsog {

Applier::Applier(Settings settings, const Clock& clock)
    : settings_(std::move(settings)), clock_(clock) {
  subs_.on(this, &Applier::on_incident).on(this, &Applier::on_delivery);
}

namespace {
// The incident's row, persons and the children each adult lists (a person
// listing themselves as a child is not their own child).
void store_incident(sqlite::Db& db, const v1::Incident& in, const std::string& payload,
                    sqlite::Instant received_at) {
  const store::IncidentRow row{in.incident_id(),
                               in.district_id(),
                               to_time_point(in.occurred_at()),
                               in.underretning_sent_at_scene(),
                               payload,
                               received_at};
  const std::int64_t seq = store::insert_incident(db, row);
  for (const auto& person : in.involved()) {
    store::insert_person(db, row, seq, person.cpr(), person.role());
    for (const auto& child : person.children())
      if (child.cpr() != person.cpr())
        store::insert_adult_child(db, in.incident_id(), person.cpr(), child.cpr());
  }
}
}  // namespace

void Applier::on_incident(const v1::Incident& original, sqlite::Db& db) {
  if (auto r = invalid_incident(original)) throw Rejected(*r);
  // Stored with CPR numbers in one spelling (no hyphen).
  v1::Incident in = original;
  for (auto& p : *in.mutable_involved()) {
    p.set_cpr(validate::normalise_cpr(p.cpr()));
    for (auto& c : *p.mutable_children()) c.set_cpr(validate::normalise_cpr(c.cpr()));
  }
  const std::string payload = in.SerializeAsString();
  if (auto stored = store::find_incident(db, in.incident_id())) {
    if (stored->payload == payload) {
      spdlog::info("incident already in the window incident_id={}", in.incident_id());
      return;
    }
    // A corrected incident replaces the stored one and counts as received
    // anew (the next scan considers it again; nothing is notified twice).
    store::delete_incident(db, in.incident_id());
    spdlog::info("incident corrected incident_id={}", in.incident_id());
  }
  store_incident(db, in, payload, clock_.now());
  const IncidentMatch match = settings_.rules.match(in);
  spdlog::info("incident received incident_id={} district={} watched={} persons={}",
               in.incident_id(), in.district_id(), match.watched, in.involved_size());
}

void Applier::on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db) {
  if (d.notification_id().empty()) return;
  if (d.status() == v1::DELIVERY_STATUS_DELIVERED) return delivered(d, db);
  if (d.status() == v1::DELIVERY_STATUS_ACKNOWLEDGED) return acknowledged(d, db);
}

namespace {
// The delivery's instant as stored; a time_point holds only times of this era.
sqlite::Instant delivery_time(const v1::DeliveryEvent& d, const Clock& clock) {
  if (d.has_at() && !valid_event_time(d.at())) throw Rejected("field at is not a valid time");
  return sqlite::as_stored(d.has_at() ? to_time_point(d.at()) : clock.now());
}
}  // namespace

void Applier::delivered(const v1::DeliveryEvent& d, sqlite::Db& db) {
  const auto id = store::undelivered(db, d.notification_id());
  if (!id) return;  // not an underretning (a referral's), or already delivered
  const sqlite::Instant at = delivery_time(d, clock_);
  store::set_delivered(db, *id, at);
  auto v = load_underretning(db, *id);
  emit_event(db, *v, "delivered", at);
  spdlog::info("underretning delivered underretning_id={} recipient={}", *id, d.recipient_id());
}

// The municipality acknowledged the underretning in its inbox: that is its
// receipt (kvittering), at the acknowledgement's time, unless one is
// recorded already (a second acknowledgement changes nothing). A
// coordinator acknowledging one sent to it for a municipality without a
// henvis account is not the municipality's receipt.
void Applier::acknowledged(const v1::DeliveryEvent& d, sqlite::Db& db) {
  const auto id = store::by_notification(db, d.notification_id());
  if (!id) return;  // not an underretning's notification
  auto v = load_underretning(db, *id);
  if (!v->notice().reason().empty() || v->has_receipt_at()) return;
  const sqlite::Instant at = delivery_time(d, clock_);
  if (!v->has_delivered_at()) {
    store::set_delivered(db, *id, at);
    *v->mutable_delivered_at() = to_timestamp(at);
    emit_event(db, *v, "delivered", at);
  }
  store::set_receipt(db, *id, at, "inbox");
  *v->mutable_receipt_at() = to_timestamp(at);
  v->set_receipt_recorded_by("inbox");
  emit_event(db, *v, "receipt_recorded", at);
  spdlog::info("receipt recorded from the inbox underretning_id={} recipient={}", *id,
               d.recipient_id());
}

}  // namespace henvis::socialsog
