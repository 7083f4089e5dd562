#include "base/clock.h"

#include <chrono>

namespace partyd {

std::int64_t monotonicMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::int64_t wallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {
class SystemClock final : public Clock {
 public:
  std::int64_t monotonicMs() const override { return partyd::monotonicMs(); }
  std::int64_t wallMs() const override { return partyd::wallMs(); }
};
}  // namespace

Clock& systemClock() {
  static SystemClock clock;
  return clock;
}

}  // namespace partyd
