// The access log that proves itself and the files the services create,
// through the real binaries (issue 12 items 5 and 9, docs/security.md).

#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "../test_ca.hpp"
#include "harness.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"

using namespace henvis;
using namespace henvis::testing;

namespace {
const auto OFFICER_ANNE = person_headers("betjent-anne", "officer", "mvj");

// The person of intake's access-log rows for `purpose`.
std::vector<std::string> persons(Stack& s, const std::string& service, const std::string& purpose) {
  sqlite::Db db(s.database(service));
  sqlite::Stmt st(db, "SELECT person FROM access_log WHERE purpose = ? ORDER BY id");
  st.bind(1, purpose);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

// `henvisctl audit ARGS` against the stack's services with the dev admin token.
CtlRun audit(Stack& s, const std::string& args) {
  std::ofstream(s.dir() / "admin.token") << "dev-admin\n";
  std::string globals = "--token-file " + (s.dir() / "admin.token").string();
  for (const char* svc : {"intake", "router"})
    globals += std::string(" --") + svc + " http://127.0.0.1:" + std::to_string(s.port(svc));
  return henvisctl(s.dir(), globals + " audit " + args);
}

// `sql` on the service's database through plain SQLite, as an intruder with
// the file would; "" or SQLite's error.
std::string tamper(Stack& s, const std::string& service, const std::string& sql) {
  sqlite3* c = nullptr;
  sqlite3_open(s.database(service).c_str(), &c);
  char* err = nullptr;
  sqlite3_exec(c, sql.c_str(), nullptr, nullptr, &err);
  std::string out = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(c);
  return out;
}

// Registers a yes-offer through henvis-web's token for OFFICER_ANNE and
// withdraws it; the referral id.
std::string register_and_withdraw(Stack& s, const std::string& offer_id) {
  const auto r = http("POST", s.port("intake"), "/v1/offers", DELEGATING_TOKEN,
                      offer_json(offer_id, 657, true), OFFICER_ANNE);
  REQUIRE(r.status == 201);
  const auto w = http("POST", s.port("intake"), "/v1/offers/" + offer_id + "/withdrawal",
                      DELEGATING_TOKEN, "", OFFICER_ANNE);
  REQUIRE(w.status == 200);
  return parse<v1::OfferResponse>(r.body).referral_id();
}
}  // namespace

TEST_CASE("Audit: intake access-logs a registration and a withdrawal with the acting person",
          "[integration][audit]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  const std::string referral = register_and_withdraw(s, "it-audit-1");
  // The same withdrawal again answers as before, and discloses again
  REQUIRE(http("POST", s.port("intake"), "/v1/offers/it-audit-1/withdrawal", DELEGATING_TOKEN, "",
               OFFICER_ANNE)
              .status == 200);
  CHECK(persons(s, "intake", "register") == std::vector<std::string>{"betjent-anne"});
  CHECK(persons(s, "intake", "withdrawal") == std::vector<std::string>{"betjent-anne"});
  CHECK(persons(s, "intake", "withdrawal_replay") == std::vector<std::string>{"betjent-anne"});
  // henvisctl audit verify: ok, with the rows and the head hash
  const auto ok = audit(s, "verify --service intake");
  CHECK(ok.status == 0);
  CHECK(ok.out.find("intake: ok, 3 rows, head row 3 ") != std::string::npos);
  // henvisctl audit export: the person's rows as CSV for the DPO
  const auto csv = audit(s, "export --service intake --person betjent-anne");
  CHECK(csv.status == 0);
  CHECK(csv.out.rfind("id,at,who,person,role,recipient,subject_id,purpose,", 0) == 0);
  CHECK(csv.out.find(",betjent-anne,officer,mvj," + referral + ",register,") != std::string::npos);
  // The export is the admin's: an officer is refused
  CHECK(http("GET", s.port("intake"), "/v1/audit/log", "dev-officer-mvj").status == 403);
}

TEST_CASE("Audit: henvisctl audit verify fails naming the row after the file is edited offline",
          "[integration][audit]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  register_and_withdraw(s, "it-audit-2");
  REQUIRE(audit(s, "verify --service intake").status == 0);
  // While the service runs, the triggers refuse an edit
  CHECK(tamper(s, "intake", "UPDATE access_log SET person = '' WHERE id = 1") ==
        "access_log is append-only");
  // Offline, with the triggers dropped, the edit goes in; verify finds it
  REQUIRE(s.stop("intake") == 0);
  REQUIRE(tamper(s, "intake",
                 "DROP TRIGGER access_log_append_only_update; "
                 "UPDATE access_log SET person = '' WHERE id = 1")
              .empty());
  s.start("intake");
  const auto edited = audit(s, "verify --service intake");
  CHECK(edited.status == 4);
  CHECK(edited.out.find("intake: BROKEN at row 1 (edited)") != std::string::npos);
  const auto json = audit(s, "verify --service intake --json");
  CHECK(parse<v1::AuditVerification>(json.out).broken_row_id() == 1);
}

TEST_CASE("Audit: a replayed outcome is access-logged like the first", "[integration][audit]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  const auto r = http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj",
                      offer_json("it-audit-3", 657, true));
  REQUIRE(r.status == 201);
  const std::string id = parse<v1::OfferResponse>(r.body).referral_id();
  REQUIRE(eventually([&] {
    return http("GET", s.port("router"), "/v1/referrals/" + id, "dev-center-657").status == 200;
  }));
  const std::vector<std::pair<std::string, std::string>> key = {{"Idempotency-Key", "k-1"}};
  for (int i = 0; i < 2; ++i)
    REQUIRE(http("POST", s.port("router"), "/v1/referrals/" + id + "/outcomes", "dev-center-657",
                 R"({"outcome":"REFERRAL_STATUS_CONTACT_ATTEMPTED"})", key)
                .status == 200);
  CHECK(persons(s, "router", "outcome").size() == 1);
  CHECK(persons(s, "router", "outcome_replay").size() == 1);
  CHECK(audit(s, "verify --service router").status == 0);
}

TEST_CASE("Files the services create are readable by their own user only (0600)",
          "[integration][audit][files]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  register_and_withdraw(s, "it-audit-4");
  int checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(s.dir())) {
    const std::string name = e.path().filename().string();
    const bool service_file =
        name.find(".db") != std::string::npos || name.ends_with(".port") || name.ends_with(".log");
    if (!e.is_regular_file() || !service_file) continue;
    struct stat st {};
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    INFO(name);
    CHECK((st.st_mode & 0777) == 0600);
    ++checked;
  }
  CHECK(checked >= 6);  // intake's and router's db, -wal, -shm and port files
}

TEST_CASE("henvisctl config check refuses a router config outside dev without a person key file",
          "[integration][audit][keys]") {
  Stack s;
  write_service_config(s.dir(), "router");
  std::string text = slurp(s.dir() / "router.textproto");
  const auto dev = text.find("dev: true\n");
  REQUIRE(dev != std::string::npos);
  text.erase(dev, std::string("dev: true\n").size());
  // served over TLS, as outside dev it must be, so the key file is what is missing
  const TestCa ca = make_test_ca(s.dir() / "tls");
  const std::string http_block = "http { address: \"127.0.0.1\" port: 0 ";
  const auto at = text.find(http_block);
  REQUIRE(at != std::string::npos);
  text.insert(at + http_block.size(),
              "tls { cert_chain_file: \"" + ca.cert() + "\" key_file: \"" + ca.key() + "\" } ");
  std::ofstream(s.dir() / "router-prod.textproto") << text;
  const auto r = henvisctl(s.dir(), "config check " + (s.dir() / "router-prod.textproto").string());
  CHECK(r.status == 1);
  CHECK(r.err.find("router.person_key_file is required") != std::string::npos);
  // In dev the same file passes and says where the key is
  const auto ok = henvisctl(s.dir(), "config check " + (s.dir() / "router.textproto").string());
  CHECK(ok.status == 0);
  CHECK(ok.out.find("keys router.person_key_file (dev: kept in the database)") !=
        std::string::npos);
}
