#pragma once
// henvis-sim's scenario: a pure, deterministic plan of what officers and
// rusmiddelcentre do, computed from a seed with no I/O and no clock.
//
// The default scenario is calibrated to the seed document (section 4.8.1):
// over 10 months from 2020-03-01, 119 people in the 11 municipalities of
// Midt- og Vestjyllands Politi said yes; 67 % of them had a conversation with a
// counsellor and 32 % accepted more than the first conversation.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "henvis/v1/api.pb.h"

namespace henvis::sim {

// Random numbers that are the same on every platform for a given seed.
// std::mt19937_64's output sequence is fixed by the C++ standard, but the
// standard distributions (uniform_int_distribution, bernoulli_distribution,
// exponential_distribution, ...) are not: libstdc++, libc++ and MSVC give
// different values for the same engine state. So the few distributions the
// simulator needs are implemented here from the raw engine output.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() { return engine_(); }
  // Uniform on [lo, hi] (inclusive), by rejection: no modulo bias.
  std::int64_t uniform(std::int64_t lo, std::int64_t hi);
  // Uniform on [0, 1) with 53 random bits.
  double unit();
  bool bernoulli(double p) { return unit() < p; }
  // Exponential with the given rate (mean 1/rate), by inversion. Uses
  // std::log1p, which glibc rounds correctly; times derived from it are
  // rounded to whole seconds.
  double exponential(double rate);
  // Index drawn with probability proportional to weights[i] (integers, so
  // that the draw is exact).
  std::size_t weighted(const std::vector<int>& weights);
  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (std::size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1],
                v[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(i) - 1))]);
  }

 private:
  std::mt19937_64 engine_;
};

// A fictitious but valid CPR number "DDMMYY-NNNN" born in `birth_year`: an
// existing birth date, a 7th digit consistent with the century, last digit
// odd for men.
std::string make_cpr(Rng& r, int birth_year, bool male);

struct ProgrammeMunicipality {
  int kommunekode;
  const char* name;
  int population;  // approximate, 2020; weights where people live
};
// The 11 municipalities of Midt- og Vestjyllands Politi in the programme.
const std::vector<ProgrammeMunicipality>& programme_municipalities();

struct Options {
  std::uint64_t seed = 1;
  std::string run_id;  // default: the seed; part of every offer id
  int months = 10;
  std::string start = "2020-03-01";  // YYYY-MM-DD, first day of charges
  int yes = 119;                     // people who say yes
  std::string scenario = "default";
  // Assumption (the seed gives no figure for the declines): 1.3 no per yes.
  double no_per_yes = 1.3;
};

// What a referral comes to in the plan.
enum class Fate {
  kDeclinedOffer,     // said no at the roadside: no referral
  kFurtherSessions,   // reached, conversation, further sessions accepted, closed
  kConversationOnly,  // reached, conversation, closed
  kDeclinedByPerson,  // reached, declined
  kUnreachable,       // three failed attempts
  kWithdrawn,         // consent withdrawn before a conversation
};
const char* fate_name(Fate f);

struct Action {
  enum class Kind { kOffer, kOutcome, kWithdraw };
  Kind kind = Kind::kOffer;
  int offer_index = 0;  // which offer (0-based) this action is about
  // kOffer
  v1::OfferRequest offer;
  Fate fate = Fate::kDeclinedOffer;
  bool repeat = false;  // the same person (CPR) had an earlier referral in this plan
  // kOutcome
  v1::OutcomeRequest outcome;
  std::string idempotency_key;
  // Record this outcome only if the referral is not already in this status:
  // the router may itself make the Nth failed attempt `unreachable`.
  bool unless_already = false;
};

struct Plan {
  Options options;
  // Offers in charge-time order, then each referral's outcomes and
  // withdrawals in the order they happen (grouped by offer).
  std::vector<Action> actions;
};

// Throws std::invalid_argument for options it cannot plan (unknown scenario,
// bad start date, negative sizes).
Plan plan(Options options);

// The first day after the period, YYYY-MM-DD (start + months).
std::string period_end(const Options& o);

// One line per action; equal plans give byte-identical text.
std::string to_text(const Plan& p);

// The planned funnel, counted from a plan (no I/O).
struct Funnel {
  int offered = 0;
  int accepted = 0;
  int declined = 0;
  int repeat_referrals = 0;
  int withdrawn = 0;
  int contact_attempted = 0;  // referrals with at least one attempt, failed or not
  int reached = 0;
  int conversation_held = 0;
  int further_sessions_accepted = 0;
  int declined_by_person = 0;
  int unreachable = 0;
  int closed = 0;
};
Funnel planned_funnel(const Plan& p);

}  // namespace henvis::sim
