// Session is one HTTP/1.1 connection on a shard: it reads requests with Boost.Beast, hands each
// to the shard's handler, writes the response and reads the next (keep-alive). A handler may
// instead take the socket away: for a WebSocket upgrade, or to move the connection to the shard
// that owns the room. Malformed requests get 400/413/431 and the connection is closed.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace partyd::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct Limits {
  std::uint32_t maxHeaderBytes = 64 * 1024;
  std::uint64_t maxBodyBytes = 32 * 1024 * 1024;
  std::chrono::seconds idleTimeout{120};
  bool jsonErrors = false;  // 400/413/431 as {"error": ...} (the admin API, which CLIs read)
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Handler = std::function<void(std::shared_ptr<Session>, Request&&)>;

  Session(boost::asio::ip::tcp::socket socket, std::string leftover, const Limits& limits,
          Handler handler);

  // Reads the next request.
  void start();
  // Handles a request that was already read (after a hand-off between shards).
  void handle(Request&& request);
  // Notes a request handled outside handle(), for the keep-alive decision.
  void noteRequest(const Request& request);
  // Writes the response, then reads the next request unless the connection is closing.
  void respond(Response response, bool keepAlive = true);

  // Takes the socket and any bytes read past the request; the session is finished after this.
  boost::asio::ip::tcp::socket takeSocket();
  std::string takeLeftover();

  // The client's address (for a connection that came through TLS, the TLS client's).
  boost::asio::ip::tcp::endpoint remote() const;
  // Whether the connection came through partyd's TLS front (net/tls_server.h): each of its
  // requests then carries `x-forwarded-proto: https`, set here (a client's own is replaced).
  bool secure() const { return secure_; }

  // Counts each response into byClass[status / 100] ([0] for a status outside 100-599): an
  // array of 6 owned by the shard's metrics (party::PartyCounters::http), or none.
  void countResponses(std::uint64_t* byClass) { statusCounts_ = byClass; }

 private:
  void onRead(boost::system::error_code ec);
  void fail(unsigned status, std::string body);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  Limits limits_;
  Handler handler_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool keepAlive_ = true;
  bool released_ = false;
  std::string requestLine_;  // "GET /path" of the request being answered, for the log
  std::chrono::steady_clock::time_point started_;
  std::uint64_t* statusCounts_ = nullptr;
  bool secure_ = false;
  boost::asio::ip::tcp::endpoint pipedRemote_;
};

}  // namespace partyd::http
