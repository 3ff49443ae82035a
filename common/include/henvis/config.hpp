#pragma once
// Configuration files: protobuf text format, parsed against the schema in
// proto/henvis/v1/config.proto. Unknown fields are refused. Errors name the
// file, line and column.

#include <google/protobuf/message.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace henvis::v1 {
class ServiceConfig;
class KafkaSettings;
}  // namespace henvis::v1
namespace boost::asio::ssl {
class context;
}

namespace henvis::sqlite {
class Db;
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

// A secret in a text file (a bearer token, a webhook's HMAC key): the file's
// bytes without trailing CR/LF, so `echo secret > file` holds "secret".
// Throws std::invalid_argument "<setting>: cannot read <path>" or
// "<setting>: <path> is empty"; never the secret.
std::string read_secret_file(const std::string& path, const std::string& setting);

// A key that must live outside the database (docs/decisions.md 23): the
// bytes of `file` (resolved, at least `min_bytes`) when it is set. Without
// one, only in a dev configuration (ServiceConfig.dev): the key `kept`
// returns, else a new random one (32 bytes, or more if min_bytes asks) given
// to `keep`, in one transaction on `db`. Outside dev a missing file is a
// config::Error naming `field` (e.g. "router.person_key_file").
std::string key_from_file_or_dev_db(const std::string& field, const std::string& file,
                                    std::size_t min_bytes, bool dev, sqlite::Db& db,
                                    const std::function<std::optional<std::string>()>& kept,
                                    const std::function<void(const std::string&)>& keep);
// The same, with the dev key kept under `secret_name` in `db`'s table
// `secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)`, which the
// service's migrations create (router, evaluation, intake).
std::string key_from_file_or_dev_db(const std::string& field, const std::string& file,
                                    std::size_t min_bytes, bool dev, sqlite::Db& db,
                                    const std::string& secret_name);
// What key_from_file_or_dev_db refuses, checked offline (`henvisctl config
// check`): each key file `c` needs is named unless dev, and readable.
// `config_dir` resolves relative paths. Returns what it checked ("" if none).
std::string check_key_files(const v1::ServiceConfig& c, const std::string& config_dir);

// The librdkafka properties of `k` (security and the pass-through map),
// files resolved against `config_dir` and secret files read, checked as
// librdkafka checks them (kafka::check_properties). Throws config::Error
// naming the setting: a property librdkafka does not know or refuses, a
// typed setting given in `properties`, a secret inline, a file unreadable.
std::vector<std::pair<std::string, std::string>> kafka_client_properties(
    const v1::KafkaSettings& k, const std::string& config_dir);

// `p` if absolute, else `base_dir/p`.
std::string resolve(const std::string& base_dir, const std::string& p);
std::string dir_of(const std::string& path);

}  // namespace henvis::config
