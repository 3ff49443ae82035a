// Incident validation (socialsog's consumer and henvisctl incidents import).
#include "incident_check.hpp"

#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <set>

#include "henvis/ids.hpp"
#include "henvis/validate.hpp"

namespace henvis::socialsog {

namespace {
constexpr std::size_t MAX_ID = 128;
constexpr std::size_t MAX_CODES = 200;
constexpr std::size_t MAX_PERSONS = 200;
constexpr std::size_t MAX_NAME = 200;
constexpr std::size_t MAX_LINE = 1 << 20;

bool kommunekode_ok(int k) { return k == 0 || (k >= 101 && k <= 999); }

// The first field name in a protobuf JSON parser message, if it names one
// the Incident has (the message itself may quote the bad value, so only a
// known field name is ever taken from it).
std::string field_in(const std::string& message) {
  static const std::vector<std::pair<std::string, std::string>> names = [] {
    std::vector<std::pair<std::string, std::string>> n;
    std::set<const google::protobuf::Descriptor*> seen;
    std::vector<const google::protobuf::Descriptor*> todo = {v1::Incident::descriptor()};
    while (!todo.empty()) {
      const auto* d = todo.back();
      todo.pop_back();
      if (!seen.insert(d).second) continue;
      for (int i = 0; i < d->field_count(); ++i) {
        const auto* f = d->field(i);
        n.emplace_back(f->json_name(), f->name());
        n.emplace_back(f->name(), f->name());
        if (f->message_type() && f->message_type()->file() == d->file())
          todo.push_back(f->message_type());
      }
    }
    return n;
  }();
  // The earliest (and, at a tie, longest) known name standing as a word.
  std::size_t best_pos = std::string::npos;
  std::string best;
  for (const auto& [json, proto] : names) {
    for (std::size_t p = message.find(json); p != std::string::npos;
         p = message.find(json, p + 1)) {
      auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
      const bool start = p == 0 || !word(message[p - 1]);
      const bool end = p + json.size() >= message.size() || !word(message[p + json.size()]);
      if (!start || !end) continue;
      if (p < best_pos || (p == best_pos && proto.size() > best.size())) {
        best_pos = p;
        best = proto;
      }
      break;
    }
  }
  return best;
}
}  // namespace

std::optional<IncidentProblem> incident_problem(const v1::Incident& in) {
  if (in.incident_id().empty()) return IncidentProblem{"incident_id", "missing"};
  if (in.incident_id().size() > MAX_ID)
    return IncidentProblem{"incident_id", "is longer than 128 characters"};
  if (in.district_id().empty()) return IncidentProblem{"district_id", "missing"};
  if (in.district_id().size() > MAX_ID)
    return IncidentProblem{"district_id", "is longer than 128 characters"};
  if (auto r = validate::journal_number(in.journal_number()))
    return IncidentProblem{"journal_number", *r};
  if (!in.has_occurred_at()) return IncidentProblem{"occurred_at", "missing"};
  // socialsog stores it as a time_point, which holds only times of this era.
  if (!valid_event_time(in.occurred_at()))
    return IncidentProblem{"occurred_at", "is not a valid time"};
  if (!kommunekode_ok(in.location_kommunekode()))
    return IncidentProblem{"location_kommunekode", "is not a kommunekode"};
  if (in.incident_codes().empty() && in.offence_codes().empty())
    return IncidentProblem{"incident_codes or offence_codes", "missing"};
  if (static_cast<std::size_t>(in.incident_codes_size() + in.offence_codes_size()) > MAX_CODES)
    return IncidentProblem{"incident_codes", "too many codes"};
  if (static_cast<std::size_t>(in.involved_size()) > MAX_PERSONS)
    return IncidentProblem{"involved", "too many involved persons"};
  for (int i = 0; i < in.involved_size(); ++i) {
    const auto& p = in.involved(i);
    const std::string f = "involved[" + std::to_string(i) + "]";
    if (p.role() == v1::PERSON_ROLE_UNSPECIFIED || !v1::PersonRole_IsValid(p.role()))
      return IncidentProblem{f + ".role", "is not a known role"};
    if (validate::cpr(p.cpr())) return IncidentProblem{f + ".cpr", "is not a valid CPR number"};
    if (p.name().size() > MAX_NAME)
      return IncidentProblem{f + ".name", "is longer than 200 characters"};
    if (!kommunekode_ok(p.home_kommunekode()))
      return IncidentProblem{f + ".home_kommunekode", "is not a kommunekode"};
    if (static_cast<std::size_t>(p.children_size()) > MAX_PERSONS)
      return IncidentProblem{f + ".children", "too many children"};
    for (int j = 0; j < p.children_size(); ++j) {
      const auto& c = p.children(j);
      const std::string g = f + ".children[" + std::to_string(j) + "]";
      if (validate::cpr(c.cpr())) return IncidentProblem{g + ".cpr", "is not a valid CPR number"};
      if (c.name().size() > MAX_NAME)
        return IncidentProblem{g + ".name", "is longer than 200 characters"};
      if (!kommunekode_ok(c.home_kommunekode()))
        return IncidentProblem{g + ".home_kommunekode", "is not a kommunekode"};
    }
  }
  return std::nullopt;
}

std::optional<std::string> invalid_incident(const v1::Incident& in) {
  auto p = incident_problem(in);
  if (!p) return std::nullopt;
  if (p->reason == "missing") return "missing field " + p->field;
  if (p->reason.rfind("too many", 0) == 0) return p->reason;
  if (p->reason.rfind("is ", 0) == 0) return "field " + p->field + " " + p->reason;
  return "field " + p->field + ": " + p->reason;
}

std::string LineError::text() const {
  return "line " + std::to_string(line) + ": " + problem.field + ": " + problem.reason;
}

std::optional<IncidentProblem> parse_incident_json(const std::string& line, v1::Incident& out) {
  out.Clear();
  if (line.size() > MAX_LINE) return IncidentProblem{"(line)", "is longer than 1 MiB"};
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(line, &out, opts);
  if (!status.ok()) {
    // The parser's message may quote the bad value: only a field name is
    // taken from it.
    const std::string msg(status.message());
    if (msg.find("nknown field") != std::string::npos ||
        msg.find("annot find field") != std::string::npos)
      return IncidentProblem{"(line)", "has a field henvis.v1.Incident does not have"};
    // "(involved[0].role): invalid value ..." names the path first.
    std::string field;
    if (msg.size() > 2 && msg[0] == '(') {
      const auto close = msg.find(')');
      const std::string path = close == std::string::npos ? "" : msg.substr(1, close - 1);
      const bool safe = !path.empty() && path.size() <= 200 &&
                        path.find_first_not_of(
                            "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]") == std::string::npos;
      if (safe) field = path;
    }
    if (field.empty()) field = field_in(msg);
    if (field.empty())
      return IncidentProblem{"(line)", "is not a henvis.v1.Incident in proto3 JSON"};
    return IncidentProblem{field, "is not valid proto3 JSON for this field"};
  }
  return incident_problem(out);
}

ImportFile read_incidents_jsonl(std::istream& in) {
  ImportFile f;
  std::set<std::string> ids;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      ++f.blank;
      continue;
    }
    v1::Incident incident;
    if (auto p = parse_incident_json(line, incident)) {
      f.bad.push_back({n, *p});
      continue;
    }
    if (!ids.insert(incident.incident_id()).second) {
      f.bad.push_back({n, {"incident_id", "is the same as on an earlier line"}});
      continue;
    }
    f.good.emplace_back(n, std::move(incident));
  }
  return f;
}

}  // namespace henvis::socialsog
