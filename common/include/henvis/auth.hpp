#pragma once
// Bearer-token authentication. Tokens are configured as SHA-256 hashes only;
// the clear token never exists in config, memory beyond the request, or logs.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "henvis/directory.hpp"
#include "henvis/v1/common.pb.h"
#include "henvis/v1/config.pb.h"

namespace henvis::auth {

struct Principal {
  std::string label;  // who holds the token, safe to log
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string scope;  // district id, recipient id or municipality
  // The person acting (their henvis-web user name) when the token is a
  // delegating one; "" for a token used directly (henvisctl, a system). An
  // employee's user name: recorded with what they did, never logged.
  std::string person;
};

// The Henvis-Person* headers of a request ("" when absent). Read only for a
// delegating token (docs/decisions.md "Delegated principals (henvis-web)").
struct PersonClaim {
  std::string person;  // Henvis-Person: user name, 1-64 of [a-z0-9._-]
  std::string role;    // Henvis-Person-Role: officer|centre|municipality|coordinator|evaluator
  std::string scope;   // Henvis-Person-Scope: as a token's scope for that role
};

// Why a request was not authenticated.
struct Refusal {
  std::string header;  // "Authorization" or the Henvis-Person* header at fault
  std::string reason;  // the rule broken; never the value
};

class TokenStore {
 public:
  TokenStore() = default;
  // Throws std::invalid_argument naming the bad entry (by label) if a hash is
  // malformed, a role is missing, or a hash repeats.
  // A delegating token needs no role or scope of its own: it acts only as
  // the person its requests name, whose scope is checked against
  // `directory` (an empty one accepts only the roles without a scope).
  explicit TokenStore(const v1::Tokens& tokens, Directory directory = {});
  // The principal for an `Authorization` header value ("Bearer <token>").
  // A delegating token needs its person: nullopt here.
  std::optional<Principal> authenticate(std::string_view authorization) const;
  // As above; for a delegating token, the principal acting as the person
  // `claim` names, with that person's role and scope, or the Henvis-Person*
  // header that is missing or invalid. Another token's claim is ignored.
  std::variant<Principal, Refusal> authenticate(std::string_view authorization,
                                                const PersonClaim& claim) const;
  std::size_t size() const { return by_hash_.size(); }

 private:
  struct Entry {
    Principal principal;
    bool delegating = false;
  };
  std::variant<Principal, Refusal> delegated(const Entry& token, const PersonClaim& claim) const;
  std::unordered_map<std::string, Entry> by_hash_;
  Directory directory_;
};

std::string_view role_name(v1::Role role);

// A user name the services accept as Henvis-Person: 1-64 of [a-z0-9._-].
bool valid_person_name(const std::string& name);

// Checks every token's scope against the directory (at service start and in
// `henvisctl config check`): officer and coordinator a district id, centre a
// centre recipient id, municipality a municipality recipient id, evaluator
// and admin none (they see every district; a scope would suggest a limit
// that nothing enforces). Throws std::invalid_argument naming the token by
// its label (never the token or its hash) and its role on an empty, unknown
// or unwanted scope.
void check_scopes(const v1::Tokens& tokens, const Directory& directory);

}  // namespace henvis::auth
