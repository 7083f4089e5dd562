// W1 echo: one connection, closed loop: send a frame that starts with "echo", wait for it to come
// back, repeat. Blocking POSIX calls on purpose: no event loop between the clock and the syscalls,
// so the client adds as little as it can to the round trip. --raw skips WebSocket and measures the
// plain TCP round trip against `epoll_echo --raw` (the floor).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "histogram.h"
#include "report.h"
#include "workloads.h"
#include "ws_codec.h"

namespace partyd::bench {

namespace {

class Socket {
 public:
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string connectTo(const Target& target) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(target.port));
    inet_pton(AF_INET, target.host.c_str(), &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return std::string("connect: ") + std::strerror(errno);
    }
    int on = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return {};
  }
  bool writeAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // readSome appends what one read() returns to `buf`; false on EOF or error.
  bool readSome(std::string& buf) {
    char chunk[65536];
    for (;;) {
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n > 0) {
        buf.append(chunk, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }

 private:
  int fd_ = -1;
};

// readFrame reads until `buf` starts with a whole server frame, which it returns in `frame`.
std::string readFrame(Socket& socket, std::string& buf, Frame& frame) {
  std::string error;
  for (;;) {
    ParseStatus status = parseServerFrame(buf, frame, error);
    if (status == ParseStatus::kFrame) return {};
    if (status == ParseStatus::kError) return error;
    if (!socket.readSome(buf)) return "server closed the connection";
  }
}

}  // namespace

int runEcho(Flags& flags) {
  Target target = Target::fromFlags(flags);
  const int64_t iterations = flags.integer("iterations", 20000);
  const int64_t warmup = flags.integer("warmup", 1000);
  const size_t size = static_cast<size_t>(flags.integer("size", 64));
  const bool raw = flags.has("raw");
  // The TCP floor shares the phase name, so that compare tabulates it next to the servers.
  const std::string phase = std::to_string(size) + "B";
  if (std::string unused = flags.unusedFlag(); !unused.empty()) {
    return fail("echo", phase, "unknown flag --" + unused);
  }

  Socket socket;
  if (std::string error = socket.connectTo(target); !error.empty()) {
    return fail("echo", phase, error);
  }
  std::string payload = "echo";
  payload.resize(std::max<size_t>(size, 4), 'x');
  std::string wire = payload;
  std::string buf;
  if (!raw) {
    std::string key = makeKey(42);
    if (!socket.writeAll(upgradeRequest(target.hostHeader(), target.roomPath("echo"), key))) {
      return fail("echo", phase, "write upgrade failed");
    }
    for (;;) {
      Handshake handshake = checkUpgradeResponse(buf, key);
      if (handshake.status == HandshakeStatus::kFailed) return fail("echo", phase, handshake.error);
      if (handshake.status == HandshakeStatus::kOk) {
        buf.erase(0, handshake.header_bytes);
        break;
      }
      if (!socket.readSome(buf)) return fail("echo", phase, "closed during the upgrade");
    }
    Frame hi;
    if (std::string error = readFrame(socket, buf, hi); !error.empty()) {
      return fail("echo", phase, error);
    }
    if (hi.payload != "hi") return fail("echo", phase, "first frame was not 'hi'");
    buf.erase(0, hi.frame_bytes);
    wire.clear();
    appendClientFrame(wire, Opcode::kText, payload, 0x5A5AA5A5u);
  }

  Histogram histogram;
  for (int64_t i = -warmup; i < iterations; ++i) {
    Clock::time_point start = Clock::now();
    if (!socket.writeAll(wire)) return fail("echo", phase, "write failed");
    if (raw) {
      while (buf.size() < payload.size()) {
        if (!socket.readSome(buf)) return fail("echo", phase, "server closed the connection");
      }
      buf.erase(0, payload.size());
    } else {
      Frame frame;
      if (std::string error = readFrame(socket, buf, frame); !error.empty()) {
        return fail("echo", phase, error);
      }
      if (frame.payload != payload) return fail("echo", phase, "echo came back changed");
      buf.erase(0, frame.frame_bytes);
    }
    Clock::time_point end = Clock::now();
    if (i >= 0) histogram.record(nanosSince(start, end));
  }
  JsonLine line = resultLine("echo", phase, target);
  line.add("transport", raw ? "tcp" : "websocket");
  line.add("iterations", iterations).add("size", static_cast<int64_t>(size));
  line.addLatency(histogram);
  line.print();
  return 0;
}

}  // namespace partyd::bench
