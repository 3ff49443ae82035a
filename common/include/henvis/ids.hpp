#pragma once
// Identifiers and timestamps.

#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <string>

namespace henvis {

// A time-ordered UUID (version 7, RFC 9562): the Unix time in milliseconds,
// then 74 random bits from OpenSSL's CSPRNG. Ids made one after another sort
// together, so the tables keyed by them (referrals, notifications, consumed
// event ids, data keys) grow at their end instead of dirtying a random leaf
// of each b-tree per row (docs/performance.md, the router's cost curve).
// Not for secrets: its first 48 bits are the time it was made.
std::string new_uuid();
// RFC 3339 UTC timestamp of the wall clock.
std::string now_rfc3339();
google::protobuf::Timestamp now_timestamp();
std::string to_rfc3339(const google::protobuf::Timestamp& t);
std::string rfc3339(std::chrono::system_clock::time_point t);
google::protobuf::Timestamp to_timestamp(std::chrono::system_clock::time_point t);
// The reverse of to_timestamp, to the clock's resolution. Only for a time
// that valid_event_time() accepts (others overflow the time_point).
std::chrono::system_clock::time_point to_time_point(const google::protobuf::Timestamp& t);
// Parses an RFC 3339 time; throws std::invalid_argument if malformed.
std::chrono::sys_seconds parse_rfc3339(const std::string& s);
google::protobuf::Timestamp parse_timestamp(const std::string& s);
// True if `t` is a time an event may carry: nanos in [0, 1e9) and seconds
// from 1900-01-01 to 2200-01-01 UTC, so that to_rfc3339() round-trips through
// parse_timestamp() and a system_clock::time_point (nanoseconds, about
// 1678-2262) holds it without overflow. Consumers refuse others (found by
// fuzzing: a charged_at of INT64_MAX seconds made the router throw a
// non-Rejected error on every attempt and stop).
bool valid_event_time(const google::protobuf::Timestamp& t);

}  // namespace henvis
