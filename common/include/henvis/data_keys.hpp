#pragma once
// Crypto-shredding of personal data in Kafka (docs/decisions.md 22).
//
// Each referral has a data key (32 random bytes) that intake makes when it
// records the offer and keeps in its database; the key never travels in
// Kafka. Personal fields travel as a SealedPerson: libsodium's
// crypto_aead_xchacha20poly1305_ietf with a random 24-byte nonce per message
// and associated data naming the event (its type and its own ids), so that a
// ciphertext moved to another event does not open. A withdrawal destroys
// the key, and every sealed copy in every topic and DLQ is unreadable.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "henvis/v1/config.pb.h"
#include "henvis/v1/events.pb.h"

namespace henvis::data_keys {

inline constexpr std::size_t KEY_BYTES = 32;

// A fresh random data key.
std::string new_key();

// The associated data of an OfferRecorded's person, and of a
// NotificationRequested's: the event type and its own ids.
std::string offer_ad(const std::string& offer_id, const std::string& referral_id);
std::string notification_ad(const std::string& notification_id, const std::string& referral_id);

// The associated data of an UNDERRETNING notification's sealed persons.
std::string underretning_ad(const std::string& notification_id, const std::string& underretning_id);

// `plain` sealed under `key` (KEY_BYTES) for `ad`: a fresh random nonce and
// the ciphertext (with its tag).
struct SealedBytes {
  std::string nonce, ciphertext;
};
SealedBytes seal_bytes(const std::string& key, const std::string& plain, const std::string& ad);
// The plain bytes, or nothing when they do not open under `key` and `ad`.
// The caller wipes them (sodium_memzero) when done.
std::optional<std::string> open_bytes(const std::string& key, const SealedBytes& sealed,
                                      const std::string& ad);

// `person` sealed under `key` (KEY_BYTES) for the event named by `ad`.
v1::SealedPerson seal(const std::string& key, const std::string& key_id, const v1::Person& person,
                      const std::string& ad);
// The person, or nothing when the ciphertext does not open under `key` and
// `ad` (another key, another event, or changed bytes).
std::optional<v1::Person> open(const std::string& key, const v1::SealedPerson& sealed,
                               const std::string& ad);

// An underretning notice as it travels on henvis.notifications.v1: its
// children, adults and incidents' adults moved into `sealed_persons` under
// `key` (the clear fields emptied).
void seal_underretning(const std::string& key, const std::string& notification_id,
                       v1::UnderretningNotice& notice);
// The sealed persons opened back into the notice (and `sealed_persons`
// cleared); false, with the notice unchanged, when they do not open.
bool open_underretning(const std::string& key, const std::string& notification_id,
                       v1::UnderretningNotice& notice);

// The distinct ids of a batched key request (intake's POST
// /v1/internal/data-keys, socialsog's /v1/internal/underretning-keys):
// throws a 400 http::Problem naming `field` ("referralIds") unless it holds
// 1 to MAX_BATCH_IDS ids, none empty; `what` names them ("referral ids").
inline constexpr std::size_t MAX_BATCH_IDS = 500;
std::set<std::string> requested_ids(const google::protobuf::RepeatedPtrField<std::string>& ids,
                                    const std::string& field, const std::string& what);

// Referral (or underretning) id -> its key, or nothing when the key is gone.
using Keys = std::map<std::string, std::optional<std::string>>;

// Where a consumer gets a referral's data key.
class Source {
 public:
  virtual ~Source() = default;
  // The key, or nothing when it is gone (withdrawn) or never existed: the
  // event's personal data is erased. Throws std::runtime_error when the
  // answer cannot be had now (intake unreachable): the batch is retried.
  virtual std::optional<std::string> key(const std::string& referral_id) = 0;
  // The keys of `referral_ids`, one entry per distinct id (nothing = gone),
  // in as few round trips as the source can: by default one key() each.
  virtual Keys keys(const std::vector<std::string>& referral_ids);
};

// A service that hands out keys over HTTP(S) to a ROLE_SERVICE token, on
// one kept-alive connection: a consumer asks once per batch, and a fresh
// connection each time (a TCP connect, and with https a TLS handshake, on
// both sides) was a large part of a small batch's cost. A connection the
// server closed meanwhile (its idle timeout) is opened again for the same
// request once. Thread-safe (one request at a time).
class HttpSource : public Source {
 public:
  ~HttpSource() override;

 protected:
  // `url`: http(s)://host:port without a path (`setting` names it in the
  // error); `ca_file`: with an https URL, the CA the service's certificate
  // must lead to ("" = the system trust store).
  HttpSource(const std::string& url, const std::string& setting, std::string token,
             std::string ca_file);
  struct Answer {
    int status = 0;
    std::string body;
  };
  // `method` `path` with the token (and a JSON `body`); a transport failure
  // throws std::runtime_error naming `what` ("intake data key").
  Answer ask(const char* what, const std::string& method, const std::string& path,
             const std::string& body);

 private:
  struct Client;  // the connection and its lock (data_keys.cpp)
  std::string token_;
  std::unique_ptr<Client> client_;
};

// Fetches keys from intake's GET /v1/internal/data-keys/{referralId} with a
// ROLE_SERVICE token (DataKeySettings).
class IntakeSource final : public HttpSource {
 public:
  IntakeSource(const std::string& intake_url, std::string token, std::string ca_file = "")
      : HttpSource(intake_url, "data_keys.intake_url", std::move(token), std::move(ca_file)) {}
  std::optional<std::string> key(const std::string& referral_id) override;
  // POST /v1/internal/data-keys, MAX_BATCH ids per request.
  Keys keys(const std::vector<std::string>& referral_ids) override;
  static constexpr std::size_t MAX_BATCH = MAX_BATCH_IDS;
};

// Fetches underretning keys from socialsog's POST
// /v1/internal/underretning-keys with the notifier's ROLE_SERVICE token
// (UnderretningKeySettings).
class SocialsogSource final : public HttpSource {
 public:
  SocialsogSource(const std::string& socialsog_url, std::string token, std::string ca_file = "")
      : HttpSource(socialsog_url, "underretning_keys.socialsog_url", std::move(token),
                   std::move(ca_file)) {}
  std::optional<std::string> key(const std::string& underretning_id) override;
  Keys keys(const std::vector<std::string>& underretning_ids) override;
  static constexpr std::size_t MAX_BATCH = MAX_BATCH_IDS;
};

// The keys one consumer batch needs, fetched with one keys() call before the
// batch is applied (Subscriptions::around_batch) and wiped after it, so a
// batch of N sealed events costs one round trip to intake, not N. key()
// answers from the batch's keys, and asks the source for an id the batch did
// not announce.
class BatchKeys {
 public:
  // `block`: the config block that names the source, for the error when an
  // event is sealed and none is configured.
  explicit BatchKeys(Source* source = nullptr, std::string block = "data_keys")
      : source_(source), block_(std::move(block)) {}
  BatchKeys(const BatchKeys&) = delete;
  BatchKeys& operator=(const BatchKeys&) = delete;
  ~BatchKeys() { forget(); }
  void use(Source* source) { source_ = source; }
  bool configured() const { return source_ != nullptr; }
  // Fetches the keys of `referral_ids` (throws as Source::keys does).
  void fetch(const std::vector<std::string>& referral_ids);
  std::optional<std::string> key(const std::string& referral_id);
  // Wipes the keys held (sodium_memzero) and drops them.
  void forget();

 private:
  Source* source_;
  std::string block_;
  Keys held_;
};

// The source a service's DataKeySettings name (paths relative to
// `config_dir`); nullptr when none is configured. Throws
// std::invalid_argument on a bad URL, an http:// URL outside `dev`, or an
// unreadable token or CA file.
std::unique_ptr<Source> source_from(const v1::DataKeySettings& s, const std::string& config_dir,
                                    bool dev);

// The source the notifier's UnderretningKeySettings name, as source_from.
std::unique_ptr<Source> source_from(const v1::UnderretningKeySettings& s,
                                    const std::string& config_dir, bool dev);

}  // namespace henvis::data_keys
