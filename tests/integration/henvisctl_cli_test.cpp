// henvisctl's command line as an operator meets it: help in every spelling,
// the version, a group's commands, and a suggestion for a slip of the keyboard.

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "harness.hpp"
#include "henvis/digest.hpp"
#include "henvis/ids.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/api.pb.h"
#include "henvis/v1/socialsog.pb.h"

using namespace henvis::testing;

TEST_CASE("henvisctl answers -h, help and --version, and lists a group's commands",
          "[integration][henvisctl][cli]") {
  Stack s;
  // -h, --help and `help` print the same usage on standard output
  const auto dash_h = henvisctl(s.dir(), "-h");
  CHECK(dash_h.status == 0);
  CHECK(dash_h.out.find("usage: henvisctl") != std::string::npos);
  CHECK(henvisctl(s.dir(), "help").out == dash_h.out);
  CHECK(henvisctl(s.dir(), "--help").out == dash_h.out);
  // `help COMMAND` is COMMAND --help
  const auto help_cmd = henvisctl(s.dir(), "help outcome record");
  CHECK(help_cmd.status == 0);
  CHECK(help_cmd.out == henvisctl(s.dir(), "outcome record --help").out);
  CHECK(help_cmd.out.find("--idempotency-key") != std::string::npos);
  // --version names the version
  const auto version = henvisctl(s.dir(), "--version");
  CHECK(version.status == 0);
  CHECK(version.out.rfind("henvisctl ", 0) == 0);
  // A group word alone lists its commands and nothing else
  const auto group = henvisctl(s.dir(), "offer");
  CHECK(group.status == 0);
  CHECK(group.out.find("offer register") != std::string::npos);
  CHECK(group.out.find("offer withdraw") != std::string::npos);
  CHECK(group.out.find("referrals list") == std::string::npos);
}

TEST_CASE("henvisctl suggests the command or option a typo meant",
          "[integration][henvisctl][cli]") {
  Stack s;
  const auto cmd = henvisctl(s.dir(), "referals list");
  CHECK(cmd.status == 2);
  CHECK(cmd.err.find("unknown command \"referals list\" (did you mean \"referrals list\"?)") !=
        std::string::npos);
  const auto group = henvisctl(s.dir(), "ofer");
  CHECK(group.status == 2);
  CHECK(group.err.find("(did you mean \"offer\"?)") != std::string::npos);
  const auto opt = henvisctl(s.dir(), "referrals list --stauts routed");
  CHECK(opt.status == 2);
  CHECK(opt.err.find("unknown option --stauts (did you mean --status?)") != std::string::npos);
  // Nothing is suggested for a word that resembles no command
  const auto none = henvisctl(s.dir(), "frobnicate");
  CHECK(none.status == 2);
  CHECK(none.err.find("did you mean") == std::string::npos);
}

TEST_CASE("henvisctl takes no token and no person's data on the command line",
          "[integration][henvisctl][cli]") {
  Stack s;
  // A token as an option is refused, pointing to the environment or a file
  const auto token = henvisctl(s.dir(), "--token dev-center-657 referrals list");
  CHECK(token.status == 2);
  CHECK(token.err.find("HENVIS_TOKEN or give --token-file") != std::string::npos);
  // A CPR number as an option is refused, and not repeated in the error
  std::ofstream(s.dir() / "officer.token") << "dev-officer-mvj\n";
  const auto cpr = henvisctl(s.dir(), "--token-file " + (s.dir() / "officer.token").string() +
                                          " offer register --offer-id x --journal "
                                          "4100-84123-00042-26 --offence drunk --officer MVJ-1 "
                                          "--answer yes --kommunekode 657 --cpr 010190-1234");
  CHECK(cpr.status == 2);
  CHECK(cpr.err.find("--person FILE") != std::string::npos);
  CHECK(cpr.err.find("010190") == std::string::npos);
}

TEST_CASE("A repeated henvisctl offer or outcome command has the effect of one",
          "[integration][henvisctl][cli][retry]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  s.start("notifier");
  const auto officer = s.dir() / "officer.token";
  const auto centre = s.dir() / "centre.token";
  std::ofstream(officer) << "dev-officer-mvj\n";
  std::ofstream(centre) << "dev-center-657\n";
  std::ofstream(s.dir() / "person.json")
      << R"({"cpr": "010190-1234", "name": "Jens Testesen", "phone": "+45 22 33 44 55"})";
  const std::string globals = "--intake http://127.0.0.1:" + std::to_string(s.port("intake")) +
                              " --router http://127.0.0.1:" + std::to_string(s.port("router")) +
                              " --json --token-file ";
  const std::string offer = globals + officer.string() +
                            " offer register --offer-id cli-retry-1 --journal 4100-84123-00042-26"
                            " --offence drunk --officer MVJ-1 --answer yes --kommunekode 657"
                            " --person " +
                            (s.dir() / "person.json").string();
  // When the officer runs the same register command twice, seconds apart, with the default charge
  // time
  const auto first = henvisctl(s.dir(), offer);
  INFO(first.err);
  REQUIRE(first.status == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto second = henvisctl(s.dir(), offer);
  INFO(second.err);
  // Then both succeed with the same referral: one offer, not a 409 for a "different" one
  REQUIRE(second.status == 0);
  const auto r1 = parse<henvis::v1::OfferResponse>(first.out);
  CHECK(parse<henvis::v1::OfferResponse>(second.out).referral_id() == r1.referral_id());
  // And the journal kept no personal data and no offer id in clear
  const std::string journal = slurp(s.dir() / "journal.db") + slurp(s.dir() / "journal.db-wal");
  REQUIRE_FALSE(journal.empty());
  CHECK(journal.find("cli-retry-1") == std::string::npos);
  CHECK(journal.find("Testesen") == std::string::npos);

  // Given the referral in the centre's inbox, acknowledged
  REQUIRE(eventually([&] { return inbox(s, "dev-center-657").entries_size() == 1; }));
  const auto entry = inbox(s, "dev-center-657").entries(0);
  REQUIRE(http("POST", s.port("notifier"), "/v1/inbox/" + entry.notification_id() + "/ack",
               "dev-center-657")
              .status == 200);
  const auto attempts = [&] {
    auto r = http("GET", s.port("router"), "/v1/referrals/" + r1.referral_id(), "dev-center-657");
    return r.status == 200 ? parse<henvis::v1::ReferralView>(r.body).contact_attempts() : -1;
  };
  REQUIRE(eventually([&] {
    auto r = http("GET", s.port("router"), "/v1/referrals/" + r1.referral_id(), "dev-center-657");
    return parse<henvis::v1::ReferralView>(r.body).status() ==
           henvis::v1::REFERRAL_STATUS_ACKNOWLEDGED;
  }));
  const std::string outcome =
      globals + centre.string() + " outcome record " + r1.referral_id() + " contact_attempted";
  // When the router is down, the centre's attempt gets no answer
  s.stop("router");
  const auto lost = henvisctl(s.dir(), outcome);
  CHECK(lost.status == 3);
  CHECK(lost.err.find("the same command again retries this outcome safely") != std::string::npos);
  henvis::sqlite::Db db((s.dir() / "journal.db").string());
  auto pending = [&] {
    henvis::sqlite::Stmt q(db, "SELECT count(*) FROM outcome_attempts");
    q.step();
    return q.i64(0);
  };
  CHECK(pending() == 1);
  std::string key, at;
  {
    henvis::sqlite::Stmt q(db, "SELECT request_hash, idempotency_key, at FROM outcome_attempts");
    REQUIRE(q.step());
    key = q.text(1);
    at = q.text(2);
  }
  // And the same command, once the router is back, records it and settles the journal
  s.start("router");
  const auto retried = henvisctl(s.dir(), outcome);
  INFO(retried.err);
  REQUIRE(retried.status == 0);
  CHECK(attempts() == 1);
  CHECK(pending() == 0);
  // When the answer to that retry had been lost too (the journal still holds the attempt)
  henvis::sqlite::Stmt restore(db,
                               "INSERT INTO outcome_attempts(request_hash, idempotency_key, at, "
                               "recorded_at) VALUES (?,?,?,0)");
  // (the request hash is the journal's own; re-running the command computes the same)
  restore
      .bind(1, henvis::sha256_hex(r1.referral_id() + std::string(1, '\0') + "contact_attempted" +
                                  std::string(1, '\0') + std::string(1, '\0')))
      .bind(2, key)
      .bind(3, at)
      .run();
  restore.reset();
  db.exec("UPDATE outcome_attempts SET recorded_at = strftime('%s','now') * 1000");
  const auto replay = henvisctl(s.dir(), outcome);
  INFO(replay.err);
  REQUIRE(replay.status == 0);
  // Then the router recognises the key: still one failed attempt, not two
  CHECK(attempts() == 1);
  // And running it again after a settled answer is a new, deliberate attempt
  REQUIRE(henvisctl(s.dir(), outcome).status == 0);
  CHECK(attempts() == 2);
}

namespace {
// An incident (proto3 JSON line) of a father living in `home` with his child:
// aggravated violence `days_ago` days ago in Herning.
std::string incident_line(const std::string& id, const std::string& father,
                          const std::string& child, int home, int days_ago) {
  const std::int64_t t = std::time(nullptr) - 86400 * days_ago;
  return "{\"incidentId\":\"" + id +
         "\",\"journalNumber\":\"4100-84123-00042-26\",\"districtId\":\"mvj\",\"occurredAt\":\"" +
         henvis::rfc3339(std::chrono::system_clock::from_time_t(t)) +
         "\",\"locationKommunekode\":657,\"offenceCodes\":[\"PH-G-GROV-VOLD\"],\"involved\":[{"
         "\"role\":\"PERSON_ROLE_SUSPECT\",\"cpr\":\"" +
         father + "\",\"homeKommunekode\":" + std::to_string(home) + ",\"children\":[{\"cpr\":\"" +
         child + "\",\"homeKommunekode\":" + std::to_string(home) + "}]}]}\n";
}

// The word after `key` on the line that starts with it ("" if none).
std::string value_after(const std::string& out, const std::string& key) {
  const auto at = out.find(key);
  if (at == std::string::npos) return "";
  std::istringstream in(out.substr(at + key.size()));
  std::string word;
  in >> word;
  return word;
}
}  // namespace

TEST_CASE("henvisctl runs Socialsøg: scans, underretninger, receipt, response, forwarding",
          "[integration][henvisctl][socialsog]") {
  Stack s;
  s.start_broker();
  std::ofstream(s.dir() / "socialsog-settings.textproto") << "weekly_scan_disabled: true\n";
  s.start("socialsog");
  // Given a Herning family and a Holstebro family (no henvis account), imported
  const auto file = s.dir() / "incidents.jsonl";
  std::ofstream(file) << incident_line("ctl-1", "150580-1235", "010315-4123", 657, 3)
                      << incident_line("ctl-2", "150580-1236", "010315-4124", 661, 3);
  auto imp = henvisctl(s.dir(), "incidents import " + file.string() + " --bootstrap-file " +
                                    (s.dir() / "bootstrap.txt").string());
  REQUIRE(imp.status == 0);
  REQUIRE(eventually([&] { return s.metric("socialsog", "henvis_consumer_applied_total") >= 2; }));
  const std::string url =
      "--socialsog http://127.0.0.1:" + std::to_string(s.port("socialsog")) + " --token-file ";
  std::ofstream(s.dir() / "coordinator.token") << "dev-coordinator-mvj\n";
  std::ofstream(s.dir() / "herning.token") << "dev-municipality-657\n";
  const std::string coordinator = url + (s.dir() / "coordinator.token").string() + " ";
  const std::string herning = url + (s.dir() / "herning.token").string() + " ";

  // When the coordinator scans a window of dates that holds nothing: zeros printed
  auto none = henvisctl(s.dir(), coordinator + "scans run --from 2020-01-01 --to 2020-01-31");
  INFO(none.err);
  REQUIRE(none.status == 0);
  CHECK(none.out.find("underretninger created:  0") != std::string::npos);
  CHECK(none.out.find("window:") != std::string::npos);
  // And without a window: both families
  auto run = henvisctl(s.dir(), coordinator + "scans run");
  REQUIRE(run.status == 0);
  CHECK(run.out.find("underretninger created:  2") != std::string::npos);
  const std::string scan_id = value_after(run.out, "scan:");
  CHECK(henvisctl(s.dir(), coordinator + "scans show " + scan_id).out.find("children flagged:") !=
        std::string::npos);
  // Then the scans list pages, pointing to the next page
  auto scans = henvisctl(s.dir(), coordinator + "scans list --limit 1");
  CHECK(scans.out.find(scan_id) != std::string::npos);
  const std::string cursor = value_after(scans.out, "more: --cursor");
  REQUIRE_FALSE(cursor.empty());
  auto rest = henvisctl(s.dir(), coordinator + "scans list --limit 1 --cursor " + cursor);
  CHECK(rest.out.find("1 scan\n") != std::string::npos);
  CHECK(rest.out.find("more:") == std::string::npos);

  // And Herning lists its pending one, with the working days left
  auto pending = henvisctl(s.dir(), herning + "underretninger list --pending");
  REQUIRE(pending.status == 0);
  CHECK(pending.out.find("DAYS LEFT") != std::string::npos);
  CHECK(pending.out.find("1 underretning\n") != std::string::npos);
  auto json = henvisctl(s.dir(), herning + "--json underretninger list --pending");
  const auto list = parse<henvis::v1::UnderretningList>(json.out);
  REQUIRE(list.underretninger_size() == 1);
  const std::string id = list.underretninger(0).notice().underretning_id();
  CHECK(list.underretninger(0).working_days_left() >= 6);
  // When Herning records receipt (today) and two responses, the note from a file
  auto receipt = henvisctl(s.dir(), herning + "underretninger receipt " + id + " --at now");
  INFO(receipt.err);
  CHECK(receipt.status == 0);
  CHECK(receipt.out.find("recorded by dev-municipality-657") != std::string::npos);
  std::ofstream(s.dir() / "note.txt") << "børnefaglig undersøgelse\n";
  CHECK(henvisctl(s.dir(), herning + "underretninger response " + id +
                               " assessment_started --note-file " + (s.dir() / "note.txt").string())
            .status == 0);
  auto second = henvisctl(s.dir(), herning + "underretninger response " + id + " support_measure");
  CHECK(second.out.find("2 responses recorded") != std::string::npos);
  CHECK(henvisctl(s.dir(), herning + "underretninger response " + id + " shrug").status == 2);
  // Then show prints the history, and the status filter finds it
  auto show = henvisctl(s.dir(), herning + "underretninger show " + id);
  CHECK(show.out.find("responses:") != std::string::npos);
  CHECK(show.out.find("børnefaglig undersøgelse") != std::string::npos);
  CHECK(show.out.find("support_measure") != std::string::npos);
  CHECK(henvisctl(s.dir(), herning + "underretninger list --status responded").out.find(id) !=
        std::string::npos);

  // When the coordinator forwards the Holstebro one by letter and records its receipt
  auto all = henvisctl(s.dir(), coordinator + "--json underretninger list");
  std::string holstebro;
  const auto coordinators = parse<henvis::v1::UnderretningList>(all.out);
  for (const auto& v : coordinators.underretninger())
    if (v.notice().kommunekode() == 661) holstebro = v.notice().underretning_id();
  REQUIRE_FALSE(holstebro.empty());
  auto forward = henvisctl(
      s.dir(), coordinator + "underretninger forward " + holstebro + " --channel letter --at now");
  INFO(forward.err);
  CHECK(forward.status == 0);
  CHECK(forward.out.find("by letter") != std::string::npos);
  CHECK(henvisctl(s.dir(), coordinator + "underretninger receipt " + holstebro).status == 0);
  // And Herning's is not the coordinator's to confirm; a bad channel is named
  auto refused = henvisctl(s.dir(), coordinator + "underretninger forward " + id);
  CHECK(refused.status == 1);
  CHECK(refused.err.find("404") != std::string::npos);
  auto channel =
      henvisctl(s.dir(), coordinator + "underretninger forward " + holstebro + " --channel fax");
  CHECK(channel.err.find("channel:") != std::string::npos);
  // And the coordinator's list pages one at a time through both
  auto page = henvisctl(s.dir(), coordinator + "underretninger list --limit 1");
  const std::string next = value_after(page.out, "more: --cursor");
  REQUIRE_FALSE(next.empty());
  auto last = henvisctl(s.dir(), coordinator + "underretninger list --limit 1 --cursor " + next);
  CHECK(last.out.find("more:") == std::string::npos);
  CHECK((page.out.find(id) != std::string::npos) != (last.out.find(id) != std::string::npos));
  CHECK(s.stop("socialsog") == 0);
}
