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

// An accepted connection: its descriptor (non-blocking, close-on-exec, TCP_NODELAY; the callee
// owns it), the client's address as accept(2) gave it, and the listener's protocol.
struct Accepted {
  int fd = -1;
  boost::asio::ip::tcp::endpoint peer;
  boost::asio::ip::tcp protocol = boost::asio::ip::tcp::v4();

  // As an Asio socket on `io` (closed if Asio refused the descriptor, which is then closed too).
  Socket socket(boost::asio::io_context& io) &&;
};

// Listener waits on its socket through Asio's reactor and accepts with accept4(2) itself: each
// connection arrives as a bare descriptor, so that whoever serves it decides where it is
// registered (an HTTP session puts it in the shard's net::Poller at once) instead of Asio
// registering it, setting it non-blocking, and giving it up again on the way.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using OnAccept = std::function<void(Accepted)>;

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
  void acceptOne();
  void retryLater();
  void noDelayOnListener();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  OnAccept onAccept_;
  // TCP_NODELAY is set on the listening socket, and Linux copies it to each accepted one; the
  // first accept checks that it did, else every socket gets its own setsockopt as before.
  enum class NoDelay { kUnchecked, kInherited, kPerSocket } noDelay_ = NoDelay::kUnchecked;
  boost::asio::ip::tcp protocol_ = boost::asio::ip::tcp::v4();
  std::unique_ptr<Timer> retry_;  // after an accept that failed for want of descriptors or memory
  bool failing_ = false;          // said so in the log; quiet until an accept succeeds again
};

// Spreads inherited listening descriptors over `slots` acceptors (threads): slot i takes every
// descriptor j with j % slots == i, so none is left without an acceptor (a listener nobody accepts
// on would hold its share of SO_REUSEPORT's arrivals forever). A slot that gets none opens a new
// socket on the same port.
std::vector<std::vector<int>> spreadFds(const std::vector<int>& fds, std::size_t slots);

}  // namespace partyd::net
