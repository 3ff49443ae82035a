#pragma once
// What every service's main() shares: flags, configuration, the dead-letter
// naming, signal handling and an orderly shutdown (SIGTERM/SIGINT: stop HTTP,
// let the consumer finish its batch, flush the outbox, close databases).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "henvis/auth.hpp"
#include "henvis/consumer_loop.hpp"
#include "henvis/http.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/v1/config.pb.h"

namespace henvis {

// Flags common to every service:
//   --config FILE        service config (henvis.v1.ServiceConfig, text format)
//   --database FILE      overrides `database`
//   --port N             overrides `http.port`
//   --bootstrap-file F   overrides `kafka.bootstrap_file` (and clears servers)
//   --help
struct ServiceSetup {
  v1::ServiceConfig config;
  std::string config_dir;
  std::string database;
  std::string bootstrap;
  v1::Directory directory;
  auth::TokenStore tokens;
};

// Parses flags and loads and checks every configuration file. Prints usage
// and exits 0 on --help; prints the error and exits 2 on bad configuration.
ServiceSetup setup_service(const std::string& service, int argc, char** argv);

std::string dlq_topic(const std::string& topic, const std::string& service);

// Runs a service until SIGTERM/SIGINT: starts the relay (if `relay_db`), the
// consumer loop (if given) on a thread, and the HTTP server; returns the exit
// code. /readyz is ready once the consumer is assigned and the brokers are
// reachable; /metrics carries the consumer's and the relay's counters.
struct RunSpec {
  std::string service;
  ServiceSetup* setup = nullptr;
  http::Router router;
  http::Metrics* metrics = nullptr;
  outbox::Relay* relay = nullptr;
  ConsumerLoop* consumer = nullptr;
  kafka::Health* health = nullptr;
  // Further background loops (schedulers), each run on a thread of its own
  // until the stop flag is set.
  std::vector<std::function<void(const std::atomic<bool>&)>> workers;
};
int run_service(RunSpec spec);

// A service's periodic work (reminders, scheduled scans): runs `pass` at once
// and then every `interval` until `stop` is set, noticing a stop within a
// fraction of a second. A pass that throws is logged as "<what> failed" and
// tried again at the next interval.
void every(std::chrono::seconds interval, const std::atomic<bool>& stop, const std::string& what,
           const std::function<void()>& pass);

}  // namespace henvis
