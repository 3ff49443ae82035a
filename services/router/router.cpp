#include "router.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/service.hpp"
#include "henvis/topics.hpp"
#include "henvis/validate.hpp"
#include "referral_store.hpp"

namespace henvis::router {

using google::protobuf::util::TimeUtil;

namespace {
constexpr auto DAYS_90 = std::chrono::hours(24 * 90);
// Five years, counting leap days: 5 * 365 + 2.
constexpr auto YEARS_5 = std::chrono::hours(24 * (5 * 365 + 2));
}  // namespace

Settings Settings::from(const v1::RouterSettings& s) {
  Settings out;
  if (s.max_contact_attempts() < 0 || s.reminder_working_days() < 0 ||
      s.check_interval_seconds() < 0)
    throw std::invalid_argument("router settings must not be negative");
  if (s.max_contact_attempts()) out.max_contact_attempts = s.max_contact_attempts();
  if (s.reminder_working_days()) out.reminder_working_days = s.reminder_working_days();
  if (s.check_interval_seconds()) out.check_interval_seconds = s.check_interval_seconds();
  return out;
}

std::string load_person_key(sqlite::Db& db, const std::string& file) {
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in || ss.str().size() < 16)
      throw std::invalid_argument("router: person_key_file must hold at least 16 bytes");
    return ss.str();
  }
  sqlite::Transaction tx(db);
  sqlite::Stmt sel(db, "SELECT value FROM secrets WHERE name = 'person_key'");
  if (sel.step()) return sel.blob(0);
  spdlog::warn("router person_key_file not set: using a key kept in the router database");
  std::string key = new_uuid() + new_uuid();
  sqlite::Stmt ins(db, "INSERT INTO secrets(name, value) VALUES ('person_key', ?)");
  ins.bind_blob(1, key).run();
  tx.commit();
  return key;
}

std::vector<std::string> migrations() {
  return {std::string(outbox::MIGRATION) + ConsumerLoop::MIGRATION + access_log::MIGRATION + R"sql(
CREATE TABLE referrals (
  referral_id TEXT PRIMARY KEY,
  offer_id TEXT NOT NULL UNIQUE,
  status INTEGER NOT NULL,
  centre_id TEXT NOT NULL,
  kommunekode INTEGER NOT NULL,
  district_id TEXT NOT NULL,
  directory_version TEXT NOT NULL,
  journal_number TEXT NOT NULL,
  offence INTEGER NOT NULL,
  charged_at TEXT NOT NULL,
  cpr TEXT,
  name TEXT,
  phone TEXT,
  email TEXT,
  preferred_contact_time TEXT,
  consent_version TEXT,
  consent_given_at TEXT,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX referrals_centre ON referrals(centre_id, created_at);
CREATE INDEX referrals_district ON referrals(district_id, created_at);
CREATE TABLE referral_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  referral_id TEXT NOT NULL REFERENCES referrals(referral_id),
  status INTEGER NOT NULL,
  at TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX referral_history_referral ON referral_history(referral_id);
)sql",
          R"sql(
ALTER TABLE referrals ADD COLUMN contact_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN last_activity_at TEXT;
ALTER TABLE referrals ADD COLUMN reminded_at TEXT;
ALTER TABLE referrals ADD COLUMN escalated_at TEXT;
ALTER TABLE referrals ADD COLUMN prior_90d INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN prior_5y INTEGER NOT NULL DEFAULT 0;
UPDATE referrals SET last_activity_at = updated_at;
ALTER TABLE referral_history ADD COLUMN occurred_at TEXT;
ALTER TABLE referral_history ADD COLUMN note TEXT;
CREATE INDEX referrals_waiting ON referrals(status, last_activity_at);
-- Pseudonymous: HMAC of the CPR number, for counting repeat referrals.
CREATE TABLE person_index (
  referral_id TEXT PRIMARY KEY,
  person_key TEXT NOT NULL,
  charged_at TEXT NOT NULL
);
CREATE INDEX person_index_key ON person_index(person_key, charged_at);
CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE idempotency (
  key TEXT PRIMARY KEY,
  referral_id TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)sql",
          // The kit's tables store instants as Unix milliseconds (docs/decisions.md 16).
          outbox::migration_unix_ms() + ConsumerLoop::migration_unix_ms() +
              access_log::migration_unix_ms()};
}

Applier::Applier(Directory directory, Settings settings, const Clock& clock)
    : directory_(std::move(directory)), settings_(std::move(settings)), clock_(clock) {
  subs_.on(this, &Applier::on_offer)
      .on(this, &Applier::on_withdrawn)
      .on(this, &Applier::on_delivery);
}

namespace {
// Throws Rejected for an offer that can never be applied; false for a
// declined offer, which has nothing to route (evaluation counts it).
bool to_route(const v1::OfferRecorded& o) {
  if (o.offer_id().empty()) throw Rejected("missing field offer_id");
  if (o.answer() == v1::ANSWER_NO) return false;
  if (o.answer() != v1::ANSWER_YES) throw Rejected("field answer is not ANSWER_YES or ANSWER_NO");
  if (o.referral_id().empty()) throw Rejected("missing field referral_id");
  if (!o.has_charged_at()) throw Rejected("missing field charged_at");
  if (!valid_event_time(o.charged_at())) throw Rejected("field charged_at is not a valid time");
  if (!v1::Offence_IsValid(o.offence())) throw Rejected("field offence is not a known offence");
  if (o.consent().has_given_at() && !valid_event_time(o.consent().given_at()))
    throw Rejected("field consent.given_at is not a valid time");
  if (o.district_id().empty()) throw Rejected("missing field district_id");
  if (validate::cpr(o.person().cpr())) throw Rejected("field person.cpr is not a valid CPR number");
  if (o.person().name().empty()) throw Rejected("missing field person.name");
  if (validate::phone(o.person().phone()))
    throw Rejected("field person.phone is not a valid phone");
  return true;
}

// The same offer arriving under another ce_id (a re-registration) must not
// make a second referral.
bool already_routed(sqlite::Db& db, const v1::OfferRecorded& o) {
  sqlite::Stmt exists(db, "SELECT 1 FROM referrals WHERE referral_id = ? OR offer_id = ?");
  exists.bind(1, o.referral_id()).bind(2, o.offer_id());
  return exists.step();
}

// Earlier charges of the same person, by pseudonym.
struct Priors {
  int days_90 = 0;
  int years_5 = 0;
};

// Counts the person's earlier charges, then indexes this one under the pseudonym.
Priors index_person(sqlite::Db& db, const std::string& key, const v1::OfferRecorded& o) {
  const std::string person_key = hmac_sha256_hex(key, validate::normalise_cpr(o.person().cpr()));
  const auto charged =
      std::chrono::system_clock::time_point(std::chrono::seconds(o.charged_at().seconds()));
  auto count_since = [&](std::chrono::system_clock::duration back) {
    sqlite::Stmt c(db,
                   "SELECT count(*) FROM person_index WHERE person_key = ? AND charged_at >= ? "
                   "AND charged_at < ?");
    c.bind(1, person_key).bind(2, rfc3339(charged - back)).bind(3, rfc3339(charged));
    c.step();
    return static_cast<int>(c.i64(0));
  };
  Priors priors;
  priors.days_90 = count_since(DAYS_90);
  priors.years_5 = count_since(YEARS_5);
  sqlite::Stmt idx(db,
                   "INSERT INTO person_index(referral_id, person_key, charged_at) VALUES (?,?,?)");
  idx.bind(1, o.referral_id()).bind(2, person_key).bind(3, rfc3339(charged)).run();
  return priors;
}

void insert_referral(sqlite::Db& db, const v1::OfferRecorded& o, const RouteResult& route,
                     v1::ReferralStatus status, const std::string& directory_version,
                     const std::string& now, const Priors& priors) {
  sqlite::Stmt ins(
      db,
      "INSERT INTO referrals(referral_id, offer_id, status, centre_id, kommunekode, district_id, "
      "directory_version, journal_number, offence, charged_at, cpr, name, phone, email, "
      "preferred_contact_time, consent_version, consent_given_at, reason, created_at, updated_at, "
      "last_activity_at, prior_90d, prior_5y) VALUES "
      "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  ins.bind(1, o.referral_id()).bind(2, o.offer_id()).bind(3, static_cast<int>(status));
  ins.bind(4, route.centre_id).bind(5, o.kommunekode()).bind(6, o.district_id());
  ins.bind(7, directory_version).bind(8, o.journal_number()).bind(9, static_cast<int>(o.offence()));
  ins.bind(10, to_rfc3339(o.charged_at())).bind(11, o.person().cpr()).bind(12, o.person().name());
  ins.bind(13, o.person().phone()).bind(14, o.person().email());
  ins.bind(15, o.person().preferred_contact_time()).bind(16, o.consent().text_version());
  ins.bind(17, to_rfc3339(o.consent().given_at())).bind(18, route.reason).bind(19, now);
  ins.bind(20, now).bind(21, now).bind(22, priors.days_90).bind(23, priors.years_5).run();
}

// Tells the centre of a routed referral, or the district's coordinator of an
// unroutable one.
void announce_referral(sqlite::Db& db, const ReferralRow& row, const RouteResult& route,
                       const Directory& dir, const std::string& now) {
  v1::ReferralContact c = contact_of(db, row, dir);
  if (route.routed) {
    request_notification(db, route.centre_id, v1::NOTIFICATION_KIND_NEW_REFERRAL, c, now);
  } else if (const auto* coord = dir.coordinator(row.district_id)) {
    request_notification(db, coord->id(), v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL, c, now);
  } else {
    // Still listed by GET /v1/referrals?status=unroutable for the district.
    spdlog::warn("no coordinator configured district={} referral_id={}", row.district_id,
                 row.referral_id);
  }
}
}  // namespace

void Applier::on_offer(const v1::OfferRecorded& o, sqlite::Db& db) {
  if (!to_route(o)) return;
  if (already_routed(db, o)) {
    spdlog::info("offer already routed referral_id={}", o.referral_id());
    return;
  }

  const auto day = copenhagen_date(o.charged_at().seconds());
  RouteResult route = directory_.route(o.kommunekode(), day);
  const auto status = route.routed ? v1::REFERRAL_STATUS_ROUTED : v1::REFERRAL_STATUS_UNROUTABLE;
  const std::string now = rfc3339(clock_.now());
  const Priors priors = index_person(db, settings_.person_key, o);
  insert_referral(db, o, route, status, directory_.version(), now, priors);

  ReferralRow row = load_referral(db, o.referral_id());
  add_history(db, row.referral_id, v1::REFERRAL_STATUS_RECEIVED, now, "", now, "");
  add_history(db, row.referral_id, status, now, route.reason, now, "");
  emit_status(db, row, v1::REFERRAL_STATUS_RECEIVED, v1::REFERRAL_STATUS_UNSPECIFIED, "", now, now);
  emit_status(db, row, status, v1::REFERRAL_STATUS_RECEIVED, route.reason, now, now);
  announce_referral(db, row, route, directory_, now);
  spdlog::info(
      "referral created referral_id={} status={} centre={} directory_version={} "
      "prior_90d={} prior_5y={}",
      o.referral_id(), status_name(status), route.centre_id, directory_.version(), priors.days_90,
      priors.years_5);
}

void Applier::on_withdrawn(const v1::OfferWithdrawn& w, sqlite::Db& db) {
  if (w.referral_id().empty()) throw Rejected("missing field referral_id");
  if (w.has_at() && !valid_event_time(w.at())) throw Rejected("field at is not a valid time");
  std::optional<ReferralRow> row = find_referral(db, w.referral_id());
  if (!row) throw Rejected("withdrawal for an unknown referral_id");
  if (row->status == v1::REFERRAL_STATUS_WITHDRAWN) return;
  const std::string now = rfc3339(clock_.now());
  const std::string at = w.has_at() ? to_rfc3339(w.at()) : now;
  // Erase the contact data at once; keep what the statistics need.
  erase_person(db, row->referral_id);
  erased_ = true;
  set_status(db, row->referral_id, v1::REFERRAL_STATUS_WITHDRAWN, now, row->contact_attempts);
  add_history(db, row->referral_id, v1::REFERRAL_STATUS_WITHDRAWN, now, "consent_withdrawn", at,
              "");
  emit_status(db, *row, v1::REFERRAL_STATUS_WITHDRAWN, row->status, "consent_withdrawn", now, at);
  row->status = v1::REFERRAL_STATUS_WITHDRAWN;
  v1::ReferralContact c = contact_of(db, *row, directory_);
  c.set_reason("consent_withdrawn");
  std::string recipient = row->centre_id;
  if (recipient.empty())
    if (const auto* coord = directory_.coordinator(row->district_id)) recipient = coord->id();
  if (!recipient.empty())
    request_notification(db, recipient, v1::NOTIFICATION_KIND_WITHDRAWN, c, now);
  spdlog::info("consent withdrawn referral_id={} contact data erased", row->referral_id);
}

void Applier::on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db) {
  if (d.referral_id().empty()) return;  // not about a referral
  // An unknown status (proto3 keeps any number) is a newer producer's: refuse
  // it (DLQ, replayable after an upgrade) rather than drop it silently.
  if (d.status() == v1::DELIVERY_STATUS_UNSPECIFIED || !v1::DeliveryStatus_IsValid(d.status()))
    throw Rejected("field status is not a known delivery status");
  if (d.has_at() && !valid_event_time(d.at())) throw Rejected("field at is not a valid time");
  v1::ReferralStatus target;
  std::vector<v1::ReferralStatus> from;
  if (d.status() == v1::DELIVERY_STATUS_DELIVERED) {
    target = v1::REFERRAL_STATUS_DELIVERED;
    from = {v1::REFERRAL_STATUS_ROUTED};
  } else if (d.status() == v1::DELIVERY_STATUS_ACKNOWLEDGED) {
    target = v1::REFERRAL_STATUS_ACKNOWLEDGED;
    from = {v1::REFERRAL_STATUS_ROUTED, v1::REFERRAL_STATUS_DELIVERED};
  } else {
    return;  // read receipts and failures do not move the referral
  }
  std::optional<ReferralRow> row = find_referral(db, d.referral_id());
  if (!row) throw Rejected("delivery for an unknown referral_id");
  // Only the centre's own deliveries move the referral (not a coordinator's copy).
  if (row->centre_id != d.recipient_id()) return;
  if (std::find(from.begin(), from.end(), row->status) == from.end()) return;  // already past it
  const std::string now = rfc3339(clock_.now());
  const std::string at = d.has_at() ? to_rfc3339(d.at()) : now;
  // A delivery is not the centre recording something: the reminder clock
  // keeps running from routing.
  sqlite::Stmt up(db, "UPDATE referrals SET status = ?, updated_at = ? WHERE referral_id = ?");
  up.bind(1, static_cast<int>(target)).bind(2, now).bind(3, row->referral_id).run();
  add_history(db, row->referral_id, target, now, "", at, "");
  emit_status(db, *row, target, row->status, "", now, at);
}

Reminders::Reminders(std::string db_path, Directory directory, Settings settings,
                     workdays::Calendar calendar, const Clock& clock, outbox::Relay* relay)
    : db_path_(std::move(db_path)),
      directory_(std::move(directory)),
      settings_(std::move(settings)),
      calendar_(std::move(calendar)),
      clock_(clock),
      relay_(relay) {}

int Reminders::run_once(sqlite::Db& db) {
  const auto now = clock_.now();
  const auto now_s = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const std::string now_str = rfc3339(now);
  int sent = 0;
  sqlite::Transaction tx(db);
  sqlite::Stmt sel(db,
                   "SELECT referral_id, last_activity_at, reminded_at FROM referrals "
                   "WHERE status IN (?,?,?,?,?) AND escalated_at IS NULL");
  int i = 1;
  for (auto s :
       {v1::REFERRAL_STATUS_ROUTED, v1::REFERRAL_STATUS_DELIVERED, v1::REFERRAL_STATUS_ACKNOWLEDGED,
        v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, v1::REFERRAL_STATUS_REACHED})
    sel.bind(i++, static_cast<int>(s));
  struct Due {
    std::string id;
    bool escalate;
  };
  std::vector<Due> due;
  while (sel.step()) {
    const bool reminded = !sel.is_null(2);
    const auto since = parse_rfc3339(reminded ? sel.text(2) : sel.text(1));
    if (now_s >= calendar_.deadline(since, settings_.reminder_working_days))
      due.push_back({sel.text(0), reminded});
  }
  for (const auto& d : due) {
    ReferralRow row = load_referral(db, d.id);
    v1::ReferralContact c = contact_of(db, row, directory_);
    if (!d.escalate) {
      c.set_reason("no_outcome_recorded");
      request_notification(db, row.centre_id, v1::NOTIFICATION_KIND_REMINDER, c, now_str);
      sqlite::Stmt up(db, "UPDATE referrals SET reminded_at = ? WHERE referral_id = ?");
      up.bind(1, now_str).bind(2, d.id).run();
      spdlog::info("reminder sent referral_id={} centre={}", d.id, row.centre_id);
    } else {
      c.set_reason("no_outcome_after_reminder");
      if (const auto* coord = directory_.coordinator(row.district_id))
        request_notification(db, coord->id(), v1::NOTIFICATION_KIND_ESCALATION, c, now_str);
      else
        spdlog::warn("no coordinator to escalate to district={} referral_id={}", row.district_id,
                     d.id);
      sqlite::Stmt up(db, "UPDATE referrals SET escalated_at = ? WHERE referral_id = ?");
      up.bind(1, now_str).bind(2, d.id).run();
      spdlog::info("escalated referral_id={} district={}", d.id, row.district_id);
    }
    ++sent;
  }
  tx.commit();
  if (sent && relay_) relay_->notify();
  return sent;
}

void Reminders::run(const std::atomic<bool>& stop) {
  sqlite::Db db(db_path_);
  every(std::chrono::seconds(settings_.check_interval_seconds), stop, "reminder pass",
        [&] { run_once(db); });
}

}  // namespace henvis::router
