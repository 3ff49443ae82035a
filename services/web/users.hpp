#pragma once
// The people who log in to henvis-web (WebSettings.users_file, henvis.v1.Users)
// and their passwords: libsodium's crypto_pwhash_str (Argon2id) strings.

#include <optional>
#include <string>
#include <unordered_map>

#include "henvis/directory.hpp"
#include "henvis/v1/config.pb.h"

namespace henvis::web {

// The Argon2id string (crypto_pwhash_str, OPSLIMIT/MEMLIMIT_INTERACTIVE) of
// `password`, with a fresh salt. Throws std::runtime_error if out of memory.
std::string hash_password(const std::string& password);

class Users {
 public:
  // Throws std::invalid_argument naming the user (never a hash) if a user
  // name is empty or repeats, a role is missing, a hash is not an Argon2id
  // string, or a scope does not fit the role and the directory (as a
  // token's, auth::check_scopes).
  Users(const v1::Users& users, const Directory& directory);

  // The user whose password this is; nullopt for a wrong password and for an
  // unknown user alike, after an Argon2id verification either way (an unknown
  // name is checked against a dummy hash), so the time taken does not tell
  // whether the user exists.
  std::optional<v1::User> verify(const std::string& username, const std::string& password) const;
  // The user by name (a session's user, looked up at every request so that a
  // user removed from the file is logged out).
  const v1::User* find(const std::string& username) const;
  // What a session was granted: SHA-256 (hex) over the user's password hash,
  // role and scope, so that changing any of them in the file ends the user's
  // sessions.
  static std::string grant_of(const v1::User& user);
  std::size_t size() const { return by_name_.size(); }

 private:
  std::unordered_map<std::string, v1::User> by_name_;
  std::string dummy_hash_;
};

}  // namespace henvis::web
