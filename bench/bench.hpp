#pragma once
// What every benchmark of `scripts/dev bench` shares (bench/README in
// docs/performance.md): sizes from the environment, the spread of repeated
// runs and the one line each figure is printed as, a process's CPU time and
// RSS, and the anchors measured in the same run: SQLite's ceiling for the
// same writes and a raw consume of a topic with librdkafka.
//
// Benchmarks use the test harness's stacks (tests/integration/harness,
// tests/robustness/robust_stack): the real service binaries of this build as
// processes on henvis-devbroker, configs written at run time, ports chosen by
// the services. They assert only that the work was done, never a time.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace henvis::bench {

// HENVIS_BENCH_SMOKE=1: every size tiny and one run (ctest's smoke runs).
bool smoke();
// Runs of each measurement: HENVIS_BENCH_REPS, default 3 (1 in a smoke run).
int reps();
// The size named by environment variable `env` if set, else `full`, or
// `tiny` in a smoke run.
std::int64_t size(const char* env, std::int64_t full, std::int64_t tiny);

struct Spread {
  double min = 0, median = 0, max = 0;
};
Spread spread(std::vector<double> samples);

// `v` for a reader: integers grouped by thousands with a space ("61 700"),
// three significant digits below 100.
std::string num(double v);

// An anchor: what the same machine does in the same run without henvis's
// work, e.g. a raw consume of the same topic.
struct Anchor {
  std::string name;  // "raw consume of henvis.offers.v1"
  std::string unit;  // "msg/s"
  std::vector<double> samples;
};
// Prints, for each anchor, one line
//   <what>: <median> <unit> (min .. median .. max); anchor <name> <median> <unit> (...); ratio R
// where R = the figure's median / the anchor's median. Without anchors, the
// figure alone. True when every sample of the figure and its anchors is a
// positive number (a benchmark that measured nothing prints zeros).
bool report(const std::string& what, const std::string& unit, const std::vector<double>& samples,
            const std::vector<Anchor>& anchors = {});

// A cost curve: one line per size, "<what>, <size> <stored>": the smallest
// alone, each larger one with the smallest as its anchor, so that the ratio
// is how much the figure grew. True when every figure was measured.
bool report_curve(const std::string& what, const std::string& unit, const std::string& stored,
                  const std::vector<std::int64_t>& sizes,
                  const std::vector<std::vector<double>>& samples);

// A process's CPU time so far (user + system, seconds), resident set and
// its peak so far (VmHWM), MiB, from /proc; zeros if it is gone.
struct ProcStats {
  double cpu_seconds = 0;
  double rss_mib = 0;
  double peak_mib = 0;
};
ProcStats proc_stats(int pid);

// SQLite's ceiling for writes like a service's, through henvis::sqlite::Db
// (WAL, synchronous=FULL) on a fresh file in `dir`: `n` rows of a text key
// and a `payload_bytes` blob, `per_commit` rows per transaction, one cached
// prepared INSERT. Rows per second.
double sqlite_rows_per_second(const std::filesystem::path& dir, std::int64_t n, int per_commit,
                              std::size_t payload_bytes);

// Reads the first `n` messages of `topic` from its beginning with a fresh
// henvis::kafka::Consumer (librdkafka, batches of 500 as a service's loop
// polls), doing nothing with them. Messages per second after the first
// batch (connecting and the first fetch apart) to the n-th message. Throws if
// fewer than `n` arrive within a few minutes.
double raw_consume_per_second(const std::string& bootstrap, const std::string& topic,
                              std::int64_t n);

// The p-quantile (0..1) of `v`, nearest rank.
double percentile(std::vector<double> v, double p);

// What a service stored: the rows of every table of the SQLite database at
// `path` (SQLite's own tables apart), by table, and the bytes of their values
// (length() of each column, summed). Read through a connection of its own
// (the service may be running: WAL readers do not block it).
struct Stored {
  std::vector<std::pair<std::string, std::int64_t>> rows;  // tables with rows
  std::int64_t bytes = 0;
};
Stored stored_rows(const std::string& path);

// A ceiling for a durable consumer, measured and printed as one line. The
// rows it wrote per event: `stored` after a run that started on an empty
// database, plus `deleted` (rows written, then deleted before the end, such
// as outbox rows sent), over `events`; updates and index entries apart.
// Anchor: SQLite writing as many rows (sqlite_rows_per_second) of their mean
// size, as many to a commit as `events_per_commit` events make (a consumer
// loop's batch), `reps()` times. That rate over the rows per event is the
// most events a second a consumer writing those rows could apply on this
// disk: its rows appended, no secondary index. Printed against `raw` (msg/s,
// the raw consume of the topic) and `target` times it. True when measured.
bool report_durable_ceiling(const std::string& what, const std::filesystem::path& dir,
                            const Stored& stored,
                            const std::vector<std::pair<std::string, std::int64_t>>& deleted,
                            std::int64_t events, int events_per_commit,
                            const std::vector<double>& raw, double target);

// Events a service's consumer loop has taken (applied, skipped as
// duplicates or dead-lettered), from its /metrics on `port`.
double consumer_taken(int port);

}  // namespace henvis::bench
