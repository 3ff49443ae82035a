#pragma once
// Bearer-token authentication. Tokens are configured as SHA-256 hashes only;
// the clear token never exists in config, memory beyond the request, or logs.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "henvis/directory.hpp"
#include "henvis/v1/common.pb.h"
#include "henvis/v1/config.pb.h"

namespace henvis::auth {

struct Principal {
  std::string label;  // who holds the token, safe to log
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string scope;  // district id, recipient id or municipality
};

class TokenStore {
 public:
  TokenStore() = default;
  // Throws std::invalid_argument naming the bad entry (by label) if a hash is
  // malformed, a role is missing, or a hash repeats.
  explicit TokenStore(const v1::Tokens& tokens);
  // The principal for an `Authorization` header value ("Bearer <token>").
  std::optional<Principal> authenticate(std::string_view authorization) const;
  std::size_t size() const { return by_hash_.size(); }

 private:
  std::unordered_map<std::string, Principal> by_hash_;
};

std::string_view role_name(v1::Role role);

// Checks every token's scope against the directory (at service start and in
// `henvisctl config check`): officer and coordinator a district id, centre a
// centre recipient id, municipality a municipality recipient id, evaluator
// and admin none (they see every district; a scope would suggest a limit
// that nothing enforces). Throws std::invalid_argument naming the token by
// its label (never the token or its hash) and its role on an empty, unknown
// or unwanted scope.
void check_scopes(const v1::Tokens& tokens, const Directory& directory);

}  // namespace henvis::auth
