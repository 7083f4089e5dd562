#include "net/listener.h"

#include <boost/asio/socket_base.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

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
  l->acceptor_.assign(addr.ss_family == AF_INET ? tcp::v4() : tcp::v6(), fd, ec);
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
}

void Listener::noDelayOnListener() {
  boost::system::error_code ec;
  acceptor_.set_option(tcp::no_delay(true), ec);
  if (ec) noDelay_ = NoDelay::kPerSocket;
}

void Listener::acceptNext() {
  acceptor_.async_accept(io_, [self = shared_from_this()](boost::system::error_code ec,
                                                          Socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE and friends: say so, and keep accepting; the next attempt may succeed.
      log::warn("accept failed: " + ec.message());
    } else {
      // One setsockopt(2) less per connection (issue 14, W2: a syscall costs about 1.7 µs on
      // the bench VM), once the first accepted socket shows that it came with the option.
      boost::system::error_code ec2;
      if (self->noDelay_ == NoDelay::kUnchecked) {
        tcp::no_delay inherited;
        socket.get_option(inherited, ec2);
        self->noDelay_ = !ec2 && inherited.value() ? NoDelay::kInherited : NoDelay::kPerSocket;
      }
      if (self->noDelay_ != NoDelay::kInherited) socket.set_option(tcp::no_delay(true), ec2);
      self->onAccept_(std::move(socket));
    }
    self->acceptNext();
  });
}

}  // namespace partyd::net
