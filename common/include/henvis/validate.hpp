#pragma once
// Validation of what an officer types at the roadside.
//
// Every checker returns std::nullopt when the value is valid, otherwise a short
// English reason naming the rule that was broken. A reason NEVER contains the
// input value or any part of it: a CPR number in an error message, a log line
// or a DLQ reason is a personal-data breach. Reasons are compile-time constant
// texts, so callers may log them and put them in problem+json responses.
//
// All functions are pure: no I/O, no exceptions, no locale dependence.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace henvis::validate {

// CPR number: "DDMMYY-SSSS" or "DDMMYYSSSS" (one optional hyphen, right after
// the six date digits). The date must exist, with the century taken from the
// 7th digit per the CPR rules. No modulus-11 check (see validate.cpp).
std::optional<std::string> cpr(std::string_view v);

// Danish 8-digit number (first digit 2-9), optionally prefixed "+45" or
// "0045", or an international E.164 number: '+' then 8-15 digits, first digit
// 1-9. Single spaces are allowed between digit groups. A number written with
// +45 must also satisfy the Danish rule.
std::optional<std::string> phone(std::string_view v);

// Police journal number "NNNN-NNNNN-NNNNN-YY", e.g. "4100-84123-00042-24".
std::optional<std::string> journal_number(std::string_view v);

// Pragmatic e-mail check: at most 254 characters, exactly one '@', non-empty
// local part, a domain containing a dot (no empty labels), no whitespace or
// control characters.
std::optional<std::string> email(std::string_view v);

// Free text a person gave or typed (a name, a note): well-formed UTF-8, at
// most `max_chars` characters (code points, not bytes), no bidirectional
// control characters (they make text display as something else) and no
// control characters, except line breaks and tabs when `multiline`. The
// reason is "at most N characters" or names the rule.
std::optional<std::string> text(std::string_view v, std::size_t max_chars, bool multiline = false);

// Birth date encoded in a valid CPR number; nullopt if cpr(v) is not nullopt.
std::optional<std::chrono::year_month_day> cpr_birth_date(std::string_view v);

// Canonical E.164 form of a valid phone number, e.g. "+4512345678".
// Precondition: phone(v) is nullopt. If it is violated, returns "" (never a
// partial copy of the input).
std::string normalise_phone(std::string_view v);

// CPR number without the hyphen: "DDMMYYSSSS".
// Precondition: cpr(v) is nullopt. If it is violated, returns "".
std::string normalise_cpr(std::string_view v);

}  // namespace henvis::validate
