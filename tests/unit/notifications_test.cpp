// henvis/notifications.hpp: the one NotificationRequested builder the router
// and socialsog share.
#include "henvis/notifications.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"
#include "support.hpp"

namespace {

using henvis::test::TempDir;

struct Row {
  std::string topic, key;
  henvis::v1::NotificationRequested n;
  std::map<std::string, std::string> headers;
};

Row only_outbox_row(henvis::sqlite::Db& db) {
  henvis::sqlite::Stmt s(db, "SELECT topic, key, payload, headers FROM outbox");
  Row r;
  REQUIRE(s.step());
  r.topic = s.text(0);
  r.key = s.blob(1);
  REQUIRE(r.n.ParseFromString(s.blob(2)));
  henvis::v1::Headers hs;
  REQUIRE(hs.ParseFromString(s.blob(3)));
  for (const auto& h : hs.header()) r.headers[h.key()] = h.value();
  CHECK_FALSE(s.step());
  return r;
}

// A fresh database with the outbox schema.
struct OutboxDb {
  TempDir tmp{"henvis-notifications-test"};
  henvis::sqlite::Db db{tmp.file("svc.db")};
  OutboxDb() { db.migrate({henvis::outbox::MIGRATION}); }
};

}  // namespace

TEST_CASE_METHOD(
    OutboxDb,
    "request_notification puts one NotificationRequested keyed by recipient in the outbox",
    "[notifications]") {
  henvis::v1::ReferralContact contact;
  contact.set_referral_id("ref-1");
  std::string id;
  {
    henvis::sqlite::Transaction tx(db);
    id = henvis::request_notification(db, "/henvis/router", "centre-657",
                                      henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL, contact,
                                      "2024-05-02T10:00:00Z");
    tx.commit();
  }
  const Row r = only_outbox_row(db);
  CHECK(r.topic == henvis::topics::NOTIFICATIONS);
  CHECK(r.key == "centre-657");
  CHECK(r.headers.at("ce_type") == henvis::event_types::NOTIFICATION_REQUESTED);
  CHECK(r.headers.at("ce_source") == "/henvis/router");
  CHECK(r.n.notification_id() == id);
  CHECK(id.size() == 36);
  CHECK(r.n.recipient_id() == "centre-657");
  CHECK(r.n.kind() == henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL);
  CHECK(r.n.referral().referral_id() == "ref-1");
  CHECK_FALSE(r.n.has_underretning());
  CHECK(r.n.requested_at().seconds() == 1714644000);
}

TEST_CASE_METHOD(
    OutboxDb, "request_notification carries an underretning notice and gives each request a new id",
    "[notifications]") {
  henvis::v1::UnderretningNotice notice;
  notice.set_underretning_id("u-1");
  henvis::sqlite::Transaction tx(db);
  auto ask = [&] {
    return henvis::request_notification(db, "/henvis/socialsog", "kommune-657",
                                        henvis::v1::NOTIFICATION_KIND_UNDERRETNING, notice,
                                        "2024-05-02T10:00:00Z");
  };
  const auto a = ask();
  const auto b = ask();
  CHECK(a != b);
  henvis::sqlite::Stmt s(db, "SELECT payload FROM outbox ORDER BY id");
  REQUIRE(s.step());
  henvis::v1::NotificationRequested n;
  REQUIRE(n.ParseFromString(s.blob(0)));
  CHECK(n.notification_id() == a);
  CHECK(n.underretning().underretning_id() == "u-1");
  CHECK_FALSE(n.has_referral());
}
