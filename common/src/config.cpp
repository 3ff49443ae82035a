#include "henvis/config.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cstdint>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "henvis/tls.hpp"
#include "henvis/v1/config.pb.h"

namespace henvis::config {

namespace {
class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string file) : file_(std::move(file)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (!errors_.empty()) errors_ += "; ";
    errors_ +=
        file_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string file_;
  std::string errors_;
};
}  // namespace

void load(const std::string& path, google::protobuf::Message& out) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  Collector errors(path);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  // Unknown fields and extensions are errors (the parser's default); state it.
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  if (!parser.ParseFromString(ss.str(), &out))
    throw Error(errors.errors().empty() ? "cannot parse " + path : errors.errors());
}

std::shared_ptr<boost::asio::ssl::context> server_tls(const v1::ServiceConfig& c,
                                                      const std::string& config_dir) {
  const auto& t = c.http().tls();
  if (!c.http().has_tls()) {
    if (c.dev()) return nullptr;
    throw Error(
        "http.tls is required: set http.tls.cert_chain_file and http.tls.key_file (plain HTTP "
        "only with dev: true, on a developer's machine)");
  }
  try {
    return tls::server_context({resolve(config_dir, t.cert_chain_file()),
                                resolve(config_dir, t.key_file()),
                                resolve(config_dir, t.client_ca_file())});
  } catch (const std::invalid_argument& e) {
    throw Error(e.what());
  }
}

std::string read_key_file(const std::string& path, std::size_t min_bytes,
                          const std::string& setting) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in || ss.str().size() < min_bytes)
    throw std::invalid_argument(setting + " must hold at least " + std::to_string(min_bytes) +
                                " bytes");
  return ss.str();
}

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty()) return p;
  std::filesystem::path fp(p);
  if (fp.is_absolute()) return p;
  return (std::filesystem::path(base_dir) / fp).lexically_normal().string();
}

std::string dir_of(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

void check_ranges(const v1::ServiceConfig& c) {
  struct Range {
    const char* field;
    std::int64_t value, max;
  };
  constexpr std::int64_t MIB = 1 << 20;
  const auto& rl = c.http().rate_limit();
  const Range ranges[] = {
      {"http.port", c.http().port(), 65535},
      {"http.body_limit_bytes", c.http().body_limit_bytes(), 16 * MIB},
      {"http.max_connections", c.http().max_connections(), 1000000},
      {"http.max_connections_per_address", c.http().max_connections_per_address(), 1000000},
      {"http.rate_limit.per_address_per_second", rl.per_address_per_second(), 1000000},
      {"http.rate_limit.per_address_burst", rl.per_address_burst(), 1000000},
      {"http.rate_limit.per_principal_per_second", rl.per_principal_per_second(), 1000000},
      {"http.rate_limit.per_principal_burst", rl.per_principal_burst(), 1000000},
      {"http.rate_limit.failed_auth_per_minute", rl.failed_auth_per_minute(), 1000000},
      {"router.max_contact_attempts", c.router().max_contact_attempts(), 20},
      {"router.reminder_working_days", c.router().reminder_working_days(), 60},
      {"router.check_interval_seconds", c.router().check_interval_seconds(), 86400},
      {"notifier.webhook_max_attempts", c.notifier().webhook_max_attempts(), 100},
      {"notifier.webhook_initial_backoff_ms", c.notifier().webhook_initial_backoff_ms(), 3600000},
      {"notifier.dispatch_interval_ms", c.notifier().dispatch_interval_ms(), 60000},
      {"evaluation.min_cell", c.evaluation().min_cell(), 1000},
  };
  for (const auto& r : ranges)
    if (r.value < 0 || r.value > r.max)
      throw Error(std::string(r.field) + ": " + std::to_string(r.value) + " is not in 0.." +
                  std::to_string(r.max));
}

}  // namespace henvis::config
