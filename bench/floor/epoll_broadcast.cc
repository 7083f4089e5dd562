// epoll_broadcast: the floor for W2–W6. One thread, one epoll, the bench party's room logic by
// hand (see bench/party/src/server.js): rooms by URL path, "hi" on connect, "echo…" back to the
// sender, anything else broadcast to the room (sender included), HTTP "ok" with ?state=1 keeping
// 1 KB per room. A broadcast is framed once and its bytes appended to each member's output; each
// socket with output gets one write() at the end of the loop turn (--write-per-delivery instead
// writes at once, one write() per delivery, to show what batching buys).
//   usage: epoll_broadcast [--port 1999] [--write-per-delivery]   prints "Ready on
//   http://0.0.0.0:N"
#include <arpa/inet.h>
#include <fcntl.h>
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
#include <unordered_map>
#include <vector>

#include "mini_ws.h"

namespace partyd::floor {
namespace {

struct Room;

struct Conn {
  int fd = -1;
  enum class Kind { kHttp, kWebSocket } kind = Kind::kHttp;
  std::string in;
  std::string out;
  bool dirty = false;       // on the flush list of this turn
  bool want_write = false;  // EPOLLOUT registered
  bool closed = false;
  bool broken = false;  // a write failed: closed at the end of the turn
  Room* room = nullptr;
  size_t slot = 0;  // index in room->members
};

struct Room {
  std::string key;
  std::vector<Conn*> members;
  std::string state;
};

class Server {
 public:
  explicit Server(bool write_per_delivery) : write_per_delivery_(write_per_delivery) {}

  bool listenOn(int port);
  void run();

 private:
  void acceptAll();
  void onReadable(Conn* c);
  void onWritable(Conn* c);
  bool handleHttp(Conn* c);
  bool handleFrames(Conn* c);
  void onMessage(Conn* c, uint8_t opcode, std::string_view payload);
  // send queues bytes for `c`; they go out at the end of the turn (or now, per delivery).
  void send(Conn* c, std::string_view bytes);
  void flush(Conn* c);
  void closeConn(Conn* c);
  Room* roomFor(std::string_view path);
  void dropRoomIfUnused(Room* room);

  bool write_per_delivery_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  std::unordered_map<std::string, Room> rooms_;
  std::vector<Conn*> dirty_;
  std::vector<Conn*> broken_;
  std::vector<Conn*> graveyard_;
  std::string frame_;  // scratch: the frame being broadcast
};

bool Server::listenOn(int port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int on = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 4096) != 0) {
    std::fprintf(stderr, "epoll_broadcast: port %d: %s\n", port, std::strerror(errno));
    return false;
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  epoll_fd_ = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  std::printf("Ready on http://0.0.0.0:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  return true;
}

void Server::run() {
  std::vector<epoll_event> events(1024);
  for (;;) {
    int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("epoll_wait");
      return;
    }
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {
        acceptAll();
        continue;
      }
      if (c->closed) continue;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        closeConn(c);
        continue;
      }
      if (events[i].events & EPOLLOUT) onWritable(c);
      if (!c->closed && (events[i].events & EPOLLIN)) onReadable(c);
    }
    for (Conn* c : dirty_) {
      c->dirty = false;
      if (!c->closed) flush(c);
    }
    dirty_.clear();
    for (Conn* c : broken_) closeConn(c);
    broken_.clear();
    for (Conn* c : graveyard_) delete c;
    graveyard_.clear();
  }
}

void Server::acceptAll() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK);
    if (fd < 0) return;
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto* c = new Conn;
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void Server::onReadable(Conn* c) {
  char buf[65536];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    closeConn(c);
    return;
  }
  c->in.append(buf, static_cast<size_t>(n));
  bool ok = c->kind == Conn::Kind::kHttp ? handleHttp(c) : handleFrames(c);
  if (!ok) closeConn(c);
}

bool Server::handleHttp(Conn* c) {
  for (;;) {
    size_t end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) return c->in.size() < 65536;
    std::string_view head(c->in.data(), end + 2);
    size_t path_start = head.find(' ');
    size_t path_end = head.find(' ', path_start + 1);
    if (path_start == std::string_view::npos || path_end == std::string_view::npos) return false;
    std::string_view target = head.substr(path_start + 1, path_end - path_start - 1);
    std::string_view path = target.substr(0, target.find('?'));
    Room* room = roomFor(path);
    if (headerValue(head, "Upgrade").size() == 9) {  // "websocket"
      std::string key(headerValue(head, "Sec-WebSocket-Key"));
      c->in.erase(0, end + 4);
      if (room == nullptr) {
        send(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return true;
      }
      send(c, upgradeResponse(key));
      c->kind = Conn::Kind::kWebSocket;
      c->room = room;
      c->slot = room->members.size();
      room->members.push_back(c);
      frame_.clear();
      appendFrame(frame_, 0x1, "hi");
      send(c, frame_);
      return handleFrames(c);
    }
    if (room == nullptr) {
      send(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot found");
    } else {
      if (room->state.empty() && target.find("state=1") != std::string_view::npos) {
        room->state.resize(1024, 'x');
        room->state.replace(0, room->key.size(), room->key);
      }
      dropRoomIfUnused(room);
      send(c,
           "HTTP/1.1 200 OK\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: "
           "2\r\n\r\nok");
    }
    c->in.erase(0, end + 4);
  }
}

bool Server::handleFrames(Conn* c) {
  size_t used = 0;
  for (;;) {
    ClientFrame frame;
    Parse status = parseClientFrame(c->in.data() + used, c->in.size() - used, frame);
    if (status == Parse::kNeedMore) break;
    if (status == Parse::kError) return false;
    used += frame.frame_bytes;
    if (frame.opcode == 0x8) {
      frame_.clear();
      appendFrame(frame_, 0x8, frame.payload.substr(0, 2));
      send(c, frame_);
      flush(c);
      return false;
    }
    if (frame.opcode == 0x9) {
      frame_.clear();
      appendFrame(frame_, 0xA, frame.payload);
      send(c, frame_);
      continue;
    }
    if (frame.opcode == 0x1 || frame.opcode == 0x2) onMessage(c, frame.opcode, frame.payload);
    if (c->closed) return true;
  }
  c->in.erase(0, used);
  return true;
}

void Server::onMessage(Conn* c, uint8_t opcode, std::string_view payload) {
  frame_.clear();
  appendFrame(frame_, opcode, payload);
  if (opcode == 0x1 && payload.substr(0, 4) == "echo") {
    send(c, frame_);
    return;
  }
  for (Conn* member : c->room->members) send(member, frame_);
}

void Server::send(Conn* c, std::string_view bytes) {
  if (c->closed || c->broken) return;
  c->out.append(bytes);
  if (write_per_delivery_) {
    if (!c->want_write) flush(c);
    return;
  }
  if (!c->dirty && !c->want_write) {
    c->dirty = true;
    dirty_.push_back(c);
  }
}

void Server::flush(Conn* c) {
  while (!c->out.empty()) {
    ssize_t n = write(c->fd, c->out.data(), c->out.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      // Closing here could change a room's members while a broadcast walks them.
      c->out.clear();
      if (!c->broken) {
        c->broken = true;
        broken_.push_back(c);
      }
      return;
    }
    c->out.erase(0, static_cast<size_t>(n));
  }
  bool want = !c->out.empty();
  if (want != c->want_write) {
    c->want_write = want;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
  }
}

void Server::onWritable(Conn* c) {
  flush(c);
}

void Server::closeConn(Conn* c) {
  if (c->closed) return;
  c->closed = true;
  if (Room* room = c->room) {
    Conn* last = room->members.back();
    room->members[c->slot] = last;
    last->slot = c->slot;
    room->members.pop_back();
    dropRoomIfUnused(room);
  }
  close(c->fd);
  graveyard_.push_back(c);
}

// roomFor maps /parties/:party/:room[/...] and /party/:room[/...] to a room, creating it.
Room* Server::roomFor(std::string_view path) {
  std::string key;
  if (path.substr(0, 9) == "/parties/") {
    std::string_view rest = path.substr(9);
    size_t party_end = rest.find('/');
    if (party_end == std::string_view::npos || party_end == 0) return nullptr;
    std::string_view room = rest.substr(party_end + 1);
    room = room.substr(0, room.find('/'));
    if (room.empty()) return nullptr;
    key = std::string(rest.substr(0, party_end)) + "/" + std::string(room);
  } else if (path.substr(0, 7) == "/party/") {
    std::string_view room = path.substr(7);
    room = room.substr(0, room.find('/'));
    if (room.empty()) return nullptr;
    key = "main/" + std::string(room);
  } else {
    return nullptr;
  }
  auto [it, inserted] = rooms_.try_emplace(key);
  if (inserted) it->second.key = it->first;
  return &it->second;
}

void Server::dropRoomIfUnused(Room* room) {
  if (room->members.empty() && room->state.empty()) {
    std::string key = room->key;  // erase must not take a reference into the erased node
    rooms_.erase(key);
  }
}

}  // namespace
}  // namespace partyd::floor

int main(int argc, char** argv) {
  int port = 1999;
  bool write_per_delivery = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (arg == "--write-per-delivery") {
      write_per_delivery = true;
    } else {
      std::fprintf(stderr, "usage: epoll_broadcast [--port N] [--write-per-delivery]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  partyd::floor::Server server(write_per_delivery);
  if (!server.listenOn(port)) return 1;
  server.run();
  return 0;
}
