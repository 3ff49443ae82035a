// Helpers shared by the unit tests: temporary directories, the dev
// configuration, timestamps and one-value SQL queries. Header-only; every
// function is inline so each test file may include it.

#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "henvis/config.hpp"
#include "henvis/data_keys.hpp"
#include "henvis/directory.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/config.pb.h"
#include "henvis/v1/socialsog.pb.h"

namespace henvis::test {

// A consumed event as a consumer loop hands it over: `payload` on `topic`
// under `key`, with a fresh CloudEvents id, `type` and spec version.
inline kafka::Message message(const std::string& topic, const std::string& type,
                              const std::string& key, const std::string& payload) {
  kafka::Message m;
  m.topic = topic;
  m.key = key;
  m.payload = payload;
  m.headers = {{kafka::header::ID, new_uuid()},
               {kafka::header::TYPE, type},
               {kafka::header::SPECVERSION, "1.0"}};
  return m;
}

// A fresh, empty directory <temp>/<prefix>-<uuid>, created by the constructor
// and removed with everything in it by the destructor (errors ignored).
// Not copyable, so only one object ever owns and removes the directory.
struct TempDir {
  explicit TempDir(const std::string& prefix)
      : path(std::filesystem::temp_directory_path() / (prefix + "-" + henvis::new_uuid())) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Path of `name` inside the directory, as a string; the file is not created
  // (e.g. where a test's SQLite database will live).
  std::string file(const std::string& name) const { return (path / name).string(); }

  // Writes `text` to `name` inside the directory, replacing any earlier
  // content, and returns the file's path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    std::ofstream(p) << text;
    return p;
  }

  std::filesystem::path path;
};

// Path of `file` in the repository's deploy/config/dev/, absolute (from the
// build's source directory, not __FILE__, which a compiler cache or
// -ffile-prefix-map may make relative), so it works from any directory.
inline std::filesystem::path dev_config(const std::string& file) {
  return std::filesystem::path(HENVIS_SOURCE_DIR) / "deploy/config/dev" / file;
}

// The routing directory from deploy/config/dev/directory.textproto; throws
// henvis::config::Error if it is missing or does not parse.
inline henvis::Directory dev_directory() {
  return henvis::Directory(
      henvis::config::load<henvis::v1::Directory>(dev_config("directory.textproto").string()));
}

// The RFC 3339 time `s` (e.g. "2024-05-01T10:00:00Z") as a Timestamp; a
// malformed `s` fails the test case (REQUIRE).
inline google::protobuf::Timestamp ts(const std::string& s) {
  google::protobuf::Timestamp t;
  REQUIRE(google::protobuf::util::TimeUtil::FromString(s, &t));
  return t;
}

// Runs `sql` on `db` and returns column 0 of its first row as an integer; a
// query that yields no row fails the test case (REQUIRE).
inline std::int64_t scalar(henvis::sqlite::Db& db, const std::string& sql) {
  henvis::sqlite::Stmt s(db, sql);
  REQUIRE(s.step());
  return s.i64(0);
}

// As above, with `arg` bound to the query's single parameter (?1).
inline std::int64_t scalar(henvis::sqlite::Db& db, const std::string& sql, const std::string& arg) {
  henvis::sqlite::Stmt s(db, sql);
  s.bind(1, arg);
  REQUIRE(s.step());
  return s.i64(0);
}

// Statistics as published with cell-key perturbation (docs/statistics.md,
// rule 5): `got` matches the true `expected` counts when the same cells are
// withheld (-1), zeros stay zeros, and every other count is within 2.
inline bool published_as(const std::vector<int>& got, const std::vector<int>& expected) {
  if (got.size() != expected.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if ((got[i] < 0) != (expected[i] < 0) || (got[i] == 0) != (expected[i] == 0)) return false;
    if (got[i] > 0 && std::abs(got[i] - expected[i]) > 2) return false;
  }
  return true;
}

// The same for statistics CSV: the same lines and cells; withheld (empty) and
// text cells equal; counts within 2 (0 stays 0); shares (a '.' in either) in [0, 1].
inline bool csv_published_as(const std::string& got, const std::string& expected) {
  auto split = [](const std::string& text, char sep) {
    std::vector<std::string> out(1);
    for (char c : text) {
      if (c == sep)
        out.emplace_back();
      else
        out.back().push_back(c);
    }
    return out;
  };
  auto number = [](const std::string& c, double& v) {
    char* end = nullptr;
    v = std::strtod(c.c_str(), &end);
    return !c.empty() && end == c.c_str() + c.size();
  };
  const auto gl = split(got, '\n'), el = split(expected, '\n');
  if (gl.size() != el.size()) return false;
  for (std::size_t l = 0; l < gl.size(); ++l) {
    const auto g = split(gl[l], ','), e = split(el[l], ',');
    if (g.size() != e.size()) return false;
    for (std::size_t i = 0; i < g.size(); ++i) {
      double gv = 0, ev = 0;
      if (!number(g[i], gv) || !number(e[i], ev)) {
        if (g[i] != e[i]) return false;
      } else if (g[i].find('.') != std::string::npos || e[i].find('.') != std::string::npos) {
        if (gv < 0 || gv > 1) return false;
      } else if ((gv == 0) != (ev == 0) || std::abs(gv - ev) > 2) {
        return false;
      }
    }
  }
  return true;
}

// A key source as intake (data keys) or socialsog (underretning keys) would
// answer: the keys it holds; a key that is absent is destroyed; `down`
// stands for the service not answering. Counts single asks and batches.
struct FakeKeySource final : data_keys::Source {
  std::map<std::string, std::string> held;
  bool down = false;
  int asked = 0;
  int batches = 0;
  std::vector<std::string> last_batch;
  std::optional<std::string> key(const std::string& id) override {
    ++asked;
    if (down) throw std::runtime_error("key source: connect: refused");
    auto it = held.find(id);
    if (it == held.end()) return std::nullopt;
    return it->second;
  }
  // One request for many (POST /v1/internal/data-keys, /underretning-keys).
  data_keys::Keys keys(const std::vector<std::string>& ids) override {
    ++batches;
    last_batch = ids;
    if (down) throw std::runtime_error("key source: connect: refused");
    data_keys::Keys out;
    for (const auto& id : ids) {
      auto it = held.find(id);
      out[id] = it == held.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    return out;
  }
};

// A severe incident (PH-G-GROV-VOLD, weight 6 in the default list) in
// Herning (MVJ) of a father suspected, listing his child; both live in
// Herning. No names.
inline v1::Incident severe_incident(const std::string& id, const google::protobuf::Timestamp& when,
                                    const std::string& father_cpr, const std::string& child_cpr) {
  v1::Incident in;
  in.set_incident_id(id);
  in.set_journal_number("4100-84123-00042-24");
  in.set_district_id("mvj");
  *in.mutable_occurred_at() = when;
  in.set_location_kommunekode(657);
  in.add_offence_codes("PH-G-GROV-VOLD");
  auto* p = in.add_involved();
  p->set_role(v1::PERSON_ROLE_SUSPECT);
  p->set_cpr(father_cpr);
  p->set_home_kommunekode(657);
  auto* c = p->add_children();
  c->set_cpr(child_cpr);
  c->set_home_kommunekode(657);
  return in;
}

}  // namespace henvis::test
