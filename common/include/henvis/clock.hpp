#pragma once
// The clock, injectable so that schedules and working-day deadlines can be
// tested by moving time instead of waiting for it.

#include <atomic>
#include <chrono>

namespace henvis {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};

// A clock tests set and advance by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point t)
      : t_(t.time_since_epoch().count()) {}
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(t_.load()));
  }
  void set(std::chrono::system_clock::time_point t) { t_ = t.time_since_epoch().count(); }
  void advance(std::chrono::system_clock::duration d) { t_ += d.count(); }

 private:
  std::atomic<std::chrono::system_clock::rep> t_;
};

}  // namespace henvis
