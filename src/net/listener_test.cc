#include "net/listener.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>

#include <vector>

namespace partyd::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// The listener sets TCP_NODELAY once on the listening socket instead of on each accepted one:
// every accepted socket must still have it, the first (which checks) and those after.
TEST(Listener, EveryAcceptedSocketHasNoDelay) {
  asio::io_context io;
  std::vector<bool> noDelay;
  std::vector<tcp::socket> accepted;
  auto listener = Listener::open(io, "127.0.0.1", 0, [&](Accepted a) {
    EXPECT_TRUE(a.peer.address().is_loopback());
    tcp::socket socket(std::move(a).socket(io));
    tcp::no_delay option;
    boost::system::error_code ec;
    socket.get_option(option, ec);
    noDelay.push_back(!ec && option.value());
    accepted.push_back(std::move(socket));
  });
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  (*listener)->start();
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(io);
    clients.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), (*listener)->port()));
  }
  while (noDelay.size() < clients.size()) io.run_one();
  for (bool on : noDelay) EXPECT_TRUE(on);
  (*listener)->close();
}

}  // namespace
}  // namespace partyd::net
