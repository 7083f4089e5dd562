// libFuzzer target for cron expressions (src/project/cron.h): CronSchedule::parse, then next()
// from a few start times taken from the input. It owns nothing but its checks, which hold for any
// schedule without knowing what it matches:
//   - next(t) is after t, on a whole minute, within the documented 5-year search and the years
//     0001-9999;
//   - nothing matches in between: next(u) for any u in [t, next(t)) is next(t) again;
//   - the schedule is a function of its expression: parsing expression() gives the same times;
//   - an error names the expression.
//
// Input: bytes 0-7 are a start time (Unix seconds, spread over the whole range 0001-9999 and a
// little beyond), bytes 8-9 pick the in-between probes; the rest is the expression.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "project/cron.h"

namespace {

using partyd::project::CronSchedule;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

constexpr std::int64_t kEarliest = -62135596800;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kLatest = 253402300799;    // 9999-12-31T23:59:59Z
constexpr std::int64_t kSearchSeconds = (5 * 365 + 2 + 1) * 86400;

void checkNext(const CronSchedule& cron, const CronSchedule& again, std::int64_t after,
               std::uint16_t probe) {
  const auto at = cron.next(after);
  FUZZ_CHECK(again.next(after) == at);
  if (after < kEarliest || after > kLatest) {
    FUZZ_CHECK(!at);
    return;
  }
  if (!at) return;
  FUZZ_CHECK(*at > after);
  FUZZ_CHECK(*at % 60 == 0);
  FUZZ_CHECK(*at <= kLatest);
  FUZZ_CHECK(*at - after <= kSearchSeconds);
  // No earlier match was skipped: from any time in [after, *at), the next is *at.
  FUZZ_CHECK(cron.next(*at - 1) == at);
  const std::int64_t span = *at - after;
  FUZZ_CHECK(cron.next(after + static_cast<std::int64_t>(probe) % span) == at);
  FUZZ_CHECK(cron.next(after + (static_cast<std::int64_t>(probe) * 7919 * 60) % span) == at);
  // And it fires again after that, unless the search window or the calendar ends.
  const auto following = cron.next(*at);
  if (following) FUZZ_CHECK(*following > *at);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 10) return 0;
  std::uint64_t raw = 0;
  std::memcpy(&raw, data, 8);
  std::uint16_t probe = static_cast<std::uint16_t>(data[8] << 8 | data[9]);
  const std::string_view expr(reinterpret_cast<const char*>(data + 10), size - 10);

  auto cron = CronSchedule::parse(expr);
  if (!cron) {
    FUZZ_CHECK(cron.error().message.rfind("cron \"", 0) == 0);
    return 0;
  }
  auto again = CronSchedule::parse(cron->expression());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->expression() == cron->expression());

  // Start times: one anywhere (a bit beyond both ends too), one near today, one near the end.
  const std::int64_t range = kLatest - kEarliest + 2 * 86400 * 366;
  const std::int64_t anywhere =
      kEarliest - 86400 * 366 + static_cast<std::int64_t>(raw % static_cast<std::uint64_t>(range));
  checkNext(*cron, *again, anywhere, probe);
  checkNext(*cron, *again, 1'700'000'000 + static_cast<std::int64_t>(raw % (400 * 86400)), probe);
  checkNext(*cron, *again, kLatest - static_cast<std::int64_t>(raw % (6 * 366 * 86400)), probe);
  checkNext(*cron, *again, kEarliest + static_cast<std::int64_t>(raw % (86400 * 3)), probe);
  return 0;
}
