// Server is the composition root: it opens the shards' storage, starts one shard thread per
// core with its ShardRuntime and listener, routes each HTTP request to the shard that owns its
// room (moving the socket there), and runs the watchdog that stops runaway handlers. It can run
// without main(), so tests may start one in-process.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/shard_runtime.h"
#include "base/result.h"
#include "http/session.h"
#include "http/static_files.h"
#include "net/listener.h"
#include "net/shard.h"

namespace partyd::server {

struct ServerOptions {
  std::string address = "0.0.0.0";
  unsigned short port = 1999;
  std::size_t threads = 0;                     // 0: one per hardware thread
  std::optional<std::filesystem::path> state;  // none: a temporary in-memory store
  bool syncFull = false;  // fsync every commit (power-loss safe); otherwise process-crash safe
  api::RuntimeConfig runtime;
  http::Limits httpLimits;
  std::optional<http::StaticOptions> assets;  // `serve` in partykit.json
  std::vector<std::pair<std::string, std::string>> crons;  // name → expression
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
  // Swaps a new build into every shard (see ShardRuntime::reload); waits until all have it.
  Result<void> reload(const std::string& bundle, const std::string& bundleName,
                      const std::string& envJson, const std::vector<std::string>& partyNames);
  std::size_t shardCount() const { return shards_.size(); }

 private:
  struct ShardState;
  void onRequest(ShardState& state, std::shared_ptr<http::Session> session, http::Request&& req);
  void onOtherRequest(ShardState& state, std::shared_ptr<http::Session> session,
                      http::Request&& req);
  void routeToRoom(ShardState& state, std::shared_ptr<http::Session> session, http::Request&& req,
                   const http::PartyRoute& route);
  void handOff(std::size_t owner, std::shared_ptr<http::Session> session, http::Request&& req,
               const http::PartyRoute& route);
  http::Response notFound() const;
  void watchdog();
  void armCrons();

  ServerOptions options_;
  std::unique_ptr<http::StaticFiles> assets_;
  std::vector<std::unique_ptr<net::Shard>> shards_;
  std::vector<std::unique_ptr<ShardState>> states_;
  std::thread watchdog_;
  std::unique_ptr<boost::asio::steady_timer> cronTimer_;  // on shard 0
  std::atomic<bool> running_{false};
  unsigned short port_ = 0;
};

}  // namespace partyd::server
