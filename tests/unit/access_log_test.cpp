// The access log proves itself (issue 12 item 5, docs/decisions.md 23): rows
// are hash-chained and append-only, and verify() names the first row that was
// edited or deleted behind the triggers' back.

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <string>

#include "henvis/access_log.hpp"
#include "henvis/digest.hpp"
#include "support.hpp"

namespace al = henvis::access_log;
namespace v1 = henvis::v1;
using henvis::test::scalar;

namespace {
const std::string GENESIS(64, '0');

const henvis::auth::Principal WEB_ANNE{"henvis-web", v1::ROLE_CENTRE, "rusmiddelcenter-657",
                                       "anne"};
const henvis::auth::Principal CTL_CENTRE{"center-657", v1::ROLE_CENTRE, "rusmiddelcenter-657", ""};

// A database with the access log as a service that starts logging now has it.
struct Log {
  henvis::test::TempDir tmp{"henvis-access-log-test"};
  std::string path = (tmp.path / "a.db").string();
  henvis::sqlite::Db db{path};
  Log() { db.migrate({al::migration_all()}); }
  void three_rows() {
    al::record(db, WEB_ANNE, "r-1", "read");
    al::record(db, CTL_CENTRE, "r-2", "list");
    al::record(db, WEB_ANNE, "r-3", "outcome");
  }
  // `sql` on a plain SQLite connection, as anyone with the file could; the
  // error message, "" when it succeeded.
  std::string raw(const std::string& sql) const {
    sqlite3* c = nullptr;
    sqlite3_open(path.c_str(), &c);
    char* err = nullptr;
    sqlite3_exec(c, sql.c_str(), nullptr, nullptr, &err);
    std::string out = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(c);
    return out;
  }
  void drop_triggers() const {
    REQUIRE(raw("DROP TRIGGER access_log_append_only_update; "
                "DROP TRIGGER access_log_append_only_delete;")
                .empty());
  }
};

std::string field(const std::string& v) { return std::to_string(v.size()) + ":" + v + ";"; }
}  // namespace

TEST_CASE("access-log rows chain each row_hash to SHA-256 of prev_hash and the row's fields",
          "[access_log]") {
  Log l;
  l.three_rows();
  auto q = l.db.query(
      "SELECT id, at, who, role, recipient, referral_id, purpose, person, prev_hash, row_hash "
      "FROM access_log ORDER BY id");
  std::string prev = GENESIS;
  int n = 0;
  while (q->step()) {
    ++n;
    // The canonical encoding: length-prefixed fields in a fixed order.
    std::string enc = field(std::to_string(q->i64(0))) + field(std::to_string(q->i64(1)));
    for (int c = 2; c <= 7; ++c) enc += field(q->text(c));
    CHECK(q->text(8) == prev);
    CHECK(q->text(9) == henvis::sha256_hex(prev + enc));
    prev = q->text(9);
  }
  CHECK(n == 3);
  const al::Verification v = al::verify(l.db);
  CHECK(v.ok);
  CHECK(v.rows == 3);
  CHECK(v.head_id == 3);
  CHECK(v.head_hash == prev);
}

TEST_CASE("an empty access log verifies with no head", "[access_log]") {
  Log l;
  const al::Verification v = al::verify(l.db);
  CHECK(v.ok);
  CHECK(v.rows == 0);
  CHECK(v.head_hash.empty());
}

TEST_CASE("UPDATE and DELETE of access-log rows through plain SQLite are refused by triggers",
          "[access_log]") {
  Log l;
  l.three_rows();
  CHECK(l.raw("UPDATE access_log SET purpose = 'nothing' WHERE id = 2") ==
        "access_log is append-only");
  CHECK(l.raw("DELETE FROM access_log WHERE id = 2") == "access_log is append-only");
  CHECK(l.raw("DELETE FROM access_log") == "access_log is append-only");
  CHECK(scalar(l.db, "SELECT count(*) FROM access_log WHERE purpose = 'list'") == 1);
  CHECK(al::verify(l.db).ok);
}

TEST_CASE("verify names the row edited with the triggers dropped", "[access_log]") {
  Log l;
  l.three_rows();
  l.drop_triggers();
  REQUIRE(l.raw("UPDATE access_log SET person = 'anne' WHERE id = 2").empty());
  const al::Verification v = al::verify(l.db);
  CHECK_FALSE(v.ok);
  CHECK(v.broken_row_id == 2);
  CHECK(v.reason == "edited");
  CHECK(v.rows == 1);
}

TEST_CASE("verify names a row deleted from the middle of the log", "[access_log]") {
  Log l;
  l.three_rows();
  l.drop_triggers();
  REQUIRE(l.raw("DELETE FROM access_log WHERE id = 2").empty());
  const al::Verification v = al::verify(l.db);
  CHECK_FALSE(v.ok);
  CHECK(v.broken_row_id == 2);
  CHECK(v.reason == "deleted");
  CHECK(v.detail == "row 2 is missing before row 3");
}

TEST_CASE("verify names rows deleted from the end or the start of the log", "[access_log]") {
  Log l;
  l.three_rows();
  l.drop_triggers();
  REQUIRE(l.raw("DELETE FROM access_log WHERE id >= 2").empty());
  al::Verification v = al::verify(l.db);
  CHECK_FALSE(v.ok);
  CHECK(v.broken_row_id == 2);
  CHECK(v.reason == "deleted");
  CHECK(v.detail == "rows 2 to 3 are missing at the end of the log");
  // A row appended after the deletion does not hide it: its id says so.
  al::record(l.db, WEB_ANNE, "r-4", "read");
  v = al::verify(l.db);
  CHECK(v.broken_row_id == 2);
  CHECK(v.reason == "deleted");

  Log head;
  head.three_rows();
  head.drop_triggers();
  REQUIRE(head.raw("DELETE FROM access_log WHERE id = 1").empty());
  CHECK(al::verify(head.db).broken_row_id == 1);
  CHECK(al::verify(head.db).reason == "deleted");
}

TEST_CASE("verify reports the row after one rewritten with a fresh hash as reordered",
          "[access_log]") {
  Log l;
  l.three_rows();
  l.drop_triggers();
  // An attacker who knows the encoding edits row 2 and recomputes its hash.
  std::string prev, enc;
  {
    auto q = l.db.query(
        "SELECT id, at, who, role, recipient, referral_id, person, prev_hash FROM access_log "
        "WHERE id = 2");
    REQUIRE(q->step());
    enc = field("2") + field(std::to_string(q->i64(1))) + field(q->text(2)) + field(q->text(3)) +
          field(q->text(4)) + field(q->text(5)) + field("nothing") + field(q->text(6));
    prev = q->text(7);
  }
  REQUIRE(l.raw("UPDATE access_log SET purpose = 'nothing', row_hash = '" +
                henvis::sha256_hex(prev + enc) + "' WHERE id = 2")
              .empty());
  const al::Verification v = al::verify(l.db);
  CHECK_FALSE(v.ok);
  CHECK(v.broken_row_id == 3);
  CHECK(v.reason == "reordered");
  CHECK(v.rows == 2);
}

TEST_CASE("verify reports a row moved to another id as edited: the id is hashed", "[access_log]") {
  Log l;
  l.three_rows();
  l.drop_triggers();
  REQUIRE(l.raw("UPDATE access_log SET id = 9 WHERE id = 3; "
                "UPDATE access_log SET id = 3 WHERE id = 2; "
                "UPDATE access_log SET id = 2 WHERE id = 9")
              .empty());
  const al::Verification v = al::verify(l.db);
  CHECK_FALSE(v.ok);
  CHECK(v.broken_row_id == 2);
  CHECK(v.reason == "edited");
}

TEST_CASE("the chain migration chains the rows a log already held, in id order, and seals them",
          "[access_log]") {
  henvis::test::TempDir tmp("henvis-access-log-migration");
  henvis::sqlite::Db db((tmp.path / "a.db").string());
  // Given a log as the services kept it before the chain
  db.migrate({al::MIGRATION, al::migration_unix_ms(), al::MIGRATION_PERSON});
  db.exec(
      "INSERT INTO access_log(at, who, role, recipient, referral_id, purpose, person) VALUES "
      "(1700000000000, 'center-657', 'centre', 'rusmiddelcenter-657', 'r-1', 'read', ''), "
      "(1700000001000, 'henvis-web', 'centre', 'rusmiddelcenter-657', 'r-1', 'outcome', 'anne')");
  // When the chain step runs
  db.migrate({al::MIGRATION, al::migration_unix_ms(), al::MIGRATION_PERSON, al::migration_chain()});
  // Then the old rows verify, new ones continue the chain, and edits are refused
  CHECK(scalar(db, "SELECT count(*) FROM access_log WHERE prev_hash = '" + GENESIS + "'") == 1);
  al::record(db, WEB_ANNE, "r-2", "read");
  const al::Verification v = al::verify(db);
  CHECK(v.ok);
  CHECK(v.rows == 3);
  CHECK_THROWS(db.exec("UPDATE access_log SET purpose = 'x' WHERE id = 1"));
}

TEST_CASE("a replayed answer is access-logged as <purpose>_replay - a refusal is not",
          "[access_log]") {
  Log l;
  {
    henvis::sqlite::Transaction tx(l.db);
    const auto r =
        al::replayed(l.db, tx, WEB_ANNE, "r-1", "outcome", {200, "application/json", "{}"});
    CHECK(r.status == 200);
  }
  {
    henvis::sqlite::Transaction tx(l.db);
    al::replayed(l.db, tx, WEB_ANNE, "r-1", "outcome", {409, "application/problem+json", "{}"});
  }
  CHECK(scalar(l.db,
               "SELECT count(*) FROM access_log WHERE purpose = 'outcome_replay' AND "
               "person = 'anne'") == 1);
  CHECK(scalar(l.db, "SELECT count(*) FROM access_log") == 1);
}

TEST_CASE("access-log entries filter by person, subject and time and page by id", "[access_log]") {
  Log l;
  l.three_rows();
  al::Filter anne;
  anne.person = "anne";
  const auto rows = al::entries(l.db, anne, 0, 10);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].subject_id == "r-1");
  CHECK(rows[1].subject_id == "r-3");
  CHECK(al::entries(l.db, anne, rows[0].id, 1).at(0).id == rows[1].id);
  al::Filter subject;
  subject.subject_id = "r-2";
  CHECK(al::entries(l.db, subject, 0, 10).size() == 1);
  al::Filter future;
  future.from = std::chrono::system_clock::now() + std::chrono::hours(1);
  CHECK(al::entries(l.db, future, 0, 10).empty());
}
