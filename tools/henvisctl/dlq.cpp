// henvisctl dlq list / dlq replay: inspect and re-drive a consumer's
// dead-letter topic (<topic>.dlq.<service>, docs/design.md "Kafka").
//
// A DLQ entry (common/src/consumer_loop.cpp, dead_letter) is the refused
// event's key and payload with its original headers prefixed `orig_`, plus
// dlq_reason, dlq_service and dlq_origin_topic/_partition/_offset.
//
// `list` prints the reason, the origin and the payload SIZE, never the
// payload or any original header value but ce_type: a payload may hold a CPR
// number, a name and a phone.
//
// `replay` re-produces an entry to its origin topic with its key, payload and
// original headers, under a NEW ce_id: the consumer recorded the original
// ce_id as processed when it dead-lettered the event, so the same id would be
// dropped as a duplicate. The new id is derived from the entry's coordinates
// (<original ce_id>.replay.<dlq topic>.<partition>.<offset>), so replaying
// the same entry twice is still applied once (the second is a duplicate);
// an event that is refused again lands in the DLQ as a new entry, which can
// be replayed in turn. The original id travels in the header
// `replay_of_ce_id`.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "henvis/kafka.hpp"
#include "henvisctl/cli.hpp"

namespace henvis::ctl {

namespace {

constexpr int BOOTSTRAP_WAIT_MS = 5000;
constexpr int ASSIGN_TIMEOUT_MS = 10000;
// The topic is read to its end: until a poll waits this long for nothing.
constexpr int IDLE_END_MS = 2000;
constexpr int FLUSH_TIMEOUT_MS = 15000;

std::string bootstrap_of(const Args& a) {
  if (!a.has("bootstrap") && !a.has("bootstrap-file"))
    throw UsageError("give --bootstrap HOST:PORT or --bootstrap-file FILE");
  try {
    return kafka::resolve_bootstrap(a.get("bootstrap"), a.get("bootstrap-file"), BOOTSTRAP_WAIT_MS);
  } catch (const std::exception& e) {
    throw UsageError(e.what());
  }
}

// Every entry of the DLQ topic, by partition and offset.
std::vector<kafka::Message> read_all(const std::string& bootstrap, const std::string& topic) {
  kafka::Consumer consumer(bootstrap, "henvisctl-dlq");
  consumer.assign({topic}, {}, ASSIGN_TIMEOUT_MS);
  std::vector<kafka::Message> all;
  for (;;) {
    auto batch = consumer.poll_batch(500, IDLE_END_MS);
    if (batch.empty()) break;
    for (auto& m : batch) all.push_back(std::move(m));
  }
  std::sort(all.begin(), all.end(), [](const kafka::Message& x, const kafka::Message& y) {
    return std::tie(x.partition, x.offset) < std::tie(y.partition, y.offset);
  });
  return all;
}

std::string h(const kafka::Message& m, const std::string& name) {
  return m.header(name).value_or("");
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

int dlq_list(const Context& c, const Args& a) {
  const std::string topic = a.required("topic");
  const auto entries = read_all(bootstrap_of(a), topic);
  if (c.globals.json) {
    // One JSON object per line; no payload, no original header but ce_type.
    for (const auto& m : entries)
      c.out << "{\"partition\":" << m.partition << ",\"offset\":" << m.offset
            << ",\"reason\":" << json_string(h(m, kafka::header::DLQ_REASON))
            << ",\"service\":" << json_string(h(m, kafka::header::DLQ_SERVICE))
            << ",\"originTopic\":" << json_string(h(m, kafka::header::DLQ_TOPIC))
            << ",\"originPartition\":" << json_string(h(m, kafka::header::DLQ_PARTITION))
            << ",\"originOffset\":" << json_string(h(m, kafka::header::DLQ_OFFSET))
            << ",\"ceType\":" << json_string(h(m, std::string("orig_") + kafka::header::TYPE))
            << ",\"payloadBytes\":" << m.payload.size() << "}\n";
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : entries)
    rows.push_back({std::to_string(m.partition), std::to_string(m.offset),
                    h(m, kafka::header::DLQ_SERVICE),
                    h(m, kafka::header::DLQ_TOPIC) + "/" + h(m, kafka::header::DLQ_PARTITION) +
                        "/" + h(m, kafka::header::DLQ_OFFSET),
                    h(m, std::string("orig_") + kafka::header::TYPE),
                    std::to_string(m.payload.size()), h(m, kafka::header::DLQ_REASON)});
  print_table(c.out, {"PARTITION", "OFFSET", "SERVICE", "ORIGIN", "CE_TYPE", "BYTES", "REASON"},
              rows);
  c.out << entries.size() << " entr" << (entries.size() == 1 ? "y" : "ies") << " in " << topic
        << "\n";
  return EXIT_OK;
}

namespace {

std::int64_t non_negative(const std::string& opt, const std::string& v) {
  try {
    std::size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used != v.size() || n < 0) throw std::invalid_argument(v);
    return static_cast<std::int64_t>(n);
  } catch (const std::exception&) {
    throw UsageError("--" + opt + " must be a non-negative integer");
  }
}

// The entries to replay: all of them (or those in `partition`), or those at
// `offset` (in `partition`).
std::vector<kafka::Message> chosen_entries(std::vector<kafka::Message> entries, bool all,
                                           std::optional<std::int64_t> offset,
                                           std::optional<std::int64_t> partition) {
  std::vector<kafka::Message> chosen;
  for (auto& m : entries)
    if (all || (m.offset == *offset && (!partition || m.partition == *partition)))
      if (!partition || m.partition == *partition) chosen.push_back(std::move(m));
  return chosen;
}

// What a DLQ entry is produced again with: its original headers, under a
// new ce_id derived from the entry's coordinates in `dlq_topic`.
struct Replay {
  kafka::HeaderList headers;
  std::string ce_id;
};

Replay replay_of(const kafka::Message& m, const std::string& dlq_topic) {
  Replay r;
  std::string orig_id;
  for (const auto& [k, v] : m.headers) {
    if (k.rfind("orig_", 0) != 0) continue;
    const std::string name = k.substr(5);
    if (name == kafka::header::ID) {
      orig_id = v;
      continue;
    }
    if (name == "replay_of_ce_id") continue;
    r.headers.emplace_back(name, v);
  }
  const std::string coords =
      dlq_topic + "." + std::to_string(m.partition) + "." + std::to_string(m.offset);
  r.ce_id = (orig_id.empty() ? std::string() : orig_id + ".") + "replay." + coords;
  r.headers.emplace_back(kafka::header::ID, r.ce_id);
  if (!orig_id.empty()) r.headers.emplace_back("replay_of_ce_id", orig_id);
  return r;
}

// Produces the entries of dlq_topic to their origin topics; the exit status.
int produce_replays(const Context& c, const std::string& bootstrap, const std::string& dlq_topic,
                    const std::vector<kafka::Message>& entries) {
  int failed = 0;
  std::string error;
  kafka::Producer producer(bootstrap, [&](std::int64_t, bool ok, const std::string& e) {
    if (!ok) {
      ++failed;
      error = e;
    }
  });
  std::int64_t n = 0;
  for (const auto& m : entries) {
    const std::string origin = h(m, kafka::header::DLQ_TOPIC);
    if (origin.empty()) {
      c.err << "henvisctl: entry " << m.partition << "/" << m.offset
            << " names no origin topic; skipped\n";
      ++failed;
      continue;
    }
    const Replay r = replay_of(m, dlq_topic);
    producer.produce(origin, m.key, m.payload, r.headers, ++n);
    c.out << "replayed " << m.partition << "/" << m.offset << " to " << origin << " as ce_id "
          << r.ce_id << "\n";
  }
  if (!producer.flush(FLUSH_TIMEOUT_MS)) {
    c.err << "henvisctl: not every replayed event was confirmed by the broker\n";
    return EXIT_CONNECTION;
  }
  if (failed) {
    if (!error.empty()) c.err << "henvisctl: " << error << "\n";
    return EXIT_API;
  }
  return EXIT_OK;
}

}  // namespace

int dlq_replay(const Context& c, const Args& a) {
  const std::string topic = a.required("topic");
  const bool all = a.flag("all");
  if (all == a.has("offset")) throw UsageError("give exactly one of --offset N and --all");
  std::optional<std::int64_t> offset, partition;
  if (a.has("offset")) offset = non_negative("offset", a.get("offset"));
  if (a.has("partition")) partition = non_negative("partition", a.get("partition"));

  const std::string bootstrap = bootstrap_of(a);
  const auto chosen = chosen_entries(read_all(bootstrap, topic), all, offset, partition);
  if (chosen.empty()) {
    c.err << "henvisctl: no such entry in " << topic << "\n";
    return EXIT_API;
  }
  if (!all && chosen.size() > 1)
    throw UsageError("offset " + std::to_string(*offset) + " exists in " +
                     std::to_string(chosen.size()) + " partitions of " + topic +
                     ": give --partition P");
  return produce_replays(c, bootstrap, topic, chosen);
}

}  // namespace henvis::ctl
