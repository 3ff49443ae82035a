// Shared by the fuzz targets: does `text` contain a run of `n` or more digits
// that also occurs in `input`? (A CPR number is 10 digits, a phone 8: any
// 6-digit run from the input in a reason or problem body is a leak.)
#pragma once

#include <cctype>
#include <string_view>

namespace henvis::fuzz {

inline bool leaks_digit_run(std::string_view text, std::string_view input, std::size_t n = 6) {
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    run = std::isdigit(static_cast<unsigned char>(text[i])) ? run + 1 : 0;
    if (run >= n && input.find(text.substr(i + 1 - n, n)) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace henvis::fuzz
