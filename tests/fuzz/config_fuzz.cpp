// Fuzz target: the configuration parser.
//
// Byte 0 chooses the schema (% 3: ServiceConfig, Directory, Tokens); the rest
// is written to a temp file and read with config::load, as the services do at
// start. A parsed Directory goes through the Directory constructor (and a few
// routing look-ups), parsed Tokens through the TokenStore constructor (and an
// authentication). config::Error and std::invalid_argument are the
// documented refusals; anything else is a finding.

#include <chrono>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>

#include "fuzz_support.hpp"
#include "henvis/auth.hpp"
#include "henvis/config.hpp"
#include "henvis/directory.hpp"
#include "henvis/v1/config.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    henvis::fuzz::quiet_logs();
    return (henvis::fuzz::temp_dir("config") / "config.textproto").string();
  }();
  if (size == 0) return 0;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    switch (data[0] % 3) {
      case 0: {
        auto c = henvis::config::load<henvis::v1::ServiceConfig>(path);
        (void)c.ByteSizeLong();
        break;
      }
      case 1: {
        henvis::Directory d(henvis::config::load<henvis::v1::Directory>(path));
        using namespace std::chrono;
        for (int k : {0, 657, 751, 101})
          for (auto day : {year{2019} / 1 / 1, year{2020} / 3 / 1, year{2024} / 5 / 1})
            (void)d.route(k, day);
        (void)d.coordinator("mvj");
        (void)d.recipient("rusmiddelcenter-657");
        break;
      }
      default: {
        henvis::auth::TokenStore t(henvis::config::load<henvis::v1::Tokens>(path));
        (void)t.authenticate("Bearer dev-admin");
        (void)t.authenticate("Bearer ");
        break;
      }
    }
  } catch (const henvis::config::Error&) {
  } catch (const std::invalid_argument&) {
  } catch (const std::exception& e) {
    henvis::fuzz::finding(std::string("unexpected exception: ") + e.what());
  }
  return 0;
}
