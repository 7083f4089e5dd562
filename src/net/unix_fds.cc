#include "net/unix_fds.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/clock.h"

namespace partyd::net {

namespace {

constexpr std::size_t kMaxLine = 4096;
constexpr std::size_t kMaxFds = 250;  // under the kernel's SCM_MAX_FD (253)

std::string errnoText() {
  return std::strerror(errno);
}

Result<sockaddr_un> unixAddress(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return makeError("the upgrade socket path must be 1 to " +
                     std::to_string(sizeof addr.sun_path - 1) + " bytes long: " + path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Waits until `fd` is readable or the deadline (monotonic ms) passes; false on timeout. Looks at
// least once, so a deadline already past asks "readable now?".
Result<bool> waitReadable(int fd, std::int64_t deadline) {
  for (;;) {
    std::int64_t left = std::max<std::int64_t>(0, deadline - monotonicMs());
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left, 1'000'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return makeError("poll: " + errnoText());
    if (n == 0 && left == 0) return false;
  }
}

}  // namespace

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<UniqueFd> connectUnix(const std::string& path) {
  auto addr = unixAddress(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError("socket: " + errnoText());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    return makeError("cannot connect to " + path + ": " + errnoText());
  }
  return fd;
}

Result<UniqueFd> listenUnix(const std::string& path) {
  auto addr = unixAddress(path);
  if (!addr) return addr.error();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return makeError("the upgrade socket path " + path + " exists and is not a socket");
    }
    if (connectUnix(path)) {
      return makeError("another partyd serve listens on " + path +
                       " (to replace it, start this one with --takeover)");
    }
    ::unlink(path.c_str());  // stale: its process is gone
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError("socket: " + errnoText());
  mode_t old = ::umask(0077);
  int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  int bindErrno = errno;
  ::umask(old);
  if (bound != 0) {
    errno = bindErrno;
    return makeError("cannot listen on " + path + ": " + errnoText());
  }
  if (::listen(fd.get(), 4) != 0) return makeError("listen on " + path + ": " + errnoText());
  return fd;
}

Result<UniqueFd> acceptUnix(int listener, std::int64_t timeoutMs) {
  auto ready = waitReadable(listener, monotonicMs() + timeoutMs);
  if (!ready) return ready.error();
  if (!*ready) return UniqueFd();
  int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return UniqueFd();
    return makeError("accept: " + errnoText());
  }
  return UniqueFd(fd);
}

Result<void> sendWithFds(int sock, std::string_view text, const std::vector<int>& fds) {
  if (fds.size() > kMaxFds) return makeError("too many descriptors to pass at once");
  if (text.empty()) return makeError("a message with descriptors needs at least one byte");
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  // The descriptors go with the first byte; the rest of the text, if the kernel split it, after.
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError("sendmsg: " + errnoText());
    }
    sent += static_cast<std::size_t>(n);
    iov.iov_base = const_cast<char*>(text.data() + sent);
    iov.iov_len = text.size() - sent;
    msg.msg_control = nullptr;
    msg.msg_controllen = 0;
  }
  return {};
}

Result<void> sendLine(int sock, std::string_view line) {
  std::string text(line);
  text += '\n';
  return sendWithFds(sock, text, {});
}

Result<Received> receiveLine(int sock, std::int64_t timeoutMs) {
  std::int64_t deadline = monotonicMs() + timeoutMs;
  Received out;
  // One byte at a time: nothing past the line is consumed, so the next line stays for the next
  // call. The lines here are a handful of short ones.
  for (;;) {
    auto ready = waitReadable(sock, deadline);
    if (!ready) return ready.error();
    if (!*ready) return makeError("no answer within " + std::to_string(timeoutMs) + " ms");
    char c = 0;
    iovec iov{&c, 1};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return makeError("recvmsg: " + errnoText());
    }
    for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
      std::size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        out.fds.emplace_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) return makeError("descriptors were cut off (too many)");
    if (n == 0) return makeError("the other side closed the connection");
    if (c == '\n') return out;
    if (out.line.size() >= kMaxLine) return makeError("a line longer than 4 KiB");
    out.line += c;
  }
}

}  // namespace partyd::net
