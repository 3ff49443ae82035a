// henvis-sim: a deterministic scenario generator that drives a running henvis
// stack through its public HTTP API, as officers and rusmiddelcentre would.
//
//   henvis-sim run  [options]   play the scenario against the stack
//   henvis-sim plan [options]   print the planned actions (no I/O)
//   henvis-sim incidents [--seed N] [--year Y] [--out FILE.jsonl]
//                               a year of police incidents for Socialsøg, as
//                               JSON lines for `henvisctl incidents import`
//
// The same --seed gives the same scenario on every platform (see Rng in
// plan.hpp). Offer ids are "sim-<run id>-NNNN" (run id defaults to the seed)
// and outcomes carry Idempotency-Keys derived from them, so running the same
// seed again against the same stack replays idempotently: intake answers the
// same offers with the same answers and the router records no outcome twice.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "sim/incidents.hpp"
#include "sim/plan.hpp"
#include "sim/run.hpp"

namespace {

constexpr const char* USAGE = R"(usage: henvis-sim run|plan [options]
       henvis-sim incidents [--seed N] [--year YYYY] [--households N] [--out FILE.jsonl]

  run     register the scenario's offers as officers, wait for the referrals,
          acknowledge them and record outcomes as the centres; print and write
          what was done (the numbers to compare with the evaluation's funnel)
  plan    print the planned actions, one a line, without contacting anything

scenario:
  --seed N               random seed (default 1); the same seed gives the same scenario
  --run-id ID            part of every offer id (default: the seed); re-running the same
                         seed and run id against the same stack changes nothing
  --scenario NAME        default (calibrated to the seed document: 119 yes in 10 months,
                         67 % conversation, 32 % further sessions)
  --months N             length of the period (default 10)
  --start YYYY-MM-DD     first day of charges (default 2020-03-01)
  --yes N                people who say yes (default 119); about 1.3 no per yes (assumed)

run:
  --intake URL --router URL --notifier URL --evaluation URL
                         default $HENVIS_INTAKE, $HENVIS_ROUTER, $HENVIS_NOTIFIER,
                         $HENVIS_EVALUATION as henvisctl reads them, else
                         http://127.0.0.1:8081, :8082, :8084, :8085 (https: the
                         CA in $HENVIS_CA_FILE, else the system's, is trusted)
  --officer-token T      default dev-officer-mvj
  --centre-token K=T     a centre token for kommunekode K (repeatable); outcomes are
                         recorded only for referrals whose centre has one. Default:
                         dev-center-K for each of the 11 municipalities the router accepts
  --no-ack               do not acknowledge new referrals in the inbox first
  --timeout SECONDS      wait this long for referrals to appear (default 60)
  --out FILE             also write the summary as JSON to FILE
  --json                 print the summary as JSON instead of text

incidents (Socialsøg; see tools/sim/incidents.hpp for the scenario):
  --seed N               random seed (default 1); the same seed gives the same incidents
  --year YYYY            the calendar year the incidents happen in (default: the 365
                         days up to today, which a scan run now looks back over)
  --households N         households with children (default 500; about 3-4 underretninger
                         a week over the two dev districts)
  --out FILE             write the JSON lines to FILE (default: standard output); a
                         summary goes to standard error

exit status: 0 done without errors, 1 some calls were refused (see the summary),
2 bad command line, 3 the stack could not be reached.
)";

std::string date_text(std::chrono::sys_days d) {
  const std::chrono::year_month_day ymd(d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

int usage_error(const std::string& msg) {
  std::cerr << "henvis-sim: " << msg << "\n(henvis-sim --help for the options)\n";
  return 2;
}

long long number(const std::string& name, const std::string& v);

// Splits the option at args[i] ("--name=value" or "--name value", moving i
// past the value) into `name` (without "--") and `value`; the usage error
// if it is not an option or lacks its value.
std::optional<std::string> option_value(const std::vector<std::string>& args, std::size_t& i,
                                        std::string& name, std::string& value) {
  if (name.rfind("--", 0) != 0) return "unexpected argument " + name;
  if (auto eq = name.find('='); eq != std::string::npos) {
    value = name.substr(eq + 1);
    name = name.substr(0, eq);
  } else {
    if (i + 1 >= args.size()) return name + " needs a value";
    value = args[++i];
  }
  name = name.substr(2);
  return std::nullopt;
}

// Reads args[1..] as options: a word in `switches` (e.g. "--json") is handed
// to `set` with the value "", anything else as "--name value" or
// "--name=value". --help prints the usage. The exit code when there is
// nothing to run (--help, a usage error); `set` throws std::invalid_argument
// with the usage error's text.
std::optional<int> read_options(
    const std::vector<std::string>& args, const std::vector<std::string>& switches,
    const std::function<void(const std::string& name, const std::string& value)>& set) {
  try {
    for (std::size_t i = 1; i < args.size(); ++i) {
      std::string name = args[i], value;
      if (name == "--help" || name == "-h") {
        std::cout << USAGE;
        return 0;
      }
      if (std::find(switches.begin(), switches.end(), name) != switches.end()) {
        set(name.substr(2), "");
        continue;
      }
      if (auto bad = option_value(args, i, name, value)) return usage_error(*bad);
      set(name, value);
    }
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }
  return std::nullopt;
}

int incidents_main(const std::vector<std::string>& args) {
  henvis::sim::IncidentOptions opt;
  // By default the last 365 days up to today, so that a scan run now sees
  // them and the dev retention (15 months) keeps them.
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  opt.until = today;
  opt.year = static_cast<int>(std::chrono::year_month_day(today - std::chrono::days(365)).year());
  std::string out_file;
  auto done = read_options(args, {}, [&](const std::string& name, const std::string& value) {
    if (name == "seed") {
      opt.seed = static_cast<std::uint64_t>(number(name, value));
    } else if (name == "year") {
      opt.year = static_cast<int>(number(name, value));
      opt.until.reset();
    } else if (name == "households") {
      opt.households = static_cast<int>(number(name, value));
    } else if (name == "out") {
      out_file = value;
    } else {
      throw std::invalid_argument("unknown option --" + name + " for incidents");
    }
  });
  if (done) return *done;
  try {
    const auto year = henvis::sim::generate_incidents(opt);
    const std::string text = henvis::sim::to_jsonl(year);
    if (out_file.empty()) {
      std::cout << text;
    } else {
      std::ofstream f(out_file, std::ios::binary);
      f << text;
      if (!f) {
        std::cerr << "henvis-sim: cannot write " << out_file << "\n";
        return 1;
      }
    }
    const auto& s = year.summary;
    std::cerr << "henvis-sim incidents: seed " << opt.seed << ", "
              << (opt.until ? "the 365 days before " + date_text(*opt.until)
                            : "year " + std::to_string(opt.year))
              << ": " << s.incidents << " incidents (mvj " << s.incidents_mvj << ", oj "
              << s.incidents_oj << ", " << s.severe_incidents << " severe, " << s.late_registered
              << " registered late); " << s.households << " households with " << s.children
              << " children (" << s.children_elsewhere << " living in another municipality, "
              << s.moved_households << " households moved)"
              << (out_file.empty() ? "" : "; written to " + out_file) << "\n";
    return 0;
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }
}

long long number(const std::string& name, const std::string& v) {
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty()) throw std::invalid_argument("--" + name + " needs a number");
  return n;
}

// What `run` and `plan` are told on the command line.
struct RunCommand {
  henvis::sim::Options opt;
  henvis::sim::RunOptions ropt;
  std::string out_file;
  bool json = false;
};

// Sets the option --name to value; std::invalid_argument (the usage error's
// text) for an unknown option or a bad value.
void set_option(RunCommand& c, const std::string& name, const std::string& value) {
  auto& opt = c.opt;
  auto& ropt = c.ropt;
  if (name == "seed")
    opt.seed = static_cast<std::uint64_t>(number(name, value));
  else if (name == "run-id")
    opt.run_id = value;
  else if (name == "scenario")
    opt.scenario = value;
  else if (name == "months")
    opt.months = static_cast<int>(number(name, value));
  else if (name == "start")
    opt.start = value;
  else if (name == "yes")
    opt.yes = static_cast<int>(number(name, value));
  else if (name == "intake")
    ropt.endpoints.intake = value;
  else if (name == "router")
    ropt.endpoints.router = value;
  else if (name == "notifier")
    ropt.endpoints.notifier = value;
  else if (name == "evaluation")
    ropt.endpoints.evaluation = value;
  else if (name == "officer-token")
    ropt.officer_token = value;
  else if (name == "centre-token") {
    auto eq = value.find('=');
    if (eq == std::string::npos || eq + 1 >= value.size())
      throw std::invalid_argument("--centre-token needs KOMMUNEKODE=TOKEN");
    ropt.centre_tokens[static_cast<int>(number(name, value.substr(0, eq)))] = value.substr(eq + 1);
  } else if (name == "timeout")
    ropt.wait_timeout = std::chrono::seconds(number(name, value));
  else if (name == "out")
    c.out_file = value;
  else
    throw std::invalid_argument("unknown option --" + name);
}

// Reads the options of `run` and `plan` into c; the exit code when there is
// nothing to run (--help, a usage error).
std::optional<int> parse_run_options(const std::vector<std::string>& args, RunCommand& c) {
  // The same addresses henvisctl reads; the command line overrides them.
  auto& e = c.ropt.endpoints;
  for (auto [var, url] : {std::pair{"HENVIS_INTAKE", &e.intake},
                          {"HENVIS_ROUTER", &e.router},
                          {"HENVIS_NOTIFIER", &e.notifier},
                          {"HENVIS_EVALUATION", &e.evaluation}})
    if (const char* v = std::getenv(var); v && *v) *url = v;
  if (const char* v = std::getenv("HENVIS_CA_FILE"); v && *v) e.ca_file = v;  // https
  auto done = read_options(args, {"--no-ack", "--json"},
                           [&](const std::string& name, const std::string& value) {
                             if (name == "no-ack")
                               c.ropt.acknowledge = false;
                             else if (name == "json")
                               c.json = true;
                             else
                               set_option(c, name, value);
                           });
  if (done) return done;
  try {
    for (const auto& url : {e.intake, e.router, e.notifier, e.evaluation})
      henvis::client::parse_url(url);
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }
  return std::nullopt;
}

// Plays the plan against the stack, prints the summary and writes it to
// --out; the exit status.
int run_plan(const henvis::sim::Plan& plan, const RunCommand& c) {
  try {
    auto summary = henvis::sim::run(plan, c.ropt, std::cerr);
    const std::string j = henvis::sim::to_json(summary);
    if (c.json)
      std::cout << j;
    else
      henvis::sim::print(std::cout, summary);
    if (!c.out_file.empty()) {
      std::ofstream f(c.out_file);
      f << j;
      if (!f) {
        std::cerr << "henvis-sim: cannot write " << c.out_file << "\n";
        return 1;
      }
    }
    return summary.errors ? 1 : 0;
  } catch (const henvis::client::ConnectionError& e) {
    std::cerr << "henvis-sim: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("expected run, plan or incidents");
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << USAGE;
    return 0;
  }
  const std::string command = args[0];
  if (command == "incidents") return incidents_main(args);
  if (command != "run" && command != "plan") return usage_error("unknown command " + command);

  RunCommand c;
  if (auto done = parse_run_options(args, c)) return *done;
  henvis::sim::Plan plan;
  try {
    plan = henvis::sim::plan(c.opt);
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }
  if (command == "plan") {
    std::cout << henvis::sim::to_text(plan);
    return 0;
  }
  return run_plan(plan, c);
}
