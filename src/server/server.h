// Server runs one project on a pool of shards: `partyd dev`'s composition root, and what tests
// start in-process. The shard threads, listeners and watchdog are the ShardPool's; the project's
// per-shard Runtime, RoomHost and Edge and its crons are the ProjectHost's.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/runtime.h"
#include "base/result.h"
#include "http/session.h"
#include "http/static_files.h"
#include "net/client_address.h"
#include "net/sharded.h"
#include "party/edge.h"
#include "party/room_host.h"
#include "server/project_host.h"
#include "server/shard_pool.h"

namespace partyd::server {

struct ServerOptions {
  std::string address = "0.0.0.0";
  unsigned short port = 1999;
  std::size_t threads = 0;                     // 0: one per hardware thread
  std::optional<std::filesystem::path> state;  // none: a temporary in-memory store
  bool syncFull = false;  // fsync every commit (power-loss safe); otherwise process-crash safe
  api::RuntimeConfig runtime;
  party::HostConfig host;
  http::Limits httpLimits;
  std::optional<http::StaticOptions> assets;               // `serve` in partykit.json
  std::vector<std::pair<std::string, std::string>> crons;  // name → expression
  net::TrustedProxies trustedProxies;  // --trusted-proxy (see party::EdgeConfig::clientHeaders)
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Starts every shard and waits until each has loaded the project and is listening.
  Result<void> start();
  // Stops accepting, commits storage and joins the shard threads.
  void stop();
  unsigned short port() const { return pool_ ? pool_->port() : 0; }
  // Swaps a new build into every shard, atomically (ProjectHost::reload): on an error every
  // shard keeps the old build and nothing changed. Waits until all have switched.
  Result<void> reload(const std::string& bundle, const std::string& bundleName,
                      const std::string& envJson, const std::vector<std::string>& partyNames);
  Result<void> reload(party::CodeBundle next);
  // The same swap back to the build before the current one (which then becomes the previous).
  Result<void> rollback();
  bool hasPrevious() const;
  std::size_t shardCount() const { return pool_ ? pool_->size() : 0; }
  // Each shard's Edge (and through it its RoomHost), for the admin listener's reads.
  net::Sharded<party::Edge>& edges() { return *project_->edgeTable(); }

 private:
  ServerOptions options_;
  std::unique_ptr<ShardPool> pool_;
  std::unique_ptr<ProjectHost> project_;
};

}  // namespace partyd::server
