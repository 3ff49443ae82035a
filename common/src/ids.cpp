#include "henvis/ids.hpp"

#include <google/protobuf/util/time_util.h>
#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <stdexcept>

#include "henvis/digest.hpp"

namespace henvis {

std::string new_uuid() {
  // Written here because no kept library on the stack makes version 7 yet
  // (util-linux's libuuid has it from 2.41, Boost.Uuid from 1.86; bookworm
  // ships 2.38 and 1.74); RFC 9562 section 5.7 is the whole of it.
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string h = to_hex(b.data(), b.size());
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

google::protobuf::Timestamp now_timestamp() {
  return to_timestamp(std::chrono::system_clock::now());
}

std::string to_rfc3339(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::ToString(t);
}

std::string now_rfc3339() { return to_rfc3339(now_timestamp()); }

google::protobuf::Timestamp to_timestamp(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(us);
}

std::chrono::system_clock::time_point to_time_point(const google::protobuf::Timestamp& t) {
  using namespace std::chrono;
  return system_clock::time_point(
      floor<system_clock::duration>(seconds(t.seconds()) + nanoseconds(t.nanos())));
}

std::string rfc3339(std::chrono::system_clock::time_point t) { return to_rfc3339(to_timestamp(t)); }

google::protobuf::Timestamp parse_timestamp(const std::string& s) {
  google::protobuf::Timestamp t;
  if (!google::protobuf::util::TimeUtil::FromString(s, &t))
    throw std::invalid_argument("not an RFC 3339 time");
  return t;
}

bool valid_event_time(const google::protobuf::Timestamp& t) {
  constexpr std::int64_t MIN_S = -2208988800;  // 1900-01-01T00:00:00Z
  constexpr std::int64_t MAX_S = 7258118400;   // 2200-01-01T00:00:00Z
  return t.seconds() >= MIN_S && t.seconds() < MAX_S && t.nanos() >= 0 && t.nanos() < 1000000000;
}

std::chrono::sys_seconds parse_rfc3339(const std::string& s) {
  return std::chrono::sys_seconds(std::chrono::seconds(parse_timestamp(s).seconds()));
}

}  // namespace henvis
