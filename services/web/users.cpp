// Users and their Argon2id passwords (users.hpp).
#include "users.hpp"

#include <sodium.h>

#include <stdexcept>

#include "henvis/auth.hpp"
#include "henvis/digest.hpp"

namespace henvis::web {

namespace {
void init_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

bool is_argon2id(const std::string& h) { return h.rfind(crypto_pwhash_STRPREFIX, 0) == 0; }

bool password_matches(const std::string& hash, const std::string& password) {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

// The users as tokens, so that their scopes are checked like the tokens'.
v1::Tokens as_tokens(const v1::Users& users) {
  v1::Tokens out;
  for (const auto& u : users.users()) {
    auto& t = *out.add_tokens();
    t.set_label(u.username());
    t.set_role(u.role());
    t.set_scope(u.scope());
  }
  return out;
}
}  // namespace

std::string hash_password(const std::string& password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw std::runtime_error("password hashing ran out of memory");
  return out;
}

Users::Users(const v1::Users& users, const Directory& directory) {
  init_sodium();
  for (const auto& u : users.users()) {
    const std::string who = "user '" + u.username() + "'";
    if (!auth::valid_person_name(u.username()))
      throw std::invalid_argument(
          "users: a username must be 1-64 of a-z 0-9 . _ - (the services' Henvis-Person)");
    if (u.role() == v1::ROLE_UNSPECIFIED) throw std::invalid_argument(who + ": role is required");
    // The services refuse admin as a person's role (decisions.md 20): such a
    // user could log in and do nothing, a password to guess for no use.
    if (u.role() == v1::ROLE_ADMIN)
      throw std::invalid_argument(who + ": admin is not a web role (admin work is henvisctl's)");
    if (u.role() == v1::ROLE_SERVICE)  // a service's role (decisions.md 22), never a person's
      throw std::invalid_argument(who + ": service is not a web role");
    if (!is_argon2id(u.password_hash()))
      throw std::invalid_argument(who + ": password_hash must be an Argon2id string (" +
                                  crypto_pwhash_STRPREFIX + "...; henvis-web hash-password)");
    if (!by_name_.emplace(u.username(), u).second)
      throw std::invalid_argument(who + ": listed twice");
  }
  try {
    auth::check_scopes(as_tokens(users), directory);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("users: ") + e.what());
  }
  unsigned char random[32];
  randombytes_buf(random, sizeof random);
  dummy_hash_ = hash_password(std::string(reinterpret_cast<char*>(random), sizeof random));
}

std::optional<v1::User> Users::verify(const std::string& username,
                                      const std::string& password) const {
  const auto it = by_name_.find(username);
  if (it == by_name_.end()) {
    (void)password_matches(dummy_hash_, password);  // the same work as for a user
    return std::nullopt;
  }
  if (!password_matches(it->second.password_hash(), password)) return std::nullopt;
  return it->second;
}

std::string Users::grant_of(const v1::User& user) {
  return sha256_hex(user.password_hash() + '\0' + std::to_string(user.role()) + '\0' +
                    user.scope());
}

const v1::User* Users::find(const std::string& username) const {
  const auto it = by_name_.find(username);
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace henvis::web
