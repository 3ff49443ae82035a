#pragma once
// A small synchronous HTTP/1.1 client on Boost.Beast, plain or over TLS
// (henvis/tls.hpp: TLS 1.2+, the server's chain verified against the system
// trust store or a CA file, its name checked): one request on a fresh
// connection, or a kept-alive connection for many.
// Every wait is bounded: Beast's synchronous calls ignore a stream's
// timeout, so each step is an asynchronous operation run to completion.
//
// Errors name the step and the system's message, never a header or the body.

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace henvis::http {

// How long one request may take, from its connect (when it opens the
// connection) to the last byte of the answer, unless the caller says
// otherwise. Our services answer on loopback in milliseconds; 30 s leaves
// room for a large statistics body on a loaded machine and still ends a
// request to a peer that accepted the connection and then went silent.
inline constexpr std::chrono::seconds DEFAULT_TIMEOUT{30};
// The largest answer body read; a larger one is a "read" error.
inline constexpr std::size_t DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;

struct Endpoint {
  std::string host;  // a name or an address, without brackets
  std::string port;
  bool tls = false;  // https: TLS with the server's certificate verified
};

struct ClientOptions {
  std::chrono::milliseconds timeout = DEFAULT_TIMEOUT;
  std::size_t body_limit = DEFAULT_BODY_LIMIT;
  // With Endpoint::tls: the CA certificate(s) (PEM) the server's chain must
  // lead to; empty = the system trust store.
  std::string ca_file{};
};

// Sent after Host and Connection, which they may replace.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  Headers headers;  // every header of the answer, names as sent
  // The value of the first header named `name` (any case); "" if none.
  std::string header(std::string_view name) const;
};

// The request failed: `step` is "resolve", "connect", "handshake" (TLS: an
// untrusted certificate or a wrong host name, too), "write" or "read";
// what() is "<step>: <message>".
class TransportError : public std::runtime_error {
 public:
  TransportError(std::string step, const std::string& message, bool peer_closed = false)
      : std::runtime_error(step + ": " + message),
        step_(std::move(step)),
        message_(message),
        peer_closed_(peer_closed) {}
  const std::string& step() const { return step_; }
  const std::string& message() const { return message_; }
  // The server had closed the connection (end of stream, reset, broken
  // pipe, a TLS stream cut short): not a timeout, not a refused answer.
  bool peer_closed() const { return peer_closed_; }

 private:
  std::string step_;
  std::string message_;
  bool peer_closed_ = false;
};

// One keep-alive connection to one endpoint. Not thread-safe.
class Connection {
 public:
  explicit Connection(Endpoint endpoint, ClientOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool is_open() const;
  // Resolves, connects and (TLS) handshakes within one timeout; throws
  // TransportError.
  void connect();
  // Sends the request (connecting first when not open, within the same
  // timeout) and reads the answer; throws TransportError and closes on any
  // error. Closes after an answer that does not keep the connection alive.
  // `target` is the path and query; the body is sent with a Content-Length.
  ClientResponse request(const std::string& method, const std::string& target,
                         const Headers& headers = {}, const std::string& body = {});
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection ("Connection: close"), closed after it.
ClientResponse request(const Endpoint& endpoint, const std::string& method,
                       const std::string& target, const Headers& headers = {},
                       const std::string& body = {}, ClientOptions options = {});

}  // namespace henvis::http
