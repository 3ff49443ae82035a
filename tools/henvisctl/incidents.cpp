// henvisctl incidents import: produces police incidents from a JSON-lines
// file (proto3 JSON, one henvis.v1.Incident a line, as `henvis-sim
// incidents` writes them) to police.incidents.v1, as the police case system
// would.
//
// Every line is parsed and validated with socialsog's own validation
// (services/socialsog/incident_check.hpp) before anything is produced. A bad
// line is reported as "line N: field: reason" (never a value: the lines hold
// CPR numbers) and skipped; the good ones are produced with key = incident
// id and the CloudEvents headers (a fresh ce_id, ce_type
// police.incident.registered, ce_source /henvisctl, ce_time, content-type).
// Exit 0 when every line was imported, 1 when some were bad (the good ones
// are imported all the same), 2 for a bad command line or an unreadable
// file, 3 when the broker did not take the incidents.

#include <fstream>
#include <iostream>
#include <optional>

#include "henvis/events.hpp"
#include "henvis/kafka.hpp"
#include "henvis/topics.hpp"
#include "henvisctl/cli.hpp"
#include "incident_check.hpp"

namespace henvis::ctl {

namespace {
constexpr int BOOTSTRAP_WAIT_MS = 5000;
constexpr int FLUSH_TIMEOUT_MS = 30000;
constexpr const char* SOURCE = "/henvisctl";

// The lines of `path` ("-": standard input), checked; nullopt when the file
// cannot be read.
std::optional<socialsog::ImportFile> read_file(const std::string& path) {
  if (path == "-") return socialsog::read_incidents_jsonl(std::cin);
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return socialsog::read_incidents_jsonl(in);
}

struct Delivery {
  std::size_t delivered = 0, failed = 0;  // confirmed by the broker, or not
};

// Produces the good incidents of `file` to police.incidents.v1.
Delivery produce_incidents(const Context& c, const Args& a, const socialsog::ImportFile& file) {
  Delivery d;
  const std::string bootstrap = kafka_bootstrap(a, BOOTSTRAP_WAIT_MS);
  std::string first_error;
  kafka::Producer producer(bootstrap, [&](std::int64_t, bool ok, const std::string& e) {
    if (ok) {
      ++d.delivered;
    } else {
      ++d.failed;
      if (first_error.empty()) first_error = e;
    }
  });
  std::int64_t n = 0;
  for (const auto& [line, incident] : file.good) {
    const auto e = events::make(SOURCE, incident);
    producer.produce(events::Contract<v1::Incident>::TOPIC, e.key, e.payload, e.headers(), ++n);
    producer.poll(0);
  }
  if (!producer.flush(FLUSH_TIMEOUT_MS)) {
    c.err << "henvisctl: the broker did not confirm " << producer.outstanding()
          << " incident(s) within " << FLUSH_TIMEOUT_MS / 1000 << " s\n";
    d.failed += static_cast<std::size_t>(producer.outstanding());
  }
  if (!first_error.empty()) c.err << "henvisctl: produce failed: " << first_error << "\n";
  return d;
}

}  // namespace

int incidents_import(const Context& c, const Args& a) {
  if (a.positional.size() != 1) throw UsageError("expected one FILE.jsonl (or - for stdin)");
  const std::string path = a.positional[0];
  const bool dry_run = a.flag("dry-run");
  if (!dry_run && !a.has("bootstrap") && !a.has("bootstrap-file") && !a.has("kafka-config"))
    throw UsageError(
        "give --bootstrap HOST:PORT, --bootstrap-file FILE or --kafka-config FILE (or --dry-run)");

  const auto file = read_file(path);
  if (!file) {
    c.err << "henvisctl: cannot read " << path << "\n";
    return EXIT_USAGE;
  }
  for (const auto& bad : file->bad) c.err << bad.text() << "\n";
  Delivery d;
  if (!dry_run && !file->good.empty()) d = produce_incidents(c, a, *file);

  const std::size_t lines = file->good.size() + file->bad.size();
  if (dry_run)
    c.out << "checked " << lines << " line(s) of " << path << ": " << file->good.size()
          << " valid, " << file->bad.size() << " bad (dry run: nothing produced)\n";
  else
    c.out << "imported " << d.delivered << " of " << lines << " incident(s) from " << path << " to "
          << topics::INCIDENTS << "; " << file->bad.size() << " bad line(s) skipped"
          << (d.failed ? "; " + std::to_string(d.failed) + " not confirmed by the broker" : "")
          << "\n";
  if (d.failed) return EXIT_CONNECTION;
  return file->bad.empty() ? EXIT_OK : EXIT_API;
}

}  // namespace henvis::ctl
