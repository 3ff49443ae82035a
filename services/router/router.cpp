#include "router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "henvis/access_log.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/ids.hpp"
#include "henvis/outbox.hpp"
#include "henvis/topics.hpp"
#include "henvis/validate.hpp"

#include <google/protobuf/util/time_util.h>

namespace henvis::router {

namespace {
constexpr const char* SOURCE = "/henvis/router";
constexpr const char* COLUMNS =
    "referral_id, offer_id, status, centre_id, kommunekode, district_id, directory_version, "
    "journal_number, offence, charged_at, cpr, name, phone, email, preferred_contact_time, "
    "consent_version, consent_given_at, reason, created_at";

std::string to_string(const google::protobuf::Timestamp& t) { return to_rfc3339(t); }

google::protobuf::Timestamp from_string(const std::string& s) {
  google::protobuf::Timestamp t;
  google::protobuf::util::TimeUtil::FromString(s, &t);
  return t;
}

void emit_status(sqlite::Db& db, const v1::ReferralStatusChanged& ev) {
  outbox::add(db, topics::REFERRALS,
              kafka::make_event(SOURCE, event_types::REFERRAL_PREFIX + status_name(ev.status()),
                                ev.referral_id(), ev.SerializeAsString()));
}

void add_history(sqlite::Db& db, const std::string& referral_id, v1::ReferralStatus s,
                 const std::string& at, const std::string& reason) {
  sqlite::Stmt h(db,
                 "INSERT INTO referral_history(referral_id, status, at, reason) VALUES (?,?,?,?)");
  h.bind(1, referral_id).bind(2, static_cast<int>(s)).bind(3, at).bind(4, reason).run();
}
}  // namespace

std::string status_name(v1::ReferralStatus s) {
  std::string n = v1::ReferralStatus_Name(s);
  const std::string prefix = "REFERRAL_STATUS_";
  if (n.rfind(prefix, 0) == 0) n = n.substr(prefix.size());
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  return n;
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
)sql"};
}

void Applier::apply(const kafka::Message& m, sqlite::Db& db) {
  const std::string type = m.header(kafka::header::TYPE).value_or("");
  if (m.topic == topics::OFFERS) {
    if (type != event_types::OFFER_RECORDED) throw Rejected("unexpected ce_type for offers topic");
    v1::OfferRecorded offer;
    if (!offer.ParseFromString(m.payload))
      throw Rejected("payload is not a valid henvis.v1.OfferRecorded");
    on_offer(offer, db);
  } else if (m.topic == topics::DELIVERIES) {
    if (type.rfind(event_types::DELIVERY_PREFIX, 0) != 0)
      throw Rejected("unexpected ce_type for deliveries topic");
    v1::DeliveryEvent d;
    if (!d.ParseFromString(m.payload))
      throw Rejected("payload is not a valid henvis.v1.DeliveryEvent");
    on_delivery(d, db);
  } else {
    throw Rejected("topic not consumed by router");
  }
}

void Applier::on_offer(const v1::OfferRecorded& o, sqlite::Db& db) {
  if (o.offer_id().empty()) throw Rejected("missing field offer_id");
  if (o.answer() == v1::ANSWER_NO) return;  // nothing to route; evaluation counts it
  if (o.answer() != v1::ANSWER_YES) throw Rejected("field answer is not ANSWER_YES or ANSWER_NO");
  if (o.referral_id().empty()) throw Rejected("missing field referral_id");
  if (!o.has_charged_at()) throw Rejected("missing field charged_at");
  if (o.district_id().empty()) throw Rejected("missing field district_id");
  if (validate::cpr(o.person().cpr())) throw Rejected("field person.cpr is not a valid CPR number");
  if (o.person().name().empty()) throw Rejected("missing field person.name");
  if (validate::phone(o.person().phone()))
    throw Rejected("field person.phone is not a valid phone");

  {
    // The same offer arriving under another ce_id (a re-registration) must
    // not make a second referral.
    sqlite::Stmt exists(db, "SELECT 1 FROM referrals WHERE referral_id = ? OR offer_id = ?");
    exists.bind(1, o.referral_id()).bind(2, o.offer_id());
    if (exists.step()) {
      spdlog::info("offer already routed referral_id={}", o.referral_id());
      return;
    }
  }

  const auto day = copenhagen_date(o.charged_at().seconds());
  RouteResult route = directory_.route(o.kommunekode(), day);
  const auto status = route.routed ? v1::REFERRAL_STATUS_ROUTED : v1::REFERRAL_STATUS_UNROUTABLE;
  const std::string now = now_rfc3339();

  sqlite::Stmt ins(db, std::string("INSERT INTO referrals(") + COLUMNS +
                           ", updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  ins.bind(1, o.referral_id()).bind(2, o.offer_id()).bind(3, static_cast<int>(status));
  ins.bind(4, route.centre_id).bind(5, o.kommunekode()).bind(6, o.district_id());
  ins.bind(7, directory_.version())
      .bind(8, o.journal_number())
      .bind(9, static_cast<int>(o.offence()));
  ins.bind(10, to_string(o.charged_at())).bind(11, o.person().cpr()).bind(12, o.person().name());
  ins.bind(13, o.person().phone()).bind(14, o.person().email());
  ins.bind(15, o.person().preferred_contact_time()).bind(16, o.consent().text_version());
  ins.bind(17, to_string(o.consent().given_at()))
      .bind(18, route.reason)
      .bind(19, now)
      .bind(20, now);
  ins.run();
  add_history(db, o.referral_id(), v1::REFERRAL_STATUS_RECEIVED, now, "");
  add_history(db, o.referral_id(), status, now, route.reason);

  v1::ReferralStatusChanged ev;
  ev.set_referral_id(o.referral_id());
  ev.set_offer_id(o.offer_id());
  ev.set_centre_id(route.centre_id);
  ev.set_kommunekode(o.kommunekode());
  ev.set_district_id(o.district_id());
  ev.set_directory_version(directory_.version());
  ev.set_offence(o.offence());
  *ev.mutable_charged_at() = o.charged_at();
  *ev.mutable_at() = now_timestamp();
  ev.set_status(v1::REFERRAL_STATUS_RECEIVED);
  emit_status(db, ev);
  ev.set_previous_status(v1::REFERRAL_STATUS_RECEIVED);
  ev.set_status(status);
  ev.set_reason(route.reason);
  emit_status(db, ev);

  v1::NotificationRequested n;
  n.set_notification_id(new_uuid());
  *n.mutable_requested_at() = now_timestamp();
  auto* c = n.mutable_referral();
  c->set_referral_id(o.referral_id());
  c->set_journal_number(o.journal_number());
  c->set_offence(o.offence());
  *c->mutable_charged_at() = o.charged_at();
  c->set_kommunekode(o.kommunekode());
  if (const auto* muni = directory_.municipality(o.kommunekode()))
    c->set_municipality_name(muni->name());
  *c->mutable_person() = o.person();
  *c->mutable_consent() = o.consent();
  c->set_reason(route.reason);
  if (route.routed) {
    n.set_recipient_id(route.centre_id);
    n.set_kind(v1::NOTIFICATION_KIND_NEW_REFERRAL);
  } else if (const auto* coord = directory_.coordinator(o.district_id())) {
    n.set_recipient_id(coord->id());
    n.set_kind(v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL);
  }
  if (!n.recipient_id().empty()) {
    outbox::add(db, topics::NOTIFICATIONS,
                kafka::make_event(SOURCE, event_types::NOTIFICATION_REQUESTED, n.recipient_id(),
                                  n.SerializeAsString()));
  } else {
    // Still listed by GET /v1/referrals?status=unroutable for the district.
    spdlog::warn("no coordinator configured district={} referral_id={}", o.district_id(),
                 o.referral_id());
  }
  spdlog::info("referral created referral_id={} status={} centre={} directory_version={}",
               o.referral_id(), status_name(status), route.centre_id, directory_.version());
}

void Applier::on_delivery(const v1::DeliveryEvent& d, sqlite::Db& db) {
  if (d.referral_id().empty()) return;  // not about a referral
  v1::ReferralStatus target;
  std::vector<v1::ReferralStatus> from;
  if (d.status() == v1::DELIVERY_STATUS_DELIVERED) {
    target = v1::REFERRAL_STATUS_DELIVERED;
    from = {v1::REFERRAL_STATUS_ROUTED};
  } else if (d.status() == v1::DELIVERY_STATUS_ACKNOWLEDGED) {
    target = v1::REFERRAL_STATUS_ACKNOWLEDGED;
    from = {v1::REFERRAL_STATUS_ROUTED, v1::REFERRAL_STATUS_DELIVERED};
  } else {
    return;  // read receipts do not move the referral
  }
  sqlite::Stmt sel(db,
                   "SELECT status, centre_id, offer_id, kommunekode, district_id, "
                   "directory_version, offence, charged_at FROM referrals WHERE referral_id = ?");
  sel.bind(1, d.referral_id());
  if (!sel.step()) throw Rejected("delivery for an unknown referral_id");
  auto current = static_cast<v1::ReferralStatus>(sel.i64(0));
  // Only the centre's own deliveries move the referral (not a coordinator's copy).
  if (sel.text(1) != d.recipient_id()) return;
  if (std::find(from.begin(), from.end(), current) == from.end()) return;  // already past it
  const std::string now = now_rfc3339();
  sqlite::Stmt up(db, "UPDATE referrals SET status = ?, updated_at = ? WHERE referral_id = ?");
  up.bind(1, static_cast<int>(target)).bind(2, now).bind(3, d.referral_id()).run();
  add_history(db, d.referral_id(), target, now, "");
  v1::ReferralStatusChanged ev;
  ev.set_referral_id(d.referral_id());
  ev.set_offer_id(sel.text(2));
  ev.set_previous_status(current);
  ev.set_status(target);
  ev.set_centre_id(sel.text(1));
  ev.set_kommunekode(static_cast<int>(sel.i64(3)));
  ev.set_district_id(sel.text(4));
  ev.set_directory_version(sel.text(5));
  ev.set_offence(static_cast<v1::Offence>(sel.i64(6)));
  *ev.mutable_charged_at() = from_string(sel.text(7));
  *ev.mutable_at() = now_timestamp();
  emit_status(db, ev);
}

Api::Api(const std::string& db_path, Directory directory)
    : db_(db_path), directory_(std::move(directory)) {
  db_.migrate(migrations());
}

void Api::register_routes(http::Router& router) {
  router.add("GET", "/v1/referrals", {v1::ROLE_CENTRE, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return list(r); });
  router.add("GET", "/v1/referrals/{id}", {v1::ROLE_CENTRE, v1::ROLE_COORDINATOR},
             [this](http::Request& r) { return get(r); });
}

v1::ReferralView Api::view(sqlite::Stmt& s, bool with_history) {
  v1::ReferralView v;
  v.set_referral_id(s.text(0));
  v.set_offer_id(s.text(1));
  v.set_status(static_cast<v1::ReferralStatus>(s.i64(2)));
  v.set_centre_id(s.text(3));
  v.set_kommunekode(static_cast<int>(s.i64(4)));
  if (const auto* m = directory_.municipality(v.kommunekode())) v.set_municipality_name(m->name());
  v.set_district_id(s.text(5));
  v.set_directory_version(s.text(6));
  v.set_journal_number(s.text(7));
  v.set_offence(static_cast<v1::Offence>(s.i64(8)));
  *v.mutable_charged_at() = from_string(s.text(9));
  if (!s.is_null(10)) {
    auto* p = v.mutable_person();
    p->set_cpr(s.text(10));
    p->set_name(s.text(11));
    p->set_phone(s.text(12));
    p->set_email(s.text(13));
    p->set_preferred_contact_time(s.text(14));
    v.mutable_consent()->set_text_version(s.text(15));
    *v.mutable_consent()->mutable_given_at() = from_string(s.text(16));
  }
  v.set_reason(s.text(17));
  *v.mutable_created_at() = from_string(s.text(18));
  if (with_history) {
    sqlite::Stmt h(db_,
                   "SELECT status, at, reason FROM referral_history WHERE referral_id = ? "
                   "ORDER BY id");
    h.bind(1, v.referral_id());
    while (h.step()) {
      auto* e = v.add_history();
      e->set_status(static_cast<v1::ReferralStatus>(h.i64(0)));
      *e->mutable_at() = from_string(h.text(1));
      e->set_reason(h.text(2));
    }
  }
  return v;
}

http::Response Api::list(const http::Request& req) {
  const bool centre = req.principal.role == v1::ROLE_CENTRE;
  std::string sql = std::string("SELECT ") + COLUMNS + " FROM referrals WHERE " +
                    (centre ? "centre_id = ?" : "district_id = ?");
  int status_filter = 0;
  if (auto it = req.query.find("status"); it != req.query.end()) {
    for (int s = v1::ReferralStatus_MIN; s <= v1::ReferralStatus_MAX; ++s)
      if (s != 0 && status_name(static_cast<v1::ReferralStatus>(s)) == it->second)
        status_filter = s;
    if (!status_filter)
      return http::problem(400, "Bad Request", "unknown status",
                           {{"status", "must be a referral status such as routed or unroutable"}});
    sql += " AND status = ?";
  }
  sql += " ORDER BY created_at, referral_id";
  sqlite::Transaction tx(db_);  // the access-log rows commit with the read
  sqlite::Stmt s(db_, sql);
  s.bind(1, req.principal.scope);
  if (status_filter) s.bind(2, status_filter);
  v1::ReferralList out;
  while (s.step()) {
    *out.add_referrals() = view(s, false);
    access_log::record(db_, req.principal, out.referrals().rbegin()->referral_id(), "list");
  }
  tx.commit();
  return http::json(200, out);
}

http::Response Api::get(const http::Request& req) {
  const bool centre = req.principal.role == v1::ROLE_CENTRE;
  sqlite::Transaction tx(db_);
  sqlite::Stmt s(db_, std::string("SELECT ") + COLUMNS +
                          " FROM referrals WHERE referral_id = ? AND " +
                          (centre ? "centre_id = ?" : "district_id = ?"));
  s.bind(1, req.params.at("id")).bind(2, req.principal.scope);
  // Another centre's referral is not found: its existence is not theirs to know.
  if (!s.step()) return http::problem(404, "Not Found", "no such referral");
  v1::ReferralView v = view(s, true);
  access_log::record(db_, req.principal, v.referral_id(), "read");
  tx.commit();
  return http::json(200, v);
}

}  // namespace henvis::router
