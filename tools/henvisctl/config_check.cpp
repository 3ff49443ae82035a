// henvisctl config check: validates service configuration files offline.
#include "channels.hpp"  // henvis_notifier
#include "henvis/auth.hpp"
#include "henvis/config.hpp"
#include "henvis/directory.hpp"
#include "henvis/v1/config.pb.h"
#include "henvisctl/cli.hpp"
#include "socialsog.hpp"  // henvis_socialsog

namespace henvis::ctl {

int config_check(const Context& c, const Args& a) {
  if (a.positional.empty()) throw UsageError("expected one or more SERVICE_CONFIG files");
  int bad = 0;
  for (const auto& path : a.positional) {
    try {
      auto cfg = henvis::config::load<henvis::v1::ServiceConfig>(path);
      const std::string dir = henvis::config::dir_of(path);
      henvis::Directory d(henvis::config::load<henvis::v1::Directory>(
          henvis::config::resolve(dir, cfg.directory_file())));
      henvis::auth::TokenStore t(henvis::config::load<henvis::v1::Tokens>(
          henvis::config::resolve(dir, cfg.tokens_file())));
      // What the service itself checks at start beyond these files.
      std::string more;
      if (cfg.service() == "notifier") {
        // Channels per recipient, webhook secret files; creates nothing.
        henvis::notifier::Settings(d, cfg, dir, /*create_dirs=*/false);
        more = ", recipients' channels";
      } else if (cfg.service() == "socialsog") {
        std::string used;
        const auto s = henvis::socialsog::load_settings("", dir, &used);
        more = ", socialsog settings " + (used.empty() ? std::string("(defaults)") : used) +
               " (rules " + s.rules.version() + ")";
      }
      c.out << path << ": ok (service " << cfg.service() << ", directory " << d.version() << ", "
            << d.raw().municipalities_size() << " municipalities, " << t.size() << " tokens" << more
            << ")\n";
    } catch (const std::exception& e) {
      c.err << path << ": " << e.what() << "\n";
      ++bad;
    }
  }
  return bad ? EXIT_API : EXIT_OK;
}

}  // namespace henvis::ctl
