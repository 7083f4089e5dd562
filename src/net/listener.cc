#include "net/listener.h"

#include <boost/asio/socket_base.hpp>
#include <sys/socket.h>

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
  l->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return makeError("listen: " + ec.message());
  return l;
}

unsigned short Listener::port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Listener::start() { acceptNext(); }

void Listener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void Listener::acceptNext() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec,
                                                     tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE and friends: say so, and keep accepting; the next attempt may succeed.
      log::warn("accept failed: " + ec.message());
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      self->onAccept_(std::move(socket));
    }
    self->acceptNext();
  });
}

}  // namespace partyd::net
