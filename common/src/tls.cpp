#include "henvis/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cstdio>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

namespace henvis::tls {

namespace ssl = boost::asio::ssl;

namespace {
// What both sides share: TLS 1.2 at least, OpenSSL's defaults otherwise.
void harden(ssl::context& ctx) {
  SSL_CTX* c = ctx.native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
}

// A field's file that cannot be opened: the one message for it.
void require_readable(const std::string& field, const std::string& path) {
  if (path.empty()) throw std::invalid_argument(field + " is required");
  if (!std::ifstream(path)) throw std::invalid_argument(field + " " + path + " cannot be read");
}

[[noreturn]] void refuse(const std::string& field, const std::string& path,
                         const std::string& why) {
  ERR_clear_error();  // OpenSSL's queue would otherwise surface in a later call
  throw std::invalid_argument(field + " " + path + " " + why);
}
// Loads the key (PEM, unencrypted) and checks that it is the certificate's.
void use_private_key(SSL_CTX* c, const std::string& field, const std::string& path,
                     const std::string& cert_field) {
  FILE* in = std::fopen(path.c_str(), "r");
  EVP_PKEY* pkey = in ? PEM_read_PrivateKey(in, nullptr, nullptr, nullptr) : nullptr;
  if (in) std::fclose(in);
  if (!pkey) refuse(field, path, "is not a PEM private key (unencrypted)");
  const int used = SSL_CTX_use_PrivateKey(c, pkey);  // refuses a key of another certificate
  EVP_PKEY_free(pkey);
  if (used != 1 || SSL_CTX_check_private_key(c) != 1)
    refuse(field, path, "does not match the certificate in " + cert_field);
}
}  // namespace

std::shared_ptr<ssl::context> server_context(const ServerFiles& f, const std::string& prefix) {
  const std::string cert = prefix + "cert_chain_file", key = prefix + "key_file",
                    client_ca = prefix + "client_ca_file";
  require_readable(cert, f.cert_chain_file);
  require_readable(key, f.key_file);
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  harden(*ctx);
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(c, f.cert_chain_file.c_str()) != 1)
    refuse(cert, f.cert_chain_file, "is not a PEM certificate chain");
  use_private_key(c, key, f.key_file, cert);
  if (!f.client_ca_file.empty()) {
    require_readable(client_ca, f.client_ca_file);
    if (SSL_CTX_load_verify_locations(c, f.client_ca_file.c_str(), nullptr) != 1)
      refuse(client_ca, f.client_ca_file, "is not a PEM CA certificate");
    SSL_CTX_set_client_CA_list(c, SSL_load_client_CA_file(f.client_ca_file.c_str()));
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

std::shared_ptr<ssl::context> client_context(const std::string& ca_file) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<ssl::context>> contexts;
  const std::lock_guard lock(mutex);
  auto& ctx = contexts[ca_file];
  if (ctx) return ctx;
  auto made = std::make_shared<ssl::context>(ssl::context::tls_client);
  harden(*made);
  SSL_CTX* c = made->native_handle();
  if (ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(c);
  } else {
    if (!std::ifstream(ca_file)) {
      contexts.erase(ca_file);
      throw std::invalid_argument("CA file " + ca_file + " cannot be read");
    }
    if (SSL_CTX_load_verify_locations(c, ca_file.c_str(), nullptr) != 1) {
      contexts.erase(ca_file);
      refuse("CA file", ca_file, "is not a PEM CA certificate");
    }
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  ctx = std::move(made);
  return ctx;
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace henvis::tls
