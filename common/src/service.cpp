#include "henvis/service.hpp"

#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <thread>

#include "henvis/config.hpp"
#include "henvis/directory.hpp"
#include "henvis/log.hpp"

namespace henvis {

namespace {
// How long a service waits at start for henvis-devbroker's bootstrap file.
constexpr int BOOTSTRAP_WAIT_MS = 30000;
// HTTP handler threads per service (ServerOptions::handler_threads): enough
// that a slow request (a scan, an export, a write queued behind a consumer
// batch) leaves others to answer the rest, few enough on a 2-core machine.
constexpr std::size_t HANDLER_THREADS = 4;

[[noreturn]] void usage(const std::string& service, const std::vector<ServiceFlag>& own, int code) {
  auto& out = code == 0 ? std::cout : std::cerr;
  out << "usage: henvis-" << service
      << " --config FILE [--database FILE] [--port N] [--bootstrap-file FILE] [--port-file FILE]";
  for (const auto& f : own) out << " [" << f.name << " " << f.value_name << "]";
  out << "\n"
         "  --config FILE          service configuration (henvis.v1.ServiceConfig, text format)\n"
         "  --database FILE        SQLite database (overrides `database`)\n"
         "  --port N               HTTP port (overrides `http.port`; 0 = any free port)\n"
         "  --bootstrap-file FILE  file holding the Kafka bootstrap address (henvis-devbroker)\n"
         "  --port-file FILE       once listening, write the bound port to FILE\n";
  for (const auto& f : own)
    out << "  " << std::left << std::setw(21) << (f.name + " " + f.value_name) << "  " << f.help
        << "\n";
  out << "Stops on SIGTERM/SIGINT after finishing the batch in hand and flushing its outbox.\n";
  std::exit(code);
}
// The one way a service reports bad flags or configuration: on stderr, for
// whoever started it (exit 2 follows). Configuration errors name the
// setting, never personal data.
void configuration_error(const std::string& service, const std::exception& e) {
  std::cerr << "henvis-" << service << ": configuration error: " << e.what() << "\n";
}

// Written to a temporary name and renamed, so that a reader never sees a
// partial number.
void write_port_file(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write the port file " + path);
  }
  std::filesystem::rename(tmp, path);
}
}  // namespace

namespace {
// The command line, before any file is read.
struct Flags {
  std::string config_path, database, port, bootstrap_file, port_file;
  std::map<std::string, std::string> own;
};

// Prints usage and exits on --help (0) or a bad command line (2).
Flags parse_flags(const std::string& service, int argc, char** argv,
                  const std::vector<ServiceFlag>& own_flags) {
  Flags f;
  const std::map<std::string, std::string*> common{{"--config", &f.config_path},
                                                   {"--database", &f.database},
                                                   {"--port", &f.port},
                                                   {"--bootstrap-file", &f.bootstrap_file},
                                                   {"--port-file", &f.port_file}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage(service, own_flags, 0);
    const bool own = std::any_of(own_flags.begin(), own_flags.end(),
                                 [&](const ServiceFlag& o) { return o.name == a; });
    if (!own && !common.count(a)) {
      std::cerr << "unknown argument " << a << "\n";
      usage(service, own_flags, 2);
    }
    if (i + 1 >= argc) {
      std::cerr << "missing value for " << a << "\n";
      usage(service, own_flags, 2);
    }
    *(own ? &f.own[a] : common.at(a)) = argv[++i];
  }
  if (f.config_path.empty()) usage(service, own_flags, 2);
  return f;
}

// Loads and checks every configuration file the flags name; throws.
void load_configuration(const Flags& f, ServiceSetup& s, bool kafka) {
  config::load(f.config_path, s.config);
  s.config_dir = config::dir_of(f.config_path);
  if (!f.port.empty()) s.config.mutable_http()->set_port(std::stoi(f.port));
  config::check_ranges(s.config);
  s.tls = config::server_tls(s.config, s.config_dir);  // refuses plain HTTP outside dev
  s.database = f.database.empty() ? config::resolve(s.config_dir, s.config.database()) : f.database;
  if (s.database.empty()) throw config::Error("database is required");
  v1::Directory dir;
  config::load(config::resolve(s.config_dir, s.config.directory_file()), dir);
  Directory checked(dir);  // throws on an inconsistent directory
  v1::Tokens tokens;
  config::load(config::resolve(s.config_dir, s.config.tokens_file()), tokens);
  s.tokens = auth::TokenStore(tokens, checked);  // checks delegated scopes against it
  auth::check_scopes(tokens, checked);           // throws naming the token's label
  s.directory = std::move(dir);
  if (!kafka) return;
  const std::string bf = f.bootstrap_file.empty()
                             ? config::resolve(s.config_dir, s.config.kafka().bootstrap_file())
                             : f.bootstrap_file;
  const std::string servers = f.bootstrap_file.empty() ? s.config.kafka().bootstrap_servers() : "";
  s.bootstrap = kafka::resolve_bootstrap(servers, bf, BOOTSTRAP_WAIT_MS);
  kafka::set_client_properties(config::kafka_client_properties(s.config.kafka(), s.config_dir));
}
}  // namespace

ServiceSetup setup_service(const std::string& service, int argc, char** argv,
                           const std::vector<ServiceFlag>& own_flags, bool kafka) {
  // Every file the service creates (its database, WAL and -shm, the port
  // file, a notifier's CSV drops) is its own user's only: they may hold CPR
  // numbers. A directory's default ACL still applies where an operator set one.
  ::umask(077);
  log::init(service);
  Flags flags = parse_flags(service, argc, argv, own_flags);
  ServiceSetup s;
  s.port_file = flags.port_file;
  s.flags = flags.own;
  try {
    load_configuration(flags, s, kafka);
  } catch (const std::exception& e) {
    configuration_error(service, e);
    std::exit(2);
  }
  return s;
}

std::string ServiceContext::flag(const std::string& name) const {
  const auto it = setup.flags.find(name);
  return it == setup.flags.end() ? std::string() : it->second;
}

namespace {

// The background threads of a running service (the consumer and the
// workers). A thread that stops on an error marks the service failed and
// sends SIGTERM, so that main's wait ends and the shutdown runs as usual.
class Threads {
 public:
  explicit Threads(std::string service) : service_(std::move(service)) {}
  ~Threads() { stop(); }
  void spawn(const char* what, BackgroundLoop w) {
    threads_.emplace_back([this, what, w = std::move(w)] {
      try {
        w(stop_);
      } catch (const std::exception& e) {
        spdlog::critical("{} stopped on error service={} error={}", what, service_, e.what());
        failed_.store(true);
        kill(getpid(), SIGTERM);
      }
    });
  }
  // Sets the stop flag and joins every thread, in the order they started.
  void stop() {
    stop_.store(true);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  bool failed() const { return failed_.load(); }

 private:
  std::string service_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::vector<std::thread> threads_;
};

http::ServerOptions server_options(const v1::ServiceConfig& config) {
  http::ServerOptions opts;
  const auto& h = config.http();
  if (!h.address().empty()) opts.address = h.address();
  opts.port = h.port();
  if (h.body_limit_bytes() > 0) opts.body_limit = static_cast<std::size_t>(h.body_limit_bytes());
  opts.max_connections = static_cast<std::size_t>(h.max_connections());
  opts.max_connections_per_address = static_cast<std::size_t>(h.max_connections_per_address());
  // Handlers run on a pool of threads, off the I/O thread: a slow request
  // (a Socialsøg scan, a large export, a write waiting for the database)
  // holds up neither accepting, nor the limits' 429/503 answers, nor
  // /healthz, /readyz and /metrics, nor the other requests. Each handler
  // thread has its own SQLite connection (sqlite::Connections); writers
  // queue on the file's writer lock (sqlite::Transaction), readers never wait
  // (WAL). A service may ask for more (Service::server_options).
  opts.handler_threads = HANDLER_THREADS;
  const auto& rl = h.rate_limit();
  auto& l = opts.rate_limits;
  const auto set = [](double& field, std::int32_t configured) {
    if (configured > 0) field = configured;
  };
  set(l.per_address_per_second, rl.per_address_per_second());
  set(l.per_address_burst, rl.per_address_burst());
  set(l.per_principal_per_second, rl.per_principal_per_second());
  set(l.per_principal_burst, rl.per_principal_burst());
  set(l.failed_auth_per_minute, rl.failed_auth_per_minute());
  return opts;
}

// Builds the declared service on a migrated store; nullptr (logged) on a
// configuration error.
std::unique_ptr<Service> build(const ServiceDeclaration& d, ServiceContext& ctx) {
  try {
    if (d.migrations) {
      sqlite::Db db(ctx.setup.database);
      db.migrate(d.migrations());
      // A crash between an erasure's commit and its WAL checkpoint
      // (sqlite::Db::note_erasure) left erased bytes in the WAL: settle it
      // before anything else runs.
      db.checkpoint_truncate();
    }
    return d.build(ctx);
  } catch (const std::exception& e) {
    configuration_error(d.name, e);
    return nullptr;
  }
}

// Serves until SIGTERM/SIGINT, then stops the server (first, so that no
// request starts while the rest shuts down). 0, or 1 if it cannot listen.
int serve_until_signal(const std::string& name, http::Server& server, const ServiceSetup& setup,
                       const sigset_t& signals) {
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen service={} port={} error={}", name, setup.config.http().port(),
                     e.what());
    return 1;
  }
  spdlog::info("listening service={} address={} port={} scheme={}", name,
               server_options(setup.config).address, server.port(), setup.tls ? "https" : "http");
  if (!setup.port_file.empty()) write_port_file(setup.port_file, server.port());
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("stopping service={} signal={}", name, sig);
  server.stop();
  return 0;
}

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

}  // namespace

int run_service(const ServiceDeclaration& d, int argc, char** argv) {
  // glibc gives threads their own malloc arenas (up to 8 per core), and each
  // keeps what its thread freed. A service runs some 25 threads (handlers,
  // consumer, relay, workers, librdkafka's). Two arenas: the router's RSS
  // after draining 20 000 offers went from 52-65 MiB to 45-61 MiB over 12
  // runs (issue 14, docs/performance.md "RSS"). Small allocations come from
  // each thread's cache either way; intake's throughput did not move
  // measurably.
  mallopt(M_ARENA_MAX, 2);
  // Block the stop signals in every thread (before any starts); main waits
  // for them below.
  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ServiceSetup setup = setup_service(d.name, argc, argv, d.flags, d.kafka);
  SystemClock clock;
  workdays::Calendar calendar;
  try {
    calendar = workdays::Calendar(setup.config.calendar());
  } catch (const std::exception& e) {
    configuration_error(d.name, e);
    return 2;
  }
  kafka::Health health;
  http::Metrics metrics;
  outbox::Relay relay(setup.database, setup.bootstrap, &health);
  ServiceContext ctx{setup, clock, calendar, relay, metrics};
  const std::unique_ptr<Service> service = build(d, ctx);
  if (!service) return 2;
  http::Router routes;
  service->routes(routes);
  // Declared after the service: it stops before what its handlers use.
  std::unique_ptr<ConsumerLoop> consumer;
  if (const Subscriptions* subs = service->subscriptions()) {
    consumer = std::make_unique<ConsumerLoop>(d.name, setup.database, setup.bootstrap, *subs,
                                              &relay, &health);
    const auto& owned = setup.config.kafka().partitions();
    consumer->own_partitions({owned.begin(), owned.end()});
  }
  if (d.kafka) {
    relay.report_to(metrics);
    if (consumer) consumer->report_to(metrics);
    // /readyz follows a periodic broker round-trip, not only the data paths
    // (see kafka::Health).
    health.start_probe(setup.bootstrap);
    relay.start();
  }
  int code = 0;
  {
    Threads threads(d.name);
    if (consumer) threads.spawn("consumer", [&c = *consumer](const auto& stop) { c.run(stop); });
    for (auto& w : service->workers()) threads.spawn("worker", std::move(w));
    const ConsumerLoop* c = consumer.get();
    http::ServerOptions options = server_options(setup.config);
    options.tls = setup.tls;
    options.openapi = std::string(d.openapi);
    service->server_options(options);
    const bool kafka = d.kafka;
    http::Server server(
        std::move(options), setup.tokens, std::move(routes), metrics,
        [c, &health, kafka] { return !kafka || ((!c || c->ready()) && health.up()); });
    code = serve_until_signal(d.name, server, setup, signals);
    threads.stop();
    if (code == 0 && threads.failed()) code = 3;
  }
  relay.stop();
  health.stop_probe();
  spdlog::info("stopped service={}", d.name);
  return code;
}

void every(std::chrono::seconds interval, const std::atomic<bool>& stop, const std::string& what,
           const std::function<void()>& pass) {
  // Checked in small steps so that a stop is noticed quickly.
  constexpr auto STEP = std::chrono::milliseconds(200);
  auto next = std::chrono::steady_clock::now();
  while (!stop.load()) {
    if (std::chrono::steady_clock::now() >= next) {
      try {
        pass();
      } catch (const std::exception& e) {
        spdlog::error("{} failed error={}", what, e.what());
      }
      next = std::chrono::steady_clock::now() + interval;
    }
    std::this_thread::sleep_for(STEP);
  }
}

}  // namespace henvis
