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

#include "server/client_geo.h"
#include "server/limits.h"

namespace partyd::server {

// The room limits (idle timeout, CPU limit, heap, ...) are RoomLimits, and --geoip and
// --trusted-proxy ClientGeoFlags, both shared with serve.
struct DevOptions : RoomLimits, ClientGeoFlags {
  std::string dir = ".";
  std::optional<unsigned short> port;
  std::string address = "0.0.0.0";
  std::size_t threads = 0;
  std::optional<std::filesystem::path> persist;
  bool noPersist = false;
  bool syncFull = false;
  bool watch = true;
  std::vector<std::pair<std::string, std::string>> vars;
  std::vector<std::pair<std::string, std::string>> defines;
  std::optional<std::string> admin;  // --admin ADDR: /metrics and the inspector
  std::string version;               // partyd's, for partyd_build_info
};

// Runs until a stop signal; returns the process exit status.
int runDev(const DevOptions& f);

}  // namespace partyd::server
