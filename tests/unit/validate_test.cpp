#include "henvis/validate.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace v = henvis::validate;

namespace {

// "YYYY-MM-DD", or "none"; Catch2 v2 cannot print year_month_day itself.
std::string iso(const std::optional<std::chrono::year_month_day>& d) {
  if (!d) return "none";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d->year()),
                static_cast<unsigned>(d->month()), static_cast<unsigned>(d->day()));
  return buf;
}

// The historical CPR check: weights 4,3,2,7,6,5,4,3,2,1 sum to a multiple of 11.
bool passes_modulus_11(std::string_view ten_digits) {
  static constexpr int kWeights[] = {4, 3, 2, 7, 6, 5, 4, 3, 2, 1};
  int sum = 0;
  for (std::size_t i = 0; i < 10; ++i) sum += (ten_digits[i] - '0') * kWeights[i];
  return sum % 11 == 0;
}

}  // namespace

// ---------------------------------------------------------------- CPR

TEST_CASE("CPR: DDMMYY-SSSS and DDMMYYSSSS are both valid") {
  CHECK_FALSE(v::cpr("010190-1234"));
  CHECK_FALSE(v::cpr("0101901234"));
  CHECK_FALSE(v::cpr("311299-0001"));
  CHECK_FALSE(v::cpr("150677-2345"));
}

TEST_CASE("CPR: a hyphen is allowed only right after the six date digits") {
  CHECK(v::cpr("01019-01234"));
  CHECK(v::cpr("0101901-234"));
  CHECK(v::cpr("-0101901234"));
  CHECK(v::cpr("0101901234-"));
  CHECK(v::cpr("010190--1234"));
  CHECK(v::cpr("010-190-1234"));
}

TEST_CASE("CPR: other separators and surrounding whitespace are rejected") {
  CHECK(v::cpr("010190 1234"));
  CHECK(v::cpr("010190/1234"));
  CHECK(
      v::cpr("010190\xE2\x80\x93"
             "1234"));  // en dash
  CHECK(v::cpr(" 0101901234"));
  CHECK(v::cpr("0101901234 "));
  CHECK(v::cpr("010190-1234\n"));
}

TEST_CASE("CPR: letters are rejected") {
  CHECK(v::cpr("01019O-1234"));  // letter O
  CHECK(v::cpr("010190-123X"));
  CHECK(v::cpr("abcdef-ghij"));
}

TEST_CASE("CPR: anything but exactly 10 digits is rejected") {
  CHECK(v::cpr(""));
  CHECK(v::cpr("010190-123"));
  CHECK(v::cpr("010190-12345"));
  CHECK(v::cpr("010190123"));
  CHECK(v::cpr("01019012345"));
  CHECK(v::cpr("0101901234012345678901234567890"));
}

TEST_CASE("CPR: the date must exist") {
  CHECK(v::cpr("000190-1234"));  // day 0
  CHECK(v::cpr("320190-1234"));  // day 32
  CHECK(v::cpr("010090-1234"));  // month 0
  CHECK(v::cpr("011390-1234"));  // month 13
  CHECK(v::cpr("310490-1234"));  // 31 April
  CHECK(v::cpr("300290-1234"));  // 30 February
  CHECK_FALSE(v::cpr("300490-1234"));
  CHECK_FALSE(v::cpr("310190-1234"));
}

TEST_CASE("CPR: 29 February is valid only in leap years") {
  CHECK(iso(v::cpr_birth_date("290200-4123")) == "2000-02-29");  // 2000: divisible by 400
  CHECK_FALSE(v::cpr("290200-4123"));
  CHECK(v::cpr("290200-2123"));  // 1900: not a leap year
  CHECK(iso(v::cpr_birth_date("290200-2123")) == "none");
  CHECK(iso(v::cpr_birth_date("290296-1234")) == "1996-02-29");
  CHECK(v::cpr("290297-1234"));  // 1997
  CHECK(iso(v::cpr_birth_date("290256-6000")) == "2056-02-29");
  CHECK(v::cpr("290258-5000"));  // 1858: not a leap year
  CHECK(iso(v::cpr_birth_date("290200-9123")) == "2000-02-29");
}

TEST_CASE("CPR: 7th digit 0-3 means the 1900s") {
  CHECK(iso(v::cpr_birth_date("010100-0000")) == "1900-01-01");
  CHECK(iso(v::cpr_birth_date("311299-3999")) == "1999-12-31");
  CHECK(iso(v::cpr_birth_date("010136-1000")) == "1936-01-01");
  CHECK(iso(v::cpr_birth_date("010158-2000")) == "1958-01-01");
}

TEST_CASE("CPR: 7th digit 4 means the 2000s up to YY 36, else the 1900s") {
  CHECK(iso(v::cpr_birth_date("010100-4000")) == "2000-01-01");
  CHECK(iso(v::cpr_birth_date("311236-4000")) == "2036-12-31");
  CHECK(iso(v::cpr_birth_date("010137-4000")) == "1937-01-01");
  CHECK(iso(v::cpr_birth_date("311299-4999")) == "1999-12-31");
}

TEST_CASE("CPR: 7th digit 9 means the 2000s up to YY 36, else the 1900s") {
  CHECK(iso(v::cpr_birth_date("010100-9000")) == "2000-01-01");
  CHECK(iso(v::cpr_birth_date("311236-9000")) == "2036-12-31");
  CHECK(iso(v::cpr_birth_date("010137-9000")) == "1937-01-01");
  CHECK(iso(v::cpr_birth_date("311299-9999")) == "1999-12-31");
}

TEST_CASE("CPR: 7th digit 5-8 means the 2000s up to YY 57, else the 1800s") {
  CHECK(iso(v::cpr_birth_date("010100-5000")) == "2000-01-01");
  CHECK(iso(v::cpr_birth_date("311257-5000")) == "2057-12-31");
  CHECK(iso(v::cpr_birth_date("010158-5000")) == "1858-01-01");
  CHECK(iso(v::cpr_birth_date("311257-8999")) == "2057-12-31");
  CHECK(iso(v::cpr_birth_date("010158-8999")) == "1858-01-01");
  CHECK(iso(v::cpr_birth_date("150699-6123")) == "1899-06-15");
  CHECK(iso(v::cpr_birth_date("150620-7123")) == "2020-06-15");
}

TEST_CASE("CPR: birth date is the same with and without the hyphen") {
  CHECK(iso(v::cpr_birth_date("150677-2345")) == "1977-06-15");
  CHECK(iso(v::cpr_birth_date("1506772345")) == "1977-06-15");
}

TEST_CASE("CPR: birth date is absent for an invalid CPR number") {
  CHECK_FALSE(v::cpr_birth_date(""));
  CHECK_FALSE(v::cpr_birth_date("320190-1234"));
  CHECK_FALSE(v::cpr_birth_date("01019-01234"));
  CHECK_FALSE(v::cpr_birth_date("010190-123"));
}

TEST_CASE("CPR: a number failing modulus 11 is still accepted (issued since 2007)") {
  REQUIRE_FALSE(passes_modulus_11("0101901234"));
  CHECK_FALSE(v::cpr("010190-1234"));
  REQUIRE_FALSE(passes_modulus_11("0101074001"));
  CHECK_FALSE(v::cpr("010107-4001"));
  CHECK(iso(v::cpr_birth_date("010107-4001")) == "2007-01-01");
}

TEST_CASE("CPR: normalisation drops the hyphen") {
  CHECK(v::normalise_cpr("010190-1234") == "0101901234");
  CHECK(v::normalise_cpr("0101901234") == "0101901234");
}

TEST_CASE("CPR: normalising an invalid number yields an empty string") {
  CHECK(v::normalise_cpr("") == "");
  CHECK(v::normalise_cpr("01019-01234") == "");
  CHECK(v::normalise_cpr("320190-1234") == "");
}

// ---------------------------------------------------------------- phone

TEST_CASE("Phone: a Danish 8-digit number is valid, with or without spaces") {
  CHECK_FALSE(v::phone("23456789"));
  CHECK_FALSE(v::phone("2345 6789"));
  CHECK_FALSE(v::phone("23 45 67 89"));
  CHECK_FALSE(v::phone("99999999"));
  CHECK_FALSE(v::phone("20000000"));
}

TEST_CASE("Phone: a Danish number may be prefixed by +45 or 0045") {
  CHECK_FALSE(v::phone("+4523456789"));
  CHECK_FALSE(v::phone("+45 23456789"));
  CHECK_FALSE(v::phone("+45 23 45 67 89"));
  CHECK_FALSE(v::phone("+45 2345 6789"));
  CHECK_FALSE(v::phone("004523456789"));
  CHECK_FALSE(v::phone("0045 23 45 67 89"));
  CHECK_FALSE(v::phone("00 45 2345 6789"));
}

TEST_CASE("Phone: a Danish number must not start with 0 or 1") {
  CHECK(v::phone("02345678"));
  CHECK(v::phone("12345678"));
  CHECK(v::phone("+4512345678"));
  CHECK(v::phone("+45 12 34 56 78"));
  CHECK(v::phone("+4502345678"));
  CHECK(v::phone("004512345678"));
}

TEST_CASE("Phone: a Danish number must have exactly 8 digits") {
  CHECK(v::phone("2345678"));    // 7
  CHECK(v::phone("234 5678"));   // 7
  CHECK(v::phone("234567890"));  // 9
  CHECK(v::phone("+452345678"));
  CHECK(v::phone("+45234567890"));
  CHECK(v::phone("00452345678"));
  CHECK(v::phone("0045234567890"));
  CHECK(v::phone("+45"));
}

TEST_CASE("Phone: an international E.164 number with 8 to 15 digits is valid") {
  CHECK_FALSE(v::phone("+46701234567"));
  CHECK_FALSE(v::phone("+1 212 555 0100"));
  CHECK_FALSE(v::phone("+44 20 7946 0958"));
  CHECK_FALSE(v::phone("+12345678"));         // 8 digits
  CHECK_FALSE(v::phone("+123456789012345"));  // 15 digits
}

TEST_CASE("Phone: an international number outside 8 to 15 digits is rejected") {
  CHECK(v::phone("+1234567"));           // 7 digits
  CHECK(v::phone("+1234567890123456"));  // 16 digits
  CHECK(v::phone("+1 234 567 890 123 456"));
  CHECK(v::phone("+"));
}

TEST_CASE("Phone: an international number must not start with 0 after '+'") {
  CHECK(v::phone("+0123456789"));
  CHECK(v::phone("+0045 23456789"));
}

TEST_CASE("Phone: 00 is accepted only as the Danish prefix 0045") {
  CHECK(v::phone("0046701234567"));
  CHECK(v::phone("00123456789"));
}

TEST_CASE("Phone: letters and punctuation are rejected") {
  CHECK(v::phone("2345678a"));
  CHECK(v::phone("two three"));
  CHECK(v::phone("23-45-67-89"));
  CHECK(v::phone("+45-23456789"));
  CHECK(v::phone("(+45) 23456789"));
  CHECK(v::phone("++4523456789"));
  CHECK(v::phone("23456789+"));
  CHECK(v::phone("2345.6789"));
}

TEST_CASE("Phone: spaces are allowed only singly between digit groups") {
  CHECK(v::phone(""));
  CHECK(v::phone(" "));
  CHECK(v::phone(" 23456789"));
  CHECK(v::phone("23456789 "));
  CHECK(v::phone("2345  6789"));
  CHECK(v::phone("+ 4523456789"));
  CHECK(v::phone("2345\t6789"));
}

TEST_CASE("Phone: normalisation gives +45 and 8 digits for every Danish form") {
  CHECK(v::normalise_phone("23456789") == "+4523456789");
  CHECK(v::normalise_phone("23 45 67 89") == "+4523456789");
  CHECK(v::normalise_phone("+4523456789") == "+4523456789");
  CHECK(v::normalise_phone("+45 2345 6789") == "+4523456789");
  CHECK(v::normalise_phone("004523456789") == "+4523456789");
  CHECK(v::normalise_phone("0045 23 45 67 89") == "+4523456789");
}

TEST_CASE("Phone: normalisation of an international number keeps '+' and the digits") {
  CHECK(v::normalise_phone("+1 212 555 0100") == "+12125550100");
  CHECK(v::normalise_phone("+46701234567") == "+46701234567");
  CHECK(v::normalise_phone("+123456789012345") == "+123456789012345");
}

TEST_CASE("Phone: normalising an invalid number yields an empty string") {
  CHECK(v::normalise_phone("") == "");
  CHECK(v::normalise_phone("12345678") == "");
  CHECK(v::normalise_phone("+1234567890123456") == "");
}

// ---------------------------------------------------------------- journal number

TEST_CASE("Journal number: NNNN-NNNNN-NNNNN-YY is valid") {
  CHECK_FALSE(v::journal_number("4100-84123-00042-24"));
  CHECK_FALSE(v::journal_number("0000-00000-00000-00"));
  CHECK_FALSE(v::journal_number("9999-99999-99999-99"));
}

TEST_CASE("Journal number: groups must have 4, 5, 5 and 2 digits") {
  CHECK(v::journal_number(""));
  CHECK(v::journal_number("4100-84123-00042-2024"));
  CHECK(v::journal_number("4100-84123-00042-2"));
  CHECK(v::journal_number("41000-8412-00042-24"));
  CHECK(v::journal_number("410-841234-00042-24"));
  CHECK(v::journal_number("4100-84123-0042-245"));
}

TEST_CASE("Journal number: hyphens must be exactly where the format puts them") {
  CHECK(v::journal_number("4100 84123 00042 24"));
  CHECK(v::journal_number("4100/84123/00042/24"));
  CHECK(v::journal_number("4100848123000422400"));
  CHECK(v::journal_number("4100-84123-00042-24 "));
  CHECK(v::journal_number(" 4100-84123-00042-24"));
}

TEST_CASE("Journal number: letters are rejected") {
  CHECK(v::journal_number("4100-84123-00042-2A"));
  CHECK(v::journal_number("SJP0-84123-00042-24"));
}

// ---------------------------------------------------------------- e-mail

TEST_CASE("Email: ordinary addresses are valid") {
  CHECK_FALSE(v::email("a@b.dk"));
  CHECK_FALSE(v::email("jens.hansen+henvis@politi.dk"));
  CHECK_FALSE(v::email("x@sub.domain.example"));
}

TEST_CASE("Email: exactly one '@' is required") {
  CHECK(v::email(""));
  CHECK(v::email("no-at.dk"));
  CHECK(v::email("a@@b.dk"));
  CHECK(v::email("a@b@c.dk"));
}

TEST_CASE("Email: local part and domain must be non-empty and the domain needs a dot") {
  CHECK(v::email("@b.dk"));
  CHECK(v::email("a@"));
  CHECK(v::email("a@localhost"));
  CHECK(v::email("a@.dk"));
  CHECK(v::email("a@b."));
  CHECK(v::email("a@b..dk"));
}

TEST_CASE("Email: spaces and control characters are rejected") {
  CHECK(v::email("a @b.dk"));
  CHECK(v::email("a@b .dk"));
  CHECK(v::email(" a@b.dk"));
  CHECK(v::email("a@b.dk "));
  CHECK(v::email("a\t@b.dk"));
  CHECK(v::email(std::string_view("a\0@b.dk", 7)));
}

TEST_CASE("Email: at most 254 characters") {
  const std::string domain = "@example.dk";
  const std::string ok = std::string(254 - domain.size(), 'a') + domain;
  REQUIRE(ok.size() == 254);
  CHECK_FALSE(v::email(ok));
  CHECK(v::email("a" + ok));
}

// ---------------------------------------------------------------- reasons

TEST_CASE("Reasons never contain the input or any run of its digits") {
  const std::vector<std::string> cprs = {
      "310290-1234", "3102901234",  "290200-2123",  "010190-12345", "0101901234 ",
      "01019O-1234", "01019-01234", "010190--1234", "010190 1234",  "",
  };
  const std::vector<std::string> phones = {
      "12345678",    "+4512345678", "+1234567890123456", "0046701234567", "2345678a",
      "+0123456789", "2345  6789",  "234567890",         "+45 12 34 56",  "+1 234 567 890 123 456",
  };
  const std::vector<std::string> journals = {"4100-84123-00042-2024", "4100 84123 00042 24"};
  const std::vector<std::string> emails = {"123456789@dk", "1234567890 @x.dk", "cpr0101901234"};

  auto check_reason = [](const std::string& input, const std::optional<std::string>& reason) {
    INFO("input #" << input.size() << " chars");  // the length only, like the code under test
    REQUIRE(reason);
    CHECK_FALSE(reason->empty());
    if (!input.empty()) CHECK(reason->find(input) == std::string::npos);
    for (std::size_t i = 0; i + 6 <= input.size(); ++i) {
      const std::string window = input.substr(i, 6);
      if (window.find_first_not_of("0123456789") != std::string::npos) continue;
      CHECK(reason->find(window) == std::string::npos);
    }
  };
  for (const auto& in : cprs) check_reason(in, v::cpr(in));
  for (const auto& in : phones) check_reason(in, v::phone(in));
  for (const auto& in : journals) check_reason(in, v::journal_number(in));
  for (const auto& in : emails) check_reason(in, v::email(in));
}

TEST_CASE("Free text: lengths count characters, not bytes", "[validate][text]") {
  using henvis::validate::text;
  CHECK_FALSE(text("Søren Ærø Åkjær", 15));  // 15 characters, 18 bytes
  CHECK(text("Søren Ærø Åkjær", 14) == std::optional<std::string>("at most 14 characters"));
  CHECK_FALSE(text("", 10));
}

TEST_CASE("Free text: control and bidirectional control characters are refused",
          "[validate][text][security]") {
  using henvis::validate::text;
  CHECK(text(std::string("Jens\0Hansen", 11), 200));
  CHECK(text("Jens\r\nHansen", 200));
  CHECK(text("Jens\x1b[31m", 200));
  CHECK(text("Jens \u202Enesnah", 200) ==
        std::optional<std::string>("must not contain bidirectional control characters"));
  CHECK(text("a\u2066b", 200, true));
  CHECK(text("a\u2028b", 200));
  // A note may have line breaks and tabs, nothing else of the kind
  CHECK_FALSE(text("Ringet to gange.\r\nLægger besked.\tOK", 500, true));
  CHECK(text(std::string("a\0b", 3), 500, true));
}

TEST_CASE("Free text: malformed UTF-8 is refused", "[validate][text]") {
  using henvis::validate::text;
  for (const std::string& bad :
       {std::string("\xc3"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
        std::string("\xf4\x90\x80\x80"), std::string("a\x80"), std::string("\xff")}) {
    CHECK(text(bad, 200) == std::optional<std::string>("must be UTF-8 text"));
  }
  CHECK_FALSE(text("\xf0\x9f\x98\x80", 1));  // one emoji, one character
}
