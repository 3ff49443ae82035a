// henvis::new_uuid: version 7 (RFC 9562), so that the tables keyed by ids
// grow at their end (docs/performance.md, the router's cost curve).

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "henvis/ids.hpp"

namespace {
// The Unix milliseconds in a version 7 UUID's first 48 bits.
std::int64_t unix_ms_of(const std::string& uuid) {
  return std::stoll(uuid.substr(0, 8) + uuid.substr(9, 4), nullptr, 16);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

TEST_CASE("new_uuid is a version 7 UUID carrying the time it was made in Unix milliseconds") {
  const std::int64_t before = now_ms();
  const std::string id = henvis::new_uuid();
  const std::int64_t after = now_ms();
  // Lower-case hex 8-4-4-4-12, version nibble 7, variant bits 10.
  CHECK(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                        "[0-9a-f]{12}")));
  CHECK(unix_ms_of(id) >= before);
  CHECK(unix_ms_of(id) <= after);
}

TEST_CASE("new_uuid: sorted as text, ids are in the order of the milliseconds they were made") {
  std::vector<std::string> ids;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  while (std::chrono::steady_clock::now() < until || ids.size() < 2)
    ids.push_back(henvis::new_uuid());
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
  CHECK(unix_ms_of(ids.back()) > unix_ms_of(ids.front()));
  std::sort(ids.begin(), ids.end());
  CHECK(std::is_sorted(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    return unix_ms_of(a) < unix_ms_of(b);
  }));
}
