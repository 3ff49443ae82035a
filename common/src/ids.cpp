#include "henvis/ids.hpp"

#include <google/protobuf/util/time_util.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <stdexcept>

namespace henvis {

namespace {
constexpr char HEX[] = "0123456789abcdef";

std::string hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(HEX[p[i] >> 4]);
    out.push_back(HEX[p[i] & 0xf]);
  }
  return out;
}
}  // namespace

std::string new_uuid() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string h = hex(b.data(), b.size());
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return hex(md.data(), len);
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
