#include "henvis/validate.hpp"

#include <cstddef>
#include <string>

// Every reason below is a string literal. Never build a reason from the input:
// the inputs are personal data (CPR numbers, phone numbers, e-mail addresses).

namespace henvis::validate {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

unsigned two_digits(std::string_view s, std::size_t at) {
  return static_cast<unsigned>(s[at] - '0') * 10U + static_cast<unsigned>(s[at + 1] - '0');
}

// Century of a CPR birth year from the 7th digit (first digit of the serial
// number) and the two-digit year, per the CPR office's table.
int cpr_century(unsigned seventh, unsigned yy) {
  if (seventh <= 3) return 1900;
  if (seventh == 4 || seventh == 9) return yy <= 36 ? 2000 : 1900;
  return yy <= 57 ? 2000 : 1800;  // 5-8
}

// Parses a CPR number. On success returns nullopt and sets `digits` to the 10
// digits and `birth` to the encoded birth date; otherwise returns the reason.
//
// There is deliberately NO modulus-11 check: since 2007 the CPR office has
// issued numbers that do not satisfy it (the serial numbers with a valid check
// digit ran out for some birth dates), so it would reject real people.
std::optional<std::string> parse_cpr(std::string_view v, std::string& digits,
                                     std::chrono::year_month_day& birth) {
  if (v.empty()) return "CPR number is empty";
  std::size_t hyphens = 0;
  digits.clear();
  for (char c : v) {
    if (c == '-') {
      ++hyphens;
    } else if (is_digit(c)) {
      if (digits.size() <= 10) digits.push_back(c);
    } else {
      return "CPR number may contain only digits and one hyphen (DDMMYY-SSSS)";
    }
  }
  if (hyphens > 1) return "CPR number may contain at most one hyphen (DDMMYY-SSSS)";
  if (hyphens == 1 && (v.size() < 7 || v[6] != '-')) {
    return "CPR number's hyphen must come right after the six date digits (DDMMYY-SSSS)";
  }
  if (digits.size() != 10) return "CPR number must have exactly 10 digits (DDMMYY-SSSS)";

  const unsigned dd = two_digits(digits, 0);
  const unsigned mm = two_digits(digits, 2);
  const unsigned yy = two_digits(digits, 4);
  const unsigned seventh = static_cast<unsigned>(digits[6] - '0');
  const std::chrono::year_month_day ymd{
      std::chrono::year{cpr_century(seventh, yy) + static_cast<int>(yy)}, std::chrono::month{mm},
      std::chrono::day{dd}};
  if (!ymd.ok()) {
    return "CPR number's first six digits must be an existing date (DDMMYY, century from the "
           "7th digit)";
  }
  birth = ymd;
  return std::nullopt;
}

// Parses a phone number. On success returns nullopt and sets `canonical` to
// the E.164 form ("+" and digits); otherwise returns the reason.
std::optional<std::string> parse_phone(std::string_view v, std::string& canonical) {
  if (v.empty()) return "phone number is empty";
  const bool plus = v.front() == '+';
  std::string d;
  bool after_separator = true;  // start, or just after '+' or a space
  for (std::size_t i = plus ? 1 : 0; i < v.size(); ++i) {
    const char c = v[i];
    if (is_digit(c)) {
      if (d.size() <= 16) d.push_back(c);
      after_separator = false;
    } else if (c == ' ') {
      if (after_separator) return "phone number may have single spaces only between digit groups";
      after_separator = true;
    } else {
      return "phone number may contain only digits, spaces and a leading '+'";
    }
  }
  if (d.empty()) return "phone number has no digits";
  if (after_separator) return "phone number may have single spaces only between digit groups";

  std::string_view national;
  if (plus) {
    if (d.front() == '0') return "international phone number must not start with 0 after '+'";
    if (d.rfind("45", 0) == 0) {
      // +45 is Denmark: the Danish rule applies to what follows, not just E.164.
      national = std::string_view{d}.substr(2);
    } else if (d.size() < 8 || d.size() > 15) {
      return "international phone number must have 8 to 15 digits after '+'";
    } else {
      canonical = "+" + d;
      return std::nullopt;
    }
  } else if (d.rfind("00", 0) == 0) {
    if (d.rfind("0045", 0) != 0) {
      return "only the Danish prefix 0045 may be written with 00; write other countries with '+'";
    }
    national = std::string_view{d}.substr(4);
  } else {
    national = d;
  }
  if (national.size() != 8) return "Danish phone number must have 8 digits after any +45 or 0045";
  if (national.front() == '0' || national.front() == '1') {
    return "Danish phone number must not start with 0 or 1";
  }
  canonical = "+45";
  canonical.append(national);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> cpr(std::string_view v) {
  std::string digits;
  std::chrono::year_month_day birth{};
  return parse_cpr(v, digits, birth);
}

std::optional<std::chrono::year_month_day> cpr_birth_date(std::string_view v) {
  std::string digits;
  std::chrono::year_month_day birth{};
  if (parse_cpr(v, digits, birth)) return std::nullopt;
  return birth;
}

std::string normalise_cpr(std::string_view v) {
  std::string digits;
  std::chrono::year_month_day birth{};
  if (parse_cpr(v, digits, birth)) return {};
  return digits;
}

std::optional<std::string> phone(std::string_view v) {
  std::string canonical;
  return parse_phone(v, canonical);
}

std::string normalise_phone(std::string_view v) {
  std::string canonical;
  if (parse_phone(v, canonical)) return {};
  return canonical;
}

std::optional<std::string> journal_number(std::string_view v) {
  static constexpr std::string_view kPattern = "NNNN-NNNNN-NNNNN-YY";
  if (v.empty()) return "journal number is empty";
  if (v.size() != kPattern.size()) {
    return "journal number must be 19 characters: NNNN-NNNNN-NNNNN-YY";
  }
  for (std::size_t i = 0; i < kPattern.size(); ++i) {
    if (kPattern[i] == '-') {
      if (v[i] != '-') {
        return "journal number must have hyphens exactly as in NNNN-NNNNN-NNNNN-YY";
      }
    } else if (!is_digit(v[i])) {
      return "journal number must have digits exactly as in NNNN-NNNNN-NNNNN-YY";
    }
  }
  return std::nullopt;
}

std::optional<std::string> email(std::string_view v) {
  if (v.empty()) return "e-mail address is empty";
  if (v.size() > 254) return "e-mail address must be at most 254 characters";
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) {
      return "e-mail address must not contain spaces or control characters";
    }
  }
  const std::size_t at = v.find('@');
  if (at == std::string_view::npos) return "e-mail address must contain an '@'";
  if (v.find('@', at + 1) != std::string_view::npos) {
    return "e-mail address must contain exactly one '@'";
  }
  if (at == 0) return "e-mail address must have a local part before the '@'";
  const std::string_view domain = v.substr(at + 1);
  if (domain.empty()) return "e-mail address must have a domain after the '@'";
  if (domain.find('.') == std::string_view::npos) {
    return "e-mail address's domain must contain a dot";
  }
  if (domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return "e-mail address's domain must not have empty parts between dots";
  }
  return std::nullopt;
}

namespace {
// The next code point of UTF-8 `v` from `i` (advanced past it), or -1 when
// the bytes there are not well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF). Hand-written because the stack has no
// Unicode library and this is all that validation needs of one.
long next_code_point(std::string_view v, std::size_t& i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(v[k]); };
  const unsigned char c = b(i);
  int len = 0;
  long cp = 0;
  if (c < 0x80) {
    ++i;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return -1;
  }
  if (i + len > v.size()) return -1;
  for (int k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr long MIN[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < MIN[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += len;
  return cp;
}

// Characters that reorder how text is shown (Trojan Source, CVE-2021-42574):
// a name could display as another, a note hide what it says.
bool bidi_control(long cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

bool control(long cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}
}  // namespace

std::optional<std::string> text(std::string_view v, std::size_t max_chars, bool multiline) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < v.size();) {
    const long cp = next_code_point(v, i);
    if (cp < 0) return "must be UTF-8 text";
    if (bidi_control(cp)) return "must not contain bidirectional control characters";
    if (control(cp) && !(multiline && (cp == '\n' || cp == '\r' || cp == '\t')))
      return multiline ? "must not contain control characters"
                       : "must be one line without control characters";
    ++chars;
  }
  if (chars > max_chars) return "at most " + std::to_string(max_chars) + " characters";
  return std::nullopt;
}

}  // namespace henvis::validate
