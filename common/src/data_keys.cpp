#include "henvis/data_keys.hpp"

#include <google/protobuf/util/json_util.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "henvis/config.hpp"
#include "henvis/http_client.hpp"
#include "henvis/tls.hpp"
#include "henvis/v1/api.pb.h"
#include "henvisctl/client.hpp"  // parse_url

namespace henvis::data_keys {

namespace {
constexpr std::size_t NONCE_BYTES = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t TAG_BYTES = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

void init() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
}

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::string ad_of(const char* type, const std::string& event_id, const std::string& referral_id) {
  // Lengths first, so no two triples give the same bytes.
  return std::string(type) + '\n' + std::to_string(event_id.size()) + ':' + event_id + '\n' +
         std::to_string(referral_id.size()) + ':' + referral_id;
}
}  // namespace

std::string new_key() {
  init();
  std::string key(KEY_BYTES, '\0');
  crypto_aead_xchacha20poly1305_ietf_keygen(bytes(key));
  return key;
}

std::string offer_ad(const std::string& offer_id, const std::string& referral_id) {
  return ad_of("henvis.offer.recorded", offer_id, referral_id);
}

std::string notification_ad(const std::string& notification_id, const std::string& referral_id) {
  return ad_of("henvis.notification.requested", notification_id, referral_id);
}

v1::SealedPerson seal(const std::string& key, const std::string& key_id, const v1::Person& person,
                      const std::string& ad) {
  init();
  if (key.size() != KEY_BYTES) throw std::invalid_argument("a data key is 32 bytes");
  std::string plain;
  person.SerializeToString(&plain);
  std::string nonce(NONCE_BYTES, '\0');
  randombytes_buf(bytes(nonce), nonce.size());
  std::string cipher(plain.size() + TAG_BYTES, '\0');
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(cipher), &len, bytes(plain), plain.size(),
                                             bytes(ad), ad.size(), nullptr, bytes(nonce),
                                             bytes(key));
  sodium_memzero(plain.data(), plain.size());
  cipher.resize(len);
  v1::SealedPerson out;
  out.set_key_id(key_id);
  out.set_nonce(std::move(nonce));
  out.set_ciphertext(std::move(cipher));
  return out;
}

std::optional<v1::Person> open(const std::string& key, const v1::SealedPerson& sealed,
                               const std::string& ad) {
  init();
  const std::string& c = sealed.ciphertext();
  if (key.size() != KEY_BYTES || sealed.nonce().size() != NONCE_BYTES || c.size() < TAG_BYTES)
    return std::nullopt;
  std::string plain(c.size() - TAG_BYTES, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(bytes(plain), &len, nullptr, bytes(c), c.size(),
                                                 bytes(ad), ad.size(), bytes(sealed.nonce()),
                                                 bytes(key)) != 0)
    return std::nullopt;
  plain.resize(len);
  v1::Person person;
  const bool ok = person.ParseFromString(plain);
  sodium_memzero(plain.data(), plain.size());
  if (!ok) return std::nullopt;
  return person;
}

IntakeSource::IntakeSource(const std::string& intake_url, std::string token, std::string ca_file)
    : token_(std::move(token)), ca_file_(std::move(ca_file)) {
  const auto url = client::parse_url(intake_url);
  if (!url.base_path.empty())
    throw std::invalid_argument("data_keys.intake_url must be https://host:port without a path");
  host_ = url.host;
  port_ = url.port;
  tls_ = url.tls;
}

namespace {
// One request to intake with the service token; transport failures and
// answers other than `ok_statuses` throw (the batch is retried).
http::ClientResponse ask_intake(const http::Endpoint& intake, const std::string& token,
                                const std::string& ca_file, const std::string& method,
                                const std::string& path, const std::string& body) {
  http::ClientOptions options;
  options.timeout = std::chrono::seconds(10);
  options.ca_file = ca_file;
  http::Headers headers{{"Authorization", "Bearer " + token}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  try {
    return http::request(intake, method, path, headers, body, options);
  } catch (const http::TransportError& e) {
    throw std::runtime_error(std::string("intake data key: ") + e.what());
  }
}

bool is_key(const std::string& key) { return key.size() == KEY_BYTES; }
}  // namespace

std::optional<std::string> IntakeSource::key(const std::string& referral_id) {
  const http::ClientResponse r = ask_intake({host_, port_, tls_}, token_, ca_file_, "GET",
                                            "/v1/internal/data-keys/" + referral_id, "");
  if (r.status == 404 || r.status == 410) return std::nullopt;
  if (r.status != 200)
    throw std::runtime_error("intake data key: status " + std::to_string(r.status));
  v1::DataKeyResponse body;
  if (!google::protobuf::util::JsonStringToMessage(r.body, &body).ok() || !is_key(body.key()))
    throw std::runtime_error("intake data key: not a DataKeyResponse with a 32-byte key");
  return body.key();
}

Keys IntakeSource::keys(const std::vector<std::string>& referral_ids) {
  Keys out;
  for (std::size_t i = 0; i < referral_ids.size(); i += MAX_BATCH) {
    v1::DataKeysRequest req;
    for (std::size_t j = i; j < std::min(referral_ids.size(), i + MAX_BATCH); ++j)
      req.add_referral_ids(referral_ids[j]);
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(req, &json);
    const http::ClientResponse r =
        ask_intake({host_, port_, tls_}, token_, ca_file_, "POST", "/v1/internal/data-keys", json);
    if (r.status != 200)
      throw std::runtime_error("intake data keys: status " + std::to_string(r.status));
    v1::DataKeysResponse body;
    if (!google::protobuf::util::JsonStringToMessage(r.body, &body).ok())
      throw std::runtime_error("intake data keys: not a DataKeysResponse");
    for (const auto& k : body.keys()) {
      if (!is_key(k.key())) throw std::runtime_error("intake data keys: a key is not 32 bytes");
      out[k.referral_id()] = k.key();
    }
    for (const auto& id : body.destroyed()) out[id] = std::nullopt;
    for (const auto& id : body.unknown()) out[id] = std::nullopt;
  }
  for (const auto& id : referral_ids)
    if (!out.count(id))
      throw std::runtime_error("intake data keys: an id is missing in the answer");
  return out;
}

Keys Source::keys(const std::vector<std::string>& referral_ids) {
  Keys out;
  for (const auto& id : referral_ids)
    if (!out.count(id)) out[id] = key(id);
  return out;
}

void BatchKeys::fetch(const std::vector<std::string>& referral_ids) {
  forget();
  if (!source_ || referral_ids.empty()) return;
  std::vector<std::string> ids = referral_ids;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  held_ = source_->keys(ids);
}

std::optional<std::string> BatchKeys::key(const std::string& referral_id) {
  if (auto it = held_.find(referral_id); it != held_.end()) return it->second;
  if (!source_) throw std::runtime_error("a sealed event, and no data_keys configured");
  return source_->key(referral_id);
}

void BatchKeys::forget() {
  for (auto& [id, key] : held_)
    if (key) sodium_memzero(key->data(), key->size());
  held_.clear();
}

std::unique_ptr<Source> source_from(const v1::DataKeySettings& s, const std::string& config_dir,
                                    bool dev) {
  if (s.intake_url().empty() && s.token_file().empty()) return nullptr;
  if (s.intake_url().empty() || s.token_file().empty())
    throw std::invalid_argument("data_keys needs both intake_url and token_file");
  std::string token =
      config::read_key_file(config::resolve(config_dir, s.token_file()), 1, "data_keys.token_file");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw std::invalid_argument("data_keys.token_file is empty");
  const bool https = s.intake_url().rfind("https://", 0) == 0;
  if (!https && !dev)
    throw std::invalid_argument(
        "data_keys.intake_url must be https:// (http:// only with dev: true)");
  if (!s.ca_file().empty() && !https)
    throw std::invalid_argument("data_keys.ca_file is set for an http:// intake_url");
  std::string ca_file = s.ca_file().empty() ? "" : config::resolve(config_dir, s.ca_file());
  if (!ca_file.empty()) tls::client_context(ca_file);  // unreadable: refused at start
  return std::make_unique<IntakeSource>(s.intake_url(), std::move(token), std::move(ca_file));
}

}  // namespace henvis::data_keys
