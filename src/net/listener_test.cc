#include "net/listener.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
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

// At the open-file limit an accept fails with EMFILE while the connection waits in the backlog:
// the listener neither spins nor gives up, and takes it once a descriptor is free again.
TEST(Listener, AcceptsAgainOnceTheOpenFileLimitAllows) {
  asio::io_context io;
  std::vector<int> accepted;
  auto listener = Listener::open(io, "127.0.0.1", 0, [&](Accepted a) { accepted.push_back(a.fd); });
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  (*listener)->start();
  tcp::socket client(io);
  client.open(tcp::v4());
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  // A new descriptor gets the lowest free number: a limit at that number leaves room for none.
  const int next = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(next, 0);
  ::close(next);
  rlimit tight = before;
  tight.rlim_cur = static_cast<rlim_t>(next);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  client.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), (*listener)->port()));
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(accepted.empty());
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &before), 0);
  for (int i = 0; i < 40 && accepted.empty(); ++i) io.run_one_for(std::chrono::milliseconds(50));
  ASSERT_EQ(accepted.size(), 1u);
  ::close(accepted[0]);
  (*listener)->close();
}

}  // namespace
}  // namespace partyd::net
