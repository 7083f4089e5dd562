// The dev loop of `partyd dev DIR`, as `partykit dev` has it: read partykit.json, bundle the
// parties with esbuild (and build `serve.build`), start a Server, then watch the project's own
// files and swap each new build in (a failed build leaves the previous one serving) until SIGINT
// or SIGTERM. cli/ parses the flags into DevOptions and calls runDev.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace partyd::server {

struct DevOptions {
  std::string dir = ".";
  std::optional<unsigned short> port;
  std::string address = "0.0.0.0";
  std::size_t threads = 0;
  std::optional<std::filesystem::path> persist;
  bool noPersist = false;
  bool syncFull = false;
  std::int64_t idleTimeoutSec = 30;
  std::int64_t handlerTimeoutMs = 2'000;  // --cpu-limit (alias --handler-timeout), docs/limits.md
  std::size_t heapLimitMb = 1024;           // --heap-limit: per shard
  std::size_t maxRoomConnections = 10'000;  // --max-room-connections (0: none)
  double maxMessagesPerSecond = 0;          // --max-messages-per-second per connection (0: none)
  std::size_t maxQueuedBytes = 32 * 1024 * 1024;   // --max-pending-bytes per socket
  std::uint64_t maxRoomStorageBytes = 0;           // --max-room-storage (0: none)
  std::int64_t hibernateAfterMs = 10'000;
  bool watch = true;
  std::vector<std::pair<std::string, std::string>> vars;
  std::vector<std::pair<std::string, std::string>> defines;
  std::optional<std::string> admin;  // --admin ADDR: /metrics and the inspector
  std::string version;               // partyd's, for partyd_build_info
  std::vector<std::filesystem::path> geoip;  // --geoip: MaxMind-format databases for request.cf
  std::vector<std::string> trustedProxies;   // --trusted-proxy: CIDRs whose X-Forwarded-For counts
};

// Runs until a stop signal; returns the process exit status.
int runDev(const DevOptions& f);

}  // namespace partyd::server
