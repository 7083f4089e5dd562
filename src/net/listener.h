// Listener accepts TCP connections for one shard. Every shard listens on the same port with
// SO_REUSEPORT, so the kernel spreads new connections across shards without a shared acceptor.
// A binary upgrade (server/takeover.h) hands the listening descriptors to the new process, which
// adopts them: connections that arrive meanwhile wait in the kernel's backlog, none is refused.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/socket.h"

namespace partyd::net {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using OnAccept = std::function<void(Socket)>;

  static Result<std::shared_ptr<Listener>> open(boost::asio::io_context& io,
                                                const std::string& address, unsigned short port,
                                                OnAccept onAccept);
  // Takes over a listening TCP socket that another process opened (and passed with SCM_RIGHTS);
  // the Listener owns `fd` from then on, also on an error.
  static Result<std::shared_ptr<Listener>> adopt(boost::asio::io_context& io, int fd,
                                                 OnAccept onAccept);
  void start();
  void close();
  unsigned short port() const;
  // The listening descriptor (still owned here), to pass to a new process; -1 once closed.
  int nativeHandle() { return acceptor_.is_open() ? acceptor_.native_handle() : -1; }

  // The backlog of every listener: during a takeover the new process may take a moment to
  // accept, and arrivals wait here rather than being refused.
  static constexpr int kBacklog = 4096;

 private:
  Listener(boost::asio::io_context& io, OnAccept onAccept)
      : io_(io), acceptor_(io), onAccept_(std::move(onAccept)) {}
  void acceptNext();
  void noDelayOnListener();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  OnAccept onAccept_;
  // TCP_NODELAY is set on the listening socket, and Linux copies it to each accepted one; the
  // first accept checks that it did, else every socket gets its own setsockopt as before.
  enum class NoDelay { kUnchecked, kInherited, kPerSocket } noDelay_ = NoDelay::kUnchecked;
};

// Spreads inherited listening descriptors over `slots` acceptors (threads): slot i takes every
// descriptor j with j % slots == i, so none is left without an acceptor (a listener nobody accepts
// on would hold its share of SO_REUSEPORT's arrivals forever). A slot that gets none opens a new
// socket on the same port.
std::vector<std::vector<int>> spreadFds(const std::vector<int>& fds, std::size_t slots);

}  // namespace partyd::net
