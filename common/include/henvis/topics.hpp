#pragma once
// Kafka topic names and CloudEvents types: one place, one spelling.

namespace henvis::topics {
inline constexpr const char* OFFERS = "henvis.offers.v1";
inline constexpr const char* REFERRALS = "henvis.referrals.v1";
inline constexpr const char* NOTIFICATIONS = "henvis.notifications.v1";
inline constexpr const char* DELIVERIES = "henvis.deliveries.v1";
// Produced upstream by the police case system (schema: socialsog.proto).
inline constexpr const char* INCIDENTS = "police.incidents.v1";
inline constexpr const char* UNDERRETNINGER = "henvis.underretninger.v1";
}  // namespace henvis::topics

namespace henvis::event_types {
inline constexpr const char* OFFER_RECORDED = "henvis.offer.recorded";
inline constexpr const char* OFFER_WITHDRAWN = "henvis.offer.withdrawn";
inline constexpr const char* NOTIFICATION_REQUESTED = "henvis.notification.requested";
// Referral and delivery events are "henvis.referral.<status>" and
// "henvis.delivery.<status>" with the status in lower case.
inline constexpr const char* REFERRAL_PREFIX = "henvis.referral.";
inline constexpr const char* DELIVERY_PREFIX = "henvis.delivery.";
inline constexpr const char* INCIDENT_REGISTERED = "police.incident.registered";
// Underretning events are "henvis.underretning.<event>": created, delivered,
// receipt_recorded, receipt_missed, response_recorded.
inline constexpr const char* UNDERRETNING_PREFIX = "henvis.underretning.";
}  // namespace henvis::event_types
