// epoll_echo: the floor for W1. One thread, one epoll, level-triggered. A client upgrades to
// WebSocket, gets "hi", and every frame it sends comes straight back (one write() per frame, at
// once: this server is about latency, not batching). With --raw it is a plain TCP echo server,
// the floor under the floor (`loadgen echo --raw`).
//   usage: epoll_echo [--port 1999] [--raw]                prints "Ready on http://0.0.0.0:N"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mini_ws.h"

namespace partyd::floor {
namespace {

struct Conn {
  int fd = -1;
  bool upgraded = false;
  std::string in;
  std::string out;
};

// writeAll writes `bytes` on a non-blocking socket, spinning while its buffer is full (which a
// closed-loop echo client never fills).
bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// serve handles what arrived on `c`; false means close it.
bool serve(Conn& c, bool raw, const char* data, size_t size) {
  if (raw) return writeAll(c.fd, std::string_view(data, size));
  c.in.append(data, size);
  if (!c.upgraded) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return c.in.size() < 65536;
    std::string_view head(c.in.data(), end + 2);
    std::string reply = upgradeResponse(headerValue(head, "Sec-WebSocket-Key"));
    appendFrame(reply, 0x1, "hi");
    c.in.erase(0, end + 4);
    c.upgraded = true;
    if (!writeAll(c.fd, reply)) return false;
  }
  size_t used = 0;
  for (;;) {
    ClientFrame frame;
    Parse status = parseClientFrame(c.in.data() + used, c.in.size() - used, frame);
    if (status == Parse::kNeedMore) break;
    if (status == Parse::kError || frame.opcode == 0x8) return false;
    used += frame.frame_bytes;
    c.out.clear();
    appendFrame(c.out, frame.opcode == 0x9 ? 0xA : frame.opcode, frame.payload);
    if (!writeAll(c.fd, c.out)) return false;
  }
  c.in.erase(0, used);
  return true;
}

int run(int port, bool raw) {
  int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int on = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd, 1024) != 0) {
    std::fprintf(stderr, "epoll_echo: port %d: %s\n", port, std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int epoll_fd = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
  std::printf("Ready on http://0.0.0.0:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  epoll_event events[256];
  char buf[65536];
  for (;;) {
    int n = epoll_wait(epoll_fd, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          epoll_event conn_ev{};
          conn_ev.events = EPOLLIN;
          auto* conn = new Conn;
          conn->fd = fd;
          conn_ev.data.ptr = conn;
          epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &conn_ev);
        }
        continue;
      }
      ssize_t got = read(c->fd, buf, sizeof buf);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0 || !serve(*c, raw, buf, static_cast<size_t>(got))) {
        close(c->fd);  // also removes it from the epoll set
        delete c;
      }
    }
  }
}

}  // namespace
}  // namespace partyd::floor

int main(int argc, char** argv) {
  int port = 1999;
  bool raw = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (arg == "--raw") {
      raw = true;
    } else {
      std::fprintf(stderr, "usage: epoll_echo [--port N] [--raw]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  return partyd::floor::run(port, raw);
}
