// Listener accepts TCP connections for one shard. Every shard listens on the same port with
// SO_REUSEPORT, so the kernel spreads new connections across shards without a shared acceptor.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>

#include "base/result.h"

namespace partyd::net {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using OnAccept = std::function<void(boost::asio::ip::tcp::socket)>;

  static Result<std::shared_ptr<Listener>> open(boost::asio::io_context& io,
                                                const std::string& address, unsigned short port,
                                                OnAccept onAccept);
  void start();
  void close();
  unsigned short port() const;

 private:
  Listener(boost::asio::io_context& io, OnAccept onAccept)
      : acceptor_(io), onAccept_(std::move(onAccept)) {}
  void acceptNext();

  boost::asio::ip::tcp::acceptor acceptor_;
  OnAccept onAccept_;
};

}  // namespace partyd::net
