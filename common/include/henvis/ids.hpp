#pragma once
// Identifiers and timestamps.

#include <google/protobuf/timestamp.pb.h>

#include <string>

namespace henvis {

// Random (version 4) UUID from OpenSSL's CSPRNG.
std::string new_uuid();
// SHA-256 of `data` as lowercase hex.
std::string sha256_hex(std::string_view data);
// RFC 3339 UTC timestamp of the wall clock.
std::string now_rfc3339();
google::protobuf::Timestamp now_timestamp();
std::string to_rfc3339(const google::protobuf::Timestamp& t);

}  // namespace henvis
