// Target is the server under test as every workload sees it: where to connect, which source
// address each connection binds (--sources spreads connections over 127.0.0.1..N, each with its
// own ~28k ephemeral ports), and how room paths are spelled.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "flags.h"
#include "proc_stats.h"

namespace partyd::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Target {
  // fromFlags reads --host --port --party --prefix --sources --server-pid --threads --timeout.
  static Target fromFlags(Flags& flags);

  std::string host = "127.0.0.1";
  int port = 1999;
  std::string party = "main";
  std::string prefix;  // room ids are <prefix>-<n>: fresh per run unless --prefix is given
  int sources = 1;
  int threads = 1;
  double timeout_s = 60;  // --timeout: how long a phase may go without progress
  ProcessTree server{{}};

  asio::ip::tcp::endpoint endpoint() const;
  // sourceFor returns the local address that connection `n` binds: 127.0.0.(1 + n % sources).
  asio::ip::address sourceFor(size_t n) const;
  std::string hostHeader() const { return host + ":" + std::to_string(port); }
  std::string roomPath(std::string_view room) const;  // "/parties/<party>/<prefix>-<room>"
};

// waitUntil polls `done` every millisecond until it holds or `timeout_s` passes; it returns done().
bool waitUntil(const std::function<bool()>& done, double timeout_s);

// waitProgress polls `done` every millisecond until it holds, or until `progress` (a count that
// grows as work completes) has not moved for `stall_s` seconds. A slow server is not a broken one:
// only a stall fails. It returns done().
bool waitProgress(const std::function<bool()>& done, const std::function<uint64_t()>& progress,
                  double stall_s);

inline uint64_t nanosSince(Clock::time_point start, Clock::time_point end) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
}
inline double secondsSince(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

}  // namespace partyd::bench
