#pragma once
// Helpers for the robustness suite, on top of tests/integration/harness:
// a stack whose broker takes options (partitions, a control FIFO), a
// keep-alive HTTP client, a deterministic offer stream, and the end-of-run
// audit of every database (lost, duplicated, integrity).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../integration/harness.hpp"

namespace henvis::robustness {

// henvis-devbroker plus intake, router and notifier, each a process.
class RobustStack {
 public:
  struct Options {
    int partitions = 6;
    bool control_fifo = false;
  };
  explicit RobustStack(Options o);
  ~RobustStack();
  void start_broker();
  // Starts (or restarts) a service and waits until /readyz is 200.
  void start(const std::string& service);
  void kill(const std::string& service, int sig);
  // SIGTERM; the exit status.
  int stop(const std::string& service);
  bool running(const std::string& service);
  // The service's process id (its CPU time and RSS in /proc), -1 if not running.
  int pid(const std::string& service) const;
  int port(const std::string& service) const { return ports_.at(service); }
  std::string bootstrap() const;
  std::string database(const std::string& service) const;
  const std::filesystem::path& dir() const { return dir_; }
  // Writes one command line to the broker's control FIFO and waits until the
  // broker logged it as applied; throws if it logged an error.
  void control(const std::string& line);
  // GET /readyz status, 0 if the service does not answer.
  int readyz(const std::string& service);

 private:
  Options opt_;
  std::filesystem::path dir_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::unique_ptr<testing::Process>> procs_;
  std::size_t control_log_seen_ = 0;
};

// One HTTP/1.1 connection kept open across requests; reconnects on demand.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(int port);
  ~KeepAliveClient();
  // nullopt on a connection error (refused, reset, timeout): the caller may
  // retry the same request.
  std::optional<testing::HttpResult> request(const std::string& method, const std::string& target,
                                             const std::string& token, const std::string& body);
  void set_port(int port) { port_ = port; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_;
};

// The i-th offer of a run: mostly yes across the 11 programme municipalities,
// some no, a few from Aarhus (not in the programme: unroutable).
struct Offer {
  std::string id;
  std::string body;
  bool yes = false;
  bool routable = false;
};
Offer make_offer(const std::string& run, int i);
// How many of offers [0, n) of a run are yes, and yes in the programme.
struct ExpectedOffers {
  std::int64_t yes = 0, routable = 0;
};
ExpectedOffers expected_offers(const std::string& run, int n);

// Posts offers [0, n) from `threads` client threads with keep-alive
// connections, retrying connection errors and 5xx with the SAME offerId and
// body until each is accepted (201). Counts go to the atomics. A positive
// `rate` (offers per second) paces the stream so that it spans a fault plan.
// Offers already taken from `st.next` are skipped: a second call with a
// larger n continues the stream.
struct OfferStream {
  std::atomic<int> next{0};
  std::atomic<int> accepted{0};
  std::atomic<int> retries{0};
  std::atomic<bool> failed{false};
  std::string failure;
};
void post_offers(OfferStream& st, const std::string& run, int n, int threads, int intake_port,
                 double rate = 0);

// Messages in a topic and how many distinct ce_ids they carry (a re-sent
// outbox row has the same ce_id).
struct Census {
  std::int64_t messages = 0;
  std::int64_t distinct_ids = 0;
  // The mock dropped the oldest messages of a partition (its 5 MiB limit):
  // the census no longer sees the whole stream.
  bool truncated = false;
};
Census census(const std::string& bootstrap, const std::string& topic);
// The census of every topic the audit checks: the offer, notification and
// delivery streams and the three dead-letter topics of router and notifier.
std::map<std::string, Census> census_all(const std::string& bootstrap);
// The dead-letter topics among them.
inline constexpr const char* DLQ_TOPICS[] = {"henvis.offers.v1.dlq.router",
                                             "henvis.deliveries.v1.dlq.router",
                                             "henvis.notifications.v1.dlq.notifier"};

// Seconds since t.
double seconds_since(std::chrono::steady_clock::time_point t);

// The end-of-run audit, on the stopped services' SQLite files.
struct Audit {
  std::int64_t offers = 0, yes = 0, routable = 0;
  std::int64_t referrals = 0, inbox = 0, processed_router = 0, processed_notifier = 0;
  std::int64_t lost = 0, duplicated = 0;
  std::int64_t events = 0;                    // events the consumers applied (each exactly once)
  std::int64_t resent = 0;                    // duplicates Kafka carried and the consumers absorbed
  std::vector<std::string> truncated_topics;  // the mock dropped their oldest messages
  std::vector<std::string> problems;
  bool integrity_ok = true;
};
// `expected_offers`: how many offers the clients had accepted; `yes` and
// `routable`: how many of those were yes, and yes in the programme.
Audit audit(RobustStack& s, std::int64_t expected_offers, std::int64_t yes, std::int64_t routable,
            const std::map<std::string, Census>& topics);

// Waits until the router and notifier databases show every referral, inbox
// entry and delivery and every outbox is empty, or the timeout passes.
bool wait_settled(RobustStack& s, std::int64_t yes, std::int64_t routable,
                  std::chrono::seconds timeout);

std::int64_t env_int(const char* name, std::int64_t dflt);

}  // namespace henvis::robustness
