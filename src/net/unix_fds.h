// The Unix-socket plumbing of a binary upgrade (server/takeover.h): a listening control socket
// at a path, a connection to it, text lines with a deadline, and descriptors passed with
// SCM_RIGHTS. Blocking calls on plain descriptors, each bounded by a timeout; no event loop.
// It owns the descriptors it returns (UniqueFd) and never touches one it was only lent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace partyd::net {

// A descriptor closed when it goes out of scope.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset();

 private:
  int fd_ = -1;
};

// Listens on a stream socket at `path` (mode 0600). A stale file there (no one answers) is
// removed first; a path where a process still answers is an error that says so.
Result<UniqueFd> listenUnix(const std::string& path);
// Connects to the stream socket at `path`.
Result<UniqueFd> connectUnix(const std::string& path);
// Waits at most timeoutMs for a connection on a listening socket; an empty UniqueFd on timeout.
Result<UniqueFd> acceptUnix(int listener, std::int64_t timeoutMs);

// Sends `text` and, with it, `fds` (SCM_RIGHTS; the receiver gets its own copies).
Result<void> sendWithFds(int sock, std::string_view text, const std::vector<int>& fds);
// Sends one line (a '\n' is added).
Result<void> sendLine(int sock, std::string_view line);

// Reads up to and without the next '\n' (at most 4 KiB), and the descriptors that came with its
// bytes, waiting at most timeoutMs in all. An error on timeout, on EOF, or past 4 KiB.
struct Received {
  std::string line;
  std::vector<UniqueFd> fds;
};
Result<Received> receiveLine(int sock, std::int64_t timeoutMs);

}  // namespace partyd::net
