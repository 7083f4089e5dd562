// Replication of the deploy API across the nodes of a cluster (issue 12): every state-changing
// admin operation that succeeds on one node is appended to an operation log in PostgreSQL
// (table partyd_admin_ops), and every node applies the log's ops that other nodes wrote, in log
// order, through the same Deployments methods. docs/cluster.md ("Deploys in a cluster") has the
// design: the ordering rule (one cluster-wide advisory lock per admin op), compaction, what
// happens when PostgreSQL is down (the op is refused with 503 and nothing changes).
//
// Threads: run() is called on the admin thread and blocks it on PostgreSQL (its own connection);
// the replicator's thread holds a second connection that LISTENs for new ops. Neither ever runs
// on a shard thread. Ops are applied one at a time under one mutex, whichever thread applies.
//
// The node's state beside the data folder's projects:
//   DATA/cluster-node-id      this node's name in the log's `node` column (made once, kept)
//   DATA/cluster-applied-seq  the last op of the log this node has applied (written atomically)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "server/host_routing.h"
#include "server/multipart.h"

namespace partyd::server {

class Deployments;
struct ApiAnswer;

struct ReplicationOptions {
  std::string url;             // postgres://… (libpq connection URI or key=value string)
  std::filesystem::path data;  // the data folder (cluster-node-id, cluster-applied-seq)
  std::string node;            // empty: DATA/cluster-node-id (a random id made once)
  std::chrono::milliseconds poll{3000};         // the safety net: look for ops this often
  std::chrono::milliseconds timeout{30000};     // one statement (and the lock wait) at most
  std::chrono::milliseconds maxBackoff{10000};  // between reconnects while PostgreSQL is down
};

// One op of the log. `type` is a name of kOpTypes (replication.cc); `id` is the project the op
// changes (team/name without preview for "env"); `key` the asset name of "asset".
struct AdminOp {
  std::int64_t seq = 0;
  std::string type;
  ProjectId id;
  std::string key;
  std::string node;
  std::string payload;
};

class Replicator {
 public:
  Replicator(Deployments& deployments, ReplicationOptions options);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Starts the replicator's thread (it connects, applies what it missed, then listens).
  void start();
  void stop();

  // On the admin thread: runs `local` (a state-changing admin op) so that the cluster sees it.
  // Takes the log's lock (503 and nothing runs when PostgreSQL cannot be reached), applies the
  // ops of other nodes this node has not applied yet, runs `local`, and when it answers 2xx
  // appends the op (its payload from `payload`, called after `local`) and commits.
  ApiAnswer run(std::string_view type, const ProjectId& id, std::string key,
                const std::function<ApiAnswer()>& local,
                const std::function<std::string()>& payload);

  const std::string& node() const { return node_; }
  std::int64_t appliedSeq() const { return applied_.load(); }

 private:
  class Conn;
  void loop();
  // Applies every op after applied_ (other nodes' ops; this node's are skipped). On `conn`.
  Result<void> catchUp(Conn& conn, bool haveApplyLock);
  void applyLocked(const AdminOp& op);         // under applyMutex_
  void setApplied(std::int64_t seq);           // under applyMutex_
  bool sleepFor(std::chrono::milliseconds d);  // false: stopping

  Deployments& deployments_;
  ReplicationOptions options_;
  std::string node_;
  std::atomic<std::int64_t> applied_{0};
  std::mutex applyMutex_;            // one op applied (or one admin op run) at a time
  std::unique_ptr<Conn> adminConn_;  // the admin thread's, under applyMutex_
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int wake_[2] = {-1, -1};  // a pipe: stop() writes to wake the thread
};

// The `run` every replicated admin route goes through: `local()` alone when the node is not in
// a cluster (no replicator).
ApiAnswer replicated(Replicator* replicator, std::string_view type, const ProjectId& id,
                     std::string key, const std::function<ApiAnswer()>& local,
                     const std::function<std::string()>& payload);

// A deploy's form parts as one byte string (the payload of a "deploy" op), and back.
std::string encodeForm(const std::vector<FormPart>& parts);
Result<std::vector<FormPart>> decodeForm(std::string_view bytes);

}  // namespace partyd::server
