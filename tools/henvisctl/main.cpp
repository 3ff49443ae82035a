// henvisctl: the operators' and users' command-line client. This first cut
// has `config check`; the role commands come with the lifecycle issue.
#include <iostream>
#include <string>

#include "henvis/auth.hpp"
#include "henvis/config.hpp"
#include "henvis/directory.hpp"
#include "henvis/v1/config.pb.h"

namespace {
int usage(int code) {
  (code ? std::cerr : std::cout)
      << "usage: henvisctl config check SERVICE_CONFIG...\n"
         "  config check   parse each henvis.v1.ServiceConfig file and the directory and tokens\n"
         "                 files it names; refuses unknown fields; exit 0 when all are valid\n";
  return code;
}

int config_check(int argc, char** argv) {
  int bad = 0;
  for (int i = 3; i < argc; ++i) {
    const std::string path = argv[i];
    try {
      auto cfg = henvis::config::load<henvis::v1::ServiceConfig>(path);
      const std::string dir = henvis::config::dir_of(path);
      henvis::Directory d(henvis::config::load<henvis::v1::Directory>(
          henvis::config::resolve(dir, cfg.directory_file())));
      henvis::auth::TokenStore t(henvis::config::load<henvis::v1::Tokens>(
          henvis::config::resolve(dir, cfg.tokens_file())));
      std::cout << path << ": ok (service " << cfg.service() << ", directory " << d.version()
                << ", " << d.raw().municipalities_size() << " municipalities, " << t.size()
                << " tokens)\n";
    } catch (const std::exception& e) {
      std::cerr << path << ": " << e.what() << "\n";
      ++bad;
    }
  }
  return bad ? 1 : 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h"))
    return usage(0);
  if (argc >= 4 && std::string(argv[1]) == "config" && std::string(argv[2]) == "check")
    return config_check(argc, argv);
  return usage(2);
}
