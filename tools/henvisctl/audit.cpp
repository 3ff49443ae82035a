// henvisctl audit ...: the data-protection officer's view of a service's
// access log over HTTP (admin token): verify its hash chain, export its rows
// (docs/security.md "Access log").
#include <sys/stat.h>
#include <fstream>

#include "henvis/csv.hpp"
#include "henvis/ids.hpp"
#include "henvisctl/cli.hpp"

namespace henvis::ctl {

namespace {
// The log was checked and is not intact.
constexpr int EXIT_BROKEN = 4;
const std::vector<std::string> AUDITED = {"intake", "router", "notifier", "socialsog"};

std::vector<std::string> services_of(const Args& a) {
  const std::string s = a.required("service");
  if (s == "all") return AUDITED;
  if (std::find(AUDITED.begin(), AUDITED.end(), s) == AUDITED.end())
    throw UsageError("--service: one of intake, router, notifier, socialsog or all");
  return {s};
}

// One line per service; false when its log is broken.
bool print_verification(const Context& c, const std::string& service,
                        const v1::AuditVerification& v) {
  if (c.globals.json) {
    c.out << client::to_json(v) << "\n";
  } else if (v.ok()) {
    c.out << service << ": ok, " << v.rows() << " rows, head row " << v.head_id() << " "
          << (v.head_hash().empty() ? "(empty log)" : v.head_hash()) << "\n";
  } else {
    c.out << service << ": BROKEN at row " << v.broken_row_id() << " (" << v.reason()
          << "): " << v.detail() << "; " << v.rows() << " rows verified before it\n";
  }
  return v.ok();
}
}  // namespace

int audit_verify(const Context& c, const Args& a) {
  if (!a.positional.empty()) throw UsageError("expected no arguments besides --service");
  bool all_ok = true;
  for (const auto& s : services_of(a))
    all_ok = print_verification(c, s, c.api().audit_verify(s)) && all_ok;
  return all_ok ? EXIT_OK : EXIT_BROKEN;
}

namespace {
std::string export_query(const Args& a) {
  std::vector<std::pair<std::string, std::string>> q = {{"limit", "500"}};
  for (const char* t : {"from", "to"})
    if (a.has(t)) q.emplace_back(t, to_rfc3339(parse_time(t, a.get(t))));
  if (a.has("person")) q.emplace_back("person", a.get("person"));
  if (a.has("subject")) q.emplace_back("subjectId", a.get("subject"));
  std::string out;
  for (const auto& [k, v] : q) out += (out.empty() ? "" : "&") + k + "=" + client::url_encode(v);
  return out;
}

void write_entry(std::ostream& out, const v1::AuditLogEntry& e, bool csv_format) {
  if (!csv_format) {
    out << client::to_json(e) << "\n";
    return;
  }
  const std::string cells[] = {
      std::to_string(e.id()), to_rfc3339(e.at()), e.who(),     e.person(),    e.role(),
      e.recipient(),          e.subject_id(),     e.purpose(), e.prev_hash(), e.row_hash()};
  std::string line;
  for (const auto& cell : cells) line += (line.empty() ? "" : ",") + csv::cell(cell);
  out << line << "\r\n";
}

// Writes every page; the number of rows.
long export_pages(const Context& c, const std::string& service, const std::string& query,
                  std::ostream& out, bool csv_format) {
  if (csv_format)
    out << "id,at,who,person,role,recipient,subject_id,purpose,prev_hash,row_hash\r\n";
  long n = 0;
  std::string cursor;
  do {
    const v1::AuditLog page =
        c.api().audit_log(service, query + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& e : page.entries()) write_entry(out, e, csv_format);
    n += page.entries_size();
    cursor = client::url_encode(page.next_cursor());
  } while (!cursor.empty());
  return n;
}
}  // namespace

int audit_export(const Context& c, const Args& a) {
  if (!a.positional.empty()) throw UsageError("expected no arguments besides the options");
  const auto services = services_of(a);
  if (services.size() != 1) throw UsageError("--service: one service per export");
  const std::string format = a.get("format", "csv");
  if (format != "csv" && format != "jsonl") throw UsageError("--format: csv or jsonl");
  const std::string query = export_query(a);
  if (!a.has("out")) {
    export_pages(c, services[0], query, c.out, format == "csv");
    return EXIT_OK;
  }
  // The file names employees and the cases they touched: the owner's only.
  const mode_t old = ::umask(077);
  std::ofstream file(a.get("out"), std::ios::binary | std::ios::trunc);
  ::umask(old);
  if (!file) throw UsageError("--out: cannot write " + a.get("out"));
  const long n = export_pages(c, services[0], query, file, format == "csv");
  c.err << "wrote " << n << " rows to " << a.get("out") << "\n";
  return EXIT_OK;
}

}  // namespace henvis::ctl
