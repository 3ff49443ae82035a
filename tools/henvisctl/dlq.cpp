// henvisctl dlq list / dlq replay: inspect and re-drive a consumer's
// dead-letter topic (<topic>.dlq.<service>, docs/design.md "Kafka").
//
// A DLQ entry (common/src/consumer_loop.cpp, dead_letter) is the refused
// event's key and payload with its original headers prefixed `orig_`, plus
// dlq_reason, dlq_service and dlq_origin_topic/_partition/_offset.
//
// `list` prints the reason, the origin and the payload SIZE, never the
// payload or any original header value but ce_type: a payload may hold a CPR
// number, a name and a phone. Without --topic it lists every DLQ topic of
// the cluster with its entries; a --topic the cluster does not have is
// refused (asking a broker for a topic by name may create it).
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
#include <set>
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
constexpr int LIST_TIMEOUT_MS = 10000;
// The header of a replay marker (see Contents): "<partition>/<offset>".
constexpr const char* REPLAYED_ENTRY = "dlq_replayed_entry";

std::string bootstrap_of(const Args& a) { return kafka_bootstrap(a, BOOTSTRAP_WAIT_MS); }

// Every message of the topic, by partition and offset.
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

using Coordinates = std::pair<std::int32_t, std::int64_t>;

std::string coordinates(const kafka::Message& m) {
  return std::to_string(m.partition) + "/" + std::to_string(m.offset);
}

// A DLQ's entries and which of them were replayed. `dlq replay` marks an
// entry by producing a marker message (no key, no payload) to the DLQ itself
// with the entry's coordinates in the REPLAYED_ENTRY header: the DLQ stays
// the one record of what became of its entries, and needs no other topic.
struct Contents {
  std::vector<kafka::Message> entries;
  std::set<Coordinates> replayed;
};

Contents read_dlq(const std::string& bootstrap, const std::string& topic) {
  Contents c;
  for (auto& m : read_all(bootstrap, topic)) {
    const auto marker = m.header(REPLAYED_ENTRY);
    if (!marker) {
      c.entries.push_back(std::move(m));
      continue;
    }
    const auto slash = marker->find('/');
    try {
      if (slash != std::string::npos)
        c.replayed.insert(
            {std::stoi(marker->substr(0, slash)), std::stoll(marker->substr(slash + 1))});
    } catch (const std::exception&) {
      // A marker that is not ours marks nothing.
    }
  }
  return c;
}

bool is_dlq(const std::string& topic) { return topic.find(".dlq.") != std::string::npos; }

std::vector<kafka::TopicInfo> dlq_topics(const std::string& bootstrap) {
  std::vector<kafka::TopicInfo> dlqs;
  for (auto& t : kafka::list_topics(bootstrap, LIST_TIMEOUT_MS))
    if (is_dlq(t.name)) dlqs.push_back(std::move(t));
  return dlqs;
}

// The topic --topic names, refused (never created by reading it) unless the
// cluster has it and it is a dead-letter topic.
std::string existing_dlq(const Args& a, const std::string& bootstrap) {
  const std::string topic = a.required("topic");
  std::vector<std::string> names;
  for (const auto& t : dlq_topics(bootstrap)) names.push_back(t.name);
  if (std::find(names.begin(), names.end(), topic) != names.end()) return topic;
  std::string msg = "no dead-letter topic " + topic;
  if (auto guess = did_you_mean(topic, names)) msg += " (did you mean " + *guess + "?)";
  msg += names.empty() ? "; the cluster has no dead-letter topic yet"
                       : "; henvisctl dlq list without --topic lists them";
  throw UsageError(msg);
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

namespace {

// Every DLQ topic of the cluster with its entries and how many were replayed.
int list_all(const Context& c, const std::string& bootstrap) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : dlq_topics(bootstrap)) {
    std::size_t entries = 0, replayed = 0;
    if (t.messages > 0) {
      const Contents d = read_dlq(bootstrap, t.name);
      entries = d.entries.size();
      for (const auto& m : d.entries) replayed += d.replayed.count({m.partition, m.offset});
    }
    if (c.globals.json)
      c.out << "{\"topic\":" << json_string(t.name) << ",\"entries\":" << entries
            << ",\"replayed\":" << replayed << "}\n";
    rows.push_back({t.name, std::to_string(entries), std::to_string(replayed)});
  }
  if (c.globals.json) return EXIT_OK;
  print_table(c.out, {"TOPIC", "ENTRIES", "REPLAYED"}, rows);
  c.out << rows.size() << " dead-letter topic" << (rows.size() == 1 ? "" : "s") << "\n";
  return EXIT_OK;
}

}  // namespace

int dlq_list(const Context& c, const Args& a) {
  const std::string bootstrap = bootstrap_of(a);
  if (!a.has("topic")) return list_all(c, bootstrap);
  const std::string topic = existing_dlq(a, bootstrap);
  const Contents d = read_dlq(bootstrap, topic);
  const auto replayed = [&](const kafka::Message& m) {
    return d.replayed.count({m.partition, m.offset}) != 0;
  };
  if (c.globals.json) {
    // One JSON object per line; no payload, no original header but ce_type.
    for (const auto& m : d.entries)
      c.out << "{\"partition\":" << m.partition << ",\"offset\":" << m.offset
            << ",\"reason\":" << json_string(h(m, kafka::header::DLQ_REASON))
            << ",\"service\":" << json_string(h(m, kafka::header::DLQ_SERVICE))
            << ",\"originTopic\":" << json_string(h(m, kafka::header::DLQ_TOPIC))
            << ",\"originPartition\":" << json_string(h(m, kafka::header::DLQ_PARTITION))
            << ",\"originOffset\":" << json_string(h(m, kafka::header::DLQ_OFFSET))
            << ",\"ceType\":" << json_string(h(m, std::string("orig_") + kafka::header::TYPE))
            << ",\"payloadBytes\":" << m.payload.size()
            << ",\"replayed\":" << (replayed(m) ? "true" : "false") << "}\n";
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  std::size_t n_replayed = 0;
  for (const auto& m : d.entries) {
    n_replayed += replayed(m) ? 1 : 0;
    rows.push_back(
        {std::to_string(m.partition), std::to_string(m.offset), h(m, kafka::header::DLQ_SERVICE),
         h(m, kafka::header::DLQ_TOPIC) + "/" + h(m, kafka::header::DLQ_PARTITION) + "/" +
             h(m, kafka::header::DLQ_OFFSET),
         h(m, std::string("orig_") + kafka::header::TYPE), std::to_string(m.payload.size()),
         replayed(m) ? "yes" : "", h(m, kafka::header::DLQ_REASON)});
  }
  print_table(
      c.out, {"PARTITION", "OFFSET", "SERVICE", "ORIGIN", "CE_TYPE", "BYTES", "REPLAYED", "REASON"},
      rows);
  c.out << d.entries.size() << " entr" << (d.entries.size() == 1 ? "y" : "ies") << " in " << topic
        << ", " << n_replayed << " replayed\n";
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

// Marks the confirmed replays in the DLQ (see Contents); false when the
// broker did not confirm the markers.
bool mark_replayed(const std::string& bootstrap, const std::string& dlq_topic,
                   const std::vector<const kafka::Message*>& done) {
  bool ok = true;
  kafka::Producer producer(
      bootstrap, [&](std::int64_t, bool delivered, const std::string&) { ok = ok && delivered; });
  std::int64_t n = 0;
  for (const auto* m : done)
    producer.produce(dlq_topic, "", "", {{REPLAYED_ENTRY, coordinates(*m)}}, ++n);
  return producer.flush(FLUSH_TIMEOUT_MS) && ok;
}

// Produces the entries of dlq_topic to their origin topics and marks those
// the broker confirmed as replayed; the exit status.
int produce_replays(const Context& c, const std::string& bootstrap, const std::string& dlq_topic,
                    const std::vector<kafka::Message>& entries) {
  int failed = 0;
  std::string error;
  std::set<std::int64_t> confirmed;
  kafka::Producer producer(bootstrap, [&](std::int64_t opaque, bool ok, const std::string& e) {
    if (ok) {
      confirmed.insert(opaque);
    } else {
      ++failed;
      error = e;
    }
  });
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& m = entries[i];
    const std::string origin = h(m, kafka::header::DLQ_TOPIC);
    if (origin.empty()) {
      c.err << "henvisctl: entry " << coordinates(m) << " names no origin topic; skipped\n";
      ++failed;
      continue;
    }
    const Replay r = replay_of(m, dlq_topic);
    producer.produce(origin, m.key, m.payload, r.headers, static_cast<std::int64_t>(i));
    c.out << "replayed " << coordinates(m) << " to " << origin << " as ce_id " << r.ce_id << "\n";
  }
  const bool flushed = producer.flush(FLUSH_TIMEOUT_MS);
  std::vector<const kafka::Message*> done;
  for (auto i : confirmed) done.push_back(&entries[static_cast<std::size_t>(i)]);
  if (!done.empty() && !mark_replayed(bootstrap, dlq_topic, done))
    c.err << "henvisctl: the replays were sent but not marked as replayed in " << dlq_topic << "\n";
  if (!flushed) {
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
  const bool all = a.flag("all");
  if (all == a.has("offset")) throw UsageError("give exactly one of --offset N and --all");
  std::optional<std::int64_t> offset, partition;
  if (a.has("offset")) offset = non_negative("offset", a.get("offset"));
  if (a.has("partition")) partition = non_negative("partition", a.get("partition"));

  const std::string bootstrap = bootstrap_of(a);
  const std::string topic = existing_dlq(a, bootstrap);
  const auto chosen = chosen_entries(read_dlq(bootstrap, topic).entries, all, offset, partition);
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
