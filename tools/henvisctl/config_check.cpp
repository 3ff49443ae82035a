// henvisctl config check: validates configuration files offline. A service
// configuration is checked as its service would at start (ranges, the
// directory and tokens files it names, each token's scope against that
// directory, the notifier's channels, Socialsøg's
// settings); a directory, tokens, users (henvis-web) or Socialsøg settings
// file given on its own is recognised and checked as what it is.
#include <optional>
#include <stdexcept>

#include "channels.hpp"  // henvis_notifier
#include "henvis/auth.hpp"
#include "henvis/config.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/directory.hpp"
#include "henvis/v1/config.pb.h"
#include "henvis/v1/socialsog.pb.h"
#include "henvisctl/cli.hpp"
#include "socialsog.hpp"  // henvis_socialsog

namespace henvis::ctl {

namespace {

// Socialsøg's shipped code list is made up (docs/socialsog.md): fine for a
// demo, wrong for production, and easy to forget.
void warn_placeholder_rules(const Context& c, const std::string& path, const std::string& version) {
  if (version.find("placeholder") != std::string::npos)
    c.err << path << ": warning: the Socialsøg rules " << version
          << " are placeholder codes (PH-...); replace them with the police's real codes before "
             "production (docs/socialsog.md)\n";
}

// Checks a service configuration; the line to print when it is ok.
std::string check_service_config(const Context& c, const std::string& path) {
  auto cfg = config::load<v1::ServiceConfig>(path);
  config::check_ranges(cfg);
  const std::string dir = config::dir_of(path);
  // As at start: plain HTTP refused outside dev; the certificate and key
  // files readable and matching.
  const bool https = config::server_tls(cfg, dir) != nullptr;
  Directory d(config::load<v1::Directory>(config::resolve(dir, cfg.directory_file())));
  const auto tokens = config::load<v1::Tokens>(config::resolve(dir, cfg.tokens_file()));
  auth::TokenStore t(tokens);
  auth::check_scopes(tokens, d);  // as every service does at start
  // What the service itself checks at start beyond these files.
  std::string more;
  if (const std::string keys = config::check_key_files(cfg, dir); !keys.empty())
    more += ", keys " + keys;
  // As librdkafka would: every property known, its files loaded.
  const auto kafka_props = config::kafka_client_properties(cfg.kafka(), dir);
  if (!cfg.kafka().security_protocol().empty())
    more += ", kafka " + cfg.kafka().security_protocol();
  if (!kafka_props.empty())
    more += ", " + std::to_string(kafka_props.size()) + " kafka properties checked";
  // The key sources, as the service builds them at start: URL scheme (https
  // outside dev), token file, CA file (docs/decisions.md 22).
  if (data_keys::source_from(cfg.data_keys(), dir, cfg.dev())) more += ", data keys from intake";
  if (cfg.has_underretning_keys() && cfg.service() != "notifier")
    throw std::invalid_argument("underretning_keys is read by the notifier only");
  if (data_keys::source_from(cfg.underretning_keys(), dir, cfg.dev()))
    more += ", underretning keys from socialsog";
  if (cfg.service() == "notifier") {
    // Channels per recipient, webhook secret files; creates nothing.
    notifier::Settings(d, cfg, dir, /*create_dirs=*/false);
    more += ", recipients' channels";
  } else if (cfg.service() == "socialsog") {
    std::string used;
    const auto s = socialsog::load_settings("", dir, &used);
    more = ", socialsog settings " + (used.empty() ? std::string("(defaults)") : used) +
           " (rules " + s.rules.version() + ")";
    warn_placeholder_rules(c, path, s.rules.version());
  }
  return "ok (service " + cfg.service() + (https ? ", https" : ", plain http: dev only") +
         ", directory " + d.version() + ", " + std::to_string(d.raw().municipalities_size()) +
         " municipalities, " + std::to_string(t.size()) + " tokens, scopes checked" + more + ")";
}

// A file that is not a service configuration but one of the files it names:
// the line to print, or nullopt if it is none of them either.
std::optional<std::string> check_other_kind(const Context& c, const std::string& path) {
  try {
    Directory d(config::load<v1::Directory>(path));
    return "ok (a directory file, version " + d.version() + ", " +
           std::to_string(d.raw().municipalities_size()) + " municipalities)";
  } catch (const config::Error&) {
  }
  try {
    auth::TokenStore t(config::load<v1::Tokens>(path));
    return "ok (a tokens file, " + std::to_string(t.size()) + " tokens)";
  } catch (const config::Error&) {
  }
  try {
    const auto users = config::load<v1::Users>(path);
    return "ok (a users file of henvis-web, " + std::to_string(users.users_size()) + " users)";
  } catch (const config::Error&) {
  }
  try {
    config::load<v1::SocialsogSettings>(path);
    const auto s = socialsog::load_settings(path, config::dir_of(path));
    warn_placeholder_rules(c, path, s.rules.version());
    return "ok (Socialsøg settings, rules " + s.rules.version() + ")";
  } catch (const config::Error&) {
  }
  return std::nullopt;
}

}  // namespace

int config_check(const Context& c, const Args& a) {
  if (a.positional.empty()) throw UsageError("expected one or more configuration files");
  int bad = 0;
  for (const auto& path : a.positional) {
    try {
      std::string line;
      try {
        line = check_service_config(c, path);
      } catch (const config::Error&) {
        // Not a service configuration: perhaps a file one names. Otherwise
        // the error as a service configuration is the one to show.
        auto other = check_other_kind(c, path);
        if (!other) throw;
        line = *other;
      }
      c.out << path << ": " << line << "\n";
    } catch (const std::exception& e) {
      c.err << path << ": " << e.what() << "\n";
      ++bad;
    }
  }
  return bad ? EXIT_API : EXIT_OK;
}

}  // namespace henvis::ctl
