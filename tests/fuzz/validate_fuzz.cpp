// Fuzz target: CPR, phone, journal number and e-mail validation.
//
// The whole input is the value. Invariants (validate.hpp): no exception, no
// reason is empty or repeats a 6+ digit run of the input; a valid CPR number
// normalises to exactly 10 digits and has a birth date; a valid phone
// normalises to '+' and 8-15 digits (a Danish one to +45 and 8 digits), and
// normalising it again changes nothing; an invalid value normalises to "".

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "digits.hpp"
#include "fuzz_support.hpp"
#include "henvis/validate.hpp"

namespace {

bool all_digits(std::string_view s) {
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return !s.empty();
}

void check_reason(const std::optional<std::string>& why, std::string_view input, const char* what) {
  if (!why) return;
  if (why->empty()) henvis::fuzz::finding(std::string(what) + ": empty reason");
  if (henvis::fuzz::leaks_digit_run(*why, input))
    henvis::fuzz::finding(std::string(what) + ": reason repeats digits of the input");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace v = henvis::validate;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  const auto cpr = v::cpr(in);
  check_reason(cpr, in, "cpr");
  const std::string ncpr = v::normalise_cpr(in);
  const auto birth = v::cpr_birth_date(in);
  if (!cpr) {
    if (ncpr.size() != 10 || !all_digits(ncpr))
      henvis::fuzz::finding("cpr: valid but normalised form is not 10 digits");
    if (!birth || !birth->ok()) henvis::fuzz::finding("cpr: valid but no birth date");
    if (v::cpr(ncpr)) henvis::fuzz::finding("cpr: normalised form is not valid");
    if (v::normalise_cpr(ncpr) != ncpr) henvis::fuzz::finding("cpr: normalise is not idempotent");
  } else {
    if (!ncpr.empty()) henvis::fuzz::finding("cpr: invalid but normalised to something");
    if (birth) henvis::fuzz::finding("cpr: invalid but has a birth date");
  }

  const auto phone = v::phone(in);
  check_reason(phone, in, "phone");
  const std::string nphone = v::normalise_phone(in);
  if (!phone) {
    if (nphone.size() < 9 || nphone.size() > 16 || nphone[0] != '+' ||
        !all_digits(std::string_view(nphone).substr(1)))
      henvis::fuzz::finding("phone: valid but normalised form is not E.164");
    if (nphone.rfind("+45", 0) == 0 && nphone.size() != 11)
      henvis::fuzz::finding("phone: +45 number is not 8 digits");
    if (v::phone(nphone)) henvis::fuzz::finding("phone: normalised form is not valid");
    if (v::normalise_phone(nphone) != nphone)
      henvis::fuzz::finding("phone: normalise is not idempotent");
  } else if (!nphone.empty()) {
    henvis::fuzz::finding("phone: invalid but normalised to something");
  }

  check_reason(v::journal_number(in), in, "journal_number");
  const auto email = v::email(in);
  check_reason(email, in, "email");
  if (!email && (in.size() > 254 || in.find('@') == std::string_view::npos))
    henvis::fuzz::finding("email: accepted without '@' or over 254 characters");
  return 0;
}
