#pragma once
// Configuration files: protobuf text format, parsed against the schema in
// proto/henvis/v1/config.proto. Unknown fields are refused. Errors name the
// file, line and column.

#include <google/protobuf/message.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace henvis::v1 {
class ServiceConfig;
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

// The bytes of a key file, as they are (binary: no newline stripped). Throws
// std::invalid_argument "<setting> must hold at least <min_bytes> bytes" if
// it cannot be read or is shorter.
std::string read_key_file(const std::string& path, std::size_t min_bytes,
                          const std::string& setting);

// `p` if absolute, else `base_dir/p`.
std::string resolve(const std::string& base_dir, const std::string& p);
std::string dir_of(const std::string& path);

}  // namespace henvis::config
