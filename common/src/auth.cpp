#include "henvis/auth.hpp"

#include <stdexcept>

#include "henvis/digest.hpp"

namespace henvis::auth {

TokenStore::TokenStore(const v1::Tokens& tokens, Directory directory)
    : directory_(std::move(directory)) {
  for (const auto& t : tokens.tokens()) {
    const std::string& h = t.sha256_hex();
    bool hex = h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex)
      throw std::invalid_argument("token '" + t.label() + "': sha256_hex must be 64 lowercase hex");
    if (t.role() == v1::ROLE_UNSPECIFIED && !t.delegating())
      throw std::invalid_argument("token '" + t.label() + "': role is required");
    Entry e{Principal{t.label(), t.role(), t.scope(), ""}, t.delegating()};
    if (!by_hash_.emplace(h, std::move(e)).second)
      throw std::invalid_argument("token '" + t.label() + "': duplicate hash");
  }
}

std::optional<Principal> TokenStore::authenticate(std::string_view authorization) const {
  auto result = authenticate(authorization, PersonClaim{});
  if (auto* p = std::get_if<Principal>(&result)) return std::move(*p);
  return std::nullopt;
}

std::variant<Principal, Refusal> TokenStore::authenticate(std::string_view authorization,
                                                          const PersonClaim& claim) const {
  constexpr std::string_view PREFIX = "Bearer ";
  const Refusal no_token{"Authorization", "a valid bearer token is required"};
  if (authorization.size() <= PREFIX.size() || authorization.substr(0, PREFIX.size()) != PREFIX)
    return no_token;
  auto it = by_hash_.find(sha256_hex(authorization.substr(PREFIX.size())));
  if (it == by_hash_.end()) return no_token;
  if (!it->second.delegating) return it->second.principal;  // its claim is ignored
  return delegated(it->second, claim);
}

namespace {
constexpr std::size_t MAX_USER_NAME = 64;

bool is_recipient(const Directory& d, const std::string& id, v1::RecipientKind kind) {
  const v1::Recipient* r = d.recipient(id);
  return r && r->kind() == kind;
}

// What a role's scope must name; none for the roles that see every district.
struct ScopeRule {
  const char* what;        // "district", "centre recipient", "municipality recipient"
  v1::RecipientKind kind;  // RECIPIENT_KIND_UNSPECIFIED: a district
};

std::optional<ScopeRule> scope_rule(v1::Role role) {
  switch (role) {
    case v1::ROLE_OFFICER:
    case v1::ROLE_COORDINATOR:
      return ScopeRule{"district", v1::RECIPIENT_KIND_UNSPECIFIED};
    case v1::ROLE_CENTRE:
      return ScopeRule{"centre recipient", v1::RECIPIENT_KIND_CENTRE};
    case v1::ROLE_MUNICIPALITY:
      return ScopeRule{"municipality recipient", v1::RECIPIENT_KIND_MUNICIPALITY};
    default:  // evaluator, admin: every district
      return std::nullopt;
  }
}

bool scope_fits(const ScopeRule& rule, const std::string& s, const Directory& d) {
  if (rule.kind == v1::RECIPIENT_KIND_UNSPECIFIED) return d.district_exists(s);
  return is_recipient(d, s, rule.kind);
}

// What is wrong with a scope for a role, or "" when it is right.
std::string scope_problem(v1::Role role, const std::string& s, const Directory& d) {
  if (role == v1::ROLE_SERVICE)  // the services that fetch data keys
    return s == "router" || s == "notifier"
               ? ""
               : "scope must name the service that holds it: router or notifier";
  const auto rule = scope_rule(role);
  if (!rule) return s.empty() ? "" : "scope must be empty for this role (it sees every district)";
  if (s.empty())
    return std::string("scope is empty; it must be a ") + rule->what + " id of the directory";
  return scope_fits(*rule, s, d) ? ""
                                 : "scope '" + s + "' is not a " + rule->what + " of the directory";
}

// The role a delegating token may act in, by its name; admin is not
// delegated (docs/decisions.md "Delegated principals (henvis-web)").
std::optional<v1::Role> delegable_role(const std::string& name) {
  for (auto r : {v1::ROLE_OFFICER, v1::ROLE_CENTRE, v1::ROLE_MUNICIPALITY, v1::ROLE_COORDINATOR,
                 v1::ROLE_EVALUATOR})
    if (role_name(r) == name) return r;
  return std::nullopt;
}
}  // namespace

void check_scopes(const v1::Tokens& tokens, const Directory& directory) {
  for (const auto& t : tokens.tokens()) {
    const std::string problem = scope_problem(t.role(), t.scope(), directory);
    if (!problem.empty())
      throw std::invalid_argument("token '" + t.label() + "' (" + std::string(role_name(t.role())) +
                                  "): " + problem);
  }
}

std::variant<Principal, Refusal> TokenStore::delegated(const Entry& token,
                                                       const PersonClaim& claim) const {
  if (!valid_person_name(claim.person))
    return Refusal{"Henvis-Person",
                   "required with this token: the acting person's user name, 1-64 characters "
                   "of a-z, 0-9, '.', '_' and '-'"};
  const auto role = delegable_role(claim.role);
  if (!role)
    return Refusal{"Henvis-Person-Role",
                   "required with this token: one of officer, centre, municipality, "
                   "coordinator, evaluator (admin is not delegated)"};
  const std::string for_role = " for role " + std::string(role_name(*role));
  if (const auto rule = scope_rule(*role)) {
    if (!scope_fits(*rule, claim.scope, directory_))
      return Refusal{"Henvis-Person-Scope",
                     std::string("must be a ") + rule->what + " id of the directory" + for_role};
  } else if (!claim.scope.empty()) {
    return Refusal{"Henvis-Person-Scope", "must be empty" + for_role + " (it sees every district)"};
  }
  Principal p = token.principal;
  p.role = *role;
  p.scope = claim.scope;
  p.person = claim.person;
  return p;
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
    case v1::ROLE_SERVICE:
      return "service";
    default:
      return "none";
  }
}

bool valid_person_name(const std::string& s) {
  return !s.empty() && s.size() <= MAX_USER_NAME &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos;
}

}  // namespace henvis::auth
