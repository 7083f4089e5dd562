// ClusterNode is one partyd serve node of a cluster (docs/cluster.md): it joins through etcd
// (cluster::Membership), decides where each room lives (cluster::Ownership, rendezvous hashing
// over the live nodes), and runs a room here only after it has claimed it in etcd and raised the
// room's fencing epoch in PostgreSQL (storage::PostgresStorage::acquire). A request for a room
// that another node owns is forwarded to it (http::forward).
//
// Threads. etcd is spoken on the node's own thread (its io_context); the table of rooms (claimed,
// being claimed, owned) lives there and nowhere else. Shards ask it by posting, and get their
// answer posted back to their loop, where the session lives. A shard never waits for etcd.
//
// Where it plugs in: configure() gives a project's options the PostgreSQL storage of each shard
// and the Edge's placeRoom/fromPeer hooks and the RoomHost's roomGone hook.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/metrics.h"
#include "base/result.h"
#include "cluster/metrics.h"
#include "http/forward.h"
#include "party/edge.h"
#include "server/project_host.h"
#include "server/serve.h"
#include "server/shard_pool.h"

namespace partyd::net {
class HttpClient;
}

namespace partyd::cluster {
class Etcd;
class Membership;
class Ownership;
struct RoomRef;
}  // namespace partyd::cluster

namespace partyd::server {

class ClusterNode {
 public:
  ClusterNode(ShardPool& pool, ClusterOptions options);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Starts the node's thread, checks PostgreSQL, and joins: a lease and the node's record in
  // etcd. Returns once joined, or an error (etcd or PostgreSQL unreachable) after a few seconds.
  Result<void> start();
  // Leaves: its rooms are dropped on every shard, its lease revoked (so their rooms move at once
  // instead of after the lease's TTL), and its thread stopped.
  void stop();

  // Cluster mode for one project (called before its ProjectHost starts).
  void configure(const std::string& project, ProjectOptions& options);
  // A project was deleted (on this node): the home regions of its rooms go from etcd.
  void forget(const std::string& project);

  // partyd_cluster_* and partyd_fenced_writes_rejected_total, in Prometheus text.
  void writeMetrics(metrics::TextWriter& out) const;
  const std::string& nodeId() const { return nodeId_; }

 private:
  struct Project;
  struct Ask;
  struct Decision;
  struct RoomState;
  // A client's request, waiting on its shard for the answer.
  struct Client {
    std::size_t shard;
    std::shared_ptr<http::Session> session;
    http::Request request;
    party::EdgeConfig::Here here;
  };

  // On a shard: the Edge's placeRoom hook.
  void place(const std::shared_ptr<Project>& project, const party::RoomKey& key,
             std::size_t shard, std::shared_ptr<http::Session> session, http::Request&& request,
             party::EdgeConfig::Here here, bool retry);
  void placeFetch(const std::shared_ptr<Project>& project, const party::RoomKey& key,
                  party::InternalRequest request, std::function<void(http::Response)> reply);
  // On the node's thread: where `ask`'s room lives (claiming it when it is this node's).
  void resolve(std::shared_ptr<Ask> ask);
  void placeByHome(std::shared_ptr<Ask> ask, const cluster::RoomRef& name);
  void claimed(const std::string& id, std::int64_t epoch);
  void finish(const std::string& id, const Decision& decision);
  // The answer for a client's request, carried out on its shard.
  void act(Client& client, const std::shared_ptr<Project>& project, const party::RoomKey& key,
           bool retried, Decision decision);
  // On the node's thread.
  void released(const std::string& project, const party::RoomKey& key);
  void fenced(const std::string& why);
  // Alarms of rooms that no node owns (their owner died): the rooms whose placement is this node
  // are claimed, which arms their alarms here. A thread of its own asks PostgreSQL (blocking,
  // with timeouts); the claims happen on the node's thread.
  void alarmSweepLoop();
  void claimForAlarm(const std::string& project, const party::RoomKey& key);
  bool isPeer(const boost::asio::ip::address& address) const;
  void refreshPeers();

  ShardPool& pool_;
  ClusterOptions options_;
  std::string nodeId_;
  std::string advertiseHost_;
  std::uint16_t advertisePort_ = 0;
  boost::asio::io_context io_;
  std::thread thread_;
  std::thread sweeper_;
  std::mutex sweepMutex_;
  std::condition_variable sweepWake_;
  bool sweepStop_ = false;
  std::unique_ptr<cluster::Etcd> etcd_;
  std::unique_ptr<cluster::Membership> membership_;
  std::unique_ptr<cluster::Ownership> ownership_;
  std::unique_ptr<net::HttpClient> fetcher_;  // party stubs' fetch to other nodes
  // On the node's thread only.
  std::unordered_map<std::string, RoomState> rooms_;
  std::unordered_map<std::string, std::shared_ptr<Project>> projects_;
  bool serving_ = false;
  // The live nodes' addresses, for fromPeer (read on shards).
  mutable std::mutex peersMutex_;
  std::unordered_set<std::string> peerAddresses_;
  std::atomic<bool> healthy_{false};
  // Counters (any thread).
  cluster::Counters counters_;
  mutable std::atomic<std::uint64_t> forwardedHttp_{0}, forwardedWs_{0}, forwardFailed_{0};
  mutable std::atomic<std::uint64_t> notOwner_{0};
  // Shared by every PostgresStorage of this node.
  std::shared_ptr<std::atomic<std::uint64_t>> fencedWrites_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

}  // namespace partyd::server
