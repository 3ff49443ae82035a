#pragma once
// Sessions and the login throttle, kept in henvis-web's SQLite (store.hpp) so
// that they survive a restart. Thread-safe: the HTTP handlers run on a pool
// (one connection, used under a lock; Argon2id runs outside it).

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "henvis/clock.hpp"
#include "henvis/sqlite.hpp"

namespace henvis::web {

inline constexpr std::chrono::seconds DEFAULT_IDLE_TIMEOUT{30 * 60};
inline constexpr std::chrono::seconds DEFAULT_ABSOLUTE_TIMEOUT{8 * 60 * 60};
// Failed log-ins within the window after which the next is refused 429: a
// user from one address; anyone from one address; a user from every address
// (distributed guessing), high enough that no single address can lock a
// person out.
inline constexpr int MAX_FAILURES_PER_USER_AND_ADDRESS = 5;
inline constexpr int MAX_FAILURES_PER_ADDRESS = 20;
inline constexpr int MAX_FAILURES_PER_USER = 50;
inline constexpr std::chrono::minutes THROTTLE_WINDOW{15};

struct SessionTimeouts {
  std::chrono::seconds idle = DEFAULT_IDLE_TIMEOUT;
  std::chrono::seconds absolute = DEFAULT_ABSOLUTE_TIMEOUT;
};

// A live session as a request sees it.
struct Session {
  std::string id_sha256;
  std::string username;
  std::string csrf_token;
  std::string grant_sha256;  // what the user was granted at log-in (grant_of)
};

// A log-in attempt: refused for `wait_seconds`, or let through and counted as a
// failure in advance (at `at`) until login_succeeded says otherwise.
struct LoginAttempt {
  std::string username;
  std::string address;
  std::chrono::system_clock::time_point at;
  int wait_seconds = 0;
};

// A session just made: the cookie value (256 random bits, hex) is only here.
struct NewSession {
  std::string id;
  Session session;
};

class Sessions {
 public:
  Sessions(const std::string& database, const Clock& clock, SessionTimeouts timeouts);

  // grant: Users::grant_of the user at log-in.
  NewSession create(const std::string& username, const std::string& grant = "");
  // The session the cookie value names if it is neither idle too long nor too
  // old (an expired one is deleted); marks it used now.
  std::optional<Session> resume(const std::string& id);
  void end(const std::string& id_sha256);

  // Seconds until the next log-in of this user from this address may be
  // tried; 0 if it may now.
  int throttled(const std::string& username, const std::string& address);
  // Checks the throttle and, if the attempt may go on, counts it as a failure
  // before the password is checked, under one lock: concurrent attempts
  // cannot all pass the check while the first one's Argon2id runs.
  LoginAttempt attempt_login(const std::string& username, const std::string& address);
  // The password was right: the attempt is no failure, and the user's
  // failures from this address are forgotten (not the address's, nor the
  // user's from elsewhere).
  void login_succeeded(const LoginAttempt& attempt);
  // Deletes expired sessions and failures older than the window.
  void prune();

 private:
  int wait_seconds(const std::string& key, int max_failures);
  int wait_seconds(const std::string& username, const std::string& address);

  const Clock& clock_;
  SessionTimeouts timeouts_;
  std::mutex mu_;
  sqlite::Db db_;
};

// Constant-time comparison of two secrets (CSRF tokens).
bool same_secret(const std::string& a, const std::string& b);

}  // namespace henvis::web
