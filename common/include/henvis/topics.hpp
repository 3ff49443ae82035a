#pragma once
// Kafka topic names and CloudEvents types: one place, one spelling.

namespace henvis::topics {
inline constexpr const char* OFFERS = "henvis.offers.v1";
inline constexpr const char* REFERRALS = "henvis.referrals.v1";
inline constexpr const char* NOTIFICATIONS = "henvis.notifications.v1";
inline constexpr const char* DELIVERIES = "henvis.deliveries.v1";
}  // namespace henvis::topics

namespace henvis::event_types {
inline constexpr const char* OFFER_RECORDED = "henvis.offer.recorded";
inline constexpr const char* OFFER_WITHDRAWN = "henvis.offer.withdrawn";
inline constexpr const char* NOTIFICATION_REQUESTED = "henvis.notification.requested";
// Referral and delivery events are "henvis.referral.<status>" and
// "henvis.delivery.<status>" with the status in lower case.
inline constexpr const char* REFERRAL_PREFIX = "henvis.referral.";
inline constexpr const char* DELIVERY_PREFIX = "henvis.delivery.";
}  // namespace henvis::event_types
