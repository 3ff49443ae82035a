#include "henvis/kafka.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "henvis/ids.hpp"

namespace henvis::kafka {

namespace {
// How long one metadata request may take before we retry it.
constexpr int METADATA_TIMEOUT_MS = 2000;
// Pause between retries while topics or the bootstrap file are not there yet.
constexpr int RETRY_PAUSE_MS = 100;
// Pause while librdkafka's local queue is full before enqueueing again.
constexpr int QUEUE_FULL_POLL_MS = 50;
// Health probe: one Metadata round-trip (brokers only, no topics) this often.
// It bounds how stale /readyz may be: an outage or a recovery shows within
// about one interval plus one timeout.
constexpr int HEALTH_PROBE_INTERVAL_MS = 1000;
// How long the probe waits for any broker to answer before it calls the
// brokers unreachable. A loopback or LAN round-trip takes milliseconds, a
// sanitizer build tens of them; seconds mean the broker is not serving.
constexpr int HEALTH_PROBE_TIMEOUT_MS = 2000;
// The probe's handle reconnects at least this often while the brokers are
// down (librdkafka's default backs off to 10 s), so a recovery is seen within
// about a second.
constexpr const char* HEALTH_PROBE_RECONNECT_MAX_MS = "500";
// How long a producer being destroyed waits for its purged messages' reports.
constexpr int PURGE_FLUSH_MS = 2000;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

void set(rd_kafka_conf_t* conf, const char* k, const std::string& v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    throw std::runtime_error(std::string("kafka config ") + k + ": " + err);
}

// librdkafka logs through us so that every line has one format. Its messages
// carry broker addresses and error texts, never payloads.
void log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // KafkaSettings.properties apply to every client, so a consumer's tuning
  // (the dev configs' fetch.wait.max.ms) reaches the outbox's producer too,
  // which ignores it as it should: not worth a warning at every start.
  if (std::string_view(fac) == "CONFWARN" &&
      std::string_view(buf).find("is a consumer property and will be ignored") !=
          std::string_view::npos)
    level = 7;
  if (level <= 3)
    spdlog::error("kafka fac={} {}", fac, buf);
  else if (level <= 4)
    spdlog::warn("kafka fac={} {}", fac, buf);
  else
    spdlog::debug("kafka fac={} {}", fac, buf);
}

void error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* health = static_cast<Health*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && health) health->set(false);
  spdlog::warn("kafka error={} reason={}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
               reason);
}

// set_client_properties': read by every base_conf, set once at start.
std::mutex client_properties_mu;
Properties client_properties;

void apply_client_properties(rd_kafka_conf_t* conf) {
  std::lock_guard lock(client_properties_mu);
  for (const auto& [k, v] : client_properties) set(conf, k.c_str(), v);
}

// `defaults` are set before the configured client properties, which may
// override them.
ConfHandle base_conf(const std::string& bootstrap, Health* health,
                     std::initializer_list<std::pair<const char*, const char*>> defaults = {}) {
  ConfHandle conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", bootstrap);
  set(conf.get(), "client.id", "henvis");
  for (const auto& [name, value] : defaults) set(conf.get(), name, value);
  apply_client_properties(conf.get());
  // A developer's switch for librdkafka's own tracing (e.g. "eos,msg,fetch"),
  // logged at debug level (HENVIS_LOG_LEVEL=debug). Contexts that may dump
  // request bytes (and so message content) are refused.
  if (const char* d = std::getenv("HENVIS_KAFKA_DEBUG"); d && *d) {
    const std::string contexts = std::string(",") + d + ",";
    for (const char* unsafe : {",all,", ",protocol,"})
      if (contexts.find(unsafe) != std::string::npos)
        throw std::runtime_error(
            "HENVIS_KAFKA_DEBUG: the contexts all and protocol are refused (they can log "
            "message bytes)");
    set(conf.get(), "debug", d);
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  rd_kafka_conf_set_error_cb(conf.get(), error_cb);
  rd_kafka_conf_set_opaque(conf.get(), health);
  return conf;
}

HeaderList read_headers(const rd_kafka_message_t* m) {
  HeaderList out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name = nullptr;
  const void* val = nullptr;
  size_t size = 0;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    out.emplace_back(name, val ? std::string(static_cast<const char*>(val), size) : std::string());
  }
  return out;
}
}  // namespace

void check_properties(const Properties& props) {
  ConfHandle conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : props) {
    const auto r = rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err);
    if (r == RD_KAFKA_CONF_UNKNOWN)
      throw std::runtime_error("kafka property " + k + ": not a librdkafka property");
    if (r != RD_KAFKA_CONF_OK)
      throw std::runtime_error("kafka property " + k + ": librdkafka refuses its value");
  }
  // Creating a client loads the CA, certificate and key (and checks the
  // key's passphrase) without connecting: no bootstrap.servers is set.
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("kafka security settings: ") + err);
  (void)conf.release();  // rd_kafka_new took it
  rd_kafka_destroy(rk);
}

void set_client_properties(Properties props) {
  std::lock_guard lock(client_properties_mu);
  client_properties = std::move(props);
}

HeaderList Event::headers() const {
  HeaderList h{{header::SPECVERSION, "1.0"}, {header::ID, id},
               {header::SOURCE, source},     {header::TYPE, type},
               {header::TIME, time},         {header::CONTENT_TYPE, "application/protobuf"}};
  if (!traceparent.empty()) h.emplace_back(header::TRACEPARENT, traceparent);
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

Event make_event(std::string source, std::string type, std::string key, std::string payload) {
  Event e;
  e.id = new_uuid();
  e.source = std::move(source);
  e.type = std::move(type);
  e.time = now_rfc3339();
  e.key = std::move(key);
  e.payload = std::move(payload);
  return e;
}

std::optional<std::string> Message::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return std::nullopt;
}

std::string resolve_bootstrap(const std::string& servers, const std::string& file, int wait_ms) {
  if (!servers.empty()) return servers;
  if (file.empty())
    throw std::runtime_error("kafka: neither bootstrap_servers nor bootstrap_file is set");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    std::ifstream in(file);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) return line;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("kafka: bootstrap file " + file + " not found or empty");
    std::this_thread::sleep_for(std::chrono::milliseconds(RETRY_PAUSE_MS));
  }
}

int partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
    int count = 0;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      count = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (count > 0) return count;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("kafka: topic " + topic + " not available");
    std::this_thread::sleep_for(std::chrono::milliseconds(RETRY_PAUSE_MS));
  }
}

std::vector<TopicInfo> list_topics(const std::string& bootstrap, int timeout_ms) {
  // Only the all-topics metadata request is sent, which creates nothing.
  ConfHandle conf = base_conf(bootstrap, nullptr);
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
  if (!rk) throw std::runtime_error(std::string("kafka: ") + err);
  conf.release();
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk.get(), 1, nullptr, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("kafka: the brokers did not answer");
  std::vector<TopicInfo> topics;
  for (int t = 0; t < md->topic_cnt; ++t) {
    const auto& mt = md->topics[t];
    if (mt.err != RD_KAFKA_RESP_ERR_NO_ERROR || std::string_view(mt.topic).rfind("__", 0) == 0)
      continue;
    TopicInfo info{mt.topic, mt.partition_cnt, 0};
    for (int p = 0; p < mt.partition_cnt; ++p) {
      std::int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk.get(), mt.topic, mt.partitions[p].id, &lo, &hi,
                                           timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        info.messages += hi - lo;
    }
    topics.push_back(std::move(info));
  }
  rd_kafka_metadata_destroy(md);
  std::sort(topics.begin(), topics.end(),
            [](const TopicInfo& a, const TopicInfo& b) { return a.name < b.name; });
  return topics;
}

Health::~Health() { stop_probe(); }

void Health::start_probe(const std::string& bootstrap) {
  if (probe_.joinable()) return;
  // Its own handle: the probe must not queue behind a producer's or a
  // consumer's traffic. Its error_cb marks this Health down on
  // ALL_BROKERS_DOWN like the others.
  ConfHandle conf = base_conf(bootstrap, this);
  kafka::set(conf.get(), "client.id", "henvis-health");
  kafka::set(conf.get(), "reconnect.backoff.max.ms", HEALTH_PROBE_RECONNECT_MAX_MS);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("kafka health probe: ") + err);
  conf.release();
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  probing_.store(true);
  probe_ = std::thread([this, rk] {
    probe_loop(rk);
    rd_kafka_destroy(rk);
  });
}

void Health::stop_probe() {
  if (!probe_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  probe_.join();
  probing_.store(false);
}

void Health::probe_loop(rd_kafka_t* rk) {
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    // all_topics=0 and no topic: a brokers-only Metadata request.
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, nullptr, &md, HEALTH_PROBE_TIMEOUT_MS);
    if (md) rd_kafka_metadata_destroy(md);
    const bool ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (ok != up_.exchange(ok)) {
      if (ok)
        spdlog::info("kafka brokers reachable again");
      else
        spdlog::warn("kafka brokers unreachable error={}", rd_kafka_err2name(err));
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(HEALTH_PROBE_INTERVAL_MS),
                     [this] { return stopping_; }))
      return;
  }
}

Producer::Producer(const std::string& bootstrap, DeliveryCallback on_delivery, Health* health)
    : on_delivery_(std::move(on_delivery)), health_(health) {
  ConfHandle conf = base_conf(bootstrap, health);
  set(conf.get(), "enable.idempotence", "true");
  set(conf.get(), "acks", "all");
  set(conf.get(), "linger.ms", "5");
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::dr_cb);
  // The conf opaque is the Health (for error_cb); the producer is reached
  // through rd_kafka_opaque only in dr_cb, so keep `this` in the message
  // opaque instead: see produce().
  char err[512];
  rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err));
  if (!rk_) throw std::runtime_error(std::string("kafka producer: ") + err);
  conf.release();  // owned by rk_ now
}

Producer::~Producer() {
  // Messages still queued or in flight (the caller gave up waiting, or the
  // producer hit a fatal error) are purged so that their delivery reports
  // run and free what produce() allocated. The caller is not told (it may
  // be half destroyed, and its callback must not throw here): to it they
  // stay unconfirmed, e.g. outbox rows that are sent again.
  destroying_ = true;
  if (rk_ && rd_kafka_outq_len(rk_.get()) > 0) {
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_.get(), PURGE_FLUSH_MS);
  }
}

namespace {
struct InFlight {
  Producer* producer;
  std::int64_t opaque;
};
}  // namespace

void Producer::dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  std::unique_ptr<InFlight> f(static_cast<InFlight*>(m->_private));
  if (f->producer->destroying_) return;
  bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (ok && f->producer->health_) f->producer->health_->set(true);
  f->producer->on_delivery_(f->opaque, ok, ok ? std::string() : rd_kafka_err2name(m->err));
}

void Producer::produce(const std::string& topic, const std::string& key, const std::string& payload,
                       const HeaderList& headers, std::int64_t opaque) {
  for (;;) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [k, v] : headers)
      rd_kafka_header_add(hdrs, k.c_str(), static_cast<ssize_t>(k.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    auto* f = new InFlight{this, opaque};
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                          RD_KAFKA_V_OPAQUE(f), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    delete f;
    rd_kafka_headers_destroy(hdrs);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
      throw std::runtime_error(std::string("kafka produce: ") + rd_kafka_err2name(err));
    rd_kafka_poll(rk_.get(), QUEUE_FULL_POLL_MS);
  }
}

void Producer::poll(int timeout_ms) { rd_kafka_poll(rk_.get(), timeout_ms); }

bool Producer::flush(int timeout_ms) {
  return rd_kafka_flush(rk_.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

int Producer::outstanding() const { return rd_kafka_outq_len(rk_.get()); }

std::optional<std::string> Producer::fatal_error() const {
  char reason[512];
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_.get(), reason, sizeof reason);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  return std::string(rd_kafka_err2name(err));
}

Consumer::Consumer(const std::string& bootstrap, const std::string& group_id, Health* health)
    : health_(health) {
  // librdkafka prefetches up to 64 MiB (and 100 000 messages per partition)
  // by default: while a service drains a backlog that is most of its memory
  // (docs/performance.md, RSS). A consumer loop takes 500 at a time; 8 MiB
  // keeps many batches ahead of it.
  ConfHandle conf =
      base_conf(bootstrap, health,
                {{"queued.max.messages.kbytes", "8192"}, {"queued.min.messages", "10000"}});
  set(conf.get(), "group.id", group_id);
  set(conf.get(), "enable.auto.commit", "false");
  set(conf.get(), "enable.auto.offset.store", "false");
  set(conf.get(), "auto.offset.reset", "earliest");
  set(conf.get(), "enable.partition.eof", "false");
  char err[512];
  rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
  if (!rk_) throw std::runtime_error(std::string("kafka consumer: ") + err);
  conf.release();
  rd_kafka_poll_set_consumer(rk_.get());
  queue_ = rd_kafka_queue_get_consumer(rk_.get());
}

Consumer::~Consumer() {
  if (queue_) rd_kafka_queue_destroy(queue_);
  if (rk_) rd_kafka_consumer_close(rk_.get());
}

void Consumer::assign(const std::vector<std::string>& topics, const Offsets& next_offsets,
                      int timeout_ms, const std::vector<std::int32_t>& owned) {
  const std::unique_ptr<rd_kafka_topic_partition_list_t,
                        decltype(&rd_kafka_topic_partition_list_destroy)>
      list(rd_kafka_topic_partition_list_new(16), &rd_kafka_topic_partition_list_destroy);
  int first_count = -1;
  for (const auto& t : topics) {
    const int n = partition_count(rk_.get(), t, timeout_ms);
    std::vector<std::int32_t> mine = owned;
    if (owned.empty()) {
      for (int p = 0; p < n; ++p) mine.push_back(p);
    } else {
      // One partition number must mean the same keys on every topic.
      if (first_count >= 0 && n != first_count)
        throw std::runtime_error("kafka.partitions: topic " + t + " has " + std::to_string(n) +
                                 " partitions, " + topics.front() + " " +
                                 std::to_string(first_count) +
                                 "; partition-aligned instances need the same count on each");
      for (const std::int32_t p : owned)
        if (p < 0 || p >= n)
          throw std::runtime_error("kafka.partitions: partition " + std::to_string(p) +
                                   " is not in topic " + t + " (" + std::to_string(n) +
                                   " partitions)");
    }
    first_count = n;
    for (const std::int32_t p : mine) {
      auto* tp = rd_kafka_topic_partition_list_add(list.get(), t.c_str(), p);
      auto it = next_offsets.find({t, p});
      tp->offset = it == next_offsets.end() ? RD_KAFKA_OFFSET_BEGINNING : it->second;
    }
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get());
  if (err) throw std::runtime_error(std::string("kafka assign: ") + rd_kafka_err2name(err));
}

void Consumer::seek(const Offsets& next_offsets) {
  if (next_offsets.empty()) return;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size()));
  for (const auto& [tp, off] : next_offsets)
    rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = off;
  rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), list, METADATA_TIMEOUT_MS);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) {
    std::string msg = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    throw std::runtime_error("kafka seek: " + msg);
  }
}

std::optional<std::int64_t> Consumer::high_watermark(const std::string& topic,
                                                     std::int32_t partition) const {
  std::int64_t low = 0, high = 0;
  if (rd_kafka_get_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      high < 0)
    return std::nullopt;
  return high;
}

std::vector<Message> Consumer::poll_batch(std::size_t max, int timeout_ms) {
  std::vector<rd_kafka_message_t*> raw(max);
  std::vector<Message> out;
  if (max == 0) return out;
  // rd_kafka_consume_batch_queue waits until it has `max` messages or the
  // timeout passed: an event arriving alone would sit out the whole
  // timeout at every hop. So wait for the first only, then take what has
  // already been fetched without waiting.
  ssize_t n = rd_kafka_consume_batch_queue(queue_, timeout_ms, raw.data(), 1);
  if (n <= 0) return out;
  if (max > 1) {
    const ssize_t more = rd_kafka_consume_batch_queue(queue_, 0, raw.data() + 1, max - 1);
    if (more > 0) n += more;
  }
  out.reserve(static_cast<std::size_t>(n));
  for (ssize_t i = 0; i < n; ++i) {
    rd_kafka_message_t* m = raw[static_cast<std::size_t>(i)];
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        spdlog::warn("kafka consume error={}", rd_kafka_err2name(m->err));
    } else {
      if (health_) health_->set(true);
      Message msg;
      msg.topic = rd_kafka_topic_name(m->rkt);
      msg.partition = m->partition;
      msg.offset = m->offset;
      if (m->key) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) msg.payload.assign(static_cast<const char*>(m->payload), m->len);
      msg.headers = read_headers(m);
      msg.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      out.push_back(std::move(msg));
    }
    rd_kafka_message_destroy(m);
  }
  return out;
}

}  // namespace henvis::kafka
