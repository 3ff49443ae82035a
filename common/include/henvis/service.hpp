#pragma once
// What every service shares: flags, configuration, and the host that builds,
// runs and stops a declared service. A service's main() is one call:
//   int main(int argc, char** argv) { return run_service(router::service(), argc, argv); }

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "henvis/auth.hpp"
#include "henvis/clock.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/v1/config.pb.h"
#include "henvis/workdays.hpp"

namespace henvis {

// A flag of one service's own beyond the common ones, taking a value:
// {"--socialsog", "FILE", "Socialsøg settings (...)"}.
struct ServiceFlag {
  std::string name;
  std::string value_name;
  std::string help;
};

// Flags common to every service:
//   --config FILE        service config (henvis.v1.ServiceConfig, text format)
//   --database FILE      overrides `database`
//   --port N             overrides `http.port`
//   --bootstrap-file F   overrides `kafka.bootstrap_file` (and clears servers)
//   --port-file F        once listening, writes the bound port to F (with
//                        `--port 0`: the port is the one the service bound,
//                        not one picked beforehand and raced for)
//   --help
struct ServiceSetup {
  v1::ServiceConfig config;
  std::string config_dir;
  std::string database;
  std::string bootstrap;
  std::string port_file;
  v1::Directory directory;
  auth::TokenStore tokens;
  std::map<std::string, std::string> flags;  // the service's own flags given
  // config::server_tls: HTTPS for the port; nullptr = plain HTTP (dev only).
  std::shared_ptr<boost::asio::ssl::context> tls;
};

// Parses flags and loads and checks every configuration file. Prints usage
// and exits 0 on --help; prints the error and exits 2 on bad configuration.
// Without `kafka`, no bootstrap is looked for (ServiceSetup::bootstrap stays
// empty).
ServiceSetup setup_service(const std::string& service, int argc, char** argv,
                           const std::vector<ServiceFlag>& own_flags = {}, bool kafka = true);

// ---------------------------------------------------------------- the host
//
// A service declares what it is made of (its own flags, its store's
// migrations, how it is built from the configuration); `run_service` does
// the rest the same way for every service: flags and configuration checked
// at start (exit 2 naming the error), the store migrated, the service built,
// the relay, the consumer, the workers and the HTTP server started, /readyz
// ready once the consumer is assigned and the brokers answer, /metrics, and
// on SIGTERM/SIGINT the shutdown in order: HTTP, the consumer (finishing its
// batch), the workers, the relay (publishing what is left).

// What the host gives a service while it is built. The references live as
// long as the service.
struct ServiceContext {
  const ServiceSetup& setup;
  const Clock& clock;
  const workdays::Calendar& calendar;  // config `calendar`
  outbox::Relay& relay;
  http::Metrics& metrics;
  // The value of one of the service's own flags (ServiceFlag), "" if absent.
  std::string flag(const std::string& name) const;
};

// A background loop (scheduler) run on a thread of its own until `stop`.
using BackgroundLoop = std::function<void(const std::atomic<bool>& stop)>;

// A built service: what it serves, consumes and runs. The host keeps it until
// the server, the consumer and the workers have stopped.
class Service {
 public:
  virtual ~Service() = default;
  virtual void routes(http::Router& router) = 0;
  // The events it consumes; nullptr if it consumes none.
  virtual const Subscriptions* subscriptions() const { return nullptr; }
  virtual std::vector<BackgroundLoop> workers() { return {}; }
  // Adjusts the HTTP server's options (handler threads, default headers).
  virtual void server_options(http::ServerOptions&) const {}
};

struct ServiceDeclaration {
  std::string name;
  // The store's schema, applied before the service is built.
  std::function<std::vector<std::string>()> migrations;
  std::vector<ServiceFlag> flags;
  // Builds the service from the checked configuration; an exception here is
  // a configuration error (logged, exit 2).
  std::function<std::unique_ptr<Service>(ServiceContext&)> build;
  // The service's OpenAPI document (services/<svc>/openapi.json, embedded at
  // build time by henvis_embed_openapi in CMake), served at GET /openapi.json.
  std::string_view openapi;
  // False for a service without Kafka (henvis-web): no bootstrap is read,
  // no relay or broker probe runs, and /readyz is ready once it listens.
  bool kafka = true;
};

// Runs the declared service until SIGTERM/SIGINT. Returns the exit code: 0
// after a clean stop, 1 if it cannot listen, 2 on bad flags or configuration,
// 3 if the consumer or a worker stopped on an error.
int run_service(const ServiceDeclaration& service, int argc, char** argv);

// A service's periodic work (reminders, scheduled scans): runs `pass` at once
// and then every `interval` until `stop` is set, noticing a stop within a
// fraction of a second. A pass that throws is logged as "<what> failed" and
// tried again at the next interval.
void every(std::chrono::seconds interval, const std::atomic<bool>& stop, const std::string& what,
           const std::function<void()>& pass);

}  // namespace henvis
