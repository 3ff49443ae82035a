#pragma once
// Token buckets keyed by a string (a remote address, a token label), for the
// HTTP server's 429 answers. Each key's bucket holds up to `burst` tokens and
// refills at `per_second`; a request takes some. Memory is bounded: at most
// `max_keys` buckets are kept; a bucket that has refilled is the same as none
// and is dropped first, else the one idle longest.
//
// Threading: every member may be called from any thread.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace henvis::rate_limit {

using TimePoint = std::chrono::system_clock::time_point;

struct Limit {
  double per_second = 0;
  double burst = 0;
};

class Buckets {
 public:
  Buckets(Limit limit, std::size_t max_keys);

  // Takes `cost` tokens from the key's bucket: 0 if it had them, else the
  // whole seconds (>= 1) until it will (nothing taken).
  int take(const std::string& key, double cost, TimePoint now);
  // Takes `cost` tokens even if that empties the bucket below zero.
  void charge(const std::string& key, double cost, TimePoint now);
  // As take(), without taking.
  int wait(const std::string& key, double cost, TimePoint now);
  std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    TimePoint last;
  };
  Bucket& refill(const std::string& key, TimePoint now);
  int seconds_until(const Bucket& b, double cost) const;
  void make_room(TimePoint now);

  Limit limit_;
  std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace henvis::rate_limit
