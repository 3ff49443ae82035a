#pragma once
// The referral lifecycle (docs/design.md "Lifecycle"; HL7 BSeR / FHIR Task
// aligned): which outcome a centre may record in which status. Pure.
//
//   routed | delivered | acknowledged | contact_attempted
//       -> contact_attempted, reached, conversation_held, declined, unreachable, closed
//   reached            -> conversation_held, declined, closed
//   conversation_held  -> further_sessions_accepted, declined, closed
//   further_sessions_accepted -> closed
//   closed, declined, unreachable, withdrawn, unroutable, expired: final
//
// A contact attempt that reaches the configured maximum makes the referral
// unreachable. Consent withdrawal is not an outcome: it comes from the
// person, through intake, and applies in every status but withdrawn.

#include <string>
#include <vector>

#include "henvis/events.hpp"
#include "henvis/v1/common.pb.h"

namespace henvis::router {

// The outcomes a centre can record at all.
bool is_outcome(v1::ReferralStatus s);
// The outcomes allowed from `from` (empty for final statuses).
std::vector<v1::ReferralStatus> allowed_outcomes(v1::ReferralStatus from);
bool is_final(v1::ReferralStatus s);
// Waiting on the centre: no reminder clock runs in other statuses.
bool awaits_centre(v1::ReferralStatus s);
// "routed" for REFERRAL_STATUS_ROUTED (the event contract's spelling).
using events::status_name;

}  // namespace henvis::router
