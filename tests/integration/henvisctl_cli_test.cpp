// henvisctl's command line as an operator meets it: help in every spelling,
// the version, a group's commands, and a suggestion for a slip of the keyboard.

#include <catch2/catch.hpp>
#include <string>

#include "harness.hpp"

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
  const auto opt = henvisctl(s.dir(), "--token t referrals list --stauts routed");
  CHECK(opt.status == 2);
  CHECK(opt.err.find("unknown option --stauts (did you mean --status?)") != std::string::npos);
  // Nothing is suggested for a word that resembles no command
  const auto none = henvisctl(s.dir(), "frobnicate");
  CHECK(none.status == 2);
  CHECK(none.err.find("did you mean") == std::string::npos);
}
