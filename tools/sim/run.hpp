#pragma once
// henvis-sim's driver: plays a Plan against a running stack through the
// public HTTP API, as officers and rusmiddelcentre would.
//
// Replaying: offer ids are "sim-<run id>-NNNN" and every outcome carries the
// Idempotency-Key "<offer id>-oN", so running the same seed and run id again
// against the same stack changes nothing (intake answers a replayed offer with
// its first answer; the router records an outcome key once).

#include <chrono>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "henvisctl/client.hpp"
#include "sim/plan.hpp"

namespace henvis::sim {

struct RunOptions {
  client::Endpoints endpoints;
  std::string officer_token = "dev-officer-mvj";
  // kommunekode -> centre token. Outcomes are recorded only for referrals whose
  // centre has a token here; when empty, dev-center-<k> is tried for every
  // programme municipality and kept if the router accepts it.
  std::map<int, std::string> centre_tokens;
  // How long to wait for referrals to be routed and acknowledged.
  std::chrono::milliseconds wait_timeout = std::chrono::seconds(60);
  bool acknowledge = true;  // acknowledge new referrals in the inbox first
};

struct Summary {
  std::uint64_t seed = 0;
  std::string run_id, scenario, from, to;  // period [from, to)
  std::vector<int> centres_with_token;
  int offered = 0, accepted = 0, declined = 0;
  int routed_expected = 0;  // accepted offers for covered municipalities
  int referrals_seen = 0;   // appeared in GET /v1/referrals (centres with a token)
  int acknowledged = 0;     // inbox entries acknowledged by this run
  int without_token = 0;    // referrals whose outcomes were not recorded: no centre token
  std::map<std::string, int> outcomes;  // outcome (lower case) -> recorded calls
  int unreachable_by_router = 0;        // third failed attempt made it unreachable
  int withdrawn = 0;
  // Referrals (and distinct persons) that reached each stage, as recorded.
  int contact_attempted = 0, reached = 0, conversation_held = 0, further_sessions_accepted = 0,
      declined_by_person = 0, unreachable = 0, closed = 0;
  int persons_conversation = 0, persons_further = 0;
  int repeat_referrals = 0;
  int errors = 0;
  std::vector<std::string> error_samples;  // first few, no personal data
  struct PerMunicipality {
    std::string name;
    int offered = 0, accepted = 0, declined = 0, conversation_held = 0,
        further_sessions_accepted = 0, withdrawn = 0;
  };
  std::map<int, PerMunicipality> municipalities;
  double seconds = 0;
};

// Throws client::ConnectionError when the stack cannot be reached.
Summary run(const Plan& plan, RunOptions options, std::ostream& log);

std::string to_json(const Summary& s);
void print(std::ostream& out, const Summary& s);

}  // namespace henvis::sim
