// notifier: NotificationRequested lands in the recipient's pull inbox once;
// GET /v1/inbox marks read; POST /v1/inbox/{id}/ack acknowledges; each is a
// DeliveryEvent in the outbox (docs/design.md "Contact lists").

#include "notifier.hpp"

#include <catch2/catch.hpp>

#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <string>
#include <vector>

#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/paging.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/events.pb.h"
#include "support.hpp"

namespace {

using henvis::test::dev_directory;
using henvis::test::scalar;
using henvis::test::TempDir;

constexpr const char* CPR = "0101901234";

henvis::v1::NotificationRequested notification(const std::string& id,
                                               const std::string& recipient) {
  henvis::v1::NotificationRequested n;
  n.set_notification_id(id);
  n.set_recipient_id(recipient);
  n.set_kind(henvis::v1::NOTIFICATION_KIND_NEW_REFERRAL);
  auto* c = n.mutable_referral();
  c->set_referral_id("ref-" + id);
  c->set_journal_number("4100-84123-00042-24");
  c->set_offence(henvis::v1::OFFENCE_DRUNK);
  c->set_kommunekode(657);
  c->set_municipality_name("Herning");
  c->mutable_person()->set_cpr(CPR);
  c->mutable_person()->set_name("Jens Testesen");
  c->mutable_person()->set_phone("+4523456789");
  *n.mutable_requested_at() = henvis::now_timestamp();
  return n;
}

henvis::kafka::Message message(
    const henvis::v1::NotificationRequested& n,
    const std::string& type = henvis::event_types::NOTIFICATION_REQUESTED) {
  henvis::kafka::Message m;
  m.topic = henvis::topics::NOTIFICATIONS;
  m.key = n.recipient_id();
  m.payload = n.SerializeAsString();
  m.headers = {{henvis::kafka::header::ID, henvis::new_uuid()},
               {henvis::kafka::header::TYPE, type}};
  return m;
}

void apply(henvis::notifier::Applier& a, henvis::sqlite::Db& db, const henvis::kafka::Message& m) {
  henvis::sqlite::Transaction tx(db);
  a.apply(m, db);
  tx.commit();
}

// Outbox rows on henvis.deliveries.v1 with the given ce_type.
std::vector<henvis::v1::DeliveryEvent> deliveries(henvis::sqlite::Db& db, const std::string& type) {
  std::vector<henvis::v1::DeliveryEvent> out;
  henvis::sqlite::Stmt s(db, "SELECT topic, payload, headers FROM outbox ORDER BY id");
  while (s.step()) {
    henvis::v1::Headers hs;
    hs.ParseFromString(s.blob(2));
    std::string t;
    for (const auto& h : hs.header())
      if (h.key() == henvis::kafka::header::TYPE) t = h.value();
    if (t != type) continue;
    CHECK(s.text(0) == henvis::topics::DELIVERIES);
    henvis::v1::DeliveryEvent d;
    REQUIRE(d.ParseFromString(s.blob(1)));
    out.push_back(d);
  }
  return out;
}

henvis::http::Request request(const std::string& method, const std::string& scope,
                              henvis::v1::Role role = henvis::v1::ROLE_CENTRE) {
  henvis::http::Request r;
  r.method = method;
  r.principal = henvis::auth::Principal{"test-" + scope, role, scope, {}};
  return r;
}

henvis::http::Request ack_request(const std::string& scope, const std::string& id) {
  auto r = request("POST", scope);
  r.path = "/v1/inbox/" + id + "/ack";
  r.params["notificationId"] = id;
  return r;
}

henvis::v1::Inbox parse_inbox(const henvis::http::Response& r) {
  henvis::v1::Inbox out;
  INFO(r.body);
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok());
  return out;
}

// Applies one notification for rusmiddelcenter-657 into the database at `path`.
void seed(const std::string& path, const std::string& id) {
  henvis::sqlite::Db db(path);
  db.migrate(henvis::notifier::migrations());
  henvis::notifier::Applier a(dev_directory());
  apply(a, db, message(notification(id, "rusmiddelcenter-657")));
}

}  // namespace

TEST_CASE("notifier: a notification lands in the inbox once even if applied twice", "[notifier]") {
  // Given a notifier database
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  henvis::sqlite::Db db(db_path);
  db.migrate(henvis::notifier::migrations());
  henvis::notifier::Applier a(dev_directory());
  const auto n = notification("n-1", "rusmiddelcenter-657");
  // When the same NotificationRequested is applied under two ce_ids
  apply(a, db, message(n));
  apply(a, db, message(n));
  // Then one inbox row and one DELIVERED event keyed by the recipient
  CHECK(scalar(db, "SELECT count(*) FROM inbox") == 1);
  CHECK(scalar(db,
               "SELECT count(*) FROM inbox WHERE recipient_id = 'rusmiddelcenter-657' AND "
               "referral_id = 'ref-n-1' AND read_at IS NULL AND acked_at IS NULL") == 1);
  const auto delivered = deliveries(db, "henvis.delivery.delivered");
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].notification_id() == "n-1");
  CHECK(delivered[0].recipient_id() == "rusmiddelcenter-657");
  CHECK(delivered[0].referral_id() == "ref-n-1");
  CHECK(delivered[0].status() == henvis::v1::DELIVERY_STATUS_DELIVERED);
  CHECK(delivered[0].channel() == "inbox");
  henvis::sqlite::Stmt k(db, "SELECT key FROM outbox");
  REQUIRE(k.step());
  CHECK(k.blob(0) == "rusmiddelcenter-657");
  // And the delivery event carries no personal data
  henvis::sqlite::Stmt p(db, "SELECT payload FROM outbox");
  REQUIRE(p.step());
  CHECK(p.blob(0).find(CPR) == std::string::npos);
}

TEST_CASE("notifier: a notification for an unknown recipient is Rejected", "[notifier]") {
  // Given a notifier database / When a notification names a recipient not in the directory
  // Then Rejected and nothing is stored or emitted
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  henvis::sqlite::Db db(db_path);
  db.migrate(henvis::notifier::migrations());
  henvis::notifier::Applier a(dev_directory());
  CHECK_THROWS_AS(a.apply(message(notification("n-1", "rusmiddelcenter-999")), db),
                  henvis::Rejected);
  CHECK(scalar(db, "SELECT count(*) FROM inbox") == 0);
  CHECK(scalar(db, "SELECT count(*) FROM outbox") == 0);
}

TEST_CASE("notifier: a wrong ce_type, garbage or missing fields are Rejected", "[notifier]") {
  // Given a notifier database / When malformed notifications are applied
  // Then each is Rejected (without echoing the payload) and nothing lands in the inbox
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  henvis::sqlite::Db db(db_path);
  db.migrate(henvis::notifier::migrations());
  henvis::notifier::Applier a(dev_directory());
  const auto n = notification("n-1", "rusmiddelcenter-657");
  CHECK_THROWS_AS(a.apply(message(n, "henvis.offer.recorded"), db), henvis::Rejected);
  auto garbage = message(n);
  garbage.payload = std::string("\xff\xff\xff\xff") + CPR;
  try {
    a.apply(garbage, db);
    FAIL("expected Rejected");
  } catch (const henvis::Rejected& e) {
    CHECK(std::string(e.what()).find(CPR) == std::string::npos);
  }
  auto no_id = n;
  no_id.clear_notification_id();
  CHECK_THROWS_AS(a.apply(message(no_id), db), henvis::Rejected);
  auto no_kind = n;
  no_kind.set_kind(henvis::v1::NOTIFICATION_KIND_UNSPECIFIED);
  CHECK_THROWS_AS(a.apply(message(no_kind), db), henvis::Rejected);
  CHECK(scalar(db, "SELECT count(*) FROM inbox") == 0);
}

TEST_CASE("notifier: the centre's inbox lists its notification and marks it read",
          "[notifier][api]") {
  // Given a notification delivered to rusmiddelcenter-657
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  seed(db_path, "n-1");
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  // When the centre reads its inbox
  auto first = api.inbox(request("GET", "rusmiddelcenter-657"));
  // Then it lists the notification with the contact data, marked read
  REQUIRE(first.status == 200);
  auto inbox = parse_inbox(first);
  CHECK(inbox.recipient_id() == "rusmiddelcenter-657");
  REQUIRE(inbox.entries_size() == 1);
  const auto& e = inbox.entries(0);
  CHECK(e.notification_id() == "n-1");
  CHECK(e.referral().referral_id() == "ref-n-1");
  CHECK(e.referral().person().cpr() == CPR);
  CHECK(e.has_delivered_at());
  CHECK(e.has_read_at());
  CHECK_FALSE(e.has_acknowledged_at());
  henvis::sqlite::Db db(db_path);
  CHECK(scalar(db, "SELECT count(*) FROM inbox WHERE read_at IS NOT NULL") == 1);
  CHECK(deliveries(db, "henvis.delivery.read").size() == 1);
  // And the disclosure is written to the access log
  CHECK(scalar(db, "SELECT count(*) FROM access_log") >= 1);
  // When read again, it is listed but no second READ event is emitted
  auto second = parse_inbox(api.inbox(request("GET", "rusmiddelcenter-657")));
  CHECK(second.entries_size() == 1);
  CHECK(deliveries(db, "henvis.delivery.read").size() == 1);
}

TEST_CASE("notifier: another centre's inbox does not show the notification", "[notifier][api]") {
  // Given a notification for rusmiddelcenter-657
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  seed(db_path, "n-1");
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  // When rusmiddelcenter-661 reads its inbox
  auto res = api.inbox(request("GET", "rusmiddelcenter-661"));
  // Then it is empty and nothing is marked read
  REQUIRE(res.status == 200);
  CHECK(parse_inbox(res).entries_size() == 0);
  henvis::sqlite::Db db(db_path);
  CHECK(scalar(db, "SELECT count(*) FROM inbox WHERE read_at IS NOT NULL") == 0);
  CHECK(deliveries(db, "henvis.delivery.read").empty());
}

TEST_CASE("notifier: a principal whose scope is not a recipient gets 403", "[notifier][api]") {
  // Given a seeded inbox / When a centre token scoped to an unknown recipient reads or acks
  // Then 403
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  seed(db_path, "n-1");
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  CHECK(api.inbox(request("GET", "rusmiddelcenter-999")).status == 403);
  CHECK(api.ack(ack_request("rusmiddelcenter-999", "n-1")).status == 403);
}

TEST_CASE("notifier: ack by the wrong centre is 404 and changes nothing", "[notifier][api]") {
  // Given a notification for rusmiddelcenter-657
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  seed(db_path, "n-1");
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  // When rusmiddelcenter-661 acknowledges it
  auto res = api.ack(ack_request("rusmiddelcenter-661", "n-1"));
  // Then 404, and it is not acknowledged
  CHECK(res.status == 404);
  CHECK(res.content_type == "application/problem+json");
  henvis::sqlite::Db db(db_path);
  CHECK(scalar(db, "SELECT count(*) FROM inbox WHERE acked_at IS NOT NULL") == 0);
  CHECK(deliveries(db, "henvis.delivery.acknowledged").empty());
  // And an unknown id is 404 too
  CHECK(api.ack(ack_request("rusmiddelcenter-657", "n-nowhere")).status == 404);
}

TEST_CASE("notifier: acknowledging twice answers 200 both times with one acknowledged event",
          "[notifier][api]") {
  // Given a notification for rusmiddelcenter-657
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  seed(db_path, "n-1");
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  // When the centre acknowledges it twice
  auto first = api.ack(ack_request("rusmiddelcenter-657", "n-1"));
  auto second = api.ack(ack_request("rusmiddelcenter-657", "n-1"));
  // Then 200 both times, the entry acknowledged
  INFO(first.body);
  CHECK(first.status == 200);
  CHECK(second.status == 200);
  henvis::v1::InboxEntry e1, e2;
  REQUIRE(google::protobuf::util::JsonStringToMessage(first.body, &e1).ok());
  REQUIRE(google::protobuf::util::JsonStringToMessage(second.body, &e2).ok());
  CHECK(e1.has_acknowledged_at());
  CHECK(e1.has_read_at());
  CHECK(e2.acknowledged_at().seconds() == e1.acknowledged_at().seconds());
  // And exactly one acknowledged DeliveryEvent in the outbox
  henvis::sqlite::Db db(db_path);
  const auto acks = deliveries(db, "henvis.delivery.acknowledged");
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].notification_id() == "n-1");
  CHECK(acks[0].recipient_id() == "rusmiddelcenter-657");
  CHECK(acks[0].referral_id() == "ref-n-1");
  CHECK(acks[0].status() == henvis::v1::DELIVERY_STATUS_ACKNOWLEDGED);
  // And the acknowledged entry leaves the default inbox listing but stays in ?all=true
  CHECK(parse_inbox(api.inbox(request("GET", "rusmiddelcenter-657"))).entries_size() == 0);
  auto all = request("GET", "rusmiddelcenter-657");
  all.query["all"] = "true";
  CHECK(parse_inbox(api.inbox(all)).entries_size() == 1);
}

TEST_CASE("notifier: the coordinator reads the coordinator recipient's inbox", "[notifier][api]") {
  // Given an unroutable notification for coordinator-mvj
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  {
    henvis::sqlite::Db db(db_path);
    db.migrate(henvis::notifier::migrations());
    henvis::notifier::Applier a(dev_directory());
    auto n = notification("n-c", "coordinator-mvj");
    n.set_kind(henvis::v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL);
    apply(a, db, message(n));
  }
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  // When the coordinator (scope = district "mvj") reads
  auto inbox = parse_inbox(api.inbox(request("GET", "mvj", henvis::v1::ROLE_COORDINATOR)));
  // Then it sees the notification
  CHECK(inbox.recipient_id() == "coordinator-mvj");
  REQUIRE(inbox.entries_size() == 1);
  CHECK(inbox.entries(0).kind() == henvis::v1::NOTIFICATION_KIND_UNROUTABLE_REFERRAL);
}

TEST_CASE("notifier: instants stored as RFC 3339 text become Unix milliseconds",
          "[notifier][time]") {
  // Given a database migrated up to before the conversion, holding a read row
  // and a withdrawal in the old text times
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  const auto steps = henvis::notifier::migrations();
  {
    henvis::sqlite::Db db(db_path);
    // (step 3 converts; step 4, the access log's person, came later)
    db.migrate({steps.begin(), steps.begin() + 3});
    db.exec(
        "INSERT INTO inbox(notification_id, recipient_id, kind, referral_id, contact, "
        "requested_at, delivered_at, read_at, available_at, state, channel) VALUES "
        "('n-old', 'rusmiddelcenter-657', 1, 'ref-old', x'', '2025-05-16T13:59:59.5Z', "
        "'2025-05-16T14:00:00Z', '2025-05-16T14:00:01.123456Z', 1747404000000, 'delivered', "
        "'inbox');"
        "INSERT INTO withdrawn_referrals(referral_id, withdrawn_at) "
        "VALUES ('ref-w', '2025-05-16T14:00:02Z')");
  }
  // When the database is migrated to the end
  henvis::sqlite::Db db(db_path);
  db.migrate(steps);
  // Then each instant is its Unix milliseconds, and a missing one stays NULL
  CHECK(scalar(db, "SELECT requested_at FROM inbox") == 1747403999500);
  CHECK(scalar(db, "SELECT delivered_at FROM inbox") == 1747404000000);
  CHECK(scalar(db, "SELECT read_at FROM inbox") == 1747404001123);
  CHECK(scalar(db, "SELECT count(*) FROM inbox WHERE acked_at IS NULL") == 1);
  CHECK(scalar(db, "SELECT withdrawn_at FROM withdrawn_referrals") == 1747404002000);
  // And the index on delivered_at, dropped while its column was rebuilt, is back
  CHECK(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = 'inbox_recipient'") == 1);
  // And the inbox shows the row with the same times
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  const auto inbox = parse_inbox(api.inbox(request("GET", "rusmiddelcenter-657")));
  REQUIRE(inbox.entries_size() == 1);
  CHECK(henvis::to_rfc3339(inbox.entries(0).delivered_at()) == "2025-05-16T14:00:00Z");
  CHECK(henvis::to_rfc3339(inbox.entries(0).read_at()) == "2025-05-16T14:00:01.123Z");
}

TEST_CASE("notifier: the inbox pages by ?limit= and nextCursor, each entry exactly once",
          "[notifier][api][paging]") {
  // Given seven notifications for rusmiddelcenter-657
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  for (int i = 0; i < 7; ++i) seed(db_path, "n-" + std::to_string(i));
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  // When the centre reads pages of three, following nextCursor
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = request("GET", "rusmiddelcenter-657");
    r.query["limit"] = "3";
    if (!cursor.empty()) r.query["cursor"] = cursor;
    const auto page = parse_inbox(api.inbox(r));
    CHECK(page.entries_size() <= 3);
    for (const auto& e : page.entries()) seen.push_back(e.notification_id());
    cursor = page.next_cursor();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  // Then three pages list all seven, oldest first, none twice
  CHECK(pages == 3);
  CHECK(seen == std::vector<std::string>{"n-0", "n-1", "n-2", "n-3", "n-4", "n-5", "n-6"});
  // And a limit over the maximum or a forged cursor is a 400 naming it
  auto big = request("GET", "rusmiddelcenter-657");
  big.query["limit"] = "501";
  CHECK_THROWS_AS(api.inbox(big), henvis::http::Problem);
  auto forged = request("GET", "rusmiddelcenter-657");
  forged.query["cursor"] = henvis::http::next_cursor({"x", "1"});
  CHECK_THROWS_AS(api.inbox(forged), henvis::http::Problem);
}

namespace {
// Notifications n-1..n-<count> for rusmiddelcenter-657 delivered at t0 on a
// manual clock, the inbox API on the same clock, and a retention pass.
struct RetentionFixture {
  TempDir tmp{"henvis-notifier-retention"};
  std::string db_path = tmp.file("notifier.db");
  henvis::ManualClock clock{std::chrono::sys_days(std::chrono::year{2025} / 3 / 3)};
  std::chrono::system_clock::time_point t0 = clock.now();
  henvis::sqlite::Db db{db_path};
  bool migrated = (db.migrate(henvis::notifier::migrations()), true);  // before the Api opens it
  henvis::notifier::Api api{db_path, dev_directory(), nullptr, henvis::notifier::Settings(), clock};
  explicit RetentionFixture(int count) {
    henvis::notifier::Applier applier(dev_directory(), henvis::notifier::Settings(), clock);
    for (int i = 1; i <= count; ++i)
      apply(applier, db, message(notification("n-" + std::to_string(i), "rusmiddelcenter-657")));
  }
  void ack_at(std::chrono::system_clock::time_point t, const std::string& id) {
    clock.set(t);
    REQUIRE(api.ack(ack_request("rusmiddelcenter-657", id)).status == 200);
  }
  int pass_at(henvis::notifier::InboxRetention& r, std::chrono::system_clock::time_point t) {
    clock.set(t);
    return r.run_once(db);
  }
  bool kept(const std::string& id) {
    return scalar(db, "SELECT count(*) FROM inbox WHERE notification_id = ?", id) == 1;
  }
};
constexpr std::chrono::hours DAY{24};
}  // namespace

TEST_CASE(
    "retention: acknowledged rows go after their period from the acknowledgement, unacknowledged "
    "ones after theirs from delivery, pending ones stay",
    "[notifier][retention]") {
  // Given three notifications delivered at t0: n-1 acknowledged a day later,
  // n-3 still waiting for its push
  RetentionFixture f(3);
  f.ack_at(f.t0 + DAY, "n-1");
  f.db.exec("UPDATE inbox SET state = 'pending' WHERE notification_id = 'n-3'");
  henvis::v1::NotifierSettings s;
  s.mutable_acknowledged_retention()->set_days(3);
  s.mutable_unacknowledged_retention()->set_days(10);
  henvis::notifier::InboxRetention retention(f.db_path, s, f.clock, nullptr);
  // Then the acknowledged row stays until 3 days after its acknowledgement
  CHECK(f.pass_at(retention, f.t0 + 4 * DAY - std::chrono::seconds(1)) == 0);
  CHECK(f.pass_at(retention, f.t0 + 4 * DAY) == 1);
  CHECK_FALSE(f.kept("n-1"));
  CHECK((f.kept("n-2") && f.kept("n-3")));
  // And the unacknowledged one until 10 days after its delivery; the pending one stays
  CHECK(f.pass_at(retention, f.t0 + 10 * DAY) == 1);
  CHECK_FALSE(f.kept("n-2"));
  CHECK(f.pass_at(retention, f.t0 + 1000 * DAY) == 0);
  CHECK(f.kept("n-3"));
  // And the erased bytes left the WAL at once
  CHECK(std::filesystem::file_size(f.db_path + "-wal") == 0);
}

TEST_CASE(
    "retention: the notifier's pass reads the rows it may delete through indexes, scanning no "
    "table",
    "[notifier][retention]") {
  // Given an acknowledged and an unacknowledged row
  RetentionFixture f(2);
  f.ack_at(f.t0, "n-1");
  henvis::notifier::InboxRetention retention(f.db_path, henvis::v1::NotifierSettings(), f.clock,
                                             nullptr);
  // When passes run before and after their periods end
  const std::int64_t before = f.db.full_scan_steps();
  CHECK(f.pass_at(retention, f.t0 + DAY) == 0);
  CHECK(f.pass_at(retention, f.t0 + 180 * DAY) == 2);
  // Then no statement stepped through the whole inbox
  CHECK(f.db.full_scan_steps() == before);
}

TEST_CASE("retention: the notifier's defaults are 30 days acknowledged and 180 unacknowledged",
          "[notifier][retention]") {
  RetentionFixture f(2);
  f.ack_at(f.t0, "n-1");
  henvis::notifier::InboxRetention retention(f.db_path, henvis::v1::NotifierSettings(), f.clock,
                                             nullptr);
  CHECK(f.pass_at(retention, f.t0 + 30 * DAY - std::chrono::seconds(1)) == 0);
  CHECK(f.pass_at(retention, f.t0 + 30 * DAY) == 1);
  CHECK(f.pass_at(retention, f.t0 + 180 * DAY) == 1);
}

TEST_CASE(
    "notifier: a referral's deliveries, acknowledged later too, are keyed by its notification's "
    "partition key",
    "[notifier][partitions]") {
  // Given a notification of the router that carries the referral's partition key
  TempDir tmp("henvis-notifier-test");
  const auto db_path = tmp.file("notifier.db");
  {
    henvis::sqlite::Db db(db_path);
    db.migrate(henvis::notifier::migrations());
    henvis::notifier::Applier a(dev_directory());
    auto n = notification("n-1", "rusmiddelcenter-657");
    n.set_partition_key("p042");
    // When it is delivered into the inbox
    apply(a, db, message(n));
  }
  // And the centre acknowledges it
  henvis::notifier::Api api(db_path, dev_directory(), nullptr);
  REQUIRE(api.ack(ack_request("rusmiddelcenter-657", "n-1")).status == 200);
  // Then both delivery events carry the key and are keyed by it (the router instance that owns
  // the referral reads that partition)
  henvis::sqlite::Db db(db_path);
  henvis::sqlite::Stmt k(db, "SELECT key, payload FROM outbox WHERE topic = ? ORDER BY id");
  k.bind(1, henvis::topics::DELIVERIES);
  int n = 0;
  while (k.step()) {
    ++n;
    CHECK(k.blob(0) == "p042");
    henvis::v1::DeliveryEvent d;
    REQUIRE(d.ParseFromString(k.blob(1)));
    CHECK(d.partition_key() == "p042");
  }
  CHECK(n == 2);
}
