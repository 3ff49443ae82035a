#include "henvis/events.hpp"

#include <cctype>

#include "henvis/service.hpp"

namespace henvis {

namespace events {
std::string enum_word(std::string name, std::string_view prefix) {
  if (detail::starts_with(name, prefix)) name.erase(0, prefix.size());
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string status_name(v1::ReferralStatus s) {
  return enum_word(v1::ReferralStatus_Name(s), "REFERRAL_STATUS_");
}

std::string status_name(v1::DeliveryStatus s) {
  return enum_word(v1::DeliveryStatus_Name(s), "DELIVERY_STATUS_");
}
}  // namespace events

namespace {
// "offers" for henvis.offers.v1, "incidents" for police.incidents.v1.
std::string short_name(const std::string& topic) {
  const auto first = topic.find('.');
  const auto last = topic.rfind('.');
  if (first == std::string::npos || last <= first) return topic;
  return topic.substr(first + 1, last - first - 1);
}
}  // namespace

void Subscriptions::add(const std::string& topic, bool contiguous,
                        bool (*accepts)(std::string_view), Decoder d) {
  auto& t = topics_[topic];
  t.contiguous_offsets = contiguous;
  t.routes.push_back(Route{accepts, std::move(d)});
}

void Subscriptions::dispatch(const kafka::Message& m, sqlite::Db& db) const {
  const auto t = topics_.find(m.topic);
  if (t == topics_.end()) throw Rejected("topic not consumed by " + service_);
  const std::string type = m.header(kafka::header::TYPE).value_or("");
  for (const auto& r : t->second.routes) {
    if (r.accepts(type)) return r.decode_and_handle(m, type, db);
  }
  throw Rejected("unexpected ce_type for " + short_name(m.topic) + " topic");
}

std::vector<ConsumedTopic> Subscriptions::topics() const {
  std::vector<ConsumedTopic> out;
  for (const auto& [name, t] : topics_)
    out.push_back(ConsumedTopic{name, dlq_topic(name, service_), t.contiguous_offsets});
  return out;
}

}  // namespace henvis
