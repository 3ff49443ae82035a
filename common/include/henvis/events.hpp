#pragma once
// The event contracts: for each event henvis sends or receives, one place
// that says on which topic it travels, its CloudEvents type (ce_type), its
// key and its protobuf payload. Senders emit through `events::emit`,
// receivers subscribe with `Subscriptions::on<M>`; neither spells a topic or
// a type again.
//
// A contract is a specialisation of `Contract<M>` with:
//   TOPIC                     the topic
//   CONTIGUOUS_OFFSETS        false for a topic written outside henvis (see
//                             ConsumedTopic::contiguous_offsets)
//   type(m)                   the ce_type of message m
//   accepts(ce_type)          whether a received ce_type is this event
//   key(m)                    the Kafka key (keeps an aggregate's events ordered)
//   mismatch(m, ce_type)      the reason a decoded m contradicts its ce_type,
//                             or nullopt (checked before any handler runs)

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "henvis/consumer_loop.hpp"
#include "henvis/kafka.hpp"
#include "henvis/outbox.hpp"
#include "henvis/sqlite.hpp"
#include "henvis/topics.hpp"
#include "henvis/v1/events.pb.h"
#include "henvis/v1/socialsog.pb.h"

namespace henvis::events {

// "contact_attempted" for ("REFERRAL_STATUS_CONTACT_ATTEMPTED",
// "REFERRAL_STATUS_"): a proto enum value's name in lower case without its
// prefix, as ce_types, the API's words and the CLI spell it.
std::string enum_word(std::string name, std::string_view prefix);
// "routed" for REFERRAL_STATUS_ROUTED: the suffix of the ce_type and the
// name the API and logs use.
std::string status_name(v1::ReferralStatus s);
// "delivered" for DELIVERY_STATUS_DELIVERED.
std::string status_name(v1::DeliveryStatus s);

template <class M>
struct Contract;

namespace detail {
inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
// A contract whose ce_type is one fixed string and whose payload cannot
// contradict it.
struct FixedType {
  static constexpr bool CONTIGUOUS_OFFSETS = true;
  template <class M>
  static std::optional<std::string> mismatch(const M&, std::string_view) {
    return std::nullopt;
  }
};
}  // namespace detail

template <>
struct Contract<v1::OfferRecorded> : detail::FixedType {
  static constexpr const char* TOPIC = topics::OFFERS;
  static std::string type(const v1::OfferRecorded&) { return event_types::OFFER_RECORDED; }
  static bool accepts(std::string_view t) { return t == event_types::OFFER_RECORDED; }
  // A yes by its person's partition key (one person's referrals in one
  // partition, in order; docs/decisions.md 24), or by its referral from a
  // producer before that; a no has neither.
  static std::string key(const v1::OfferRecorded& m) {
    if (m.answer() != v1::ANSWER_YES) return m.offer_id();
    return m.partition_key().empty() ? m.referral_id() : m.partition_key();
  }
};

template <>
struct Contract<v1::OfferWithdrawn> : detail::FixedType {
  static constexpr const char* TOPIC = topics::OFFERS;
  static std::string type(const v1::OfferWithdrawn&) { return event_types::OFFER_WITHDRAWN; }
  static bool accepts(std::string_view t) { return t == event_types::OFFER_WITHDRAWN; }
  // The offer's key: a withdrawal follows its offer in the same partition.
  static std::string key(const v1::OfferWithdrawn& m) {
    return m.partition_key().empty() ? m.referral_id() : m.partition_key();
  }
};

// "henvis.referral.<status>".
template <>
struct Contract<v1::ReferralStatusChanged> {
  static constexpr const char* TOPIC = topics::REFERRALS;
  static constexpr bool CONTIGUOUS_OFFSETS = true;
  static std::string type(const v1::ReferralStatusChanged& m) {
    return event_types::REFERRAL_PREFIX + status_name(m.status());
  }
  static bool accepts(std::string_view t) {
    return detail::starts_with(t, event_types::REFERRAL_PREFIX);
  }
  static std::string key(const v1::ReferralStatusChanged& m) { return m.referral_id(); }
  static std::optional<std::string> mismatch(const v1::ReferralStatusChanged& m,
                                             std::string_view t) {
    if (m.status() == v1::REFERRAL_STATUS_UNSPECIFIED || !v1::ReferralStatus_IsValid(m.status()))
      return "field status is not a referral status";
    if (t != type(m)) return "ce_type does not match field status";
    return std::nullopt;
  }
};

// "henvis.delivery.<status>", keyed by the referral's partition key (in the
// partition of its offers, for the router instance that owns them), else by
// recipient (Socialsøg's deliveries): one notification's deliveries stay in order.
template <>
struct Contract<v1::DeliveryEvent> : detail::FixedType {
  static constexpr const char* TOPIC = topics::DELIVERIES;
  static std::string type(const v1::DeliveryEvent& m) {
    return event_types::DELIVERY_PREFIX + status_name(m.status());
  }
  static bool accepts(std::string_view t) {
    return detail::starts_with(t, event_types::DELIVERY_PREFIX);
  }
  static std::string key(const v1::DeliveryEvent& m) {
    return m.partition_key().empty() ? m.recipient_id() : m.partition_key();
  }
};

template <>
struct Contract<v1::NotificationRequested> : detail::FixedType {
  static constexpr const char* TOPIC = topics::NOTIFICATIONS;
  static std::string type(const v1::NotificationRequested&) {
    return event_types::NOTIFICATION_REQUESTED;
  }
  static bool accepts(std::string_view t) { return t == event_types::NOTIFICATION_REQUESTED; }
  static std::string key(const v1::NotificationRequested& m) { return m.recipient_id(); }
};

// "henvis.underretning.<event>": created, delivered, receipt_recorded,
// receipt_missed, response_recorded.
template <>
struct Contract<v1::UnderretningEvent> {
  static constexpr const char* TOPIC = topics::UNDERRETNINGER;
  static constexpr bool CONTIGUOUS_OFFSETS = true;
  static std::string type(const v1::UnderretningEvent& m) {
    return event_types::UNDERRETNING_PREFIX + m.event();
  }
  static bool accepts(std::string_view t) {
    return detail::starts_with(t, event_types::UNDERRETNING_PREFIX);
  }
  static std::string key(const v1::UnderretningEvent& m) { return m.underretning_id(); }
  static std::optional<std::string> mismatch(const v1::UnderretningEvent& m, std::string_view t) {
    if (t != type(m)) return "ce_type does not match field event";
    return std::nullopt;
  }
};

// Written by the police case system upstream, which may use transactions:
// its offsets may have holes.
template <>
struct Contract<v1::Incident> : detail::FixedType {
  static constexpr const char* TOPIC = topics::INCIDENTS;
  static constexpr bool CONTIGUOUS_OFFSETS = false;
  static std::string type(const v1::Incident&) { return event_types::INCIDENT_REGISTERED; }
  static bool accepts(std::string_view t) { return t == event_types::INCIDENT_REGISTERED; }
  static std::string key(const v1::Incident& m) { return m.incident_id(); }
};

// The Kafka event for `m` under its contract, from `source` (e.g.
// "/henvis/router"), with a fresh ce_id and the current time.
template <class M>
kafka::Event make(const std::string& source, const M& m) {
  return kafka::make_event(source, Contract<M>::type(m), Contract<M>::key(m),
                           m.SerializeAsString());
}

// Adds `m` to the outbox inside the caller's transaction (see outbox::add).
template <class M>
void emit(sqlite::Db& db, const std::string& source, const M& m) {
  outbox::add(db, Contract<M>::TOPIC, make(source, m));
}

// The events of `batch` that are `M`s (its topic and ce_type) and decode, in
// order; the rest are left to Subscriptions::dispatch, which refuses what it
// cannot apply. For a batch hook that looks ahead (Subscriptions::around_batch).
template <class M>
std::vector<M> of_type(const std::vector<kafka::Message>& batch) {
  std::vector<M> out;
  for (const auto& m : batch) {
    if (m.topic != Contract<M>::TOPIC ||
        !Contract<M>::accepts(m.header(kafka::header::TYPE).value_or("")))
      continue;
    M msg;
    if (msg.ParseFromString(m.payload)) out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace henvis::events

namespace henvis {

// A service's typed subscriptions: which events it handles and how. The
// consumer loop takes its topics (and their dead-letter topics) from here
// and hands every polled event to `dispatch`, which finds the handler by
// topic and ce_type, decodes and checks the payload against its contract
// and calls the handler, or throws Rejected with the reason (the event then
// goes to the dead-letter topic):
//   "topic not consumed by <service>"
//   "unexpected ce_type for <offers> topic"
//   "payload is not a valid <message>"
//   the contract's mismatch reason, or the handler's own.
// Handlers run inside the consumer's batch transaction. Not thread-safe:
// registered before the loop starts, then only read.
class Subscriptions {
 public:
  explicit Subscriptions(std::string service) : service_(std::move(service)) {}

  template <class M>
  Subscriptions& on(std::function<void(const M&, sqlite::Db&)> handler) {
    using C = events::Contract<M>;
    add(C::TOPIC, C::CONTIGUOUS_OFFSETS, &C::accepts,
        [h = std::move(handler)](const kafka::Message& m, std::string_view type, sqlite::Db& db) {
          const M msg = decode_or_reject<M>(m);
          if (auto why = C::mismatch(msg, type)) throw Rejected(*why);
          h(msg, db);
        });
    return *this;
  }
  // on<M> with a member function of `self`: subs.on(this, &Applier::on_offer).
  template <class M, class T>
  Subscriptions& on(T* self, void (T::*handler)(const M&, sqlite::Db&)) {
    return on<M>([self, handler](const M& m, sqlite::Db& db) { (self->*handler)(m, db); });
  }

  void dispatch(const kafka::Message& m, sqlite::Db& db) const;

  // `before` runs ahead of each batch, outside its transaction, with the
  // whole batch (to fetch in one round trip what its events need); a throw
  // there fails the batch as a failed apply does (retried, then the process
  // stops). `after` runs once the batch is committed or failed.
  using BeforeBatch = std::function<void(const std::vector<kafka::Message>&, sqlite::Db&)>;
  using AfterBatch = std::function<void()>;
  Subscriptions& around_batch(BeforeBatch before, AfterBatch after) {
    before_batch_ = std::move(before);
    after_batch_ = std::move(after);
    return *this;
  }
  const BeforeBatch& before_batch() const { return before_batch_; }
  const AfterBatch& after_batch() const { return after_batch_; }

  // One entry per subscribed topic, with its DLQ "<topic>.dlq.<service>".
  std::vector<ConsumedTopic> topics() const;
  const std::string& service() const { return service_; }

 private:
  using Decoder = std::function<void(const kafka::Message&, std::string_view, sqlite::Db&)>;
  struct Route {
    bool (*accepts)(std::string_view);
    Decoder decode_and_handle;
  };
  struct Topic {
    bool contiguous_offsets = true;
    std::vector<Route> routes;
  };
  void add(const std::string& topic, bool contiguous, bool (*accepts)(std::string_view), Decoder d);
  std::string service_;
  std::map<std::string, Topic> topics_;
  BeforeBatch before_batch_;
  AfterBatch after_batch_;
};

}  // namespace henvis
