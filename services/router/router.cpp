#include "router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "henvis/config.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/partition_keys.hpp"
#include "henvis/service.hpp"
#include "henvis/topics.hpp"
#include "henvis/validate.hpp"
#include "outbound.hpp"
#include "store.hpp"

namespace henvis::router {

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
  const retention::Period half_year = std::chrono::days(180);
  out.contact_retention = {
      {v1::REFERRAL_STATUS_CLOSED, retention::period(s.has_closed_retention(), s.closed_retention(),
                                                     half_year, "router.closed_retention")},
      {v1::REFERRAL_STATUS_DECLINED,
       retention::period(s.has_declined_retention(), s.declined_retention(), half_year,
                         "router.declined_retention")},
      {v1::REFERRAL_STATUS_UNREACHABLE,
       retention::period(s.has_unreachable_retention(), s.unreachable_retention(), half_year,
                         "router.unreachable_retention")},
      {v1::REFERRAL_STATUS_EXPIRED,
       retention::period(s.has_expired_retention(), s.expired_retention(), half_year,
                         "router.expired_retention")},
  };
  return out;
}

std::string load_person_key(sqlite::Db& db, const std::string& file, bool dev) {
  return config::key_from_file_or_dev_db("router.person_key_file", file, 16, dev, db, "person_key");
}

std::int64_t person_pseudonym(std::string_view person_key, std::string_view cpr) {
  const std::string hmac = hmac_sha256_hex(person_key, validate::normalise_cpr(cpr));
  // Its first 16 hex digits, as migration 13 reads the HMACs stored before.
  return static_cast<std::int64_t>(std::stoull(hmac.substr(0, 16), nullptr, 16));
}

Applier::Applier(Directory directory, Settings settings, const Clock& clock)
    : directory_(std::move(directory)), settings_(std::move(settings)), clock_(clock) {
  subs_.on(this, &Applier::on_offer)
      .on(this, &Applier::on_withdrawn)
      .on(this, &Applier::on_delivery)
      .around_batch([this](const auto& batch, sqlite::Db& db) { fetch_keys(batch, db); },
                    [this] { keys_.forget(); });
}

void Applier::fetch_keys(const std::vector<kafka::Message>& batch, sqlite::Db& db) {
  if (!keys_.configured()) return;
  Store store(db);
  std::vector<std::string> ids;
  // Not for an offer it already knows: on_offer does not open the same offer
  // again (after retention or a withdrawal its key is gone here on purpose,
  // and a replay must not fetch it, nor wait for intake), and refuses or
  // skips another with a known id without routing it.
  for (const auto& o : events::of_type<v1::OfferRecorded>(batch))
    if (o.has_sealed_person() && !o.referral_id().empty() && !store.data_key(o.referral_id()) &&
        !store.knows(o.referral_id(), o.offer_id()))
      ids.push_back(o.referral_id());
  keys_.fetch(ids);
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

// Earlier charges of the same person, by pseudonym.
struct Priors {
  int days_90 = 0;
  int years_5 = 0;
};

// Counts the person's earlier charges, then indexes this one under the
// pseudonym. Whole seconds, as the window has always been counted.
Priors index_person(Store& store, const std::string& key, const v1::OfferRecorded& o) {
  const std::int64_t person = person_pseudonym(key, o.person().cpr());
  const Instant charged{std::chrono::seconds(o.charged_at().seconds())};
  const ChargeCounts earlier =
      store.count_charges(person, charged - DAYS_90, charged - YEARS_5, charged);
  store.index_charge(o.referral_id(), person, charged);
  return {earlier.recent, earlier.all};
}

Referral new_referral(const v1::OfferRecorded& o, const RouteResult& route,
                      v1::ReferralStatus status, const std::string& directory_version,
                      const Priors& priors) {
  Referral r;
  r.row.referral_id = o.referral_id();
  r.row.offer_id = o.offer_id();
  r.row.status = status;
  r.row.centre_id = route.centre_id;
  r.row.kommunekode = o.kommunekode();
  r.row.district_id = o.district_id();
  r.row.directory_version = directory_version;
  r.row.offence = o.offence();
  r.row.charged_at = to_time_point(o.charged_at());
  r.row.prior_90d = priors.days_90;
  r.row.prior_5y = priors.years_5;
  r.journal_number = o.journal_number();
  r.person = PersonRow{o.person().cpr(),
                       o.person().name(),
                       o.person().phone(),
                       o.person().email(),
                       o.person().preferred_contact_time(),
                       o.consent().text_version(),
                       to_time_point(o.consent().given_at())};
  r.reason = route.reason;
  return r;
}

// Tells the centre of a routed referral, or the district's coordinator of an
// unroutable one.
void announce_referral(Store& store, const ReferralRow& row, const RouteResult& route,
                       const Directory& dir, Instant now) {
  v1::ReferralContact c = contact_of(store, row, dir);
  if (route.routed) {
    request_notification(store.db(), route.centre_id, v1::NOTIFICATION_KIND_NEW_REFERRAL, c, now);
  } else if (const auto* coord = dir.coordinator(row.district_id)) {
    request_notification(store.db(), coord->id(), v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL, c,
                         now);
  } else {
    // Still listed by GET /v1/referrals?status=unroutable for the district.
    spdlog::warn("no coordinator configured district={} referral_id={}", row.district_id,
                 row.referral_id);
  }
}
}  // namespace

std::optional<v1::OfferRecorded> Applier::unseal(const v1::OfferRecorded& o, Store& store) {
  if (!o.has_sealed_person()) return o;  // from a producer before sealing
  if (o.referral_id().empty()) throw Rejected("missing field referral_id");
  if (o.sealed_person().key_id() != o.referral_id())
    throw Rejected("field sealed_person.key_id is not the referral_id");
  std::optional<std::string> key = store.data_key(o.referral_id());
  if (!key) key = keys_.key(o.referral_id());  // throws while intake cannot answer
  if (!key) {  // withdrawn before it got here: nothing of the person to record
    store.add_shredded(o.referral_id());
    ++shredded_;
    spdlog::info("offer's data key is gone, person erased referral_id={}", o.referral_id());
    return std::nullopt;
  }
  auto person =
      data_keys::open(*key, o.sealed_person(), data_keys::offer_ad(o.offer_id(), o.referral_id()));
  if (!person) throw Rejected("field sealed_person does not open under the referral's data key");
  store.put_data_key(o.referral_id(), *key);
  v1::OfferRecorded out = o;
  *out.mutable_person() = std::move(*person);
  out.clear_sealed_person();
  return out;
}

void Applier::on_offer(const v1::OfferRecorded& sealed, sqlite::Db& db) {
  Store store(db);
  // The same offer read again (a replay of the topic, a re-delivery) is not
  // opened: once retention or a withdrawal has deleted the referral's data
  // key here, a replay must not put it back. A new offer (the common case)
  // costs one lookup; the exact match is asked only of a known one.
  const bool known =
      !sealed.referral_id().empty() && store.knows(sealed.referral_id(), sealed.offer_id());
  if (known && store.holds(sealed.referral_id(), sealed.offer_id())) {
    if (sealed.has_sealed_person() && !store.data_key(sealed.referral_id())) {
      ++shredded_;  // a copy whose person's key is gone (withdrawn, or retention)
      spdlog::info("offer's data key is gone, person erased referral_id={}", sealed.referral_id());
    } else {
      spdlog::info("offer already routed referral_id={}", sealed.referral_id());
    }
    return;
  }
  const std::optional<v1::OfferRecorded> opened = unseal(sealed, store);
  if (!opened) return;
  const v1::OfferRecorded& o = *opened;
  if (!to_route(o)) return;
  // The same offer under another referral id (a re-registration) must not
  // make a second referral.
  if (known) {
    spdlog::info("offer already routed referral_id={}", o.referral_id());
    return;
  }

  const auto day = copenhagen_date(o.charged_at().seconds());
  RouteResult route = directory_.route(o.kommunekode(), day);
  // No home municipality given (intake accepts that): the coordinator finds it.
  if (o.kommunekode() == 0) route = {false, "", "municipality_missing"};
  const auto status = route.routed ? v1::REFERRAL_STATUS_ROUTED : v1::REFERRAL_STATUS_UNROUTABLE;
  const Instant now = clock_.now();
  const auto now_ts = to_timestamp(now);
  const Priors priors = index_person(store, settings_.person_key, o);
  store.insert_referral(new_referral(o, route, status, directory_.version(), priors), now);
  if (!o.partition_key().empty()) partition_keys::put(db, o.referral_id(), o.partition_key());

  ReferralRow row = store.load_referral(o.referral_id());
  store.add_history(row.referral_id, v1::REFERRAL_STATUS_RECEIVED, now, "", now, "");
  store.add_history(row.referral_id, status, now, route.reason, now, "");
  emit_status(db, row, v1::REFERRAL_STATUS_RECEIVED, v1::REFERRAL_STATUS_UNSPECIFIED, "", now_ts,
              now_ts);
  emit_status(db, row, status, v1::REFERRAL_STATUS_RECEIVED, route.reason, now_ts, now_ts);
  announce_referral(store, row, route, directory_, now);
  spdlog::info(
      "referral created referral_id={} status={} centre={} directory_version={} "
      "prior_90d={} prior_5y={}",
      o.referral_id(), status_name(status), route.centre_id, directory_.version(), priors.days_90,
      priors.years_5);
}

void Applier::on_withdrawn(const v1::OfferWithdrawn& w, sqlite::Db& db) {
  if (w.referral_id().empty()) throw Rejected("missing field referral_id");
  if (w.has_at() && !valid_event_time(w.at())) throw Rejected("field at is not a valid time");
  Store store(db);
  std::optional<ReferralRow> row = store.find_referral(w.referral_id());
  if (!row && store.shredded(w.referral_id())) return;  // its offer came after its key was gone
  if (!row) throw Rejected("withdrawal for an unknown referral_id");
  store.delete_data_key(row->referral_id);  // shredded in the router too
  if (row->status == v1::REFERRAL_STATUS_WITHDRAWN) return;
  const Instant now = clock_.now();
  const auto now_ts = to_timestamp(now);
  const auto at = w.has_at() ? w.at() : now_ts;
  // Erase the contact data at once; keep what the statistics need.
  store.erase_person(row->referral_id);
  const int dropped = store.drop_unsent_notifications(row->referral_id);
  db.note_erasure();  // the WAL is truncated when the batch commits
  store.set_status(row->referral_id, v1::REFERRAL_STATUS_WITHDRAWN, now, row->contact_attempts);
  store.add_history(row->referral_id, v1::REFERRAL_STATUS_WITHDRAWN, now, "consent_withdrawn",
                    to_time_point(at), "");
  emit_status(db, *row, v1::REFERRAL_STATUS_WITHDRAWN, row->status, "consent_withdrawn", now_ts,
              at);
  row->status = v1::REFERRAL_STATUS_WITHDRAWN;
  v1::ReferralContact c = contact_of(store, *row, directory_);
  c.set_reason("consent_withdrawn");
  std::string recipient = row->centre_id;
  if (recipient.empty())
    if (const auto* coord = directory_.coordinator(row->district_id)) recipient = coord->id();
  if (!recipient.empty())
    request_notification(db, recipient, v1::NOTIFICATION_KIND_WITHDRAWN, c, now);
  spdlog::info(
      "consent withdrawn referral_id={} contact data erased unsent_notifications_dropped={}",
      row->referral_id, dropped);
}

namespace {
// The referral status a delivery moves to, and the statuses it moves from;
// nothing for deliveries that do not move a referral.
std::optional<std::pair<v1::ReferralStatus, std::vector<v1::ReferralStatus>>> delivery_move(
    v1::DeliveryStatus s) {
  if (s == v1::DELIVERY_STATUS_DELIVERED)
    return {{v1::REFERRAL_STATUS_DELIVERED, {v1::REFERRAL_STATUS_ROUTED}}};
  if (s == v1::DELIVERY_STATUS_ACKNOWLEDGED)
    return {{v1::REFERRAL_STATUS_ACKNOWLEDGED,
             {v1::REFERRAL_STATUS_ROUTED, v1::REFERRAL_STATUS_DELIVERED}}};
  return std::nullopt;  // read receipts and failures do not move the referral
}
}  // namespace

void Applier::on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db) {
  if (d.referral_id().empty()) return;  // not about a referral
  // An unknown status (proto3 keeps any number) is a newer producer's: refuse
  // it (DLQ, replayable after an upgrade) rather than drop it silently.
  if (d.status() == v1::DELIVERY_STATUS_UNSPECIFIED || !v1::DeliveryStatus_IsValid(d.status()))
    throw Rejected("field status is not a known delivery status");
  if (d.has_at() && !valid_event_time(d.at())) throw Rejected("field at is not a valid time");
  const auto move = delivery_move(d.status());
  if (!move) return;
  const auto& [target, from] = *move;
  Store store(db);
  std::optional<ReferralRow> row = store.find_referral(d.referral_id());
  if (!row) throw Rejected("delivery for an unknown referral_id");
  // Only the centre's own deliveries move the referral (not a coordinator's copy).
  if (row->centre_id != d.recipient_id()) return;
  if (std::find(from.begin(), from.end(), row->status) == from.end()) return;  // already past it
  const Instant now = clock_.now();
  const auto now_ts = to_timestamp(now);
  const auto at = d.has_at() ? d.at() : now_ts;
  // A delivery is not the centre recording something: the reminder clock
  // keeps running from routing.
  store.set_delivery_status(row->referral_id, target, now);
  store.add_history(row->referral_id, target, now, "", to_time_point(at), "");
  emit_status(db, *row, target, row->status, "", now_ts, at);
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
  const Instant now = clock_.now();
  const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
  sqlite::Transaction tx(db);
  Store store(db);
  struct Due {
    std::string id;
    bool escalate;
  };
  std::vector<Due> due;
  for (const auto& w : store.waiting_on_centres()) {
    // Whole seconds, as the working-day calendar counts.
    const auto since = std::chrono::floor<std::chrono::seconds>(w.reminded_at ? *w.reminded_at
                                                                              : w.last_activity_at);
    if (now_s >= calendar_.deadline(since, settings_.reminder_working_days))
      due.push_back({w.referral_id, w.reminded_at.has_value()});
  }
  for (const auto& d : due) {
    ReferralRow row = store.load_referral(d.id);
    v1::ReferralContact c = contact_of(store, row, directory_);
    if (!d.escalate) {
      c.set_reason("no_outcome_recorded");
      request_notification(db, row.centre_id, v1::NOTIFICATION_KIND_REMINDER, c, now);
      store.mark_reminded(d.id, now);
      spdlog::info("reminder sent referral_id={} centre={}", d.id, row.centre_id);
    } else {
      c.set_reason("no_outcome_after_reminder");
      if (const auto* coord = directory_.coordinator(row.district_id))
        request_notification(db, coord->id(), v1::NOTIFICATION_KIND_ESCALATION, c, now);
      else
        spdlog::warn("no coordinator to escalate to district={} referral_id={}", row.district_id,
                     d.id);
      store.mark_escalated(d.id, now);
      spdlog::info("escalated referral_id={} district={}", d.id, row.district_id);
    }
  }
  tx.commit();
  if (!due.empty() && relay_) relay_->notify();
  return static_cast<int>(due.size());
}

void Reminders::run(const std::atomic<bool>& stop) {
  sqlite::Db db(db_path_);
  every(std::chrono::seconds(settings_.check_interval_seconds), stop, "reminder pass",
        [&] { run_once(db); });
}

ContactRetention::ContactRetention(std::string db_path, Settings settings, const Clock& clock,
                                   http::Metrics* metrics)
    : db_path_(std::move(db_path)),
      settings_(std::move(settings)),
      clock_(clock),
      purge_("router_contact_data", metrics) {}

int ContactRetention::run_once(sqlite::Db& db) {
  const Instant now = clock_.now();
  return purge_.run(db, [&] {
    Store store(db);
    int erased = 0;
    for (const auto& [status, period] : settings_.contact_retention)
      for (const auto& id : store.contact_kept(status, now - period)) {
        store.erase_contact(id);
        // Crypto-shredding at retention too: a copy of a sealed event kept
        // anywhere (a mirror, a backup of a topic) no longer opens here.
        store.delete_data_key(id);
        ++erased;
      }
    return erased;
  });
}

void ContactRetention::run(const std::atomic<bool>& stop) {
  sqlite::Db db(db_path_);
  every(std::chrono::seconds(settings_.check_interval_seconds), stop, "retention pass",
        [&] { run_once(db); });
}

}  // namespace henvis::router
