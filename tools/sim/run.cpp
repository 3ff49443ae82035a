#include "sim/run.hpp"

#include <algorithm>
#include <iomanip>
#include <set>
#include <sstream>
#include <thread>

#include "henvis/events.hpp"

namespace henvis::sim {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto POLL = std::chrono::milliseconds(200);
constexpr std::size_t MAX_ERROR_SAMPLES = 10;

std::string municipality_name(int k) {
  for (const auto& m : programme_municipalities())
    if (m.kommunekode == k) return m.name;
  return std::to_string(k);
}

// Past the point where a centre acts on it: acknowledged or any outcome.
bool acted_on(v1::ReferralStatus s) {
  return s != v1::REFERRAL_STATUS_RECEIVED && s != v1::REFERRAL_STATUS_ROUTED &&
         s != v1::REFERRAL_STATUS_DELIVERED && s != v1::REFERRAL_STATUS_UNSPECIFIED;
}

struct Runner {
  const Plan& plan;
  RunOptions& opt;
  std::ostream& log;
  Summary s;
  client::Client officer;
  std::map<int, client::Client> centres;
  std::map<int, std::string> referral_of;              // offer index -> referral id
  std::map<int, v1::ReferralStatus> status_of;         // offer index -> last known status
  std::map<int, std::set<v1::ReferralStatus>> stages;  // offer index -> recorded outcomes

  Runner(const Plan& p, RunOptions& o, std::ostream& l)
      : plan(p), opt(o), log(l), officer(o.endpoints, o.officer_token) {}

  const v1::OfferRequest& offer(int index) const {
    return plan.actions[static_cast<std::size_t>(index)].offer;
  }

  void error(const std::string& what) {
    ++s.errors;
    if (s.error_samples.size() < MAX_ERROR_SAMPLES) s.error_samples.push_back(what);
    log << "henvis-sim: " << what << "\n";
  }

  void find_centre_tokens() {
    if (opt.centre_tokens.empty()) {
      for (const auto& m : programme_municipalities()) {
        const std::string token = "dev-center-" + std::to_string(m.kommunekode);
        try {
          officer.as(token).referrals("routed");
          opt.centre_tokens[m.kommunekode] = token;
        } catch (const client::ApiError&) {
          // not a token this stack knows
        }
      }
    }
    for (const auto& [k, token] : opt.centre_tokens) {
      centres.emplace(k, officer.as(token));
      s.centres_with_token.push_back(k);
    }
  }

  void register_offers(std::int64_t now) {
    const auto t0 = Clock::now();
    for (const auto& a : plan.actions) {
      if (a.kind != Action::Kind::kOffer) continue;
      const auto& o = a.offer;
      auto& m = s.municipalities[o.kommunekode()];
      m.name = municipality_name(o.kommunekode());
      if (o.charged_at().seconds() > now) {
        error("offer " + o.offer_id() + " skipped: charge time in the future");
        continue;
      }
      try {
        auto res = officer.register_offer(o);
        ++s.offered;
        ++m.offered;
        if (o.answer() == v1::ANSWER_YES) {
          ++s.accepted;
          ++m.accepted;
          if (a.repeat) ++s.repeat_referrals;
          if (res.covered()) ++s.routed_expected;
          if (!res.referral_id().empty()) referral_of[a.offer_index] = res.referral_id();
        } else {
          ++s.declined;
          ++m.declined;
        }
      } catch (const client::ApiError& e) {
        error("offer " + o.offer_id() + ": " + e.what());
      }
    }
    log << "henvis-sim: registered " << s.offered << " offers (" << s.accepted << " yes, "
        << s.declined << " no) in " << std::chrono::duration<double>(Clock::now() - t0).count()
        << " s\n";
  }

  // Referral ids per centre that this run will record outcomes for.
  std::map<int, std::set<std::string>> expected_per_centre() const {
    std::map<int, std::set<std::string>> out;
    for (const auto& [index, rid] : referral_of) {
      const int k = offer(index).kommunekode();
      if (centres.count(k)) out[k].insert(rid);
    }
    return out;
  }

  // Waits until every expected referral is listed for its centre and, with
  // `acted`, has been acknowledged (or is further along).
  bool wait_listed(bool acted) {
    const auto deadline = Clock::now() + opt.wait_timeout;
    auto expected = expected_per_centre();
    for (auto& [k, ids] : expected) {
      for (;;) {
        std::size_t found = 0;
        const auto list = centres.at(k).referrals();
        for (const auto& r : list.referrals()) {
          if (!ids.count(r.referral_id())) continue;
          if (!acted || acted_on(r.status())) ++found;
          for (const auto& [index, rid] : referral_of)
            if (rid == r.referral_id()) status_of[index] = r.status();
        }
        if (found == ids.size()) break;
        if (Clock::now() > deadline) {
          error("timed out waiting for " + std::to_string(ids.size() - found) +
                " referral(s) of rusmiddelcenter-" + std::to_string(k) +
                (acted ? " to be acknowledged" : " to be routed"));
          return false;
        }
        std::this_thread::sleep_for(POLL);
      }
    }
    return true;
  }

  void acknowledge() {
    const auto deadline = Clock::now() + opt.wait_timeout;
    for (auto& [k, ids] : expected_per_centre()) {
      std::set<std::string> pending = ids;
      for (const auto& [index, rid] : referral_of)
        if (ids.count(rid) && acted_on(status_of[index])) pending.erase(rid);
      while (!pending.empty()) {
        const v1::Inbox inbox = centres.at(k).whole_inbox();
        for (const auto& e : inbox.entries()) {
          const std::string& rid = e.referral().referral_id();
          if (e.kind() != v1::NOTIFICATION_KIND_NEW_REFERRAL || !pending.count(rid)) continue;
          if (!e.has_acknowledged_at()) {
            try {
              centres.at(k).ack(e.notification_id());
              ++s.acknowledged;
            } catch (const client::ApiError& err) {
              error("ack of a notification for referral " + rid + ": " + err.what());
            }
          }
          pending.erase(rid);
        }
        if (pending.empty()) break;
        if (Clock::now() > deadline) {
          error("timed out waiting for " + std::to_string(pending.size()) +
                " inbox entr(ies) of rusmiddelcenter-" + std::to_string(k));
          break;
        }
        std::this_thread::sleep_for(POLL);
      }
    }
  }

  void record(std::int64_t now) {
    std::set<int> no_token;
    for (const auto& a : plan.actions) {
      if (a.kind == Action::Kind::kOffer) continue;
      const auto& o = offer(a.offer_index);
      auto rid = referral_of.find(a.offer_index);
      if (rid == referral_of.end()) continue;  // the offer failed; reported already
      if (a.kind == Action::Kind::kWithdraw) {
        try {
          officer.withdraw(o.offer_id());
          ++s.withdrawn;
          ++s.municipalities[o.kommunekode()].withdrawn;
          status_of[a.offer_index] = v1::REFERRAL_STATUS_WITHDRAWN;
        } catch (const client::ApiError& e) {
          error("withdrawal of " + o.offer_id() + ": " + e.what());
        }
        continue;
      }
      auto centre = centres.find(o.kommunekode());
      if (centre == centres.end()) {
        no_token.insert(a.offer_index);
        continue;
      }
      const auto outcome = a.outcome.outcome();
      if (a.outcome.at().seconds() > now) {
        error("outcome " + a.idempotency_key + " skipped: time in the future");
        continue;
      }
      if (a.unless_already && status_of[a.offer_index] == outcome) {
        if (outcome == v1::REFERRAL_STATUS_UNREACHABLE) ++s.unreachable_by_router;
        continue;
      }
      try {
        auto v = centre->second.record_outcome(rid->second, a.outcome, a.idempotency_key);
        status_of[a.offer_index] = v.status();
        ++s.outcomes[events::status_name(outcome)];
        stages[a.offer_index].insert(outcome);
        if (v.status() == v1::REFERRAL_STATUS_UNREACHABLE)
          stages[a.offer_index].insert(v1::REFERRAL_STATUS_UNREACHABLE);
      } catch (const client::ApiError& e) {
        error("outcome " + a.idempotency_key + " (" + events::status_name(outcome) +
              "): " + e.what());
      }
    }
    s.without_token = static_cast<int>(no_token.size());
  }

  void count_funnel() {
    std::set<std::string> conv, further;
    for (const auto& [index, st] : stages) {
      const auto& o = offer(index);
      // Explicit capture: clang 14 cannot capture a structured binding.
      auto has = [&stages_of = st](v1::ReferralStatus x) { return stages_of.count(x) != 0; };
      ++s.contact_attempted;
      s.reached += has(v1::REFERRAL_STATUS_REACHED);
      s.declined_by_person += has(v1::REFERRAL_STATUS_DECLINED);
      s.unreachable += has(v1::REFERRAL_STATUS_UNREACHABLE);
      s.closed += has(v1::REFERRAL_STATUS_CLOSED);
      if (has(v1::REFERRAL_STATUS_CONVERSATION_HELD)) {
        ++s.conversation_held;
        ++s.municipalities[o.kommunekode()].conversation_held;
        conv.insert(o.person().cpr());
      }
      if (has(v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED)) {
        ++s.further_sessions_accepted;
        ++s.municipalities[o.kommunekode()].further_sessions_accepted;
        further.insert(o.person().cpr());
      }
    }
    s.persons_conversation = static_cast<int>(conv.size());
    s.persons_further = static_cast<int>(further.size());
  }
};

void json_string(std::ostream& o, const std::string& v) {
  o << '"';
  for (unsigned char c : v) {
    if (c == '"' || c == '\\')
      o << '\\' << c;
    else if (c < 0x20)
      o << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int(c) << std::dec
        << std::setfill(' ');
    else
      o << c;
  }
  o << '"';
}

}  // namespace

Summary run(const Plan& plan, RunOptions options, std::ostream& log) {
  const auto t0 = Clock::now();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  Runner r(plan, options, log);
  r.s.seed = plan.options.seed;
  r.s.run_id = plan.options.run_id;
  r.s.scenario = plan.options.scenario;
  r.s.from = plan.options.start;
  r.s.to = period_end(plan.options);

  r.find_centre_tokens();
  r.register_offers(now);
  if (r.wait_listed(false) && options.acknowledge) {
    r.acknowledge();
    r.wait_listed(true);
  }
  r.record(now);
  r.count_funnel();
  r.s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r.s;
}

namespace {

// A member `"k": v` of the summary's object, on a line of its own.
void json_number(std::ostream& o, const char* k, int v, bool comma = true) {
  o << "  \"" << k << "\": " << v << (comma ? ",\n" : "\n");
}

// The run's identity and period, and the centres that had a token.
void json_head(std::ostream& o, const Summary& s) {
  o << "  \"seed\": " << s.seed << ",\n  \"runId\": ";
  json_string(o, s.run_id);
  o << ",\n  \"scenario\": ";
  json_string(o, s.scenario);
  o << ",\n  \"from\": ";
  json_string(o, s.from);
  o << ",\n  \"to\": ";
  json_string(o, s.to);
  o << ",\n  \"centresWithToken\": [";
  for (std::size_t i = 0; i < s.centres_with_token.size(); ++i)
    o << (i ? ", " : "") << s.centres_with_token[i];
  o << "],\n";
}

// The funnel's counts, offers to persons.
void json_funnel(std::ostream& o, const Summary& s) {
  json_number(o, "offered", s.offered);
  json_number(o, "accepted", s.accepted);
  json_number(o, "declined", s.declined);
  json_number(o, "routedExpected", s.routed_expected);
  json_number(o, "repeatReferrals", s.repeat_referrals);
  json_number(o, "referralsWithoutCentreToken", s.without_token);
  json_number(o, "acknowledged", s.acknowledged);
  json_number(o, "withdrawn", s.withdrawn);
  json_number(o, "contactAttempted", s.contact_attempted);
  json_number(o, "reached", s.reached);
  json_number(o, "conversationHeld", s.conversation_held);
  json_number(o, "furtherSessionsAccepted", s.further_sessions_accepted);
  json_number(o, "declinedByPerson", s.declined_by_person);
  json_number(o, "unreachable", s.unreachable);
  json_number(o, "unreachableByRouter", s.unreachable_by_router);
  json_number(o, "closed", s.closed);
  json_number(o, "personsWithConversation", s.persons_conversation);
  json_number(o, "personsWithFurtherSessions", s.persons_further);
}

// "outcomesRecorded" and "municipalities".
void json_breakdowns(std::ostream& o, const Summary& s) {
  o << "  \"outcomesRecorded\": {";
  bool first = true;
  for (const auto& [k, v] : s.outcomes) {
    o << (first ? "" : ", ");
    json_string(o, k);
    o << ": " << v;
    first = false;
  }
  o << "},\n  \"municipalities\": [";
  first = true;
  for (const auto& [k, m] : s.municipalities) {
    o << (first ? "\n" : ",\n") << "    {\"kommunekode\": " << k << ", \"name\": ";
    json_string(o, m.name);
    o << ", \"offered\": " << m.offered << ", \"accepted\": " << m.accepted
      << ", \"declined\": " << m.declined << ", \"conversationHeld\": " << m.conversation_held
      << ", \"furtherSessionsAccepted\": " << m.further_sessions_accepted
      << ", \"withdrawn\": " << m.withdrawn << "}";
    first = false;
  }
  o << "\n  ],\n";
}

}  // namespace

std::string to_json(const Summary& s) {
  std::ostringstream o;
  o << "{\n";
  json_head(o, s);
  json_funnel(o, s);
  json_breakdowns(o, s);
  json_number(o, "errors", s.errors);
  o << "  \"errorSamples\": [";
  for (std::size_t i = 0; i < s.error_samples.size(); ++i) {
    o << (i ? ", " : "");
    json_string(o, s.error_samples[i]);
  }
  o << "],\n";
  o << "  \"seconds\": " << std::fixed << std::setprecision(1) << s.seconds << "\n}\n";
  return o.str();
}

void print(std::ostream& out, const Summary& s) {
  auto pct = [&](int n) {
    std::ostringstream o;
    if (s.accepted)
      o << " (" << std::fixed << std::setprecision(0) << 100.0 * n / s.accepted << " % of yes)";
    return o.str();
  };
  out << "henvis-sim: scenario " << s.scenario << ", seed " << s.seed << ", run id " << s.run_id
      << ", charges " << s.from << " to " << s.to << "\n";
  out << "  offered                    " << s.offered << "\n"
      << "  accepted (yes)             " << s.accepted << " (" << s.repeat_referrals
      << " repeat referrals)\n"
      << "  declined (no)              " << s.declined << "\n"
      << "  routed (expected)          " << s.routed_expected << "\n"
      << "  withdrawn                  " << s.withdrawn << "\n";
  out << "  outcomes recorded for the centres with a token (";
  for (std::size_t i = 0; i < s.centres_with_token.size(); ++i)
    out << (i ? ", " : "") << s.centres_with_token[i];
  out << "); " << s.without_token << " referral(s) of other centres got none\n";
  out << "  contact attempted          " << s.contact_attempted << pct(s.contact_attempted) << "\n"
      << "  reached                    " << s.reached << pct(s.reached) << "\n"
      << "  conversation held          " << s.conversation_held << pct(s.conversation_held) << ", "
      << s.persons_conversation << " persons\n"
      << "  further sessions accepted  " << s.further_sessions_accepted
      << pct(s.further_sessions_accepted) << ", " << s.persons_further << " persons\n"
      << "  declined by the person     " << s.declined_by_person << "\n"
      << "  unreachable                " << s.unreachable << " (" << s.unreachable_by_router
      << " made so by the router on the last failed attempt)\n"
      << "  closed                     " << s.closed << "\n";
  out << "  outcome calls:";
  for (const auto& [k, v] : s.outcomes) out << " " << k << "=" << v;
  out << "\n  errors " << s.errors << ", " << std::fixed << std::setprecision(1) << s.seconds
      << " s\n";
}

}  // namespace henvis::sim
