// wake_jitter: the machine's own wake-up tail, below every server and client. It sleeps to an
// absolute deadline every --period-us (default 1000) for --seconds (default 10) and prints how late
// each wake-up was (p50, p99, p99.9, max and how many were over 1 ms and 10 ms) as one JSON line.
// Run it as the benchmarks run (taskset -c 1, and chrt -f 50 for compare --rt): a late wake-up
// here is time that no server or client could have been running, such as the vCPU held by the host.
//   usage: wake_jitter [--seconds 10] [--period-us 1000]
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int64_t nowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  int64_t period_ns = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--period-us" && i + 1 < argc) {
      period_ns = std::atoll(argv[++i]) * 1000;
    } else {
      std::fprintf(stderr, "usage: wake_jitter [--seconds 10] [--period-us 1000]\n");
      return 2;
    }
  }
  if (seconds <= 0 || period_ns <= 0) {
    std::fprintf(stderr, "wake_jitter: --seconds and --period-us must be positive\n");
    return 2;
  }
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // as loadgen: timer slack would count as lateness
  std::vector<int64_t> late;
  int64_t next = nowNs();
  const int64_t end = next + static_cast<int64_t>(seconds * 1e9);
  while (next < end) {
    next += period_ns;
    timespec deadline{static_cast<time_t>(next / 1'000'000'000),
                      static_cast<long>(next % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) != 0) {
    }
    late.push_back(nowNs() - next);
  }
  std::sort(late.begin(), late.end());
  auto us = [&](double q) {
    size_t i = std::min(late.size() - 1, static_cast<size_t>(q * static_cast<double>(late.size())));
    return static_cast<double>(late[i]) / 1000.0;
  };
  const auto over = [&](int64_t ns) {
    return static_cast<long>(late.end() - std::upper_bound(late.begin(), late.end(), ns));
  };
  std::printf(
      "{\"tool\":\"wake_jitter\",\"wakeups\":%zu,\"period_us\":%lld,\"late_p50_us\":%.1f,"
      "\"late_p99_us\":%.1f,\"late_p999_us\":%.1f,\"late_max_us\":%.1f,\"over_1ms\":%ld,"
      "\"over_10ms\":%ld}\n",
      late.size(), static_cast<long long>(period_ns / 1000), us(0.5), us(0.99), us(0.999),
      static_cast<double>(late.back()) / 1000.0, over(1'000'000), over(10'000'000));
  return 0;
}
