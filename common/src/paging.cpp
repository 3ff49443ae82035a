#include "henvis/paging.hpp"

#include <charconv>

#include "henvis/digest.hpp"

namespace henvis::http {

namespace {
// Key parts are joined by the unit separator, which no key part holds.
constexpr char SEPARATOR = '\x1f';

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Problem bad(const std::string& field, const std::string& reason) {
  return Problem(400, "Bad Request", "the paging parameters are invalid", {{field, reason}});
}

std::vector<std::string> decode_cursor(const std::string& cursor, std::size_t key_parts) {
  const std::string reason = "not a cursor this list returned as nextCursor";
  if (cursor.size() % 2 != 0 || cursor.size() > 2048) throw bad("cursor", reason);
  std::string joined;
  for (std::size_t i = 0; i < cursor.size(); i += 2) {
    const int hi = hex_digit(cursor[i]);
    const int lo = hex_digit(cursor[i + 1]);
    if (hi < 0 || lo < 0) throw bad("cursor", reason);
    joined.push_back(static_cast<char>(hi * 16 + lo));
  }
  std::vector<std::string> parts(1);
  for (char c : joined) {
    if (c == SEPARATOR)
      parts.emplace_back();
    else
      parts.back().push_back(c);
  }
  if (parts.size() != key_parts) throw bad("cursor", reason);
  return parts;
}
}  // namespace

PageRequest page_request(const Request& req, std::size_t key_parts) {
  PageRequest page;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    const std::string& v = it->second;
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 1 || n > MAX_PAGE_SIZE)
      throw bad("limit", "a whole number from 1 to " + std::to_string(MAX_PAGE_SIZE));
    page.limit = n;
  }
  if (auto it = req.query.find("cursor"); it != req.query.end() && !it->second.empty())
    page.after = decode_cursor(it->second, key_parts);
  return page;
}

std::int64_t cursor_number(const std::string& part, std::int64_t min, std::int64_t max) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
  if (part.empty() || ec != std::errc() || end != part.data() + part.size() || n < min || n > max)
    throw bad("cursor", "not a cursor this list returned as nextCursor");
  return n;
}

std::string next_cursor(const std::vector<std::string>& key) {
  std::string joined;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i) joined.push_back(SEPARATOR);
    joined += key[i];
  }
  return to_hex(reinterpret_cast<const unsigned char*>(joined.data()), joined.size());
}

}  // namespace henvis::http
