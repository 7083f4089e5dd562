// Server is the composition root: it opens the shards' storage and starts one shard thread per
// core, each with its Runtime (api/: user code on V8), RoomHost (party/: the rooms) and Edge
// (party/: the front door), and a listener whose sessions hand every request to that Edge. It
// runs the crons and the watchdog that stops runaway handlers. It can run without main(), so
// tests may start one in-process.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/runtime.h"
#include "base/result.h"
#include "http/session.h"
#include "http/static_files.h"
#include "net/client_address.h"
#include "net/listener.h"
#include "net/shard.h"
#include "net/sharded.h"
#include "party/edge.h"
#include "party/room_host.h"

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
  std::optional<http::StaticOptions> assets;  // `serve` in partykit.json
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
  unsigned short port() const { return port_; }
  // Swaps a new build into every shard, atomically: every shard loads and evaluates it first,
  // and only when all did does any switch (RoomHost::commitUpdate: live rooms move to it at
  // their next idle point, hibernated sockets stay open). On an error every shard keeps the old
  // build and nothing changed. Waits until all have switched.
  Result<void> reload(const std::string& bundle, const std::string& bundleName,
                      const std::string& envJson, const std::vector<std::string>& partyNames);
  Result<void> reload(party::CodeBundle next);
  // The same swap back to the build before the current one (which then becomes the previous).
  Result<void> rollback();
  bool hasPrevious() const;
  std::size_t shardCount() const { return shards_.size(); }
  // Each shard's Edge (and through it its RoomHost), for the admin listener's reads.
  net::Sharded<party::Edge>& edges() { return *edges_; }

 private:
  struct ShardState;
  Result<void> startShard(ShardState& state, std::unique_ptr<storage::Storage> store,
                          unsigned short& port);
  void stopShard(ShardState& state);
  void watchdog();
  Result<void> swapLocked(party::CodeBundle next);
  void armCrons();

  ServerOptions options_;
  std::unique_ptr<http::StaticFiles> assets_;
  std::vector<std::unique_ptr<net::Shard>> shards_;
  std::vector<std::unique_ptr<ShardState>> states_;
  std::unique_ptr<net::Sharded<party::Edge>> edges_;
  std::thread watchdog_;
  std::unique_ptr<boost::asio::steady_timer> cronTimer_;  // on shard 0
  std::atomic<bool> running_{false};
  unsigned short port_ = 0;
  // Code updates: one at a time; the build that serves and the one before it (for rollback).
  mutable std::mutex swapMutex_;
  party::CodeBundle current_;
  std::optional<party::CodeBundle> previous_;
};

}  // namespace partyd::server
