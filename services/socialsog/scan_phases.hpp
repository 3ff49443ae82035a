#pragma once
// The pure phases of a scan (Scanner::scan in scan.cpp runs them between the
// phases that read and write the database): evaluate the rules for one child,
// group the hits into households, describe a household's underretning. They
// take plain structs, so a test can call them without a database.
// docs/socialsog.md says the rules.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "henvis/v1/socialsog.pb.h"
#include "socialsog.hpp"

namespace henvis::socialsog {

// A stored incident as a scan sees it.
struct StoredIncident {
  v1::Incident incident;
  std::int64_t seq = 0;  // ingest order
  IncidentMatch match;
};

// One of a child's adults in one incident within the look-back.
struct Involvement {
  std::string adult;  // CPR
  v1::PersonRole role = v1::PERSON_ROLE_UNSPECIFIED;
  std::string incident_id;
  std::int64_t occurred_at = 0;  // unix seconds
  bool watched = false;          // the incident's IncidentMatch
  int weight = 0;
  bool severe = false;
  bool sent_at_scene = false;  // an underretning was sent at the scene
};

// What the window says about one candidate child.
struct ChildFacts {
  std::string cpr, name;  // name and home as the most recent incident listing the child says
  int home = 0;
  std::vector<Involvement> involvements;  // every adult who listed the child, any role
  std::set<std::string> notified;         // incidents the child was notified about earlier
};

// A flagged child with something new to notify.
struct ChildHit {
  std::string cpr, name;
  int home = 0;
  Assessment assessment;
  std::set<std::string> adults;      // the child's adults involved in its qualifying incidents
  std::set<std::string> qualifying;  // incident ids
  std::set<std::string> fresh;       // of those, not yet notified for this child
};

enum class ChildOutcome {
  adult,             // turned 18 at the reference: not Socialsøg's concern
  not_flagged,       // no rule reached
  already_notified,  // flagged, but every qualifying incident is known
  hit,               // flagged with fresh incidents: `hit` is set
};
struct ChildVerdict {
  ChildOutcome outcome = ChildOutcome::not_flagged;
  ChildHit hit;
};

// The rules for one child, looking back over [from, ref].
ChildVerdict evaluate_child(const ChildFacts& child, const Rules& rules, std::int64_t from,
                            std::int64_t ref);

// Households: the hits of one home municipality connected through shared
// adults; each is a list of indexes into `hits`, in order, and the households
// come in the order of their first member: the order the underretninger are
// created in. Linear in the (hit, adult) pairs.
std::vector<std::vector<std::size_t>> households(const std::vector<ChildHit>& hits);

struct Household {
  std::vector<const ChildHit*> children;
  // Their qualifying incidents, by occurrence, then ingest order.
  std::vector<const StoredIncident*> incidents;
};

// The underretning's content: municipality, rules, children, incidents,
// adults (as the most recent incident names them) and the sending district
// (that of the newest fresh incident). Identity, scan, time, sender,
// recipient and link are the caller's.
v1::UnderretningNotice describe_household(const Household& h, const Rules& rules);

}  // namespace henvis::socialsog
