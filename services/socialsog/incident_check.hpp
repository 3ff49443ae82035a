#pragma once
// Checking police incidents (henvis.v1.Incident): the validation socialsog
// applies to every incident it consumes (an invalid one goes to the DLQ),
// and the JSON-lines reading that `henvisctl incidents import` does with the
// same validation. Reasons name the field, never its value (CPR numbers).

#include <istream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "henvis/v1/socialsog.pb.h"

namespace henvis::socialsog {

// What is wrong with an incident: the field (proto field path, e.g.
// "involved[0].children[1].cpr") and why ("missing", "is not a valid CPR
// number", ...). Never a value.
struct IncidentProblem {
  std::string field;
  std::string reason;
};

// The first problem of an incident; nullopt if it is valid.
std::optional<IncidentProblem> incident_problem(const v1::Incident& incident);

// The same as one sentence naming the field ("missing field incident_id",
// "field involved[0].cpr is not a valid CPR number"); nullopt if valid.
std::optional<std::string> invalid_incident(const v1::Incident& incident);

// One bad line of a JSON-lines file: its number (1-based) and the problem.
struct LineError {
  int line = 0;
  IncidentProblem problem;
  // "line 3: involved[0].cpr: is not a valid CPR number"
  std::string text() const;
};

// Parses one line as a proto3 JSON henvis.v1.Incident (unknown fields
// refused) and validates it. On failure `out` is unspecified.
std::optional<IncidentProblem> parse_incident_json(const std::string& line, v1::Incident& out);

struct ImportFile {
  std::vector<std::pair<int, v1::Incident>> good;  // line number, incident, in file order
  std::vector<LineError> bad;
  int blank = 0;  // empty or whitespace-only lines (skipped, not errors)
};

// Reads a JSON-lines file: one incident a line. A line with an incident id
// already seen earlier in the file is a bad line too (the later one would
// silently replace the earlier in socialsog).
ImportFile read_incidents_jsonl(std::istream& in);

}  // namespace henvis::socialsog
