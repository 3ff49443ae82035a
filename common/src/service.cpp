#include "henvis/service.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "henvis/config.hpp"
#include "henvis/directory.hpp"
#include "henvis/log.hpp"

namespace henvis {

namespace {
// How long a service waits at start for henvis-devbroker's bootstrap file.
constexpr int BOOTSTRAP_WAIT_MS = 30000;

[[noreturn]] void usage(const std::string& service, int code) {
  (code == 0 ? std::cout : std::cerr)
      << "usage: henvis-" << service
      << " --config FILE [--database FILE] [--port N] [--bootstrap-file FILE]\n"
         "  --config FILE          service configuration (henvis.v1.ServiceConfig, text format)\n"
         "  --database FILE        SQLite database (overrides `database`)\n"
         "  --port N               HTTP port (overrides `http.port`; 0 = any free port)\n"
         "  --bootstrap-file FILE  file holding the Kafka bootstrap address (henvis-devbroker)\n"
         "Stops on SIGTERM/SIGINT after finishing the batch in hand and flushing its outbox.\n";
  std::exit(code);
}
}  // namespace

std::string dlq_topic(const std::string& topic, const std::string& service) {
  return topic + ".dlq." + service;
}

ServiceSetup setup_service(const std::string& service, int argc, char** argv) {
  log::init(service);
  std::string config_path, database, port, bootstrap_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        usage(service, 2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h")
      usage(service, 0);
    else if (a == "--config")
      config_path = value();
    else if (a == "--database")
      database = value();
    else if (a == "--port")
      port = value();
    else if (a == "--bootstrap-file")
      bootstrap_file = value();
    else {
      std::cerr << "unknown argument " << a << "\n";
      usage(service, 2);
    }
  }
  if (config_path.empty()) usage(service, 2);
  ServiceSetup s;
  try {
    config::load(config_path, s.config);
    s.config_dir = config::dir_of(config_path);
    if (!port.empty()) s.config.mutable_http()->set_port(std::stoi(port));
    s.database = database.empty() ? config::resolve(s.config_dir, s.config.database()) : database;
    if (s.database.empty()) throw config::Error("database is required");
    v1::Directory dir;
    config::load(config::resolve(s.config_dir, s.config.directory_file()), dir);
    Directory checked(dir);  // throws on an inconsistent directory
    s.directory = std::move(dir);
    v1::Tokens tokens;
    config::load(config::resolve(s.config_dir, s.config.tokens_file()), tokens);
    s.tokens = auth::TokenStore(tokens);
    std::string bf = bootstrap_file.empty()
                         ? config::resolve(s.config_dir, s.config.kafka().bootstrap_file())
                         : bootstrap_file;
    std::string servers = bootstrap_file.empty() ? s.config.kafka().bootstrap_servers() : "";
    s.bootstrap = kafka::resolve_bootstrap(servers, bf, BOOTSTRAP_WAIT_MS);
  } catch (const std::exception& e) {
    std::cerr << "henvis-" << service << ": configuration error: " << e.what() << "\n";
    std::exit(2);
  }
  return s;
}

int run_service(RunSpec spec) {
  // Block the stop signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (spec.relay) spec.relay->report_to(*spec.metrics);
  if (spec.consumer) spec.consumer->report_to(*spec.metrics);
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  // /readyz follows a periodic broker round-trip, not only the data paths
  // (see kafka::Health).
  if (spec.health) spec.health->start_probe(spec.setup->bootstrap);
  if (spec.relay) spec.relay->start();
  std::thread consumer_thread;
  if (spec.consumer) {
    consumer_thread = std::thread([&] {
      try {
        spec.consumer->run(stop);
      } catch (const std::exception& e) {
        spdlog::critical("consumer stopped on error service={} error={}", spec.service, e.what());
        failed.store(true);
        kill(getpid(), SIGTERM);
      }
    });
  }
  std::vector<std::thread> workers;
  for (auto& w : spec.workers) {
    workers.emplace_back([&stop, &failed, w, &spec] {
      try {
        w(stop);
      } catch (const std::exception& e) {
        spdlog::critical("worker stopped on error service={} error={}", spec.service, e.what());
        failed.store(true);
        kill(getpid(), SIGTERM);
      }
    });
  }
  auto join_workers = [&] {
    for (auto& t : workers)
      if (t.joinable()) t.join();
  };
  ConsumerLoop* consumer = spec.consumer;
  kafka::Health* health = spec.health;
  http::ServerOptions opts;
  const auto& h = spec.setup->config.http();
  if (!h.address().empty()) opts.address = h.address();
  opts.port = h.port();
  if (h.body_limit_bytes() > 0) opts.body_limit = static_cast<std::size_t>(h.body_limit_bytes());
  http::Server server(opts, spec.setup->tokens, std::move(spec.router), *spec.metrics, [=] {
    return (!consumer || consumer->ready()) && (!health || health->up());
  });
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen service={} port={} error={}", spec.service, opts.port,
                     e.what());
    stop.store(true);
    if (consumer_thread.joinable()) consumer_thread.join();
    join_workers();
    if (spec.relay) spec.relay->stop();
    if (spec.health) spec.health->stop_probe();
    return 1;
  }
  spdlog::info("listening service={} address={} port={}", spec.service, opts.address,
               server.port());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("stopping service={} signal={}", spec.service, sig);
  server.stop();
  stop.store(true);
  if (consumer_thread.joinable()) consumer_thread.join();
  join_workers();
  if (spec.relay) spec.relay->stop();
  if (spec.health) spec.health->stop_probe();
  spdlog::info("stopped service={}", spec.service);
  return failed.load() ? 3 : 0;
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
