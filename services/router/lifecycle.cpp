#include "lifecycle.hpp"

#include <algorithm>

namespace henvis::router {

using S = v1::ReferralStatus;

bool is_outcome(S s) {
  switch (s) {
    case v1::REFERRAL_STATUS_CONTACT_ATTEMPTED:
    case v1::REFERRAL_STATUS_REACHED:
    case v1::REFERRAL_STATUS_CONVERSATION_HELD:
    case v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED:
    case v1::REFERRAL_STATUS_DECLINED:
    case v1::REFERRAL_STATUS_UNREACHABLE:
    case v1::REFERRAL_STATUS_CLOSED:
      return true;
    default:
      return false;
  }
}

std::vector<S> allowed_outcomes(S from) {
  switch (from) {
    case v1::REFERRAL_STATUS_ROUTED:
    case v1::REFERRAL_STATUS_DELIVERED:
    case v1::REFERRAL_STATUS_ACKNOWLEDGED:
    case v1::REFERRAL_STATUS_CONTACT_ATTEMPTED:
      return {v1::REFERRAL_STATUS_CONTACT_ATTEMPTED, v1::REFERRAL_STATUS_REACHED,
              v1::REFERRAL_STATUS_CONVERSATION_HELD, v1::REFERRAL_STATUS_DECLINED,
              v1::REFERRAL_STATUS_UNREACHABLE,       v1::REFERRAL_STATUS_CLOSED};
    case v1::REFERRAL_STATUS_REACHED:
      return {v1::REFERRAL_STATUS_CONVERSATION_HELD, v1::REFERRAL_STATUS_DECLINED,
              v1::REFERRAL_STATUS_CLOSED};
    case v1::REFERRAL_STATUS_CONVERSATION_HELD:
      return {v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED, v1::REFERRAL_STATUS_DECLINED,
              v1::REFERRAL_STATUS_CLOSED};
    case v1::REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED:
      return {v1::REFERRAL_STATUS_CLOSED};
    default:
      return {};
  }
}

bool is_final(S s) {
  return s == v1::REFERRAL_STATUS_CLOSED || s == v1::REFERRAL_STATUS_DECLINED ||
         s == v1::REFERRAL_STATUS_UNREACHABLE || s == v1::REFERRAL_STATUS_WITHDRAWN ||
         s == v1::REFERRAL_STATUS_UNROUTABLE || s == v1::REFERRAL_STATUS_EXPIRED;
}

bool awaits_centre(S s) {
  return s == v1::REFERRAL_STATUS_ROUTED || s == v1::REFERRAL_STATUS_DELIVERED ||
         s == v1::REFERRAL_STATUS_ACKNOWLEDGED || s == v1::REFERRAL_STATUS_CONTACT_ATTEMPTED ||
         s == v1::REFERRAL_STATUS_REACHED;
}

}  // namespace henvis::router
