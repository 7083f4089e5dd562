// `partyd serve`: the production server. It hosts every project deployed to it (through the
// admin API on --admin, which the unmodified `partykit` CLI deploys to) on one pool of shards,
// each project isolated, found by Host header; `partyd serve DIR` also serves a folder as one
// project, built once and not watched. cli/ parses the flags into ServeOptions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "server/client_geo.h"
#include "server/limits.h"

namespace partyd::server {

// partyd serve --cluster (docs/cluster.md): empty etcd means a single node.
struct ClusterOptions {
  std::vector<std::string> etcd;  // http://HOST:PORT of each member
  std::string postgres;           // libpq URL
  std::string advertise;          // HOST:PORT where peers reach this node's client port
  std::string region;
  std::string name = "partyd";
  std::int64_t leaseTtlMs = 10'000;
  std::string sourceAddress;  // outgoing sockets bind to it (the --address, when not 0.0.0.0)
};

// The room limits are RoomLimits, as for dev, except the CPU limit's default (30 s: a deployed
// project's bundle may do more at load than a dev build); --geoip and --trusted-proxy are
// ClientGeoFlags, as for dev, and apply to every project.
struct ServeOptions : RoomLimits, ClientGeoFlags {
  ServeOptions() { handlerTimeoutMs = 30'000; }

  std::optional<std::string> dir;  // partyd serve DIR
  unsigned short port = 1999;
  std::string address = "0.0.0.0";
  std::filesystem::path data = "partyd-data";
  std::optional<std::string> admin;  // ADDR or ADDR:PORT or :PORT
  std::optional<std::string> adminToken;
  std::string domain;
  std::string defaultProject;
  std::size_t threads = 0;
  bool syncFull = false;
  std::uint64_t maxUploadBytes = 64ull * 1024 * 1024;
  std::string version;  // partyd_build_info's
  ClusterOptions cluster;
  // --tls-cert/--tls-key (PEM): the public port speaks TLS only, and so does --admin unless it is
  // on loopback. SIGHUP reads them again.
  std::optional<std::string> tlsCert;
  std::optional<std::string> tlsKey;
  std::int64_t drainTimeoutMs = 10'000;  // --drain-timeout
  // --takeover: replace the serve listening on the upgrade socket (server/takeover.h).
  bool takeover = false;
  std::optional<std::string> upgradeSocket;  // --upgrade-socket; default DATA/partyd.sock
};

// Runs until SIGINT or SIGTERM, then drains (server/drain.h) for at most drainTimeoutMs; a second
// signal stops at once. Storage is committed either way. A takeover by a new process (its
// --takeover, or SIGUSR2 here, which starts one) drains the same way, with 1012, and then exits.
// Returns the process exit status.
int runServe(const ServeOptions& options);

}  // namespace partyd::server
