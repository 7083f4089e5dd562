// Tail is what `partykit tail` watches: each deployed project has a TailHub, which turns its
// requests and its rooms' console lines into Workers trace events (the `trace-v1` format) and
// sends them to the tail WebSockets open on the admin listener. Publishing is cheap when nobody
// tails. Sockets live on the admin thread; publish() may be called from any shard.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "http/session.h"
#include "ws/connection.h"  // ws::Frame

namespace partyd::server {

class TailHub : public std::enable_shared_from_this<TailHub> {
 public:
  TailHub(boost::asio::io_context& adminIo, std::string scriptName);
  ~TailHub();

  // A new tail session: its id and the secret its WebSocket URL carries (the CLI sends no token
  // on that socket). Expires after an hour.
  struct Ticket {
    std::string id, secret;
    std::int64_t expiresAtMs = 0;
  };
  Ticket create();
  bool remove(const std::string& id);
  // On the admin thread: upgrades `session` to the tail WebSocket `id` if `secret` matches.
  void attach(const std::string& id, const std::string& secret,
              std::shared_ptr<http::Session> session, http::Request&& request);
  // Closes every tail socket (the project was deleted).
  void closeAll();

  // Trace events, from any thread.
  void request(std::string_view method, std::string_view url, unsigned status);
  void log(int level, std::string_view where, std::string_view text);

 private:
  struct Tail;
  void publish(std::string event);

  boost::asio::io_context& io_;
  std::string scriptName_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Tail>> tails_;
  std::atomic<int> open_{0};
};

}  // namespace partyd::server
