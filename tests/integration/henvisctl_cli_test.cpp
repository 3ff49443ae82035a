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

TEST_CASE("With --json, henvisctl's errors are JSON too: the server's problem or its own",
          "[integration][henvisctl][cli]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  std::ofstream(s.dir() / "officer.token") << "dev-officer-mvj\n";
  const std::string globals =
      "--json --intake http://127.0.0.1:" + std::to_string(s.port("intake")) + " --token-file " +
      (s.dir() / "officer.token").string();
  // The server's 400 keeps its status, title and the field it names
  const auto bad = henvisctl(s.dir(), globals +
                                          " offer register --offer-id json-err-1 --journal 12"
                                          " --offence drunk --officer MVJ-1 --answer no"
                                          " --kommunekode 657");
  CHECK(bad.status == 1);
  CHECK(bad.err.find("\"error\":\"api\"") != std::string::npos);
  CHECK(bad.err.find("\"status\":400") != std::string::npos);
  CHECK(bad.err.find("\"field\":\"journalNumber\"") != std::string::npos);
  // A usage error and an unreachable server say so, with the exit code
  const auto usage = henvisctl(s.dir(), globals + " referals list");
  CHECK(usage.status == 2);
  CHECK(usage.err.find("\"error\":\"usage\"") != std::string::npos);
  CHECK(usage.err.find("\"exitCode\":2") != std::string::npos);
  const auto down =
      henvisctl(s.dir(), "--json --token-file " + (s.dir() / "officer.token").string() +
                             " --intake http://127.0.0.1:1 offer withdraw x");
  CHECK(down.status == 3);
  CHECK(down.err.find("\"error\":\"connection\"") != std::string::npos);
}

TEST_CASE("henvisctl: a coordinator pages forwards and closes - the last attempt needs a confirm",
          "[integration][henvisctl][cli][unroutable]") {
  Stack s;
  s.start_broker();
  s.start("intake");
  s.start("router");
  s.start("notifier");
  const auto token = [&](const std::string& t) {
    const auto f = s.dir() / (t + ".token");
    std::ofstream(f) << t << "\n";
    return " --token-file " + f.string();
  };
  const std::string globals = "--router http://127.0.0.1:" + std::to_string(s.port("router"));
  const std::string coordinator = globals + token("dev-coordinator-mvj");
  const std::string centre = globals + token("dev-center-657");
  // Given two unroutable referrals of mvj (København residents)
  for (const char* id : {"cli-kbh-1", "cli-kbh-2"})
    REQUIRE(
        http("POST", s.port("intake"), "/v1/offers", "dev-officer-mvj", offer_json(id, 101, true))
            .status == 201);
  const auto unroutable = [&] {
    auto r =
        http("GET", s.port("router"), "/v1/referrals?status=unroutable", "dev-coordinator-mvj");
    return parse<henvis::v1::ReferralList>(r.body);
  };
  REQUIRE(eventually([&] { return unroutable().referrals_size() == 2; }));
  const std::string first_id = unroutable().referrals(0).referral_id();
  const std::string second_id = unroutable().referrals(1).referral_id();

  // When the coordinator lists a page of one, the next page's command is printed
  const auto page1 = henvisctl(s.dir(), coordinator + " referrals list --limit 1");
  INFO(page1.err);
  REQUIRE(page1.status == 0);
  CHECK(page1.out.find(first_id) != std::string::npos);
  const std::string more = "more: henvisctl referrals list --limit 1 --cursor ";
  const auto hint = page1.out.find(more);
  REQUIRE(hint != std::string::npos);
  const std::string rest = page1.out.substr(hint + more.size());
  const std::string cursor = rest.substr(0, rest.find('\n'));
  const auto page2 =
      henvisctl(s.dir(), coordinator + " referrals list --limit 1 --cursor " + cursor);
  REQUIRE(page2.status == 0);
  CHECK(page2.out.find(second_id) != std::string::npos);
  CHECK(page2.out.find(first_id) == std::string::npos);
  CHECK(page2.out.find("more:") == std::string::npos);

  // A note on the command line is refused (it may name the person)
  const auto inline_note = henvisctl(s.dir(), coordinator + " referrals forward " + first_id +
                                                  " --centre rusmiddelcenter-657 --note secret");
  CHECK(inline_note.status == 2);
  CHECK(inline_note.err.find("--note-file") != std::string::npos);
  // When the coordinator forwards the first with the note on standard input
  std::ofstream(s.dir() / "note.txt") << "Moved to Herning\n";
  const auto fwd = henvisctl(s.dir(), coordinator + " referrals forward " + first_id +
                                          " --centre rusmiddelcenter-657 --note-file - < " +
                                          (s.dir() / "note.txt").string());
  INFO(fwd.err);
  REQUIRE(fwd.status == 0);
  CHECK(fwd.out.find("is now routed (centre rusmiddelcenter-657)") != std::string::npos);
  // And closes the second as handled outside henvis
  const auto closed = henvisctl(
      s.dir(), coordinator + " referrals close " + second_id + " --reason handled_outside_henvis");
  INFO(closed.err);
  REQUIRE(closed.status == 0);
  CHECK(closed.out.find("is now closed") != std::string::npos);
  // And closing it again is refused by the router, naming its status
  const auto again =
      henvisctl(s.dir(), coordinator + " referrals close " + second_id + " --reason duplicate");
  CHECK(again.status == 1);
  CHECK(again.err.find("closed") != std::string::npos);

  // Then the centre records two failed attempts; the third would end the referral
  const std::string attempt = centre + " outcome record " + first_id + " contact_attempted";
  REQUIRE(henvisctl(s.dir(), attempt).status == 0);
  REQUIRE(henvisctl(s.dir(), attempt).status == 0);
  const auto last = henvisctl(s.dir(), attempt);
  CHECK(last.status == 2);
  CHECK(last.err.find("this is the last attempt: the referral becomes unreachable; add "
                      "--confirm-unreachable to record it") != std::string::npos);
  auto view = [&] {
    auto r = http("GET", s.port("router"), "/v1/referrals/" + first_id, "dev-center-657");
    return parse<henvis::v1::ReferralView>(r.body);
  };
  CHECK(view().contact_attempts() == 2);
  CHECK(view().attempts_left() == 1);
  const auto confirmed = henvisctl(s.dir(), attempt + " --confirm-unreachable");
  INFO(confirmed.err);
  REQUIRE(confirmed.status == 0);
  CHECK(view().status() == henvis::v1::REFERRAL_STATUS_UNREACHABLE);
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
  const std::string cursor = value_after(scans.out, " --cursor");
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
  const std::string next = value_after(page.out, " --cursor");
  REQUIRE_FALSE(next.empty());
  auto last = henvisctl(s.dir(), coordinator + "underretninger list --limit 1 --cursor " + next);
  CHECK(last.out.find("more:") == std::string::npos);
  CHECK((page.out.find(id) != std::string::npos) != (last.out.find(id) != std::string::npos));
  CHECK(s.stop("socialsog") == 0);
}
