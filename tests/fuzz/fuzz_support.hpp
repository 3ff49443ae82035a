// Helpers shared by the fuzz targets (tests/fuzz/*_fuzz.cpp): a temporary
// directory that lives as long as the process, the dev configuration, and an
// abort that tells libFuzzer (and the replay main) about a finding.
//
// Every target defines LLVMFuzzerTestOneInput and nothing else: built with
// -fsanitize=fuzzer it is driven by libFuzzer, otherwise by replay_main.cpp.

#pragma once

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "henvis/config.hpp"
#include "henvis/directory.hpp"
#include "henvis/v1/config.pb.h"

#ifndef HENVIS_SOURCE_DIR
#error "HENVIS_SOURCE_DIR must be defined (tests/fuzz/CMakeLists.txt)"
#endif

namespace henvis::fuzz {

// A finding: print what broke (never the input: it is in the crash file) and abort.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// <tmp>/henvis-fuzz-<target>-<pid>, created once, removed at exit.
inline const std::filesystem::path& temp_dir(const char* target) {
  struct Dir {
    std::filesystem::path path;
    explicit Dir(const char* t)
        : path(std::filesystem::temp_directory_path() /
               ("henvis-fuzz-" + std::string(t) + "-" + std::to_string(::getpid()))) {
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Dir dir(target);
  return dir.path;
}

inline std::string dev_config(const std::string& file) {
  return std::string(HENVIS_SOURCE_DIR) + "/deploy/config/dev/" + file;
}

inline henvis::Directory dev_directory() {
  return henvis::Directory(
      henvis::config::load<henvis::v1::Directory>(dev_config("directory.textproto")));
}

// Services log refusals at warn/info, protobuf logs every invalid UTF-8
// string it parses; millions of lines slow fuzzing down.
inline void quiet_logs() {
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);
}

}  // namespace henvis::fuzz
