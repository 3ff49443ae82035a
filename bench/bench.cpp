#include "bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "../tests/robustness/robust_stack.hpp"
#include "henvis/ids.hpp"
#include "henvis/kafka.hpp"
#include "henvis/sqlite.hpp"

namespace henvis::bench {

namespace fs = std::filesystem;

namespace {
// A service's consumer loop polls batches of this many (consumer_loop.cpp).
constexpr std::size_t POLL_BATCH = 500;
constexpr int POLL_TIMEOUT_MS = 200;
// A raw read of a topic the services have just written must end within this.
constexpr auto RAW_CONSUME_LIMIT = std::chrono::minutes(5);
}  // namespace

bool smoke() {
  const char* v = std::getenv("HENVIS_BENCH_SMOKE");
  return v && std::string(v) == "1";
}

int reps() { return static_cast<int>(robustness::env_int("HENVIS_BENCH_REPS", smoke() ? 1 : 3)); }

std::int64_t size(const char* env, std::int64_t full, std::int64_t tiny) {
  return robustness::env_int(env, smoke() ? tiny : full);
}

Spread spread(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  const double median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  return {v.front(), median, v.back()};
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string num(double v) {
  char buf[64];
  if (std::fabs(v) < 100) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.0f", v);
  std::string digits = buf, out;
  const std::size_t start = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ' ';
    out += digits[i];
  }
  return out;
}

namespace {
std::string with_spread(const std::vector<double>& samples, const std::string& unit) {
  const Spread s = spread(samples);
  return num(s.median) + " " + unit + " (min " + num(s.min) + " .. median " + num(s.median) +
         " .. max " + num(s.max) + ", " + std::to_string(samples.size()) +
         (samples.size() == 1 ? " run)" : " runs)");
}
}  // namespace

bool report(const std::string& what, const std::string& unit, const std::vector<double>& samples,
            const std::vector<Anchor>& anchors) {
  const std::string figure = what + ": " + with_spread(samples, unit);
  if (anchors.empty()) std::printf("%s\n", figure.c_str());
  for (const auto& a : anchors) {
    const double anchor = spread(a.samples).median;
    const double ratio = anchor > 0 ? spread(samples).median / anchor : 0;
    std::printf("%s; anchor %s %s; ratio %s\n", figure.c_str(), a.name.c_str(),
                with_spread(a.samples, a.unit).c_str(), num(ratio).c_str());
  }
  std::fflush(stdout);
  bool measured = !samples.empty();
  for (double v : samples) measured = measured && std::isfinite(v) && v > 0;
  for (const auto& a : anchors) {
    measured = measured && !a.samples.empty();
    for (double v : a.samples) measured = measured && std::isfinite(v) && v > 0;
  }
  return measured;
}

bool report_curve(const std::string& what, const std::string& unit, const std::string& stored,
                  const std::vector<std::int64_t>& sizes,
                  const std::vector<std::vector<double>>& samples) {
  bool measured = true;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const std::string line = what + ", " + num(static_cast<double>(sizes[k])) + " " + stored;
    std::vector<Anchor> smallest;
    if (k > 0)
      smallest.push_back(
          {"the same with " + num(static_cast<double>(sizes[0])) + " stored", unit, samples[0]});
    measured = report(line, unit, samples[k], smallest) && measured;
  }
  return measured;
}

ProcStats proc_stats(int pid) {
  ProcStats out;
  if (pid <= 0) return out;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream stat(proc + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name (which may hold spaces) in parentheses:
    // state is field 3, utime 14 and stime 15.
    std::istringstream in(line.substr(line.rfind(')') + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    out.cpu_seconds = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status(proc + "/status");
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      out.rss_mib = std::stod(line.substr(6)) / 1024;
    else if (line.rfind("VmHWM:", 0) == 0)
      out.peak_mib = std::stod(line.substr(6)) / 1024;
  return out;
}

double sqlite_rows_per_second(const fs::path& dir, std::int64_t n, int per_commit,
                              std::size_t payload_bytes) {
  const fs::path path = dir / ("sqlite-anchor-" + new_uuid() + ".db");
  const std::string payload(payload_bytes, 'x');
  double rate = 0;
  {
    sqlite::Db db(path.string());
    db.exec("CREATE TABLE events (id TEXT PRIMARY KEY, payload BLOB NOT NULL)");
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < n;) {
      sqlite::Transaction tx(db);
      for (int k = 0; k < per_commit && i < n; ++k, ++i) {
        auto q = db.query("INSERT INTO events (id, payload) VALUES (?, ?)");
        q->bind(1, "event-" + std::to_string(i)).bind_blob(2, payload).run();
      }
      tx.commit();
    }
    rate = static_cast<double>(n) / robustness::seconds_since(t0);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  return rate;
}

double raw_consume_per_second(const std::string& bootstrap, const std::string& topic,
                              std::int64_t n) {
  const auto limit = std::chrono::steady_clock::now() + RAW_CONSUME_LIMIT;
  // The ceiling is the client library's, so the anchor reads with
  // librdkafka's own prefetch (64 MiB, 100 000 messages), not the services'
  // 8 MiB (kafka.cpp, a memory choice): with that, the read of 100 000
  // incidents waited on its fetches at 33 000-94 000 msg/s. This process's
  // client properties are clear again after (only the latency bench sets any,
  // before each of its own clients).
  kafka::set_client_properties(
      {{"queued.max.messages.kbytes", "65536"}, {"queued.min.messages", "100000"}});
  kafka::Consumer c(bootstrap, "henvis-bench-raw-" + new_uuid());
  kafka::set_client_properties({});
  c.assign({topic}, {}, 30000);
  std::int64_t seen = 0, first_batch = 0;
  std::chrono::steady_clock::time_point first;
  while (seen < n) {
    if (std::chrono::steady_clock::now() > limit)
      throw std::runtime_error("raw consume of " + topic + ": " + std::to_string(seen) + " of " +
                               std::to_string(n) + " messages");
    const auto got = static_cast<std::int64_t>(c.poll_batch(POLL_BATCH, POLL_TIMEOUT_MS).size());
    if (seen == 0 && got > 0) {
      first = std::chrono::steady_clock::now();
      first_batch = got;
    }
    seen += got;
  }
  // The first batch arrived before the clock started; a topic read in one
  // batch (a smoke run's) counts whole.
  const double elapsed = std::max(robustness::seconds_since(first), 1e-6);
  return seen > first_batch ? static_cast<double>(seen - first_batch) / elapsed
                            : static_cast<double>(seen) / elapsed;
}

Stored stored_rows(const std::string& path) {
  sqlite::Db db(path);
  std::vector<std::string> tables;
  {
    sqlite::Stmt q(db,
                   "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE "
                   "'sqlite_%' ORDER BY name");
    while (q.step()) tables.push_back(q.text(0));
  }
  // Names read from the schema, quoted as identifiers.
  const auto quoted = [](const std::string& name) {
    std::string out = "\"";
    for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  Stored out;
  for (const auto& t : tables) {
    std::string sum = "0";
    {
      sqlite::Stmt cols(db, "SELECT name FROM pragma_table_info(?)");
      cols.bind(1, t);
      while (cols.step()) sum += " + coalesce(length(" + quoted(cols.text(0)) + "), 0)";
    }
    sqlite::Stmt q(db, "SELECT count(*), coalesce(sum(" + sum + "), 0) FROM " + quoted(t));
    if (q.step() && q.i64(0) > 0) {
      out.rows.emplace_back(t, q.i64(0));
      out.bytes += q.i64(1);
    }
  }
  return out;
}

bool report_durable_ceiling(const std::string& what, const fs::path& dir, const Stored& stored,
                            const std::vector<std::pair<std::string, std::int64_t>>& deleted,
                            std::int64_t events, int events_per_commit,
                            const std::vector<double>& raw, double target) {
  if (events <= 0 || raw.empty()) return false;
  std::int64_t kept = 0, total = 0;
  std::string parts;
  for (const auto* list : {&stored.rows, &deleted})
    for (const auto& [table, count] : *list) {
      total += count;
      if (list == &stored.rows) kept += count;
      parts += (parts.empty() ? "" : ", ") + table +
               (list == &deleted ? " (written, then deleted) " : " ") +
               num(static_cast<double>(count) / static_cast<double>(events));
    }
  if (kept <= 0) return false;
  const double per_event = static_cast<double>(total) / static_cast<double>(events);
  // The deleted rows' size is not known any more; they count at the mean.
  const auto row_bytes = static_cast<std::size_t>(stored.bytes / kept);
  const int per_commit = std::max(1, static_cast<int>(std::lround(per_event * events_per_commit)));
  std::vector<double> sqlite_rows;
  for (int rep = 0; rep < reps(); ++rep)
    sqlite_rows.push_back(sqlite_rows_per_second(dir, total, per_commit, row_bytes));
  const double rows_s = spread(sqlite_rows).median;
  const double ceiling = rows_s / per_event;
  const double raw_median = spread(raw).median;
  const double fraction = raw_median > 0 ? ceiling / raw_median : 0;
  std::printf(
      "%s: %s rows written per event (%s; updates and index entries apart), %s bytes a row on "
      "average; SQLite writing as many such rows, %s a commit (%d events): %s; so at most %s "
      "events/s, %s of the raw consume (target %s of it)\n",
      what.c_str(), num(per_event).c_str(), parts.c_str(),
      num(static_cast<double>(row_bytes)).c_str(), num(per_commit).c_str(), events_per_commit,
      with_spread(sqlite_rows, "rows/s").c_str(), num(ceiling).c_str(), num(fraction).c_str(),
      num(target).c_str());
  std::fflush(stdout);
  return per_event > 0 && fraction > 0;
}

double consumer_taken(int port) {
  return testing::metric(port, "henvis_consumer_applied_total") +
         testing::metric(port, "henvis_consumer_duplicates_total") +
         testing::metric(port, "henvis_consumer_dead_lettered_total");
}

}  // namespace henvis::bench
