#pragma once
// Hashes as lowercase hex, all through OpenSSL: SHA-256, HMAC-SHA256 and the
// idempotency hash of a request (docs/decisions.md 5).

#include <google/protobuf/message.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace henvis {

// `n` bytes as lowercase hex, two digits a byte.
std::string to_hex(const unsigned char* p, std::size_t n);
// SHA-256 of `data` as lowercase hex.
std::string sha256_hex(std::string_view data);
// HMAC-SHA256 (RFC 2104) of `data` under `key` as lowercase hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// The idempotency hash of a request: SHA-256 (hex) over each of `scope`
// followed by a NUL byte, then the deterministic protobuf serialization of
// `request`. The caller normalises the request first, so that equal requests
// written differently hash alike. Stored hashes depend on these exact bytes:
// intake hashes {officer scope} + offer, the router {} + outcome.
std::string idempotency_hash(std::initializer_list<std::string_view> scope,
                             const google::protobuf::Message& request);

}  // namespace henvis
