// ProjectHost is one project running on a ShardPool: on every shard its own Runtime (its own V8
// isolate), RoomHost (its rooms, on its own storage files) and Edge (its routing, worker hooks
// and assets), plus its crons. Projects on one pool share threads and nothing else: a room of one
// never sees another's storage, env, parties or logs. It can be started, reloaded with new code
// and stopped while the pool runs.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/runtime.h"
#include "base/result.h"
#include "http/static_files.h"
#include "net/client_address.h"
#include "net/sharded.h"
#include "party/edge.h"
#include "party/room_host.h"
#include "server/shard_pool.h"

namespace partyd::server {

struct ProjectOptions {
  std::string name = "main";                   // for logs
  std::optional<std::filesystem::path> state;  // none: a temporary in-memory store
  bool syncFull = false;
  api::RuntimeConfig runtime;
  party::HostConfig host;
  std::optional<http::StaticOptions> assets;
  std::vector<std::pair<std::string, std::string>> crons;  // name → expression
  net::TrustedProxies trustedProxies;  // --trusted-proxy (see party::EdgeConfig::clientHeaders)
  // Cluster mode (server/cluster_node.h): shard i's storage instead of the SQLite files (called
  // on the starting thread, with that shard's loop), and the hooks of each shard's Edge and
  // RoomHost (called on the shard's thread as it starts).
  std::function<Result<std::unique_ptr<storage::Storage>>(std::size_t shard,
                                                          boost::asio::io_context& io)>
      openStorage;
  std::function<void(std::size_t shard, std::weak_ptr<net::Sharded<party::Edge>> edges,
                     party::EdgeConfig&, party::HostConfig&)>
      configureShard;
};

class ProjectHost {
 public:
  ProjectHost(ShardPool& pool, ProjectOptions options);
  ~ProjectHost();
  ProjectHost(const ProjectHost&) = delete;
  ProjectHost& operator=(const ProjectHost&) = delete;

  // Opens its storage and starts it on every shard; an error (a bundle that throws at load, a
  // bad cron) leaves nothing running.
  Result<void> start();
  void stop();
  // Swaps a new build into every shard, in two phases so that a build that fails on any shard
  // switches none: every shard evaluates it beside the old one (RoomHost::prepareUpdate), then
  // every shard switches (commitUpdate: live rooms move at their next idle point, hibernated
  // sockets stay open). On an error every shard keeps the old build. Waits until all have it.
  Result<void> reload(const std::string& bundle, const std::string& bundleName,
                      const std::string& envJson, const std::vector<std::string>& partyNames);
  Result<void> reload(party::CodeBundle next);
  // The same swap back to the build before the current one (which then becomes the previous).
  Result<void> rollback();
  bool hasPrevious() const;
  // On shard `shard`'s thread: the project's front door there (null once stopped).
  party::Edge* edge(std::size_t shard) const { return edges_->local(shard); }
  const std::string& name() const { return options_.name; }
  // Its Sharded<Edge> table, which sessions handed between shards keep reaching after stop().
  std::shared_ptr<net::Sharded<party::Edge>> edgeTable() const { return edges_; }
  // Shard `shard`'s RoomHost, on that shard's thread (null once stopped).
  party::RoomHost* host(std::size_t shard) const {
    party::Edge* e = edge(shard);
    return e ? &e->host() : nullptr;
  }

 private:
  struct ShardState;
  Result<void> startShard(ShardState& st, std::unique_ptr<storage::Storage> store);
  void stopShard(ShardState& st);
  void armCrons();
  Result<void> swapLocked(party::CodeBundle next);

  ShardPool& pool_;
  ProjectOptions options_;
  std::unique_ptr<http::StaticFiles> assets_;
  std::vector<std::unique_ptr<ShardState>> states_;
  std::shared_ptr<net::Sharded<party::Edge>> edges_;
  std::unique_ptr<boost::asio::steady_timer> cronTimer_;  // on shard 0
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool started_ = false;
  // Code updates: one at a time; the build that serves and the one before it (for rollback).
  mutable std::mutex swapMutex_;
  party::CodeBundle current_;
  std::optional<party::CodeBundle> previous_;
};

}  // namespace partyd::server
