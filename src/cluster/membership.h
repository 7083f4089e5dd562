// Membership is this node's place in the cluster: a lease of TTL T, the node record
// /partyd/<c>/nodes/<node_id> on it, a keepalive every T/3, the self-fence, and the live node set
// (a list-and-watch of the nodes prefix). The self-fence: t_sent is the monotonic time at which
// the last *acknowledged* keepalive (or the grant) was sent; etcd cannot expire the lease before
// t_sent + T, so at t_sent + T − margin with no newer ack this node calls onFenced() once (it
// must stop serving its rooms), then keeps trying to join again with a new lease and a new record
// (a new membership epoch) and calls onRejoined() when it has.
// Runs on the io_context of its Etcd; not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "cluster/etcd.h"
#include "cluster/metrics.h"

namespace partyd::cluster {

struct NodeInfo {
  std::string id;
  std::string addr;          // advertised host:port (the client port)
  std::string region;        // may be empty
  std::int64_t started = 0;  // wall ms when this record's epoch began
  double weight = 1.0;       // for weighted HRW; "weight" in the record, 1 when absent
};

// The record's JSON ({"id","addr","region","started"[,"weight"]}) and back; nothing when the text
// is not such a record.
std::string nodeRecordJson(const NodeInfo& node);
std::optional<NodeInfo> parseNodeRecord(std::string_view json);

struct MembershipOptions {
  std::string clusterName = "partyd";
  std::string addr;  // advertised host:port
  std::string region;
  double weight = 1.0;
  std::chrono::seconds ttl{10};  // T
  // Fence this long before t_sent + T. Zero means T/5.
  std::chrono::milliseconds margin{0};
};

class Membership {
 public:
  // Picks a fresh random node id. Nothing happens until start().
  Membership(Etcd& etcd, MembershipOptions options, Counters* counters = nullptr);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Grants the lease, puts the record, starts keepalives and the nodes watch. `ready` gets the
  // first join's outcome; on an error nothing keeps running (call start() again).
  void start(std::function<void(Result<void>)> ready);
  // Stops keepalives and the watch and revokes the lease (its keys go at once); `done` when etcd
  // answered (or failed to).
  void stop(std::function<void()> done = nullptr);

  const std::string& nodeId() const { return nodeId_; }
  const std::string& clusterName() const { return options_.clusterName; }
  const NodeInfo& self() const { return self_; }
  std::int64_t leaseId() const { return leaseId_; }
  // The membership epoch: 1 after start, +1 at each rejoin.
  std::uint64_t epoch() const { return epoch_; }
  // True from a successful join until the self-fence (or stop).
  bool healthy() const { return healthy_; }
  // The live nodes (this one included once its record is seen), sorted by id.
  const std::vector<NodeInfo>& live() const { return live_; }
  // t_sent of the last acknowledged keepalive (or grant), monotonic ms; and the fence deadline.
  std::int64_t lastAckSentMs() const { return lastAckSentMs_; }
  std::int64_t fenceAtMs() const;
  std::chrono::milliseconds ttl() const { return options_.ttl; }

  // Callbacks, set before start().
  std::function<void()> onFenced;
  std::function<void()> onRejoined;
  std::function<void()> onNodesChanged;

  // Tests: while paused, no keepalive is sent and no rejoin is tried (the lease runs out).
  void setPausedForTesting(bool paused);

  static std::string nodesPrefix(std::string_view cluster);

 private:
  void join(std::function<void(Result<void>)> done);
  void scheduleKeepAlive(std::chrono::milliseconds after);
  void keepAlive();
  void armFence();
  void fence(const char* why);
  void scheduleRejoin(std::chrono::milliseconds after);
  void onSnapshot(const RangeResult& r);
  void onEvents(const std::vector<WatchEvent>& events);
  void publishLive();

  Etcd& etcd_;
  MembershipOptions options_;
  Counters* counters_;
  std::string nodeId_;
  NodeInfo self_;
  std::int64_t leaseId_ = 0;
  std::uint64_t epoch_ = 0;
  bool healthy_ = false;
  bool running_ = false;
  bool paused_ = false;
  bool joining_ = false;
  bool keepAliveInFlight_ = false;
  std::int64_t lastAckSentMs_ = 0;
  boost::asio::steady_timer keepAliveTimer_;
  boost::asio::steady_timer fenceTimer_;
  boost::asio::steady_timer rejoinTimer_;
  std::unique_ptr<Watch> watch_;
  std::map<std::string, NodeInfo> nodes_;  // key → record
  std::vector<NodeInfo> live_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace partyd::cluster
