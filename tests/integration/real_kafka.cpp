#include "real_kafka.hpp"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace henvis::testing {

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct TopicSpec {
  std::string name;
  int partitions = 6;
  bool personal = false;
};

std::vector<TopicSpec> topics_tsv() {
  std::ifstream in(std::string(HENVIS_SOURCE_DIR) + "/deploy/topics.tsv");
  if (!in) throw std::runtime_error("cannot read deploy/topics.tsv");
  std::vector<TopicSpec> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    TopicSpec t;
    std::string personal;
    fields >> t.name >> t.partitions >> personal;
    t.personal = personal == "yes";
    out.push_back(t);
  }
  return out;
}

struct RkDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Rk = std::unique_ptr<rd_kafka_t, RkDeleter>;

Rk admin_client(const std::string& bootstrap) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto props = kafka_tls_properties("admin");  // a super user on a secured cluster
  props.emplace_back("bootstrap.servers", bootstrap);
  for (const auto& [k, v] : props)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(err);
    }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(err);
  }
  return Rk(rk);
}

// Runs one admin request whose result arrives on `q`; returns the event.
rd_kafka_event_t* await(rd_kafka_queue_t* q, int timeout_s) {
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_s * 1000);
  if (!ev) throw std::runtime_error("kafka admin request timed out");
  if (rd_kafka_event_error(ev)) {
    std::string msg = rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
    throw std::runtime_error("kafka admin: " + msg);
  }
  return ev;
}

// Per-topic results as (name, error); the event stays owned by the caller.
std::vector<std::pair<std::string, rd_kafka_resp_err_t>> topic_results(rd_kafka_event_t* ev) {
  size_t n = 0;
  const rd_kafka_topic_result_t** r = nullptr;
  if (auto* d = rd_kafka_event_DeleteTopics_result(ev))
    r = rd_kafka_DeleteTopics_result_topics(d, &n);
  else if (auto* c = rd_kafka_event_CreateTopics_result(ev))
    r = rd_kafka_CreateTopics_result_topics(c, &n);
  std::vector<std::pair<std::string, rd_kafka_resp_err_t>> out;
  for (size_t i = 0; i < n; ++i)
    out.emplace_back(rd_kafka_topic_result_name(r[i]), rd_kafka_topic_result_error(r[i]));
  return out;
}

void delete_topics(rd_kafka_t* rk, rd_kafka_queue_t* q, const std::vector<TopicSpec>& specs,
                   int timeout_s) {
  std::vector<rd_kafka_DeleteTopic_t*> del;
  for (const auto& t : specs) del.push_back(rd_kafka_DeleteTopic_new(t.name.c_str()));
  rd_kafka_DeleteTopics(rk, del.data(), del.size(), nullptr, q);
  rd_kafka_DeleteTopic_destroy_array(del.data(), del.size());
  rd_kafka_event_t* ev = await(q, timeout_s);
  for (const auto& [name, err] : topic_results(ev))
    if (err && err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      rd_kafka_event_destroy(ev);
      throw std::runtime_error("delete " + name + ": " + rd_kafka_err2name(err));
    }
  rd_kafka_event_destroy(ev);
}

// Creates the topics not created yet; returns the names still missing
// (TOPIC_ALREADY_EXISTS while the old topic's deletion completes).
std::vector<TopicSpec> create_topics(rd_kafka_t* rk, rd_kafka_queue_t* q,
                                     const std::vector<TopicSpec>& specs, int brokers,
                                     int timeout_s) {
  const int rf = std::min(3, brokers);
  const std::string isr = std::to_string(std::min(2, brokers));
  std::vector<rd_kafka_NewTopic_t*> nt;
  char err[512];
  for (const auto& t : specs) {
    auto* n = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, rf, err, sizeof err);
    if (!n) throw std::runtime_error(err);
    rd_kafka_NewTopic_set_config(n, "min.insync.replicas", isr.c_str());
    if (t.personal) rd_kafka_NewTopic_set_config(n, "retention.ms", "1209600000");
    nt.push_back(n);
  }
  rd_kafka_CreateTopics(rk, nt.data(), nt.size(), nullptr, q);
  rd_kafka_NewTopic_destroy_array(nt.data(), nt.size());
  rd_kafka_event_t* ev = await(q, timeout_s);
  std::vector<TopicSpec> missing;
  for (const auto& [name, e] : topic_results(ev)) {
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      rd_kafka_event_destroy(ev);
      throw std::runtime_error("create " + name + ": " + rd_kafka_err2name(e));
    }
    for (const auto& t : specs)
      if (t.name == name) missing.push_back(t);
  }
  rd_kafka_event_destroy(ev);
  return missing;
}

// Broker count, and whether every partition of `specs` has a leader.
std::pair<int, bool> cluster_state(rd_kafka_t* rk, const std::vector<TopicSpec>& specs) {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 10000)) return {0, false};
  bool led = true;
  for (const auto& t : specs) {
    bool found = false;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const auto& mt = md->topics[i];
      if (t.name != mt.topic) continue;
      found = mt.err == 0 && mt.partition_cnt == t.partitions;
      for (int p = 0; found && p < mt.partition_cnt; ++p)
        found = mt.partitions[p].leader >= 0 && mt.partitions[p].err == 0;
    }
    led = led && found;
  }
  const int brokers = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  return {brokers, led};
}
using Queue = std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)>;

// The cluster's broker count; throws if it does not answer.
int brokers_of(rd_kafka_t* rk, const std::string& bootstrap, const std::vector<TopicSpec>& specs) {
  const int brokers = cluster_state(rk, specs).first;
  if (brokers == 0) throw std::runtime_error("kafka at " + bootstrap + " does not answer");
  return brokers;
}

// Waits until every partition of `specs` has a leader; throws at `deadline`.
void await_leaders(rd_kafka_t* rk, const std::vector<TopicSpec>& specs,
                   Clock::time_point deadline) {
  while (!cluster_state(rk, specs).second) {
    if (Clock::now() > deadline) throw std::runtime_error("topic partitions have no leader");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}
}  // namespace

std::optional<std::string> real_kafka_bootstrap() {
  const char* f = std::getenv("HENVIS_KAFKA_BOOTSTRAP_FILE");
  if (!f || !*f) return std::nullopt;
  std::ifstream in(f);
  std::string line;
  if (!std::getline(in, line) || line.empty())
    throw std::runtime_error(std::string("no bootstrap in HENVIS_KAFKA_BOOTSTRAP_FILE=") + f);
  return line;
}

void reset_topics(const std::string& bootstrap, int timeout_s) {
  const auto specs = topics_tsv();
  Rk rk = admin_client(bootstrap);
  Queue q(rd_kafka_queue_new(rk.get()), rd_kafka_queue_destroy);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  const int brokers = brokers_of(rk.get(), bootstrap, specs);
  delete_topics(rk.get(), q.get(), specs, timeout_s);
  auto missing = specs;
  while (!missing.empty()) {
    if (Clock::now() > deadline) throw std::runtime_error("topics not recreated in time");
    missing = create_topics(rk.get(), q.get(), missing, brokers, timeout_s);
    if (!missing.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  await_leaders(rk.get(), specs, deadline);
}

void create_topic(const std::string& bootstrap, const std::string& name, int partitions,
                  int timeout_s) {
  const std::vector<TopicSpec> specs{{name, partitions, false}};
  Rk rk = admin_client(bootstrap);
  Queue q(rd_kafka_queue_new(rk.get()), rd_kafka_queue_destroy);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  const int brokers = brokers_of(rk.get(), bootstrap, specs);
  if (!create_topics(rk.get(), q.get(), specs, brokers, timeout_s).empty())
    throw std::runtime_error("topic " + name + " exists already");
  await_leaders(rk.get(), specs, deadline);
}

std::vector<std::pair<std::string, std::string>> kafka_tls_properties(
    const std::string& principal) {
  const char* dir = std::getenv("HENVIS_KAFKA_TLS_DIR");
  if (!dir || !*dir) return {};
  const fs::path d(dir);
  return {{"security.protocol", "ssl"},
          {"ssl.ca.location", (d / "ca.pem").string()},
          {"ssl.certificate.location", (d / (principal + ".pem")).string()},
          {"ssl.key.location", (d / (principal + ".key")).string()}};
}

std::string kafka_tls_fields(const std::string& principal) {
  std::string out;
  for (const auto& [k, v] : kafka_tls_properties(principal)) {
    std::string field = k;
    for (char& c : field)
      if (c == '.') c = '_';
    out += " " + field + ": \"" + v + "\"";
  }
  return out;
}

bool use_real_kafka(const fs::path& dir) {
  auto bootstrap = real_kafka_bootstrap();
  if (!bootstrap) return false;
  reset_topics(*bootstrap);
  std::ofstream(dir / "bootstrap.txt") << *bootstrap << "\n";
  return true;
}

}  // namespace henvis::testing
