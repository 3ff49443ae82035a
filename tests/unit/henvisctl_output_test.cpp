// henvisctl's output for people: Copenhagen wall-clock times, dates read as
// Copenhagen days, tables that fit 120 columns, statistics with percentages
// and withheld cells marked (tools/henvisctl/cli.hpp).
#include <google/protobuf/util/time_util.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "henvis/v1/stats.pb.h"
#include "henvisctl/cli.hpp"

using google::protobuf::util::TimeUtil;
using namespace henvis;

namespace {
google::protobuf::Timestamp at(const std::string& rfc3339) {
  google::protobuf::Timestamp t;
  REQUIRE(TimeUtil::FromString(rfc3339, &t));
  return t;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

TEST_CASE("henvisctl shows times in Copenhagen time, winter and summer", "[henvisctl]") {
  CHECK(ctl::short_time(at("2024-01-15T22:30:59Z")) == "2024-01-15 23:30");
  CHECK(ctl::short_time(at("2024-07-01T22:30:00Z")) == "2024-07-02 00:30");
  CHECK(ctl::short_time(google::protobuf::Timestamp()).empty());
}

TEST_CASE("henvisctl reads a date option as the start of that day in Copenhagen", "[henvisctl]") {
  CHECK(ctl::parse_time("at", "2024-01-15") == at("2024-01-14T23:00:00Z"));
  CHECK(ctl::parse_time("at", "2024-07-02") == at("2024-07-01T22:00:00Z"));
  CHECK(ctl::parse_time("at", "2024-07-02T10:00:00+02:00") == at("2024-07-02T08:00:00Z"));
  CHECK_THROWS_AS(ctl::parse_time("at", "2024-02-30"), ctl::UsageError);
  CHECK_THROWS_AS(ctl::parse_time("at", "yesterday"), ctl::UsageError);
}

TEST_CASE("A table wider than 120 columns is split into parts that fit, keys repeated",
          "[henvisctl]") {
  std::vector<std::string> header{"ID"};
  std::vector<std::string> row{"r-1"};
  for (int c = 0; c < 12; ++c) {
    header.push_back("COLUMN" + std::to_string(c));
    row.push_back(std::string(15, static_cast<char>('a' + c)));
  }
  std::ostringstream out;
  ctl::print_table(out, header, {row});
  const auto lines = lines_of(out.str());
  int headers = 0;
  for (const auto& l : lines) {
    CHECK(width(l) <= ctl::TABLE_WIDTH);
    if (l.rfind("ID", 0) == 0) ++headers;
    if (!l.empty()) CHECK((l.rfind("ID", 0) == 0 || l.rfind("r-1", 0) == 0));
  }
  CHECK(headers >= 2);
  for (int c = 0; c < 12; ++c)
    CHECK(out.str().find("COLUMN" + std::to_string(c)) != std::string::npos);
}

TEST_CASE("A cell over 40 characters is cut with an ellipsis", "[henvisctl]") {
  std::ostringstream out;
  ctl::print_table(out, {"NOTE"}, {{std::string(100, 'x')}});
  const auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 2);
  CHECK(width(lines[1]) == 40);
  CHECK(lines[1].substr(lines[1].size() - 3) == "\u2026");
}

TEST_CASE("Statistics print rates as percentages and withheld counts as <N", "[henvisctl]") {
  v1::ReferralStats s;
  s.set_min_cell(5);
  auto* herning = s.add_rows();
  herning->set_kommunekode(657);
  herning->set_municipality_name("Herning");
  herning->set_offered(40);
  herning->set_accepted(20);
  herning->set_routed(20);
  herning->set_routed_rate(1.0);
  herning->set_conversation_held_rate(0.25);
  herning->add_suppressed("withdrawn");
  herning->add_suppressed("withdrawnRate");
  auto* total = s.mutable_total();
  total->set_total(true);
  total->set_offered(40);
  total->set_accepted(20);
  std::ostringstream out;
  ctl::print_stats(out, s);
  const std::string text = out.str();
  CHECK(text.find("100.0%") != std::string::npos);
  CHECK(text.find("25.0%") != std::string::npos);
  CHECK(text.find("<5") != std::string::npos);
  CHECK(text.find("Herning") != std::string::npos);
  CHECK(text.find("total") != std::string::npos);
  CHECK(text.find("withheld, fewer than 5 persons") != std::string::npos);
  for (const auto& l : lines_of(text)) CHECK(width(l) <= ctl::TABLE_WIDTH);
}

TEST_CASE("Statistics without groups print the total as a list, not a one-row table",
          "[henvisctl]") {
  v1::ReferralStats s;
  s.set_min_cell(5);
  s.mutable_total()->set_total(true);
  s.mutable_total()->set_offered(274);
  std::ostringstream out;
  ctl::print_stats(out, s);
  CHECK(out.str().find("OFFENCE") == std::string::npos);
  CHECK(out.str().find("OFFERED") != std::string::npos);
  CHECK(out.str().find("274") != std::string::npos);
}
