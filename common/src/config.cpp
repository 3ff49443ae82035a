#include "henvis/config.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/rand.h>

#include "henvis/sqlite.hpp"
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

std::string read_secret_file(const std::string& path, const std::string& setting) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) throw std::invalid_argument(setting + ": cannot read " + path);
  std::string secret = ss.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw std::invalid_argument(setting + ": " + path + " is empty");
  return secret;
}

namespace {
constexpr std::size_t GENERATED_KEY_BYTES = 32;

void require_key_file(const std::string& field, const std::string& file, bool dev) {
  if (file.empty() && !dev)
    throw Error(field +
                " is required: name a file of secret bytes outside the database (a key kept in "
                "the database is allowed only with `dev: true`, for the dev stack and tests)");
}
}  // namespace

std::string key_from_file_or_dev_db(const std::string& field, const std::string& file,
                                    std::size_t min_bytes, bool dev, sqlite::Db& db,
                                    const std::function<std::optional<std::string>()>& kept,
                                    const std::function<void(const std::string&)>& keep) {
  require_key_file(field, file, dev);
  if (!file.empty()) return read_key_file(file, min_bytes, field);
  sqlite::Transaction tx(db);
  if (auto key = kept()) return *key;
  spdlog::warn("{} not set (dev): using a key kept in the database", field);
  std::string key(std::max(min_bytes, GENERATED_KEY_BYTES), '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1)
    throw std::runtime_error(field + ": no random bytes for a key");
  keep(key);
  tx.commit();
  return key;
}

std::string key_from_file_or_dev_db(const std::string& field, const std::string& file,
                                    std::size_t min_bytes, bool dev, sqlite::Db& db,
                                    const std::string& secret_name) {
  return key_from_file_or_dev_db(
      field, file, min_bytes, dev, db,
      [&]() -> std::optional<std::string> {
        auto q = db.query("SELECT value FROM secrets WHERE name = ?");
        q->bind(1, secret_name);
        if (!q->step()) return std::nullopt;
        return q->blob(0);
      },
      [&](const std::string& key) {
        db.query("INSERT INTO secrets(name, value) VALUES (?, ?)")
            ->bind(1, secret_name)
            .bind_blob(2, key)
            .run();
      });
}

std::string check_key_files(const v1::ServiceConfig& c, const std::string& config_dir) {
  struct Key {
    const char* field;
    const std::string& file;
  };
  std::vector<Key> keys;
  if (c.service() == "router")
    keys.push_back({"router.person_key_file", c.router().person_key_file()});
  if (c.service() == "evaluation")
    keys.push_back({"evaluation.cell_key_file", c.evaluation().cell_key_file()});
  if (c.service() == "intake")
    keys.push_back({"intake.partition_key_file", c.intake().partition_key_file()});
  std::string checked;
  for (const Key& k : keys) {
    require_key_file(k.field, k.file, c.dev());
    if (!k.file.empty()) read_key_file(resolve(config_dir, k.file), 16, k.field);
    checked += std::string(checked.empty() ? "" : ", ") + k.field +
               (k.file.empty() ? " (dev: kept in the database)" : "");
  }
  return checked;
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

namespace {
// Retention periods (docs/security.md "Retention"): days 0..36500, seconds 0..86400.
void check_retention(const v1::ServiceConfig& c) {
  const std::pair<const char*, const v1::RetentionPeriod*> periods[] = {
      {"router.closed_retention", &c.router().closed_retention()},
      {"router.declined_retention", &c.router().declined_retention()},
      {"router.unreachable_retention", &c.router().unreachable_retention()},
      {"router.expired_retention", &c.router().expired_retention()},
      {"notifier.acknowledged_retention", &c.notifier().acknowledged_retention()},
      {"notifier.unacknowledged_retention", &c.notifier().unacknowledged_retention()},
  };
  for (const auto& [field, p] : periods) {
    if (p->days() < 0 || p->days() > 36500)
      throw Error(std::string(field) + ".days: " + std::to_string(p->days()) +
                  " is not in 0..36500");
    if (p->seconds() < 0 || p->seconds() > 86400)
      throw Error(std::string(field) + ".seconds: " + std::to_string(p->seconds()) +
                  " is not in 0..86400");
  }
  if (c.notifier().retention_check_seconds() < 0 || c.notifier().retention_check_seconds() > 86400)
    throw Error("notifier.retention_check_seconds: " +
                std::to_string(c.notifier().retention_check_seconds()) + " is not in 0..86400");
}
}  // namespace

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
      {"evaluation.max_rows", c.evaluation().max_rows(), 1000000},
  };
  for (const auto& r : ranges)
    if (r.value < 0 || r.value > r.max)
      throw Error(std::string(r.field) + ": " + std::to_string(r.value) + " is not in 0.." +
                  std::to_string(r.max));
  check_retention(c);
}

}  // namespace henvis::config
