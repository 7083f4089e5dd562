// Workers forks the worker processes of `loadgen soak --procs N` and is both sides of the pipes
// between them and the parent. A worker connects its share of the clients, says "ready", and
// waits at a barrier: once every worker is ready the parent hands all of them one start time (the
// steady clock is the same in every process), so that they measure the same seconds. A worker
// then runs and writes its outcome (text) to the parent, which gets every worker's text once all
// have exited. Workers die with the parent (PR_SET_PDEATHSIG), and the parent kills them all when
// one fails. What the text says is the workload's business (workload_soak.cc).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace partyd::bench {

// WorkerLink is a worker's end of its two pipes.
class WorkerLink {
 public:
  WorkerLink(int index, int result_fd, int go_fd)
      : index_(index), result_fd_(result_fd), go_fd_(go_fd) {}

  int index() const { return index_; }
  // awaitStart says "ready" and blocks until every worker is; it returns the common start time,
  // or nothing when the parent is gone or sent no time (another worker failed).
  std::optional<std::chrono::steady_clock::time_point> awaitStart();
  // send writes text to the parent; false when the pipe is broken.
  bool send(const std::string& text);

 private:
  int index_;
  int result_fd_;
  int go_fd_;
};

struct WorkerExit {
  int status = 0;    // as waitpid() gives it
  std::string text;  // everything the worker wrote after "ready"
  bool ok() const;
};

// runWorkers forks `n` workers, each running body(link) and exiting with its return value. It
// releases them together once all are ready (the start is `lead` after the last one), and
// returns each worker's exit, in order. If a worker fails before it is ready, the others are
// killed at once; `error` then names the failure and the result is empty. Call it before any
// thread exists.
std::vector<WorkerExit> runWorkers(int n, const std::function<int(WorkerLink&)>& body,
                                   std::chrono::milliseconds lead, std::string& error);

// writeAll writes all of `text` to `fd`, across short writes and EINTR.
bool writeAll(int fd, const std::string& text);

}  // namespace partyd::bench
