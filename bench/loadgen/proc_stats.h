// ProcessTree samples the CPU time and resident memory of a server: the given pids and all their
// descendants (`partykit dev` is node plus a workerd child), read from /proc. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace partyd::bench {

class ProcessTree {
 public:
  // parse takes "123" or "123,456"; an empty string gives an empty tree (no server stats).
  static ProcessTree parse(std::string_view pids);
  explicit ProcessTree(std::vector<pid_t> roots) : roots_(std::move(roots)) {}

  bool empty() const { return roots_.empty(); }
  // cpuNs sums the CPU time on record of every live thread in the tree, from
  // /proc/<pid>/task/<tid>/schedstat (nanoseconds; time of threads that exited is lost).
  uint64_t cpuNs() const;
  // rssKiB sums VmRSS over the tree (so shared pages of several processes count more than once).
  uint64_t rssKiB() const;
  // openFds counts the entries of /proc/<pid>/fd over the tree (sockets, files, pipes, epoll).
  uint64_t openFds() const;
  // pids returns the roots and their live descendants.
  std::vector<pid_t> pids() const;

 private:
  std::vector<pid_t> roots_;
};

// selfCpuNs returns the CPU time (user + system) used so far by this process.
uint64_t selfCpuNs();
// selfRssKiB returns the VmRSS of this process.
uint64_t selfRssKiB();

}  // namespace partyd::bench
