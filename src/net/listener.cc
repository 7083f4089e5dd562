#include "net/listener.h"

#include <boost/asio/socket_base.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "base/log.h"

namespace partyd::net {

namespace asio = boost::asio;
using asio::ip::tcp;

Result<std::shared_ptr<Listener>> Listener::open(asio::io_context& io, const std::string& address,
                                                 unsigned short port, OnAccept onAccept) {
  std::shared_ptr<Listener> l(new Listener(io, std::move(onAccept)));
  boost::system::error_code ec;
  tcp::endpoint ep(asio::ip::make_address(address, ec), port);
  if (ec) return makeError("bad listen address '" + address + "': " + ec.message());
  l->acceptor_.open(ep.protocol(), ec);
  if (ec) return makeError("socket: " + ec.message());
  l->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  int one = 1;
  ::setsockopt(l->acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  l->acceptor_.bind(ep, ec);
  if (ec) {
    return makeError("cannot listen on " + address + ":" + std::to_string(port) + ": " +
                     ec.message() + (ec == asio::error::address_in_use
                                          ? " (is another server running? pick one with --port)"
                                          : ""));
  }
  l->acceptor_.listen(kBacklog, ec);
  if (ec) return makeError("listen: " + ec.message());
  l->protocol_ = ep.protocol();
  l->noDelayOnListener();
  return l;
}

Result<std::shared_ptr<Listener>> Listener::adopt(asio::io_context& io, int fd, OnAccept onAccept) {
  std::shared_ptr<Listener> l(new Listener(io, std::move(onAccept)));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int listening = 0;
  socklen_t optLen = sizeof listening;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) ||
      ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optLen) != 0 || !listening) {
    ::close(fd);
    return makeError("descriptor " + std::to_string(fd) + " is not a listening TCP socket");
  }
  boost::system::error_code ec;
  l->protocol_ = addr.ss_family == AF_INET ? tcp::v4() : tcp::v6();
  l->acceptor_.assign(l->protocol_, fd, ec);
  if (ec) {
    ::close(fd);
    return makeError("cannot adopt a listening socket: " + ec.message());
  }
  l->noDelayOnListener();
  return l;
}

unsigned short Listener::port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

std::vector<std::vector<int>> spreadFds(const std::vector<int>& fds, std::size_t slots) {
  std::vector<std::vector<int>> out(std::max<std::size_t>(1, slots));
  for (std::size_t j = 0; j < fds.size(); ++j) out[j % out.size()].push_back(fds[j]);
  return out;
}

void Listener::start() {
  acceptNext();
}

void Listener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  if (retry_) retry_->cancel();
}

void Listener::noDelayOnListener() {
  boost::system::error_code ec;
  acceptor_.set_option(tcp::no_delay(true), ec);
  if (ec) noDelay_ = NoDelay::kPerSocket;
}

// One connection per readiness: the wait that follows re-arms the socket's registration (an
// epoll_ctl), which reports at once if more are waiting. That costs what Asio's own accept did (a
// second accept that finds the queue empty), and a burst is taken one per loop pass, in turn with
// the sessions it started.
void Listener::acceptNext() {
  acceptor_.async_wait(tcp::acceptor::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) {
                           return;
                         }
                         if (ec) {
                           log::warn("waiting on the listening socket failed: " + ec.message());
                           return self->retryLater();
                         }
                         self->acceptOne();
                       });
}

void Listener::retryLater() {
  if (!retry_) retry_ = std::make_unique<Timer>(io_.get_executor());
  retry_->expires_after(std::chrono::milliseconds(100));
  retry_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->acceptor_.is_open()) self->acceptOne();
  });
}

void Listener::acceptOne() {
  Accepted a;
  a.protocol = protocol_;
  socklen_t len = static_cast<socklen_t>(a.peer.capacity());
  a.fd = ::accept4(acceptor_.native_handle(), a.peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (a.fd < 0) {
    const int err = errno;
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      // The connection stays in the backlog; waiting for readiness would find it at once and
      // spin. Try again shortly, and say so once.
      if (!failing_) {
        failing_ = true;
        log::warn(std::string("accept failed: ") + std::strerror(err) +
                  (err == EMFILE ? " (the process is at its open-file limit; raise it with "
                                   "ulimit -n or LimitNOFILE=)"
                                 : "") +
                  "; new connections wait in the backlog, retrying every 100 ms");
      }
      return retryLater();
    }
    // EAGAIN (another shard took it), a connection reset before it was taken, or a signal.
    if (err != EAGAIN && err != EWOULDBLOCK && err != ECONNABORTED && err != EINTR &&
        err != EPROTO && err != EPERM) {
      log::warn(std::string("accept failed: ") + std::strerror(err));
    }
    return acceptNext();
  }
  failing_ = false;
  a.peer.resize(len);
  // One setsockopt(2) less per connection (issue 14, W2: a syscall costs about 1.7 µs on the
  // bench VM), once the first accepted socket shows that it came with the option.
  const int one = 1;
  if (noDelay_ == NoDelay::kUnchecked) {
    int inherited = 0;
    socklen_t optLen = sizeof inherited;
    noDelay_ = ::getsockopt(a.fd, IPPROTO_TCP, TCP_NODELAY, &inherited, &optLen) == 0 && inherited
                   ? NoDelay::kInherited
                   : NoDelay::kPerSocket;
  }
  if (noDelay_ != NoDelay::kInherited) {
    ::setsockopt(a.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  onAccept_(std::move(a));
  acceptNext();
}

Socket Accepted::socket(asio::io_context& io) && {
  Socket s(io);
  boost::system::error_code ec;
  const int descriptor = std::exchange(fd, -1);
  s.assign(protocol, descriptor, ec);
  if (ec) {
    ::close(descriptor);
    return Socket(io);
  }
  return s;
}

}  // namespace partyd::net
