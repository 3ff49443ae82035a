// henvis-devbroker: the embedded Kafka for the dev stack and the tests.
//
// It runs librdkafka's mock cluster (rdkafka_mock.h) in a process of its own.
// The mock speaks the real Kafka protocol over TCP on 127.0.0.1, so the
// services connect to it exactly as they would to Apache Kafka; they learn the
// address from the bootstrap file this program writes once every topic exists.
//
// What the librdkafka 2.0.2 mock does with topics that were NOT created here
// (read from src/rdkafka_mock.c and src/rdkafka_mock_handlers.c at v2.0.2):
//   * YES, unknown topics are auto-created, with the mock's built-in default
//     of 4 partitions (mcluster->defaults.partition_cnt, not settable through
//     the public API) and replication factor min(3, brokers) -- NOT with
//     --partitions. It happens on any Metadata request naming the topic with
//     AllowAutoTopicCreation set (the mock also assumes "set" for Metadata
//     versions < 4). Observed against this binary: a librdkafka producer
//     producing to an unknown topic creates it (4 partitions), and so does a
//     librdkafka consumer subscribing to one, even with
//     allow.auto.create.topics at its consumer default of false.
//   * A Produce request for a topic the mock does not know is answered with
//     UNKNOWN_TOPIC_OR_PART; clients ask Metadata first, so in practice the
//     topic gets auto-created as above.
//   * CreateTopics (the Admin API) is not supported by the mock at all.
// That is why every topic henvis uses is pre-created below with --partitions;
// pass --topic for anything else a test needs.
//
// --control-fifo PATH gives tests a line protocol for the mock's fault
// injection (request errors, brokers down/up, latency): see kUsage below.
//
// Produce faults other than a broker going down are NOT faithful for henvis's
// producers (idempotent, not transactional). The 2.0.2 mock checks producer
// sequence numbers only for transactional producers
// (rd_kafka_mock_validate_records returns early without a TransactionalId).
// When request R1 fails (a pushed error, or a leader moved with
// rd_kafka_mock_partition_set_leader) and a later request R2 for the same
// partition is appended, a real broker would refuse R2 with
// OUT_OF_ORDER_SEQUENCE_NUMBER; the mock appends it, and librdkafka then
// "implicitly acks" R1's messages as delivered although they never reached
// the log (rdkafka_request.c, IMPLICITACK). The broker-fault test saw both.
// A broker that goes down fails every request of its connections in order,
// which the mock does faithfully.
//
// The mock's limits: everything lives in memory and is forgotten on exit; each
// partition keeps at most 5 MiB and 100 000 message sets and silently drops
// the oldest beyond that, read or not. It is for development and tests only.

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h needs the declarations from rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace {

// Topics every henvis dev stack needs, always created: deploy/topics.tsv
// (the one list), built in by CMake.
struct DefaultTopic {
  std::string_view name;
  int partitions;
};
constexpr DefaultTopic kDefaultTopics[] = {
#include "default_topics.inc"
};

constexpr int kDefaultBrokers = 3;
constexpr int kDefaultPartitions = 6;
// Upper bounds that only guard against typos; the mock has no hard limit.
constexpr int kMaxBrokers = 32;
constexpr int kMaxPartitions = 1024;
// Kafka's own topic-name limit.
constexpr std::size_t kMaxTopicNameLength = 249;

constexpr std::string_view kUsage = R"(usage: henvis-devbroker --bootstrap-file PATH [options]

Runs librdkafka's mock Kafka cluster on 127.0.0.1 for development and tests.
Once every topic exists, writes the bootstrap address (host:port,host:port,...)
to PATH (atomically: PATH.tmp, then rename). Runs until SIGTERM or SIGINT,
then shuts the cluster down and removes PATH.

options:
  --bootstrap-file PATH  where to write the bootstrap address (required)
  --brokers N            number of mock brokers (default 3)
  --partitions N         partitions of every created topic (default: each
                         topic's count in deploy/topics.tsv, 6 for --topic)
  --topic NAME           create one more topic (repeatable); the topics of
                         deploy/topics.tsv are always created (replication
                         factor min(3, brokers))
  --control-fifo PATH    create a FIFO at PATH and read fault-injection commands
                         from it, one per line (see "control commands" below)
  --help                 show this text

control commands (with --control-fifo; write whole lines, e.g.
`echo 'broker-down all' > PATH`; each is applied at once and logged as
"control ok: <line>" or "control error: <line>: <why>"):
  push-errors API N ERR[,ERR...]
                         the next N requests of API fail, cycling through the
                         given errors (rd_kafka_mock_push_request_errors_array).
                         API: produce, fetch, metadata, or a numeric ApiKey;
                         ERR: an error name without RD_KAFKA_RESP_ERR_ (e.g.
                         NOT_LEADER_FOR_PARTITION) or its number
                         NOT for produce when the outcome matters: the mock
                         does not check idempotent producers' sequence
                         numbers, so a message failed by an injected error
                         can be reported delivered; use broker-down
  clear-errors API       drop the errors still queued for API
  broker-down ID|all     broker ID (1..brokers) or every broker stops
                         accepting connections and drops the open ones
                         (rd_kafka_mock_broker_set_down)
  broker-up ID|all       the broker accepts connections again, same port
                         (rd_kafka_mock_broker_set_up)
  rtt ID|all MS          add MS milliseconds of latency to every response
                         (rd_kafka_mock_broker_set_rtt; 0 removes it)
  # ...                  a comment, ignored

limits of the mock (it is NOT a real Kafka; production runs Apache Kafka):
  * everything is in memory and forgotten when this process exits;
  * each partition keeps at most 5 MiB and 100 000 message sets and silently
    drops the oldest beyond that, even if no consumer has read them: give
    topics enough partitions for a test's backlog;
  * no CreateTopics admin API; a topic not created here is auto-created on a
    producer's metadata request with 4 partitions (not --partitions);
  * no TLS/SASL, no authorization, no retention settings, no log compaction;
  * replication is simulated: all replicas live in this one process.
)";

struct Options {
  int brokers = kDefaultBrokers;
  std::optional<int> partitions;  // --partitions: for every topic
  std::string bootstrap_file;
  std::string control_fifo;
  std::vector<std::pair<std::string, int>> topics;  // name, partitions
};

std::optional<int> parse_int(std::string_view s, int min, int max) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

bool valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicNameLength || name == "." || name == "..")
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// Returns the options, or an exit code (0 for --help, 2 for a usage error).
struct ParseResult {
  std::optional<Options> options;
  int exit_code = 0;
};

ParseResult parse_args(int argc, char** argv) {
  Options o;
  for (const auto& t : kDefaultTopics) o.topics.emplace_back(t.name, t.partitions);

  auto usage_error = [](const std::string& msg) {
    std::fprintf(stderr, "henvis-devbroker: %s (see --help)\n", msg.c_str());
    return ParseResult{std::nullopt, 2};
  };

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    // Accept both "--flag value" and "--flag=value".
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto need_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };

    if (arg == "--help" || arg == "-h") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      return {std::nullopt, 0};
    } else if (arg == "--brokers") {
      if (!need_value()) return usage_error("--brokers needs a value");
      auto v = parse_int(value, 1, kMaxBrokers);
      if (!v) return usage_error("--brokers must be 1.." + std::to_string(kMaxBrokers));
      o.brokers = *v;
    } else if (arg == "--partitions") {
      if (!need_value()) return usage_error("--partitions needs a value");
      auto v = parse_int(value, 1, kMaxPartitions);
      if (!v) return usage_error("--partitions must be 1.." + std::to_string(kMaxPartitions));
      o.partitions = *v;
    } else if (arg == "--bootstrap-file") {
      if (!need_value() || value.empty()) return usage_error("--bootstrap-file needs a path");
      o.bootstrap_file = std::string(value);
    } else if (arg == "--control-fifo") {
      if (!need_value() || value.empty()) return usage_error("--control-fifo needs a path");
      o.control_fifo = std::string(value);
    } else if (arg == "--topic") {
      if (!need_value()) return usage_error("--topic needs a name");
      if (!valid_topic_name(value)) return usage_error("invalid topic name: " + std::string(value));
      if (std::none_of(o.topics.begin(), o.topics.end(),
                       [&](const auto& t) { return t.first == value; }))
        o.topics.emplace_back(value, kDefaultPartitions);
    } else {
      return usage_error("unknown argument: " + std::string(arg));
    }
  }
  if (o.bootstrap_file.empty()) return usage_error("--bootstrap-file is required");
  return {std::move(o), 0};
}

// RAII for librdkafka handles. The mock cluster must be destroyed before the
// rd_kafka_t it was created on, so declare the handle first.
struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_t* m) const noexcept { rd_kafka_mock_cluster_destroy(m); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using MockClusterPtr = std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter>;

// librdkafka's own log lines, routed to spdlog. syslog levels: 0 emerg .. 7 debug.
void log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // The bookkeeping handle has no bootstrap.servers on purpose; librdkafka's
  // warning about that would only mislead the reader of the log.
  if (std::string_view(fac) == "CONFWARN" &&
      std::string_view(buf).find("bootstrap.servers") != std::string_view::npos)
    return;
  if (level <= 3)
    spdlog::error("rdkafka {}: {}", fac, buf);
  else if (level <= 4)
    spdlog::warn("rdkafka {}: {}", fac, buf);
  else if (level <= 6)
    spdlog::info("rdkafka {}: {}", fac, buf);
  else
    spdlog::debug("rdkafka {}: {}", fac, buf);
}

// Writes content to path atomically: path.tmp, fsync, rename.
bool write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    spdlog::error("cannot open {}: {}", tmp, std::strerror(errno));
    return false;
  }
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("cannot write {}: {}", tmp, std::strerror(errno));
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    spdlog::error("cannot flush {}: {}", tmp, std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    spdlog::error("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

// ---- control channel (--control-fifo): fault injection for tests ----------

// How long the control thread waits for a command before it checks whether
// the broker is stopping; bounds the shutdown delay.
constexpr int kControlPollMs = 200;
// A longer line is refused (and dropped up to the next newline).
constexpr std::size_t kMaxControlLine = 4096;
// Kafka ApiKeys named on the control channel.
constexpr int16_t kApiProduce = 0;
constexpr int16_t kApiFetch = 1;
constexpr int16_t kApiMetadata = 3;

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep || (sep == ' ' && c == '\t')) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::optional<int16_t> parse_api(std::string_view s) {
  if (s == "produce") return kApiProduce;
  if (s == "fetch") return kApiFetch;
  if (s == "metadata") return kApiMetadata;
  if (auto v = parse_int(s, 0, 1000)) return static_cast<int16_t>(*v);
  return std::nullopt;
}

std::optional<rd_kafka_resp_err_t> parse_error(std::string_view s) {
  if (auto v = parse_int(s, -200, 1000)) return static_cast<rd_kafka_resp_err_t>(*v);
  std::string_view name = s;
  constexpr std::string_view prefix = "RD_KAFKA_RESP_ERR_";
  if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
  const rd_kafka_err_desc* descs = nullptr;
  size_t cnt = 0;
  rd_kafka_get_err_descs(&descs, &cnt);
  for (size_t i = 0; i < cnt; ++i)
    if (descs[i].name && name == descs[i].name) return descs[i].code;
  return std::nullopt;
}

// Applies one command; returns why it failed, or an empty string.
std::string apply_control(rd_kafka_mock_cluster_t* cluster, int brokers, std::string_view line) {
  const std::vector<std::string> w = split(line, ' ');
  if (w.empty() || w[0].starts_with("#")) return "";
  auto broker_ids = [&](const std::string& which, std::vector<int32_t>& ids) -> bool {
    if (which == "all") {
      for (int b = 1; b <= brokers; ++b) ids.push_back(b);
      return true;
    }
    auto v = parse_int(which, 1, brokers);
    if (!v) return false;
    ids.push_back(*v);
    return true;
  };
  const std::string& cmd = w[0];
  if (cmd == "push-errors") {
    if (w.size() != 4) return "usage: push-errors API N ERR[,ERR...]";
    auto api = parse_api(w[1]);
    if (!api) return "unknown API " + w[1];
    auto n = parse_int(w[2], 1, 1000000);
    if (!n) return "N must be 1..1000000";
    std::vector<rd_kafka_resp_err_t> cycle;
    for (const auto& e : split(w[3], ',')) {
      auto err = parse_error(e);
      if (!err) return "unknown error " + e;
      cycle.push_back(*err);
    }
    if (cycle.empty()) return "no errors given";
    std::vector<rd_kafka_resp_err_t> errs;
    for (int i = 0; i < *n; ++i) errs.push_back(cycle[static_cast<std::size_t>(i) % cycle.size()]);
    rd_kafka_mock_push_request_errors_array(cluster, *api, errs.size(), errs.data());
    return "";
  }
  if (cmd == "clear-errors") {
    if (w.size() != 2) return "usage: clear-errors API";
    auto api = parse_api(w[1]);
    if (!api) return "unknown API " + w[1];
    rd_kafka_mock_clear_request_errors(cluster, *api);
    return "";
  }
  if (cmd == "broker-down" || cmd == "broker-up" || cmd == "rtt") {
    const bool rtt = cmd == "rtt";
    if (w.size() != (rtt ? 3u : 2u))
      return rtt ? "usage: rtt ID|all MS" : "usage: " + cmd + " ID|all";
    std::vector<int32_t> ids;
    if (!broker_ids(w[1], ids)) return "broker must be 1.." + std::to_string(brokers) + " or all";
    std::optional<int> ms;
    if (rtt && !(ms = parse_int(w[2], 0, 600000))) return "MS must be 0..600000";
    for (int32_t id : ids) {
      rd_kafka_resp_err_t err = rtt ? rd_kafka_mock_broker_set_rtt(cluster, id, *ms)
                                : cmd == "broker-down" ? rd_kafka_mock_broker_set_down(cluster, id)
                                                       : rd_kafka_mock_broker_set_up(cluster, id);
      if (err) return "broker " + std::to_string(id) + ": " + rd_kafka_err2str(err);
    }
    return "";
  }
  return "unknown command " + cmd;
}

// Reads commands from a FIFO on a thread of its own until stopped.
class ControlChannel {
 public:
  ControlChannel(std::string path, rd_kafka_mock_cluster_t* cluster, int brokers)
      : path_(std::move(path)), cluster_(cluster), brokers_(brokers) {}
  ~ControlChannel() { stop(); }

  bool start() {
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) ::unlink(path_.c_str());
    if (::mkfifo(path_.c_str(), 0600) != 0) {
      spdlog::error("cannot create control FIFO {}: {}", path_, std::strerror(errno));
      return false;
    }
    // O_RDWR: the FIFO always has a writer (us), so a client closing its end
    // is not an end-of-file and the next client's lines are read the same way.
    fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
      spdlog::error("cannot open control FIFO {}: {}", path_, std::strerror(errno));
      ::unlink(path_.c_str());
      return false;
    }
    thread_ = std::thread([this] { run(); });
    return true;
  }

  void stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }

 private:
  void run() {
    std::string pending;
    bool dropping = false;  // inside an over-long line
    char buf[1024];
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, kControlPollMs) <= 0) continue;
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) continue;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\n') {
          if (!dropping) handle(pending);
          pending.clear();
          dropping = false;
        } else if (pending.size() >= kMaxControlLine) {
          if (!dropping) spdlog::error("control error: line longer than {} bytes", kMaxControlLine);
          dropping = true;
        } else if (buf[i] != '\r') {
          pending.push_back(buf[i]);
        }
      }
    }
  }

  void handle(const std::string& line) {
    std::string err = apply_control(cluster_, brokers_, line);
    if (err.empty())
      spdlog::info("control ok: {}", line);
    else
      spdlog::error("control error: {}: {}", line, err);
  }

  std::string path_;
  rd_kafka_mock_cluster_t* cluster_;
  int brokers_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Blocks SIGTERM/SIGINT in stop_signals before librdkafka starts its threads,
// so they inherit the mask and the main thread alone receives them through
// sigwait().
bool block_stop_signals(sigset_t& stop_signals) {
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (int rc = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); rc != 0) {
    spdlog::error("pthread_sigmask: {}", std::strerror(rc));
    return false;
  }
  return true;
}

// The mock cluster needs an rd_kafka_t for its bookkeeping; a producer
// handle that never produces is enough. nullptr (logged) on failure.
KafkaPtr bookkeeping_handle() {
  char errstr[512];
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  if (rd_kafka_conf_set(conf.get(), "client.id", "henvis-devbroker", errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    spdlog::error("config: {}", errstr);
    return nullptr;
  }
  // rd_kafka_new takes ownership of conf on success only.
  KafkaPtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  if (!rk) {
    spdlog::error("rd_kafka_new: {}", errstr);
    return nullptr;
  }
  (void)conf.release();
  return rk;
}

bool create_topics(rd_kafka_mock_cluster_t* cluster, const Options& opt, int replication_factor) {
  for (const auto& [topic, partitions] : opt.topics) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
        cluster, topic.c_str(), opt.partitions.value_or(partitions), replication_factor);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::error("cannot create topic {}: {}", topic, rd_kafka_err2str(err));
      return false;
    }
  }
  return true;
}

// Waits for one of stop_signals (or a failing sigwait) and logs it.
void wait_for_stop(const sigset_t& stop_signals) {
  int sig = 0;
  for (;;) {
    int rc = sigwait(&stop_signals, &sig);
    if (rc == 0) break;
    if (rc != EINTR) {
      spdlog::error("sigwait: {}", std::strerror(rc));
      break;
    }
  }
  spdlog::info("received {}, stopping", sig == SIGTERM  ? "SIGTERM"
                                        : sig == SIGINT ? "SIGINT"
                                                        : "signal");
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  const Options& opt = *parsed.options;

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ henvis-devbroker %v");

  sigset_t stop_signals;
  if (!block_stop_signals(stop_signals)) return 1;
  KafkaPtr rk = bookkeeping_handle();
  if (!rk) return 1;
  MockClusterPtr cluster(rd_kafka_mock_cluster_new(rk.get(), opt.brokers));
  if (!cluster) {
    spdlog::error("could not start the mock cluster with {} brokers", opt.brokers);
    return 1;
  }
  const int replication_factor = std::min(3, opt.brokers);
  if (!create_topics(cluster.get(), opt, replication_factor)) return 1;

  // Started before the bootstrap file is written: a test that sees the file
  // may write commands at once.
  std::optional<ControlChannel> control;
  if (!opt.control_fifo.empty()) {
    control.emplace(opt.control_fifo, cluster.get(), opt.brokers);
    if (!control->start()) return 1;
  }

  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster.get());
  if (!write_file_atomically(opt.bootstrap_file, bootstraps + "\n")) return 1;

  spdlog::info(
      "started: {} brokers at {}, {} topics with {} partitions and replication "
      "factor {}, bootstrap file {} (in-memory mock for dev/tests only)",
      opt.brokers, bootstraps, opt.topics.size(),
      opt.partitions ? std::to_string(*opt.partitions) : "deploy/topics.tsv's", replication_factor,
      opt.bootstrap_file);

  wait_for_stop(stop_signals);

  // Remove the file first so nobody connects to a cluster that is going away.
  std::error_code ec;
  std::filesystem::remove(opt.bootstrap_file, ec);
  if (ec) spdlog::warn("cannot remove {}: {}", opt.bootstrap_file, ec.message());

  if (control) control->stop();  // before the cluster it drives
  cluster.reset();               // before rk: the cluster belongs to it
  rk.reset();
  spdlog::info("stopped");
  return 0;
}
