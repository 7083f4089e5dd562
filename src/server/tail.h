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
#include <utility>
#include <vector>

#include "base/result.h"

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
  // `filterJson` is what `partykit tail` POSTs: {"filters":[{"sampling_rate":0.5},
  // {"outcome":["ok",…]}, {"method":["GET",…]}, {"query":"text"}, {"header":{"key","query"}},
  // {"client_ip":[…]}]}, every filter to hold for an event to be sent. An error for a body that is
  // not that shape (empty means no filter).
  Result<Ticket> create(std::string_view filterJson = {});
  bool remove(const std::string& id);
  // On the admin thread: upgrades `session` to the tail WebSocket `id` if `secret` matches.
  void attach(const std::string& id, const std::string& secret,
              std::shared_ptr<http::Session> session, http::Request&& request);
  // Closes every tail socket: the project was deleted (1000), or the server drains (1001).
  void closeAll(std::uint16_t code = 1000, std::string reason = "tail closed");

  // Trace events, from any thread.
  // A request; `headers` are its request headers (for the header filter).
  void request(std::string_view method, std::string_view url, unsigned status,
               const std::vector<std::pair<std::string, std::string>>& headers = {});
  void log(int level, std::string_view where, std::string_view text);
  // An alarm (cronName empty) or a cron, with the console lines it wrote.
  void scheduled(bool cron, std::string_view where, std::string_view cronName,
                 std::string_view cronExpr, std::int64_t scheduledTimeMs, bool ok,
                 const std::vector<std::pair<int, std::string>>& logs);
  // Whether any tail socket is open (a caller may skip building an event's parts).
  bool active() const { return open_.load(std::memory_order_relaxed) > 0; }

 private:
  struct Tail;
  struct Filter;
  // What the filters look at, besides the event's text (searched by "query").
  struct Facts {
    std::string outcome, method;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  void publish(std::string event, Facts facts);

  boost::asio::io_context& io_;
  std::string scriptName_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Tail>> tails_;
  std::atomic<int> open_{0};
};

}  // namespace partyd::server
