#include "henvis/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "henvis/tls.hpp"

namespace henvis::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {
// The errors of a connection the server had already closed (its idle
// timeout, a restart) when a request went out on it.
bool closed_by_peer(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::end_of_stream ||
         ec == asio::ssl::error::stream_truncated;
}
}  // namespace
using tcp = asio::ip::tcp;

struct Connection::Impl {
  Endpoint endpoint;
  ClientOptions options;
  asio::io_context ioc;
  std::shared_ptr<asio::ssl::context> tls_context;  // with endpoint.tls
  // One of the two while open.
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  bool open() const { return plain || secure; }
  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  // Runs `op(stream)` on whichever stream is open.
  template <class Op>
  void on_stream(Op&& op) {
    if (secure)
      op(*secure);
    else
      op(*plain);
  }

  // Runs the started operation to completion; on its error closes and throws.
  void finish(const char* step, const beast::error_code& ec, const std::string& detail = {}) {
    ioc.restart();
    ioc.run();
    if (ec) {
      close();
      throw TransportError(step, ec.message() + detail, closed_by_peer(ec));
    }
  }

  void handshake() {
    SSL* ssl = secure->native_handle();
    const std::string& host = endpoint.host;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (tls::is_ip_address(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, host.c_str());  // SNI
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
    beast::error_code ec;
    secure->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    ioc.restart();
    ioc.run();
    // Why the chain or the name was refused ("hostname mismatch", ...).
    const long verified = SSL_get_verify_result(ssl);
    const std::string why = ec && verified != X509_V_OK
                                ? std::string(" (") + X509_verify_cert_error_string(verified) + ")"
                                : std::string();
    finish("handshake", ec, why);
  }

  void close() {
    if (open()) {
      beast::error_code ignored;
      tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
      plain.reset();
      secure.reset();
    }
    buffer.clear();
  }
};

Connection::Connection(Endpoint endpoint, ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = std::move(endpoint);
  impl_->options = std::move(options);
  // Throws std::invalid_argument for an unreadable CA file: a caller's
  // configuration error, not a transport failure.
  if (impl_->endpoint.tls) impl_->tls_context = tls::client_context(impl_->options.ca_file);
}

Connection::~Connection() { impl_->close(); }

bool Connection::is_open() const { return impl_->open(); }

void Connection::close() { impl_->close(); }

void Connection::connect() {
  auto& m = *impl_;
  m.close();
  tcp::resolver resolver(m.ioc);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(m.endpoint.host, m.endpoint.port, ec);
  if (ec) throw TransportError("resolve", ec.message());
  if (m.endpoint.tls)
    m.secure.emplace(m.ioc, *m.tls_context);
  else
    m.plain.emplace(m.ioc);
  // One deadline for the connect and the handshake.
  m.tcp().expires_after(m.options.timeout);
  m.tcp().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  m.finish("connect", ec);
  if (m.endpoint.tls) m.handshake();
}

ClientResponse Connection::request(const std::string& method, const std::string& target,
                                   const Headers& headers, const std::string& body) {
  auto& m = *impl_;
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
  req.set(bhttp::field::host, m.endpoint.host + ":" + m.endpoint.port);
  req.keep_alive(true);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  // One deadline for the connect (if any), the write and the read.
  if (is_open())
    m.tcp().expires_after(m.options.timeout);
  else
    connect();
  beast::error_code ec;
  m.on_stream([&](auto& s) {
    bhttp::async_write(s, req, [&](beast::error_code e, std::size_t) { ec = e; });
  });
  m.finish("write", ec);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(m.options.body_limit);
  m.on_stream([&](auto& s) {
    bhttp::async_read_header(s, m.buffer, parser,
                             [&](beast::error_code e, std::size_t) { ec = e; });
  });
  m.finish("read", ec);
  // Beast 1.74 enforces body_limit on chunked bodies only; a Content-Length
  // over the limit is refused here, before the body is read.
  if (parser.content_length() && *parser.content_length() > m.options.body_limit)
    ec = bhttp::error::body_limit;
  else
    m.on_stream([&](auto& s) {
      bhttp::async_read(s, m.buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    });
  m.finish("read", ec);
  auto res = parser.release();
  if (!res.keep_alive()) m.close();
  ClientResponse out{static_cast<int>(res.result_int()),
                     std::string(res[bhttp::field::content_type]),
                     std::move(res.body()),
                     {}};
  for (const auto& f : res) out.headers.emplace_back(f.name_string(), f.value());
  return out;
}

std::string ClientResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (beast::iequals(n, name)) return v;
  return {};
}

ClientResponse request(const Endpoint& endpoint, const std::string& method,
                       const std::string& target, const Headers& headers, const std::string& body,
                       ClientOptions options) {
  Connection c(endpoint, options);
  Headers all{{"Connection", "close"}};
  all.insert(all.end(), headers.begin(), headers.end());
  return c.request(method, target, all, body);
}

}  // namespace henvis::http
