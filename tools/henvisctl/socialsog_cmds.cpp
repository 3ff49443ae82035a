// henvisctl scans ... and underretninger ...: Socialsøg's scans for
// coordinators, and the underretninger for municipalities and coordinators
// (services/socialsog, docs/socialsog.md).
#include <iomanip>

#include "henvis/events.hpp"
#include "henvisctl/cli.hpp"

namespace henvis::ctl {

namespace {

void line(std::ostream& out, const std::string& k, const std::string& v) {
  if (v.empty()) return;
  out << std::left << std::setw(25) << (k + ":") << v << "\n";
}

void no_arguments(const Args& a, std::size_t n, const std::string& what) {
  if (a.positional.size() != n) throw UsageError("expected " + what);
}

// `--json`: the server's JSON as it sent it.
bool print_raw(const Context& c, const std::string& raw) {
  if (!c.globals.json) return false;
  c.out << raw << (raw.empty() || raw.back() == '\n' ? "" : "\n");
  return true;
}

// --at T as the API takes it: RFC 3339 or YYYY-MM-DD, checked here; "now"
// or absent is the server's now.
std::string when(const Args& a, const std::string& option) {
  const std::string v = a.get(option);
  if (v.empty() || v == "now") return {};
  parse_time(option, v);  // throws a UsageError naming the option
  return v;
}

std::string response_word(v1::UnderretningResponse r) {
  if (r == v1::UNDERRETNING_RESPONSE_UNSPECIFIED) return "";
  return events::enum_word(v1::UnderretningResponse_Name(r), "UNDERRETNING_RESPONSE_");
}

std::string municipality_of(const v1::UnderretningNotice& n) {
  if (!n.kommunekode()) return "unknown";
  const std::string k = std::to_string(n.kommunekode());
  return n.municipality_name().empty() ? k : n.municipality_name() + " (" + k + ")";
}

std::string window_of(const v1::ScanView& s) {
  if (s.window_basis() == "occurred" || s.has_window_from())
    return "occurred " + short_time(s.window_from()) + " .. " + short_time(s.window_to());
  return "received after #" + std::to_string(s.received_after_seq()) + " up to #" +
         std::to_string(s.received_up_to_seq());
}

void print_scan(std::ostream& out, const v1::ScanView& s) {
  line(out, "scan", s.scan_id());
  line(out, "kind", s.kind());
  line(out, "started", short_time(s.started_at()));
  line(out, "requested by", s.requested_by());
  line(out, "window", window_of(s));
  line(out, "rules version", s.rules_version());
  line(out, "incidents considered", std::to_string(s.incidents_considered()));
  line(out, "incidents watched", std::to_string(s.incidents_watched()));
  line(out, "children flagged", std::to_string(s.children_flagged()));
  line(out, "already notified", std::to_string(s.children_already_notified()));
  line(out, "underretninger created", std::to_string(s.underretninger_created()));
  line(out, "of those linked", std::to_string(s.underretninger_linked()));
  for (const auto& id : s.underretning_ids()) line(out, "underretning", id);
}

std::string days_left(const v1::UnderretningView& v) {
  return v.has_working_days_left() ? std::to_string(v.working_days_left()) : "";
}

void print_underretning(std::ostream& out, const v1::UnderretningView& v) {
  const auto& n = v.notice();
  line(out, "underretning", n.underretning_id());
  line(out, "status", v.status());
  line(out, "municipality", municipality_of(n));
  line(out, "sent to", v.recipient_id());
  line(out, "why not the municipality", n.reason());
  line(out, "sender", n.sender());
  line(out, "created", short_time(n.created_at()));
  line(out, "delivered", short_time(v.delivered_at()));
  line(out, "receipt due", short_time(n.receipt_due_at()));
  line(out, "working days left", days_left(v));
  line(out, "received", short_time(v.receipt_at()));
  line(out, "receipt recorded by", v.receipt_recorded_by());
  line(out, "previous underretning", n.previous_underretning_id());
  if (v.has_forwarding()) {
    const auto& f = v.forwarding();
    line(out, "forwarded", short_time(f.forwarded_at()) + " by " + f.channel());
    line(out, "forwarded, recorded by", f.recorded_by());
    line(out, "forwarding note", f.note());
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : n.children()) rows.push_back({c.cpr(), c.name()});
  out << "\nchildren:\n";
  print_table(out, {"CPR", "NAME"}, rows);
  rows.clear();
  for (const auto& i : n.incidents())
    rows.push_back({short_time(i.occurred_at()), i.district_id(), i.journal_number(),
                    std::to_string(i.weight()), i.severe() ? "yes" : ""});
  out << "\nincidents:\n";
  print_table(out, {"OCCURRED", "DISTRICT", "JOURNAL", "WEIGHT", "SEVERE"}, rows);
  if (!v.responses_size()) return;
  rows.clear();
  for (const auto& r : v.responses())
    rows.push_back({short_time(r.at()), response_word(r.response()), r.recorded_by(), r.note()});
  out << "\nresponses:\n";
  print_table(out, {"AT", "RESPONSE", "BY", "NOTE"}, rows);
}

}  // namespace

int scans_run(const Context& c, const Args& a) {
  no_arguments(a, 0, "no arguments besides --from and --to");
  if (a.has("from") != a.has("to")) throw UsageError("give both --from and --to, or neither");
  v1::ScanWindowRequest r;
  r.set_from(a.get("from"));
  r.set_to(a.get("to"));
  std::string raw;
  const auto s = c.api().run_scan(r, &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  print_scan(c.out, s);
  return EXIT_OK;
}

int scans_show(const Context& c, const Args& a) {
  no_arguments(a, 1, "SCAN_ID");
  std::string raw;
  const auto s = c.api().scan(a.positional[0], &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  print_scan(c.out, s);
  return EXIT_OK;
}

int scans_list(const Context& c, const Args& a) {
  no_arguments(a, 0, "no arguments besides --limit and --cursor");
  std::string raw;
  const auto list = c.api().scans(paging_query(a, {}), &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : list.scans())
    rows.push_back({s.scan_id(), s.kind(), short_time(s.started_at()), window_of(s),
                    std::to_string(s.incidents_considered()), std::to_string(s.children_flagged()),
                    std::to_string(s.underretninger_created()), s.requested_by()});
  print_table(
      c.out, {"SCAN", "KIND", "STARTED", "WINDOW", "CONSIDERED", "FLAGGED", "CREATED", "BY"}, rows);
  c.out << list.scans_size() << " scan" << (list.scans_size() == 1 ? "" : "s") << "\n";
  more_hint(c, a, list.next_cursor());
  return EXIT_OK;
}

int underretninger_list(const Context& c, const Args& a) {
  no_arguments(a, 0, "no arguments besides the options");
  const int given = a.flag("pending") + a.flag("overdue") + a.has("status");
  if (given > 1) throw UsageError("give one of --pending, --overdue and --status");
  const std::string status = a.flag("pending")   ? "pending"
                             : a.flag("overdue") ? "overdue"
                                                 : a.get("status");
  std::string raw;
  const auto list = c.api().underretninger(paging_query(a, {{"status", status}}), &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : list.underretninger()) {
    const auto& n = v.notice();
    rows.push_back({n.underretning_id(), v.status(), municipality_of(n),
                    std::to_string(n.children_size()), short_time(n.created_at()),
                    short_time(n.receipt_due_at()), days_left(v), short_time(v.receipt_at()),
                    response_word(v.response())});
  }
  print_table(c.out,
              {"UNDERRETNING", "STATUS", "MUNICIPALITY", "CHILDREN", "CREATED", "RECEIPT DUE",
               "DAYS LEFT", "RECEIVED", "RESPONSE"},
              rows);
  c.out << list.underretninger_size() << " underretning"
        << (list.underretninger_size() == 1 ? "" : "er") << "\n";
  more_hint(c, a, list.next_cursor());
  return EXIT_OK;
}

int underretninger_show(const Context& c, const Args& a) {
  no_arguments(a, 1, "UNDERRETNING_ID");
  std::string raw;
  const auto v = c.api().underretning(a.positional[0], &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  print_underretning(c.out, v);
  return EXIT_OK;
}

int underretninger_receipt(const Context& c, const Args& a) {
  no_arguments(a, 1, "UNDERRETNING_ID");
  v1::UnderretningReceiptRequest r;
  r.set_received_at(when(a, "at"));
  std::string raw;
  const auto v = c.api().record_receipt(a.positional[0], r, &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  c.out << "underretning " << v.notice().underretning_id() << " received "
        << short_time(v.receipt_at()) << " (recorded by " << v.receipt_recorded_by() << ")\n";
  return EXIT_OK;
}

int underretninger_response(const Context& c, const Args& a) {
  no_arguments(a, 2, "UNDERRETNING_ID RESPONSE");
  v1::UnderretningResponseRequest r;
  const std::string& word = a.positional[1];
  if (word == "no_action")
    r.set_response(v1::UNDERRETNING_RESPONSE_NO_ACTION);
  else if (word == "assessment_started")
    r.set_response(v1::UNDERRETNING_RESPONSE_ASSESSMENT_STARTED);
  else if (word == "support_measure")
    r.set_response(v1::UNDERRETNING_RESPONSE_SUPPORT_MEASURE);
  else
    throw UsageError("RESPONSE must be one of no_action, assessment_started, support_measure");
  r.set_note(note_from(a));
  std::string raw;
  const auto v = c.api().record_response(a.positional[0], r, &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  c.out << "underretning " << v.notice().underretning_id() << ": " << response_word(v.response())
        << " (" << v.responses_size() << " response" << (v.responses_size() == 1 ? "" : "s")
        << " recorded)\n";
  return EXIT_OK;
}

int underretninger_forward(const Context& c, const Args& a) {
  no_arguments(a, 1, "UNDERRETNING_ID");
  v1::UnderretningForwardingRequest r;
  r.set_forwarded_at(when(a, "at"));
  r.set_channel(a.get("channel"));
  r.set_note(note_from(a));
  std::string raw;
  const auto v = c.api().record_forwarding(a.positional[0], r, &raw);
  if (print_raw(c, raw)) return EXIT_OK;
  c.out << "underretning " << v.notice().underretning_id() << " forwarded "
        << short_time(v.forwarding().forwarded_at()) << " by " << v.forwarding().channel() << "\n";
  return EXIT_OK;
}

}  // namespace henvis::ctl
