#include "henvis/auth.hpp"

#include <stdexcept>

#include "henvis/digest.hpp"

namespace henvis::auth {

TokenStore::TokenStore(const v1::Tokens& tokens) {
  for (const auto& t : tokens.tokens()) {
    const std::string& h = t.sha256_hex();
    bool hex = h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex)
      throw std::invalid_argument("token '" + t.label() + "': sha256_hex must be 64 lowercase hex");
    if (t.role() == v1::ROLE_UNSPECIFIED)
      throw std::invalid_argument("token '" + t.label() + "': role is required");
    if (!by_hash_.emplace(h, Principal{t.label(), t.role(), t.scope()}).second)
      throw std::invalid_argument("token '" + t.label() + "': duplicate hash");
  }
}

std::optional<Principal> TokenStore::authenticate(std::string_view authorization) const {
  constexpr std::string_view PREFIX = "Bearer ";
  if (authorization.size() <= PREFIX.size() || authorization.substr(0, PREFIX.size()) != PREFIX)
    return std::nullopt;
  auto it = by_hash_.find(sha256_hex(authorization.substr(PREFIX.size())));
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

namespace {
bool is_recipient(const Directory& d, const std::string& id, v1::RecipientKind kind) {
  const v1::Recipient* r = d.recipient(id);
  return r && r->kind() == kind;
}

// What is wrong with a token's scope, or "" when it is right for its role.
std::string scope_problem(const v1::Token& t, const Directory& d) {
  const std::string& s = t.scope();
  switch (t.role()) {
    case v1::ROLE_OFFICER:
    case v1::ROLE_COORDINATOR:
      if (s.empty()) return "scope is empty; it must be a district id of the directory";
      return d.district_exists(s) ? "" : "scope '" + s + "' is not a district of the directory";
    case v1::ROLE_CENTRE:
      if (s.empty()) return "scope is empty; it must be a centre recipient id of the directory";
      return is_recipient(d, s, v1::RECIPIENT_KIND_CENTRE)
                 ? ""
                 : "scope '" + s + "' is not a centre recipient of the directory";
    case v1::ROLE_MUNICIPALITY:
      if (s.empty())
        return "scope is empty; it must be a municipality recipient id of the directory";
      return is_recipient(d, s, v1::RECIPIENT_KIND_MUNICIPALITY)
                 ? ""
                 : "scope '" + s + "' is not a municipality recipient of the directory";
    default:  // evaluator, admin: every district
      return s.empty() ? "" : "scope must be empty for this role (it sees every district)";
  }
}
}  // namespace

void check_scopes(const v1::Tokens& tokens, const Directory& directory) {
  for (const auto& t : tokens.tokens()) {
    const std::string problem = scope_problem(t, directory);
    if (!problem.empty())
      throw std::invalid_argument("token '" + t.label() + "' (" + std::string(role_name(t.role())) +
                                  "): " + problem);
  }
}

std::string_view role_name(v1::Role role) {
  switch (role) {
    case v1::ROLE_OFFICER:
      return "officer";
    case v1::ROLE_CENTRE:
      return "centre";
    case v1::ROLE_MUNICIPALITY:
      return "municipality";
    case v1::ROLE_COORDINATOR:
      return "coordinator";
    case v1::ROLE_EVALUATOR:
      return "evaluator";
    case v1::ROLE_ADMIN:
      return "admin";
    default:
      return "none";
  }
}

}  // namespace henvis::auth
