#include "henvis/data_keys.hpp"

#include <google/protobuf/util/json_util.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "henvis/config.hpp"
#include "henvis/http.hpp"
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

std::string underretning_ad(const std::string& notification_id,
                            const std::string& underretning_id) {
  return ad_of("henvis.notification.requested/underretning", notification_id, underretning_id);
}

SealedBytes seal_bytes(const std::string& key, const std::string& plain, const std::string& ad) {
  init();
  if (key.size() != KEY_BYTES) throw std::invalid_argument("a data key is 32 bytes");
  SealedBytes out;
  out.nonce.assign(NONCE_BYTES, '\0');
  randombytes_buf(bytes(out.nonce), out.nonce.size());
  out.ciphertext.assign(plain.size() + TAG_BYTES, '\0');
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(out.ciphertext), &len, bytes(plain),
                                             plain.size(), bytes(ad), ad.size(), nullptr,
                                             bytes(out.nonce), bytes(key));
  out.ciphertext.resize(len);
  return out;
}

std::optional<std::string> open_bytes(const std::string& key, const SealedBytes& sealed,
                                      const std::string& ad) {
  init();
  const std::string& c = sealed.ciphertext;
  if (key.size() != KEY_BYTES || sealed.nonce.size() != NONCE_BYTES || c.size() < TAG_BYTES)
    return std::nullopt;
  std::string plain(c.size() - TAG_BYTES, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(bytes(plain), &len, nullptr, bytes(c), c.size(),
                                                 bytes(ad), ad.size(), bytes(sealed.nonce),
                                                 bytes(key)) != 0)
    return std::nullopt;
  plain.resize(len);
  return plain;
}

namespace {
// A message's bytes sealed, the serialised plain text wiped after.
SealedBytes seal_message(const std::string& key, const google::protobuf::MessageLite& m,
                         const std::string& ad) {
  std::string plain;
  m.SerializeToString(&plain);
  SealedBytes out = seal_bytes(key, plain, ad);
  sodium_memzero(plain.data(), plain.size());
  return out;
}

// Opens into `m`; false when the bytes do not open or parse.
bool open_message(const std::string& key, const SealedBytes& sealed, const std::string& ad,
                  google::protobuf::MessageLite& m) {
  std::optional<std::string> plain = open_bytes(key, sealed, ad);
  if (!plain) return false;
  const bool ok = m.ParseFromString(*plain);
  sodium_memzero(plain->data(), plain->size());
  return ok;
}
}  // namespace

v1::SealedPerson seal(const std::string& key, const std::string& key_id, const v1::Person& person,
                      const std::string& ad) {
  SealedBytes sealed = seal_message(key, person, ad);
  v1::SealedPerson out;
  out.set_key_id(key_id);
  out.set_nonce(std::move(sealed.nonce));
  out.set_ciphertext(std::move(sealed.ciphertext));
  return out;
}

std::optional<v1::Person> open(const std::string& key, const v1::SealedPerson& sealed,
                               const std::string& ad) {
  v1::Person person;
  if (!open_message(key, {sealed.nonce(), sealed.ciphertext()}, ad, person)) return std::nullopt;
  return person;
}

void seal_underretning(const std::string& key, const std::string& notification_id,
                       v1::UnderretningNotice& notice) {
  v1::UnderretningPersons persons;
  persons.mutable_children()->Swap(notice.mutable_children());
  persons.mutable_adults()->Swap(notice.mutable_adults());
  for (auto& i : *notice.mutable_incidents()) {
    if (i.adults().empty()) continue;
    auto* a = persons.add_incident_adults();
    a->set_incident_id(i.incident_id());
    a->mutable_adults()->Swap(i.mutable_adults());
  }
  SealedBytes sealed =
      seal_message(key, persons, underretning_ad(notification_id, notice.underretning_id()));
  auto* out = notice.mutable_sealed_persons();
  out->set_key_id(notice.underretning_id());
  out->set_nonce(std::move(sealed.nonce));
  out->set_ciphertext(std::move(sealed.ciphertext));
}

bool open_underretning(const std::string& key, const std::string& notification_id,
                       v1::UnderretningNotice& notice) {
  const auto& s = notice.sealed_persons();
  v1::UnderretningPersons persons;
  if (!open_message(key, {s.nonce(), s.ciphertext()},
                    underretning_ad(notification_id, notice.underretning_id()), persons))
    return false;
  notice.mutable_children()->Swap(persons.mutable_children());
  notice.mutable_adults()->Swap(persons.mutable_adults());
  for (auto& a : *persons.mutable_incident_adults())
    for (auto& i : *notice.mutable_incidents())
      if (i.incident_id() == a.incident_id()) {
        i.mutable_adults()->Swap(a.mutable_adults());
        break;
      }
  notice.clear_sealed_persons();
  return true;
}

struct HttpSource::Client {
  std::mutex mu;
  http::Connection connection;
};

HttpSource::HttpSource(const std::string& url, const std::string& setting, std::string token,
                       std::string ca_file)
    : token_(std::move(token)) {
  const auto u = client::parse_url(url);
  if (!u.base_path.empty())
    throw std::invalid_argument(setting + " must be https://host:port without a path");
  http::ClientOptions options;
  options.timeout = std::chrono::seconds(10);
  options.ca_file = std::move(ca_file);
  client_.reset(new Client{{}, http::Connection(http::Endpoint{u.host, u.port, u.tls}, options)});
}

HttpSource::~HttpSource() = default;

HttpSource::Answer HttpSource::ask(const char* what, const std::string& method,
                                   const std::string& path, const std::string& body) {
  http::Headers headers{{"Authorization", "Bearer " + token_}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  std::lock_guard lock(client_->mu);
  http::Connection& c = client_->connection;
  // A connection that was open already may have been closed by the server
  // meanwhile: that one failure is asked again on a fresh connection. Any
  // other failure (a timeout, a refused connection, an answer over the
  // limit) is the answer: the batch is retried with backoff.
  for (bool again = c.is_open();; again = false) {
    try {
      http::ClientResponse r = c.request(method, path, headers, body);
      return {r.status, std::move(r.body)};
    } catch (const http::TransportError& e) {
      if (!again || !e.peer_closed()) throw std::runtime_error(std::string(what) + ": " + e.what());
    }
  }
}

namespace {
bool is_key(const std::string& key) { return key.size() == KEY_BYTES; }

// The keys of `ids` from a batched key endpoint, MAX_BATCH_IDS per POST:
// `post` sends one request's JSON, `add_id` puts an id into a Request,
// `id_of` reads one key's id; the Response lists `keys`, `destroyed` and
// `unknown`. Any other answer, or one that leaves an id out, throws naming
// `what`.
template <class Request, class Response, class Post, class AddId, class IdOf>
Keys post_for_keys(const char* what, const std::vector<std::string>& ids, Post post, AddId add_id,
                   IdOf id_of) {
  const std::string many = std::string(what) + "s";
  Keys out;
  for (std::size_t i = 0; i < ids.size(); i += MAX_BATCH_IDS) {
    Request req;
    for (std::size_t j = i; j < std::min(ids.size(), i + MAX_BATCH_IDS); ++j) add_id(req, ids[j]);
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(req, &json);
    const auto r = post(json);
    if (r.status != 200) throw std::runtime_error(many + ": status " + std::to_string(r.status));
    Response body;
    if (!google::protobuf::util::JsonStringToMessage(r.body, &body).ok())
      throw std::runtime_error(many + ": not a " + Response::descriptor()->name());
    for (const auto& k : body.keys()) {
      if (!is_key(k.key())) throw std::runtime_error(many + ": a key is not 32 bytes");
      out[id_of(k)] = k.key();
    }
    for (const auto& id : body.destroyed()) out[id] = std::nullopt;
    for (const auto& id : body.unknown()) out[id] = std::nullopt;
  }
  for (const auto& id : ids)
    if (!out.count(id)) throw std::runtime_error(many + ": an id is missing in the answer");
  return out;
}

constexpr const char* INTAKE_KEY = "intake data key";
constexpr const char* SOCIALSOG_KEY = "socialsog underretning key";
}  // namespace

std::optional<std::string> IntakeSource::key(const std::string& referral_id) {
  const Answer r = ask(INTAKE_KEY, "GET", "/v1/internal/data-keys/" + referral_id, "");
  if (r.status == 404 || r.status == 410) return std::nullopt;
  if (r.status != 200)
    throw std::runtime_error(std::string(INTAKE_KEY) + ": status " + std::to_string(r.status));
  v1::DataKeyResponse body;
  if (!google::protobuf::util::JsonStringToMessage(r.body, &body).ok() || !is_key(body.key()))
    throw std::runtime_error(std::string(INTAKE_KEY) +
                             ": not a DataKeyResponse with a 32-byte key");
  return body.key();
}

Keys IntakeSource::keys(const std::vector<std::string>& referral_ids) {
  return post_for_keys<v1::DataKeysRequest, v1::DataKeysResponse>(
      INTAKE_KEY, referral_ids,
      [this](const std::string& json) {
        return ask(INTAKE_KEY, "POST", "/v1/internal/data-keys", json);
      },
      [](auto& req, const std::string& id) { req.add_referral_ids(id); },
      [](const auto& k) { return k.referral_id(); });
}

std::optional<std::string> SocialsogSource::key(const std::string& underretning_id) {
  return keys({underretning_id}).at(underretning_id);
}

Keys SocialsogSource::keys(const std::vector<std::string>& underretning_ids) {
  return post_for_keys<v1::UnderretningKeysRequest, v1::UnderretningKeysResponse>(
      SOCIALSOG_KEY, underretning_ids,
      [this](const std::string& json) {
        return ask(SOCIALSOG_KEY, "POST", "/v1/internal/underretning-keys", json);
      },
      [](auto& req, const std::string& id) { req.add_underretning_ids(id); },
      [](const auto& k) { return k.underretning_id(); });
}

std::set<std::string> requested_ids(const google::protobuf::RepeatedPtrField<std::string>& ids,
                                    const std::string& field, const std::string& what) {
  if (ids.empty() || ids.size() > static_cast<int>(MAX_BATCH_IDS))
    throw http::Problem(400, "Bad Request", "the request has invalid fields",
                        {{field, "must hold 1 to " + std::to_string(MAX_BATCH_IDS) + " " + what}});
  for (const auto& id : ids)
    if (id.empty())
      throw http::Problem(400, "Bad Request", "the request has invalid fields",
                          {{field, "must not hold an empty id"}});
  return {ids.begin(), ids.end()};
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
  if (!source_) throw std::runtime_error("a sealed event, and no " + block_ + " configured");
  return source_->key(referral_id);
}

void BatchKeys::forget() {
  for (auto& [id, key] : held_)
    if (key) sodium_memzero(key->data(), key->size());
  held_.clear();
}

namespace {
// A key source's settings checked (`block` and `url_field` name them in
// errors); nothing when neither URL nor token file is set.
struct SourceSettings {
  std::string url, token, ca_file;
};
std::optional<SourceSettings> checked(const std::string& block, const std::string& url_field,
                                      const std::string& url, const std::string& token_file,
                                      const std::string& ca, const std::string& config_dir,
                                      bool dev) {
  if (url.empty() && token_file.empty()) return std::nullopt;
  if (url.empty() || token_file.empty())
    throw std::invalid_argument(block + " needs both " + url_field + " and token_file");
  std::string token =
      config::read_key_file(config::resolve(config_dir, token_file), 1, block + ".token_file");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw std::invalid_argument(block + ".token_file is empty");
  const bool https = url.rfind("https://", 0) == 0;
  if (!https && !dev)
    throw std::invalid_argument(block + "." + url_field +
                                " must be https:// (http:// only with dev: true)");
  if (!ca.empty() && !https)
    throw std::invalid_argument(block + ".ca_file is set for an http:// " + url_field);
  std::string ca_file = ca.empty() ? "" : config::resolve(config_dir, ca);
  if (!ca_file.empty()) tls::client_context(ca_file);  // unreadable: refused at start
  return SourceSettings{url, std::move(token), std::move(ca_file)};
}
}  // namespace

std::unique_ptr<Source> source_from(const v1::DataKeySettings& s, const std::string& config_dir,
                                    bool dev) {
  auto c = checked("data_keys", "intake_url", s.intake_url(), s.token_file(), s.ca_file(),
                   config_dir, dev);
  if (!c) return nullptr;
  return std::make_unique<IntakeSource>(c->url, std::move(c->token), std::move(c->ca_file));
}

std::unique_ptr<Source> source_from(const v1::UnderretningKeySettings& s,
                                    const std::string& config_dir, bool dev) {
  auto c = checked("underretning_keys", "socialsog_url", s.socialsog_url(), s.token_file(),
                   s.ca_file(), config_dir, dev);
  if (!c) return nullptr;
  return std::make_unique<SocialsogSource>(c->url, std::move(c->token), std::move(c->ca_file));
}

}  // namespace henvis::data_keys
