#pragma once
// Test harness: real processes (henvis-devbroker and the service binaries),
// real SQLite files in a temp directory, real HTTP on loopback.

#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../test_ca.hpp"
#include "henvis/kafka.hpp"
#include "henvis/v1/api.pb.h"

namespace henvis::testing {

std::filesystem::path make_temp_dir(const std::string& prefix);

// A child process; stdout and stderr go to `log`. Stopped with SIGTERM (then
// SIGKILL after a grace period) when destroyed.
class Process {
 public:
  // Starts `exe` with its stdout and stderr appended to `log`. The process is
  // SIGKILLed by the kernel when the thread that started it ends
  // (PR_SET_PDEATHSIG): a test that aborts, or is killed by ctest's timeout,
  // leaves no service running. That matters on a shared real Kafka cluster,
  // where a leftover router from one test would consume and dead-letter the
  // next test's events in the same consumer group. So start processes on the
  // test's own thread, never on a helper thread that ends first.
  Process(const std::string& exe, const std::vector<std::string>& args,
          const std::filesystem::path& log);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  void signal(int sig);
  // Waits for exit; returns the exit status (or 128+signal), -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  // SIGTERM and wait; returns the exit status.
  int stop();
  bool running();
  // The process id while it runs, -1 after it exited (for /proc/<pid>/...).
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int status_ = -1;
};

// (Not henvis::http::ClientResponse: this header does not name the
// henvis::http namespace, which would make `http(...)` ambiguous in the tests
// that use both namespaces.)
struct HttpResult {
  int status = 0;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // every header, names as sent
  // The first header named `name` (any case); "" if none.
  std::string header(const std::string& name) const;
};

// One request to 127.0.0.1:port on a fresh connection (henvis/http_client,
// its default timeout); https trusting the test CA while a TLS stack lives
// (tls_ca()); throws std::runtime_error when it fails.
HttpResult http(const std::string& method, int port, const std::string& target,
                const std::string& token = "", const std::string& body = "");
// As above, with `extra` headers (e.g. an Idempotency-Key).
HttpResult http(const std::string& method, int port, const std::string& target,
                const std::string& token, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& extra);
// The headers of a request to a henvis API (henvis::http::Headers): the
// bearer token (if any) and, with a body, its JSON content type.
std::vector<std::pair<std::string, std::string>> api_headers(const std::string& token,
                                                             const std::string& body);

// A response body in proto3 JSON as an M, every field known; fails the
// test naming the type otherwise.
template <class M>
M parse(const std::string& json) {
  M m;
  if (!google::protobuf::util::JsonStringToMessage(json, &m).ok())
    FAIL("response is not a " << m.GetTypeName() << ": " << json);
  return m;
}

// A value from the /metrics of the service on `port`, 0 if absent.
double metric(int port, const std::string& name);

// Polls `pred` until true or `timeout`; returns its last value.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The whole file ("" if it cannot be read).
std::string slurp(const std::filesystem::path& p);

// `henvisctl ARGS` (the built binary) run through the shell, its output
// captured in files under `dir`: the exit status, stdout and stderr.
struct CtlRun {
  int status;
  std::string out, err;
};
CtlRun henvisctl(const std::filesystem::path& dir, const std::string& args);

// Every byte of every SQLite file (db, -wal, -shm) in `dir`.
std::string read_all_databases(const std::filesystem::path& dir);

// A delegating token (as henvis-web holds) in every test stack's tokens
// file besides the dev tokens: its requests name the acting person.
inline constexpr const char* DELEGATING_TOKEN = "test-henvis-web";
// The Henvis-Person* headers naming the person a delegating token acts for.
std::vector<std::pair<std::string, std::string>> person_headers(const std::string& person,
                                                                const std::string& role,
                                                                const std::string& scope);

// The TLS stack's CA and server certificate (for 127.0.0.1 and localhost)
// while one lives (Stack(extra, true)), else nullptr. Test stacks are plain
// HTTP with `dev: true` by default.
const TestCa* tls_ca();
// The bearer token of the ROLE_SERVICE token (scope: the service's name)
// the router or the notifier fetches data keys from intake with (a dev
// token, so in every test stack's tokens file).
std::string service_token(const std::string& service);
// For the router and the notifier once intake runs on `intake_port`: the
// `data_keys { }` config block (its token in a file in `dir`); "" otherwise.
std::string data_keys_config(const std::filesystem::path& dir, const std::string& service,
                             int intake_port);
// For the notifier: the `underretning_keys { }` block at socialsog's port
// (its token in a file in `dir`); "" for the other services.
std::string underretning_keys_config(const std::filesystem::path& dir, const std::string& service,
                                     int socialsog_port);
// A TCP port on 127.0.0.1 free at the time of the call (the kernel's choice).
int free_port();

// Writes dir/<service>.textproto for a test stack: loopback, port 0 (the
// service binds a free port itself), its database in `dir`, the dev
// directory, and in dir/tokens.textproto the dev tokens and
// DELEGATING_TOKEN, then `extra` (text-format fields); `http_extra` goes
// inside the http block (e.g. "rate_limit { ... }"), `kafka_extra` inside
// the kafka block (e.g. "partitions: [0, 1, 2]"). `dev: true` (plain
// HTTP), or, while a TLS stack lives, http.tls with its certificate and no
// `dev`: a production-like config.
void write_service_config(const std::filesystem::path& dir, const std::string& service,
                          const std::string& extra = "", const std::string& http_extra = "",
                          const std::string& kafka_extra = "");

// Starts henvis-<service> with dir/<service>.textproto and waits until its
// /readyz answers 200. The service reports the port it bound in
// dir/<service>.port, so no test can reach another process on a port picked
// beforehand. `port` is 0 on the first start and then holds the bound port;
// a restart binds that port again, so clients keep their address. Throws if
// the service exits or is not ready within `timeout`.
std::unique_ptr<Process> start_service(const std::filesystem::path& dir, const std::string& service,
                                       int& port, std::chrono::milliseconds timeout);

// The embedded broker and the services, each a process of its own.
class Stack {
 public:
  // `extra` adds text-format fields to a service's config, e.g.
  // {{"router", "router { max_contact_attempts: 2 }"}}. With `tls`, a test CA
  // is made in dir()/tls and every service serves HTTPS with a non-dev
  // config (tls_ca()); one TLS stack at a time.
  explicit Stack(std::map<std::string, std::string> extra = {}, bool tls = false);
  ~Stack();
  void start_broker();
  void start(const std::string& service);
  // Writes dir/web.textproto and starts henvis-web ("web"): the dev users,
  // `assets_dir`, forwarding to the services started so far (https with the
  // test CA in a TLS stack; `upstreams`,
  // service -> URL, replacing or adding), `delegation_token` in a file, and
  // `extra` inside its `web { }` block.
  void start_web(const std::filesystem::path& assets_dir, const std::string& extra = "",
                 const std::map<std::string, std::string>& upstreams = {},
                 const std::string& delegation_token = "henvis-web");
  void kill(const std::string& service, int sig);
  // SIGTERM; returns the exit status.
  int stop(const std::string& service);
  int port(const std::string& service) const { return ports_.at(service); }
  std::string bootstrap() const;
  const std::filesystem::path& dir() const { return dir_; }
  std::string database(const std::string& service) const;
  // A value from the service's /metrics, 0 if absent.
  double metric(const std::string& service, const std::string& name);

 private:
  std::map<std::string, std::string> extra_config_;
  std::filesystem::path dir_;
  std::optional<TestCa> tls_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::unique_ptr<Process>> procs_;
};

// The whole inbox of `token`'s recipient (GET /v1/inbox?all=true, every page); 200 required.
v1::Inbox inbox(Stack& s, const std::string& token);

// A referral's data key as intake hands it to the router (GET
// /v1/internal/data-keys/{id} with the router's token) and intake's status;
// the key only with 200.
std::pair<int, std::string> data_key(Stack& s, const std::string& referral_id);

// Every message now on every henvis.* topic of the stack's broker (the DLQs
// included), raw: what the crypto-shredding tests grep for clear values.
std::vector<kafka::Message> every_henvis_message(Stack& s);

// A JSON body for POST /v1/offers.
std::string offer_json(const std::string& offer_id, int kommunekode, bool yes,
                       const std::string& cpr = "010190-1234",
                       const std::string& name = "Jens Testesen",
                       const std::string& phone = "+45 22 33 44 55");

}  // namespace henvis::testing
