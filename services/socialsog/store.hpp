#pragma once
// socialsog's store (docs/decisions.md 17): its schema and migrations
// (migrations(), declared in socialsog.hpp for the host and the tests) and
// every SQL statement the service runs, behind functions that take and return
// typed rows. The applier, the scanner and the API call these; none of them
// holds SQL. Each function runs inside the caller's transaction, if any.
//
// Instants are stored as INTEGER Unix milliseconds (docs/decisions.md 16) and
// pass through here only as sqlite::Instant; events and the HTTP API keep
// protobuf Timestamps / RFC 3339.

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "henvis/sqlite.hpp"
#include "henvis/v1/socialsog.pb.h"

namespace henvis::socialsog::store {

using sqlite::Instant;

// ---------------------------------------------------------------------------
// The incident window

// One received incident; its persons and children are added beside it.
struct IncidentRow {
  std::string incident_id;
  std::string district_id;
  Instant occurred_at;
  bool sent_at_scene = false;
  std::string payload;  // the serialised v1::Incident (CPR numbers normalised)
  Instant received_at;
};

// A stored incident as a scan reads it.
struct StoredPayload {
  std::string payload;   // the serialised v1::Incident
  std::int64_t seq = 0;  // ingest order
};

std::optional<StoredPayload> find_incident(sqlite::Db& db, const std::string& incident_id);
// Returns the incident's ingest number (seq).
std::int64_t insert_incident(sqlite::Db& db, const IncidentRow& row);
// `cpr` is involved in the stored incident `incident` (ingest number `seq`).
void insert_person(sqlite::Db& db, const IncidentRow& incident, std::int64_t seq,
                   const std::string& cpr, v1::PersonRole role);
// `adult_cpr` lists `child_cpr` as one of its children in the incident.
void insert_adult_child(sqlite::Db& db, const std::string& incident_id,
                        const std::string& adult_cpr, const std::string& child_cpr);
// The incident with its persons and children (a corrected one is stored anew).
void delete_incident(sqlite::Db& db, const std::string& incident_id);
// Erases the incidents that occurred before `horizon` with their persons and
// children; returns how many incidents.
int erase_incidents_before(sqlite::Db& db, Instant horizon);
// Retention: erases the persons of the underretninger created before
// `horizon` that still hold them: the children and adults of each notice,
// the record of which child was notified about which incident, and the
// free-text notes, and its key (underretning_keys: its sealed persons in
// Kafka cannot be opened any more); marks them erased at `now`. Returns how
// many.
int erase_underretning_persons(sqlite::Db& db, Instant horizon, Instant now);

// Underretning keys (docs/decisions.md 22). The key of an underretning, made
// (32 random bytes) and stored on first use. In a transaction.
std::string underretning_key(sqlite::Db& db, const std::string& underretning_id);
// The stored key, or nothing (never made, or destroyed by retention).
std::optional<std::string> find_underretning_key(sqlite::Db& db,
                                                 const std::string& underretning_id);
// Whether the underretning exists and its persons were erased (retention).
bool persons_erased(sqlite::Db& db, const std::string& underretning_id);

// The highest ingest number stored (0 when the window is empty).
std::int64_t last_incident_seq(sqlite::Db& db);
// Incident ids with ingest numbers in (after_seq, up_to_seq], in ingest order.
std::vector<std::string> incidents_received(sqlite::Db& db, std::int64_t after_seq,
                                            std::int64_t up_to_seq);
// Incident ids that occurred in [from, to), in ingest order.
std::vector<std::string> incidents_occurred(sqlite::Db& db, Instant from, Instant to);

// The children `adult_cpr` has listed in any incident.
std::vector<std::string> children_of(sqlite::Db& db, const std::string& adult_cpr);
// The adults who have listed `child_cpr` in any incident.
std::vector<std::string> adults_of(sqlite::Db& db, const std::string& child_cpr);
// The most recent incident (by occurrence, then ingest) listing the child.
struct Listing {
  std::string incident_id;
  StoredPayload stored;
};
std::optional<Listing> latest_incident_listing(sqlite::Db& db, const std::string& child_cpr);

// An incident a person is involved in, and in which role (with the incident).
struct Involved {
  std::string incident_id;
  v1::PersonRole role = v1::PERSON_ROLE_UNSPECIFIED;
  StoredPayload stored;
};
// The incidents `cpr` is involved in that occurred in [from, before).
std::vector<Involved> involvements(sqlite::Db& db, const std::string& cpr, Instant from,
                                   Instant before);

// ---------------------------------------------------------------------------
// Which incidents each child has been notified about

// The incidents `child_cpr` has been notified about.
std::vector<std::string> notified_incidents(sqlite::Db& db, const std::string& child_cpr);

struct Notified {
  std::string underretning_id;
  std::int64_t seq = 0;  // the underretning's creation order
};
// The latest underretning about the child, if any.
std::optional<Notified> last_notified(sqlite::Db& db, const std::string& child_cpr);
// Records (once) that the child was notified about the incident by the underretning.
void mark_notified(sqlite::Db& db, const std::string& child_cpr, const std::string& incident_id,
                   const Notified& by);

// ---------------------------------------------------------------------------
// Scans and the weekly schedule

struct ScanRow {
  std::string scan_id;
  std::string kind;  // "weekly" or "on_demand"
  Instant started_at;
  v1::ScanView view;
};
void insert_scan(sqlite::Db& db, const ScanRow& row);
std::optional<v1::ScanView> find_scan(sqlite::Db& db, const std::string& scan_id);

// The highest ingest number the weekly scans have covered (0 before the first).
std::int64_t watermark(sqlite::Db& db);
void set_watermark(sqlite::Db& db, std::int64_t seq);
// What a scan's results rest on besides the incidents: the watermark and the
// last underretning created. A scan reads it in its read phase and again in
// its write transaction; a change means another connection scanned meanwhile.
struct ScanState {
  std::int64_t watermark = 0;
  std::int64_t last_underretning = 0;
  bool operator==(const ScanState&) const = default;
};
ScanState scan_state(sqlite::Db& db);
// The scheduled instant the last weekly scan stood for, if one ran.
std::optional<Instant> weekly_slot(sqlite::Db& db);
void set_weekly_slot(sqlite::Db& db, Instant slot);

// ---------------------------------------------------------------------------
// Underretninger

struct UnderretningRow {
  v1::UnderretningNotice notice;  // carries its id, kommunekode and district
  std::string recipient_id;       // empty: listed for the district's coordinators
  std::string notification_id;    // empty without a recipient
  Instant created_at;
  std::optional<Instant> receipt_due_at;
};
// Stores a new underretning; returns its creation order (for mark_notified).
std::int64_t insert_underretning(sqlite::Db& db, const UnderretningRow& row);
// Lists the underretning for the coordinators of `district_id` (once).
void add_district(sqlite::Db& db, const std::string& underretning_id,
                  const std::string& district_id);

// The ids of the underretninger sent to `recipient_id`, oldest first.
std::vector<std::string> underretninger_to(sqlite::Db& db, const std::string& recipient_id);
// The ids of the underretninger listed for `district_id`, oldest first.
std::vector<std::string> underretninger_of_district(sqlite::Db& db, const std::string& district_id);
// The not yet delivered underretning notification `notification_id` carries.
std::optional<std::string> undelivered(sqlite::Db& db, const std::string& notification_id);
// The underretninger whose receipt is due by `now`, neither received nor
// reported missed, by deadline.
std::vector<std::string> receipts_due(sqlite::Db& db, Instant now);

void set_delivered(sqlite::Db& db, const std::string& underretning_id, Instant at);
// `by`: "inbox" (acknowledged in notifier's inbox) or the principal's label;
// `person`: the person acting through henvis-web ("" otherwise).
void set_receipt(sqlite::Db& db, const std::string& underretning_id, Instant at,
                 const std::string& by, const std::string& person = "");
void set_missed(sqlite::Db& db, const std::string& underretning_id, Instant at);
// Appends a response to the underretning's history and makes it the current
// one. An empty note is stored as none.
void add_response(sqlite::Db& db, const std::string& underretning_id,
                  const v1::UnderretningResponseEntry& entry);
// The underretning's responses, oldest first.
std::vector<v1::UnderretningResponseEntry> responses(sqlite::Db& db,
                                                     const std::string& underretning_id);
void set_forwarding(sqlite::Db& db, const std::string& underretning_id,
                    const v1::UnderretningForwarding& f);

// The underretning the notification `notification_id` carries, delivered or not.
std::optional<std::string> by_notification(sqlite::Db& db, const std::string& notification_id);
// Whether the underretning is listed for the coordinators of `district_id`.
bool listed_for_district(sqlite::Db& db, const std::string& underretning_id,
                         const std::string& district_id);

// GET /v1/underretninger: whose list, which status, and where a page starts.
// The order: those without a receipt first (group 0) by receipt deadline
// (those without a clock after them), then the received ones (group 1)
// newest first; the id breaks ties. `key` is the group's sort value
// (deadline, or minus the creation instant, in Unix ms).
struct ListKey {
  std::int64_t group = -1;
  std::int64_t key = 0;
  std::string underretning_id;
};
struct ListFilter {
  bool municipality = false;  // the recipient's list, else the district's
  std::string scope;          // recipient id or district id
  std::string status;         // "" (all), pending, overdue, received, responded
  Instant now;                // for overdue
};
// At most `limit` items after `after` (none: from the start).
std::vector<ListKey> list_underretninger(sqlite::Db& db, const ListFilter& f,
                                         const std::optional<ListKey>& after, std::size_t limit);

// GET /v1/scans: newest first, the id breaking ties; `key` is minus the
// start instant in Unix ms.
struct ScanKey {
  std::int64_t key = 0;
  std::string scan_id;
};
std::vector<std::pair<ScanKey, v1::ScanView>> list_scans(sqlite::Db& db,
                                                         const std::optional<ScanKey>& after,
                                                         std::size_t limit);

// load_underretning (socialsog.hpp) reads one underretning's view.

}  // namespace henvis::socialsog::store
