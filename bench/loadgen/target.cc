#include "target.h"

#include <unistd.h>

#include <thread>

namespace partyd::bench {

Target Target::fromFlags(Flags& flags) {
  Target target;
  target.host = flags.str("host", target.host);
  target.port = static_cast<int>(flags.integer("port", target.port));
  target.party = flags.str("party", target.party);
  auto fresh =
      std::to_string(getpid()) + "x" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1'000'000'000);
  target.prefix = flags.str("prefix", "b" + fresh);
  target.sources = static_cast<int>(flags.integer("sources", 1));
  target.threads = static_cast<int>(flags.integer("threads", 1));
  target.timeout_s = flags.number("timeout", target.timeout_s);
  target.server = ProcessTree::parse(flags.str("server-pid", ""));
  return target;
}

asio::ip::tcp::endpoint Target::endpoint() const {
  return {asio::ip::make_address(host), static_cast<unsigned short>(port)};
}

asio::ip::address Target::sourceFor(size_t n) const {
  asio::ip::address_v4::bytes_type bytes{127, 0, 0, static_cast<unsigned char>(1 + n % sources)};
  return asio::ip::address_v4(bytes);
}

std::string Target::roomPath(std::string_view room) const {
  std::string path = "/parties/";
  path += party;
  path += '/';
  path += prefix;
  path += '-';
  path += room;
  return path;
}

bool waitProgress(const std::function<bool()>& done, const std::function<uint64_t()>& progress,
                  double stall_s) {
  const auto stall = std::chrono::duration<double>(stall_s);
  uint64_t last = progress();
  Clock::time_point last_change = Clock::now();
  while (!done()) {
    Clock::time_point now = Clock::now();
    if (uint64_t current = progress(); current != last) {
      last = current;
      last_change = now;
    } else if (now - last_change > stall) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

bool waitUntil(const std::function<bool()>& done, double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace partyd::bench
