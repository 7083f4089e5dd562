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
  // Swaps a new build into every shard (see Runtime::reload); waits until all have it.
  Result<void> reload(const std::string& bundle, const std::string& bundleName,
                      const std::string& envJson, const std::vector<std::string>& partyNames);
  std::size_t shardCount() const { return shards_.size(); }

 private:
  struct ShardState;
  Result<void> startShard(ShardState& state, std::unique_ptr<storage::Storage> store,
                          unsigned short& port);
  void stopShard(ShardState& state);
  void watchdog();
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
};

}  // namespace partyd::server
