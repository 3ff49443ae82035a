#include "henvis/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace henvis::rate_limit {

Buckets::Buckets(Limit limit, std::size_t max_keys)
    : limit_(limit), max_keys_(std::max<std::size_t>(max_keys, 1)) {}

Buckets::Bucket& Buckets::refill(const std::string& key, TimePoint now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    make_room(now);
    it = buckets_.emplace(key, Bucket{limit_.burst, now}).first;
  }
  Bucket& b = it->second;
  // The clock may step back (it is the wall clock): no refill then.
  const std::chrono::duration<double> elapsed = std::max(now - b.last, TimePoint::duration{0});
  b.tokens = std::min(limit_.burst, b.tokens + elapsed.count() * limit_.per_second);
  b.last = std::max(now, b.last);
  return b;
}

int Buckets::seconds_until(const Bucket& b, double cost) const {
  if (b.tokens >= cost) return 0;
  if (limit_.per_second <= 0) return 3600;
  return std::max(1, static_cast<int>(std::ceil((cost - b.tokens) / limit_.per_second)));
}

// Drops the buckets that have refilled (a new one would be the same); if
// none has, the one idle longest.
void Buckets::make_room(TimePoint now) {
  if (buckets_.size() < max_keys_) return;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const std::chrono::duration<double> idle = now - it->second.last;
    if (it->second.tokens + idle.count() * limit_.per_second >= limit_.burst)
      it = buckets_.erase(it);
    else
      ++it;
  }
  if (buckets_.size() < max_keys_) return;
  auto oldest =
      std::min_element(buckets_.begin(), buckets_.end(),
                       [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
  buckets_.erase(oldest);
}

int Buckets::take(const std::string& key, double cost, TimePoint now) {
  std::lock_guard lock(mu_);
  Bucket& b = refill(key, now);
  const int wait = seconds_until(b, cost);
  if (wait == 0) b.tokens -= cost;
  return wait;
}

void Buckets::charge(const std::string& key, double cost, TimePoint now) {
  std::lock_guard lock(mu_);
  refill(key, now).tokens -= cost;
}

int Buckets::wait(const std::string& key, double cost, TimePoint now) {
  std::lock_guard lock(mu_);
  return seconds_until(refill(key, now), cost);
}

std::size_t Buckets::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace henvis::rate_limit
