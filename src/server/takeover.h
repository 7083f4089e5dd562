// The binary upgrade of `partyd serve` (docs/deploying.md, "Upgrading partyd"): every serve
// listens on a Unix control socket (--upgrade-socket, default DATA/partyd.sock), and a new one
// started with --takeover connects to it. The exchange, one line each way:
//
//   new → old  TAKEOVER <pid>
//   old → new  LISTENERS <old pid> <public> <admin>   with the listening descriptors (SCM_RIGHTS):
//                                                    <public> of the public port, then <admin>
//   new → old  DRAIN       the new process has loaded every project (its storage deferred)
//   old → new  DONE        the old one drained (1012) and closed its storage; it exits
//
// The descriptors stay open in both processes, so the port never closes: what arrives while
// neither accepts waits in the kernel's backlog. Only after DONE does the new process open
// storage (storage/deferred_storage.h). The old one goes on serving if the new one leaves before
// DRAIN. Takeovers are taken one at a time: a second one waits in the socket's backlog (and gives
// up after 10 s), and once one has asked for the drain the socket closes. This file owns the
// control socket and both sides of the exchange; the drain itself and the order of the steps
// are serve.cc's.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "net/unix_fds.h"

namespace partyd::server {

struct TakeoverFds {
  std::vector<int> publicFds;
  std::vector<int> adminFds;
};

// The old process's side: a thread that accepts on the control socket.
class TakeoverServer {
 public:
  // Listens on `path`. `fds` are handed to a new process (they stay owned by their listeners);
  // `onDrain` runs on the server's thread once the new process asks for the drain.
  static Result<std::unique_ptr<TakeoverServer>> listen(const std::string& path, TakeoverFds fds,
                                                        std::function<void()> onDrain);
  ~TakeoverServer();
  TakeoverServer(const TakeoverServer&) = delete;
  TakeoverServer& operator=(const TakeoverServer&) = delete;

  // Whether a new process asked for the drain (any thread).
  bool draining() const { return draining_; }
  // After the drain closed storage: tells the new process it may open it.
  void sendDone();
  const std::string& path() const { return path_; }

 private:
  TakeoverServer() = default;
  void run();
  // One connection: false if it came to nothing (the old process keeps serving).
  bool handle(net::UniqueFd conn);

  std::string path_;
  TakeoverFds fds_;
  std::function<void()> onDrain_;
  net::UniqueFd listener_;
  net::UniqueFd conn_;  // the new process's, once it asked for the drain
  dev_t device_ = 0;    // the socket file's, to unlink it only while it is still ours
  ino_t inode_ = 0;
  int stopPipe_[2] = {-1, -1};
  std::atomic<bool> draining_{false};
  std::thread thread_;
};

// The new process's side.
class TakeoverClient {
 public:
  // Connects and receives the listening descriptors (owned by the caller from then on: pass them
  // to ShardPool/AdminServer::inherit), at most timeoutMs.
  static Result<TakeoverClient> connect(const std::string& path, std::int64_t timeoutMs);

  TakeoverFds fds;
  pid_t oldPid = 0;
  // Tells the old process to drain (after the projects are loaded).
  Result<void> requestDrain();
  // Waits for DONE, at most timeoutMs.
  Result<void> waitDone(std::int64_t timeoutMs);

 private:
  net::UniqueFd conn_;
};

// SIGUSR2: starts the binary at the path of /proc/self/exe again (a binary replaced at that path
// is the new one that runs) with this process's argv plus --takeover, as a child. Returns its pid.
Result<pid_t> spawnTakeover();

}  // namespace partyd::server
