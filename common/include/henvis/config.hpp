#pragma once
// Configuration files: protobuf text format, parsed against the schema in
// proto/henvis/v1/config.proto. Unknown fields are refused. Errors name the
// file, line and column.

#include <google/protobuf/message.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace henvis::v1 {
class ServiceConfig;
}
namespace boost::asio::ssl {
class context;
}

namespace henvis::config {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses `path` into `out`; throws config::Error.
void load(const std::string& path, google::protobuf::Message& out);

template <class M>
M load(const std::string& path) {
  M m;
  load(path, m);
  return m;
}

// Refuses a number outside what the service can use (a port above 65535, a
// negative interval, ...), naming the field; 0 always means "the default".
void check_ranges(const v1::ServiceConfig& c);

// The HTTPS context for the service's port from `http.tls` (files relative
// to `config_dir`), with the key checked against the certificate; nullptr
// when http.tls is unset in a config with `dev: true`. Throws config::Error
// naming the field: http.tls unset outside dev, a file missing, unreadable,
// not PEM, or a key that does not match.
std::shared_ptr<boost::asio::ssl::context> server_tls(const v1::ServiceConfig& c,
                                                      const std::string& config_dir);

// The bytes of a key file, as they are (binary: no newline stripped). Throws
// std::invalid_argument "<setting> must hold at least <min_bytes> bytes" if
// it cannot be read or is shorter.
std::string read_key_file(const std::string& path, std::size_t min_bytes,
                          const std::string& setting);

// `p` if absolute, else `base_dir/p`.
std::string resolve(const std::string& base_dir, const std::string& p);
std::string dir_of(const std::string& path);

}  // namespace henvis::config
