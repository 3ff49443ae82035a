#pragma once
// henvis-sim incidents: a deterministic year of police incidents for
// Socialsøg (police.incidents.v1), written as JSON lines for `henvisctl
// incidents import`. Pure: a seed in, incidents out, no I/O and no clock.
//
// The scenario (hand-written distributions, as in plan.cpp; the figures are
// assumptions scaled to the seed's public numbers: one district sent 232
// Socialsøg reports in 2023, another grew from 113 to 656 a year, i.e. a few
// underretninger a week per district):
//
// - Households in the 18 municipalities of the dev directory (Midt- og
//   Vestjyllands Politi "mvj" and Østjyllands Politi "oj"), weighted by
//   population: one or two adults with one to three children under 18. In
//   12 % a child lives in another municipality than the adults (with the
//   other parent); 8 % of the households move to another municipality during
//   the year (incidents after the move carry the new home municipality).
// - Each household's risk over the year: 50 % a single weak incident (never
//   flagged on its own), 25 % two to four weak ones (often reaching the
//   threshold 6 of the default code list), 12 % a severe one (with or
//   without weak ones), 13 % only incidents without a watched code. On top,
//   adults without children have incidents too (noise), and some incidents
//   have a witness (a role that does not count).
// - Incidents happen in the home municipality (60 %), elsewhere in the home
//   district (15 %) or in the other district (25 %), registered by the
//   district where they happened; 30 % list no children (the adult's
//   children are known from another incident); 5 % are registered late
//   (10-40 days after).
// - Codes from the default Socialsøg code list
//   (services/socialsog/default_rules.textproto, all "PH-" placeholders) and
//   a few unwatched ones.

#include <cstdint>
#include <string>
#include <vector>

#include <chrono>
#include <optional>

#include "henvis/v1/socialsog.pb.h"

namespace henvis::sim {

struct IncidentOptions {
  std::uint64_t seed = 1;
  // The calendar year the incidents happen in, unless `until` is set: then
  // the 365 days before it (and `year` is the year those days begin in, for
  // ages and journal numbers).
  int year = 2023;
  std::optional<std::chrono::sys_days> until;
  int households = 500;
  int noise_adults = 300;  // adults without children with an incident or two
};

struct IncidentSummary {
  int households = 0;
  int children = 0;
  int moved_households = 0;
  int children_elsewhere = 0;  // living in another municipality than their adults
  int incidents = 0;
  int incidents_mvj = 0;
  int incidents_oj = 0;
  int severe_incidents = 0;
  int late_registered = 0;
};

struct IncidentYear {
  IncidentOptions options;
  std::vector<v1::Incident> incidents;  // by occurred_at
  IncidentSummary summary;
};

// Throws std::invalid_argument for options it cannot generate.
IncidentYear generate_incidents(const IncidentOptions& options);

// One proto3 JSON line per incident (lowerCamelCase), each ending in '\n'.
std::string to_jsonl(const IncidentYear& y);

}  // namespace henvis::sim
