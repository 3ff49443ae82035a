#include "henvis/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace henvis::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Connection::Impl {
  Endpoint endpoint;
  ClientOptions options;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Runs the started operation to completion; on its error closes and throws.
  void finish(const char* step, const beast::error_code& ec) {
    ioc.restart();
    ioc.run();
    if (ec) {
      close();
      throw TransportError(step, ec.message());
    }
  }

  void close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.reset();
    }
    buffer.clear();
  }
};

Connection::Connection(Endpoint endpoint, ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = std::move(endpoint);
  impl_->options = options;
}

Connection::~Connection() { impl_->close(); }

bool Connection::is_open() const { return impl_->stream.has_value(); }

void Connection::close() { impl_->close(); }

void Connection::connect() {
  auto& m = *impl_;
  m.close();
  tcp::resolver resolver(m.ioc);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(m.endpoint.host, m.endpoint.port, ec);
  if (ec) throw TransportError("resolve", ec.message());
  m.stream.emplace(m.ioc);
  m.stream->expires_after(m.options.timeout);
  m.stream->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  m.finish("connect", ec);
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
    m.stream->expires_after(m.options.timeout);
  else
    connect();
  beast::error_code ec;
  bhttp::async_write(*m.stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
  m.finish("write", ec);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(m.options.body_limit);
  bhttp::async_read_header(*m.stream, m.buffer, parser,
                           [&](beast::error_code e, std::size_t) { ec = e; });
  m.finish("read", ec);
  // Beast 1.74 enforces body_limit on chunked bodies only; a Content-Length
  // over the limit is refused here, before the body is read.
  if (parser.content_length() && *parser.content_length() > m.options.body_limit)
    ec = bhttp::error::body_limit;
  else
    bhttp::async_read(*m.stream, m.buffer, parser,
                      [&](beast::error_code e, std::size_t) { ec = e; });
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
