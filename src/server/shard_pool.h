// ShardPool owns the shard threads (one Asio loop each), their listeners on the public port and
// the watchdog that stops runaway handlers. It hosts no project itself: every request a shard
// reads goes to the router, which picks the project (a ProjectHost, with its own Runtime,
// RoomHost and Edge on each shard) that answers it. `partyd dev` runs one project on a pool;
// `partyd serve` adds, replaces and removes projects while the pool runs.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "http/session.h"
#include "js/engine.h"
#include "net/listener.h"
#include "net/shard.h"
#include "net/tls_server.h"

namespace partyd::server {

struct PoolOptions {
  std::string address = "0.0.0.0";
  unsigned short port = 1999;
  std::size_t threads = 0;  // 0: one per usable core
  http::Limits httpLimits;
};

class ShardPool {
 public:
  // On shard `shard`'s thread, for every request of every connection (looked up per request).
  using Router =
      std::function<void(std::size_t shard, std::shared_ptr<http::Session>, http::Request&&)>;

  explicit ShardPool(PoolOptions options);
  ~ShardPool();
  ShardPool(const ShardPool&) = delete;
  ShardPool& operator=(const ShardPool&) = delete;

  // Starts the shard threads; the listeners open with listen().
  Result<void> start(Router router);
  // Opens a listener on every shard (SO_REUSEPORT; shard 0 first, so port 0 picks one port).
  // After inherit() (a takeover), the shards accept on the old process's descriptors instead.
  Result<void> listen();
  // Before listen(): the listening descriptors a takeover received (the pool owns them now).
  void inherit(std::vector<int> fds) { inherited_ = std::move(fds); }
  // The listening descriptors of the public port (owned here), to hand to a new process.
  std::vector<int> listenFds() const;
  void stop();
  // Stops accepting (the first step of stop(), before the projects go).
  void closeListeners();
  // --tls-cert/--tls-key, before listen(): the port speaks only TLS, terminated on threads of its
  // own (as many as shards) in front of the shards (net/tls_server.h).
  void setTls(std::shared_ptr<net::TlsCertificate> tls) { tls_ = std::move(tls); }

  // Runs fn(shard) on every shard's thread, one after the other, and returns the first error.
  Result<void> onEach(const std::function<Result<void>(std::size_t)>& fn);
  std::size_t size() const { return shards_.size(); }
  net::Shard& shard(std::size_t i) { return *shards_[i]; }
  std::vector<net::Shard*> shards() const;
  unsigned short port() const { return port_; }
  // Hands a request to the router (on shard `shard`'s thread).
  void route(std::size_t shard, std::shared_ptr<http::Session> s, http::Request&& r) {
    router_(shard, std::move(s), std::move(r));
  }
  const PoolOptions& options() const { return options_; }

  // The watchdog checks the deadlines of these engines (any thread).
  void watch(js::Engine* engine);
  void unwatch(js::Engine* engine);

 private:
  void watchdog();
  // On shard i's thread: serves an accepted (or piped) connection.
  void serve(std::size_t i, net::Socket socket);
  // An accepted descriptor: straight into the shard's poller (http::Session's own reads).
  void serve(std::size_t i, net::Accepted accepted);
  http::Session::Handler handlerFor(std::size_t i);

  PoolOptions options_;
  Router router_;
  std::vector<std::unique_ptr<net::Shard>> shards_;
  std::vector<std::pair<std::size_t, std::shared_ptr<net::Listener>>> listeners_;  // shard, its
  std::vector<int> inherited_;
  std::vector<int> listenFds_;
  std::shared_ptr<net::TlsCertificate> tls_;
  std::unique_ptr<net::TlsFront> tlsFront_;
  std::mutex enginesMutex_;
  std::set<js::Engine*> engines_;
  std::thread watchdog_;
  std::atomic<bool> running_{false};
  unsigned short port_ = 0;
};

}  // namespace partyd::server
