#pragma once
// TLS contexts for the kit's HTTP server and client (OpenSSL through
// boost::asio::ssl; docs/production.md "TLS", docs/decisions.md).
//
// Both sides: TLS 1.2 or newer, OpenSSL's default cipher list and security
// level (no own list to keep up to date), no compression, no renegotiation.
// The client verifies the server's chain (the system trust store, or one CA
// file) and its name (SNI + X509 host or IP check).

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace henvis::tls {

// The files of a server certificate (PEM). Paths as given (resolved by the
// caller).
struct ServerFiles {
  std::string cert_chain_file;  // the certificate, then its intermediates
  std::string key_file;         // its private key, unencrypted
  // Optional: require and verify a client certificate issued by this CA
  // (mutual TLS).
  std::string client_ca_file;
};

// A server context with the files loaded and the key checked against the
// certificate. Throws std::invalid_argument naming the field
// (`<prefix>cert_chain_file ...`, `<prefix>key_file ...`), never file contents.
std::shared_ptr<boost::asio::ssl::context> server_context(const ServerFiles& files,
                                                          const std::string& prefix = "http.tls.");

// A client context that verifies the peer against `ca_file` (PEM, one or more
// CA certificates) or, when empty, the system trust store. Shared: one per
// CA file for the process. Throws std::invalid_argument if `ca_file` cannot
// be loaded.
std::shared_ptr<boost::asio::ssl::context> client_context(const std::string& ca_file);

// Whether `host` is an IPv4 or IPv6 address literal (checked against the
// certificate's IP SANs, and sent without SNI).
bool is_ip_address(const std::string& host);

}  // namespace henvis::tls
