#include "henvis/csv.hpp"

namespace henvis::csv {

namespace {
bool formula_start(std::string_view v) {
  if (v.empty()) return false;
  const char c = v.front();
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

bool only_a_number(std::string_view v) {
  bool digit = false;
  for (char c : v) {
    if (c >= '0' && c <= '9')
      digit = true;
    else if (c != ' ' && c != '+' && c != '-' && c != '.' && c != ',')
      return false;
  }
  return digit;
}
}  // namespace

std::string cell(std::string_view v) {
  std::string s;
  if (formula_start(v) && !only_a_number(v)) s = "'";
  s += v;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace henvis::csv
