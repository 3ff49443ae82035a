#pragma once
// A certificate authority made at test time (scripts/dev-ca): the unit and
// integration tests' TLS material. Header-only; needs HENVIS_SOURCE_DIR.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace henvis::testing {

struct TestCa {
  std::filesystem::path dir;
  std::string ca() const { return (dir / "ca.pem").string(); }
  std::string cert() const { return (dir / "server.pem").string(); }  // signed by ca()
  std::string key() const { return (dir / "server.key").string(); }
};

// A fresh CA in `dir` and a server certificate for `sans` (scripts/dev-ca's
// subjectAltName syntax). Throws if openssl fails.
inline TestCa make_test_ca(const std::filesystem::path& dir,
                           const std::string& sans = "DNS:localhost,IP:127.0.0.1,IP:::1") {
  const std::string cmd = "'" + std::string(HENVIS_SOURCE_DIR) + "/scripts/dev-ca' '" +
                          dir.string() + "' '" + sans + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("scripts/dev-ca failed");
  return TestCa{dir};
}

}  // namespace henvis::testing
