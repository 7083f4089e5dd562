// The one clock of partyd: monotonic milliseconds for timeouts and deadlines, wall milliseconds
// for alarms (Durable Object alarms are wall-clock times). Code that must be tested with time
// standing still takes a `Clock&`; the system clock is the default, FakeClock steps by hand.
#pragma once

#include <cstdint>

namespace partyd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t monotonicMs() const = 0;
  virtual std::int64_t wallMs() const = 0;
};

// steady_clock and system_clock.
Clock& systemClock();
std::int64_t monotonicMs();
std::int64_t wallMs();

// For tests: both clocks move only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t wallStartMs = 1'700'000'000'000) : wall_(wallStartMs) {}
  std::int64_t monotonicMs() const override { return mono_; }
  std::int64_t wallMs() const override { return wall_; }
  void advance(std::int64_t ms) {
    mono_ += ms;
    wall_ += ms;
  }

 private:
  std::int64_t mono_ = 1'000;
  std::int64_t wall_;
};

}  // namespace partyd
