// Sessions and the login throttle (sessions.hpp).
#include "sessions.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "henvis/digest.hpp"
#include "store.hpp"

namespace henvis::web {

namespace {
constexpr std::size_t SECRET_BYTES = 32;  // 256 bits

std::string random_hex() {
  unsigned char b[SECRET_BYTES];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no random bytes for a session");
  return to_hex(b, sizeof b);
}

std::string user_key(const std::string& username) {
  return sha256_hex(std::string("user") + '\0' + username);
}
std::string address_key(const std::string& address) {
  return sha256_hex(std::string("address") + '\0' + address);
}
std::string user_and_address_key(const std::string& username, const std::string& address) {
  return sha256_hex(std::string("user-address") + '\0' + username + '\0' + address);
}
}  // namespace

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Sessions::Sessions(const std::string& database, const Clock& clock, SessionTimeouts timeouts)
    : clock_(clock), timeouts_(timeouts), db_(database) {}

NewSession Sessions::create(const std::string& username, const std::string& grant) {
  NewSession s{random_hex(), {}};
  s.session = {sha256_hex(s.id), username, random_hex(), grant};
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  store::insert_session(db_,
                        {s.session.id_sha256, username, s.session.csrf_token, now, now, grant});
  return s;
}

std::optional<Session> Sessions::resume(const std::string& id) {
  if (id.empty()) return std::nullopt;
  const std::string key = sha256_hex(id);
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  const auto row = store::find_session(db_, key);
  if (!row) return std::nullopt;
  if (now - row->last_seen_at >= timeouts_.idle || now - row->created_at >= timeouts_.absolute) {
    store::delete_session(db_, key);
    return std::nullopt;
  }
  // A write (and a disk sync) at most every 1/30 of the idle timeout, not
  // at every request: the idle clock is that much less exact.
  if (now - row->last_seen_at >= timeouts_.idle / 30) store::touch_session(db_, key, now);
  return Session{key, row->username, row->csrf_token, row->grant_sha256};
}

void Sessions::end(const std::string& id_sha256) {
  std::lock_guard lock(mu_);
  store::delete_session(db_, id_sha256);
}

int Sessions::wait_seconds(const std::string& key, int max_failures) {
  const auto now = clock_.now();
  const auto failures = store::failures_since(db_, key, now - THROTTLE_WINDOW);
  if (static_cast<int>(failures.size()) < max_failures) return 0;
  // Free again once enough of them have left the window.
  const auto free_at = failures[failures.size() - max_failures] + THROTTLE_WINDOW;
  const auto wait = std::chrono::ceil<std::chrono::seconds>(free_at - now).count();
  return static_cast<int>(std::max<std::int64_t>(wait, 1));
}

int Sessions::wait_seconds(const std::string& username, const std::string& address) {
  return std::max(
      {wait_seconds(user_and_address_key(username, address), MAX_FAILURES_PER_USER_AND_ADDRESS),
       wait_seconds(address_key(address), MAX_FAILURES_PER_ADDRESS),
       wait_seconds(user_key(username), MAX_FAILURES_PER_USER)});
}

int Sessions::throttled(const std::string& username, const std::string& address) {
  std::lock_guard lock(mu_);
  return wait_seconds(username, address);
}

LoginAttempt Sessions::attempt_login(const std::string& username, const std::string& address) {
  LoginAttempt a{username, address, clock_.now(), 0};
  std::lock_guard lock(mu_);
  a.wait_seconds = wait_seconds(username, address);
  if (a.wait_seconds) return a;
  sqlite::Transaction tx(db_);
  for (const auto& key :
       {user_and_address_key(username, address), address_key(address), user_key(username)})
    store::record_failure(db_, key, a.at);
  tx.commit();
  return a;
}

void Sessions::login_succeeded(const LoginAttempt& a) {
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(db_);
  store::delete_failure(db_, address_key(a.address), a.at);
  store::delete_failure(db_, user_key(a.username), a.at);
  store::clear_failures(db_, user_and_address_key(a.username, a.address));
  tx.commit();
}

void Sessions::prune() {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  store::delete_expired_sessions(db_, now - timeouts_.idle, now - timeouts_.absolute);
  store::delete_failures_before(db_, now - THROTTLE_WINDOW);
}

}  // namespace henvis::web
