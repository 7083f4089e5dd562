// AdminServer is partyd's second listener (`--admin ADDR`): the deploy API that the `partykit`
// CLI calls (issue 10), /metrics and the room inspector (issue 11). It runs on a thread of its
// own, so a deploy that bundles and loads code, or a slow scrape, never holds a shard.
//
// Routes are added before start(), each as a method and a pattern whose `:name` segments are
// captured (percent-decoded) and whose last segment may be `*` (the rest of the path). When a
// token is configured, every route but the public ones needs it, as `Authorization: Bearer
// TOKEN` (what the CLI and Prometheus send) or the `partyd_admin` cookie (what the inspector's
// login page sets); without it the answer is 401 and nothing else. Tokens are compared in
// constant time and never logged.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "http/session.h"
#include "net/listener.h"
#include "net/socket.h"
#include "net/tls_server.h"

namespace partyd::server {

struct AdminOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  std::optional<std::string> token;  // none: no authentication (dev, on loopback)
  http::Limits limits;
  std::shared_ptr<net::TlsCertificate> tls;  // set: the listener speaks only TLS
};

// One request on the admin listener, as a route handler sees it. Answer it once, with
// respond() (from any thread: the answer is posted to the admin loop), or take the socket.
struct AdminRequest {
  std::shared_ptr<http::Session> session;
  http::Request request;
  std::map<std::string, std::string, std::less<>> params;  // from the pattern's :names and *
  boost::asio::io_context* io = nullptr;

  // The value of query parameter `name`, if present.
  std::optional<std::string> query(std::string_view name) const;
  void respond(http::Response response) const;
  void respondJson(unsigned status, std::string json) const;
  // {"error": message} with `status`: what the partykit CLI prints on a non-2xx answer.
  void fail(unsigned status, std::string_view message) const;
};

class AdminServer {
 public:
  using Handler = std::function<void(AdminRequest&)>;
  enum class Access { kToken, kPublic };

  explicit AdminServer(AdminOptions options);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Adds a route; `method` verb::unknown matches every method. Before start() only.
  void route(boost::beast::http::verb method, std::string pattern, Handler handler,
             Access access = Access::kToken);

  // Binds and starts the admin thread.
  Result<void> start();
  // Before start(): the listening descriptor a takeover received (owned here from then on).
  void inherit(std::vector<int> fds) { inherited_ = std::move(fds); }
  // The listening descriptors (owned here), to hand to a new process; empty before start().
  std::vector<int> listenFds() const { return listenFds_; }
  // Stops accepting (the SIGTERM drain); open connections go on until stop().
  void closeListeners();
  void stop();
  unsigned short port() const { return port_; }
  boost::asio::io_context& io() { return io_; }

  // Whether `request` carries the token (always, when none is configured).
  bool authorized(const http::Request& request) const;

 private:
  struct Route {
    boost::beast::http::verb method;
    std::vector<std::string> segments;
    Handler handler;
    Access access;
  };
  void dispatch(std::shared_ptr<http::Session> session, http::Request&& request);
  void serve(net::Socket socket);

  AdminOptions options_;
  std::vector<Route> routes_;
  boost::asio::io_context io_{1};
  std::thread thread_;
  std::shared_ptr<net::Listener> listener_;
  std::unique_ptr<net::TlsFront> tlsFront_;  // with options.tls: one TLS thread in front
  unsigned short port_ = 0;
  bool started_ = false;
  std::vector<int> inherited_;
  std::vector<int> listenFds_;
};

// Whether the two strings are equal, in time that depends only on their lengths' digests.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace partyd::server
