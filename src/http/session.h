// Session is one HTTP/1.1 connection on a shard: it reads requests with Boost.Beast's parser, hands
// each to the shard's handler, writes the response and reads the next (keep-alive). A handler may
// instead take the socket away: for a WebSocket upgrade, or to move the connection to the shard
// that owns the room. Malformed requests get 400/413/431 and the connection is closed.
//
// The reads and writes are the session's own, not Beast's composed operations: one read of what
// the socket has, fed to the parser; one writev of the response's head and body, tried at once and
// waited for only when the socket is full. Its idle timeout is one timer per connection, re-armed
// when it fires early, not per operation. W6 (many small keep-alive requests) showed the composed
// operations, their type-erased executors and per-operation timers as a quarter of partyd's CPU.
//
// A connection that a shard's listener accepted is read and written through the shard's
// net::Poller from the start, and a WebSocket upgrade hands its registration to the ws::Connection
// as it is (takePolled): no epoll_ctl and no ioctl on the way. Asio's edge-triggered reactor
// costs a system call per request to wait again (a read that finds the socket empty, or an
// epoll_ctl), where the poller's standing registration costs none. A socket that arrives as an
// Asio socket (TLS's plaintext pipes, tests) is read through Asio until a response keeps it
// open, then moves to the poller. A socket that a handler takes comes back to Asio.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
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

#include "base/metrics.h"
#include "net/poller.h"
#include "net/socket.h"

namespace partyd::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool asset = false;  // a static asset's (StaticFiles sets it), for the request-kind label
};

// A response of plain text: partyd's own answers (errors, 404s, 503s), which clients and the
// partykit CLI print as they are.
inline Response textResponse(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "text/plain;charset=UTF-8");
  r.body = std::move(body);
  return r;
}

// What a request was, for partyd_http_request_duration_seconds: a party route (/parties/...,
// /party/...), a static asset, anything else (the static onFetch, or its 404), or a WebSocket
// upgrade (whatever its answer: 101 or a refusal).
enum class RequestKind : std::uint8_t { kParty, kAsset, kFetch, kUpgrade };
inline constexpr std::array<std::string_view, 4> kRequestKinds = {"party", "asset", "fetch",
                                                                  "upgrade"};

// What Sessions count about the responses they write, for /metrics: owned by the shard's
// metrics (party::PartyCounters::http) and touched only on its thread.
struct ResponseCounts {
  std::array<std::uint64_t, 6> byClass{};  // [status / 100]; [0] for a status outside 100-599
  // From the request's parse (or its hand-off to the room's shard) to the response's write,
  // by [kind][status class].
  std::array<std::array<metrics::Histogram, 6>, kRequestKinds.size()> seconds{};

  static std::size_t statusClass(unsigned status) {
    unsigned cls = status / 100;
    return cls >= 1 && cls <= 5 ? cls : 0;
  }
  void count(RequestKind kind, unsigned status, std::chrono::steady_clock::duration took) {
    std::size_t cls = statusClass(status);
    ++byClass[cls];
    seconds[static_cast<std::size_t>(kind)][cls].observeNanos(
        std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
  }
  void add(const ResponseCounts& o) {
    for (std::size_t i = 0; i < byClass.size(); ++i) byClass[i] += o.byClass[i];
    for (std::size_t k = 0; k < seconds.size(); ++k) {
      for (std::size_t c = 0; c < seconds[k].size(); ++c) seconds[k][c].add(o.seconds[k][c]);
    }
  }
  // What Edge hands to Session::countResponses.
  ResponseCounts* data() { return this; }
};

struct Limits {
  std::uint32_t maxHeaderBytes = 64 * 1024;
  std::uint64_t maxBodyBytes = 32 * 1024 * 1024;
  std::chrono::seconds idleTimeout{120};
  bool jsonErrors = false;  // 400/413/431 as {"error": ...} (the admin API, which CLIs read)
};

class Session : public std::enable_shared_from_this<Session>, private net::PollTarget {
 public:
  using Handler = std::function<void(std::shared_ptr<Session>, Request&&)>;

  Session(net::Socket socket, std::string leftover, const Limits& limits, Handler handler);
  // A socket on another executor (tests, callers outside the shard's accept path) is moved onto
  // the io_context's own (net::toSocket).
  Session(boost::asio::ip::tcp::socket socket, std::string leftover, const Limits& limits,
          Handler handler)
      : Session(net::toSocket(std::move(socket)), std::move(leftover), limits,
                std::move(handler)) {}
  // A connection's bare descriptor, just accepted (with the client's address) or one that another
  // shard read a request from (Edge's hand-off): it goes straight into this shard's poller.
  Session(boost::asio::io_context& io, int fd, std::string leftover, const Limits& limits,
          Handler handler, const boost::asio::ip::tcp::endpoint& peer = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Reads the next request.
  void start();

  // The drain of a takeover (server/takeover.h), for the whole process: from now on every
  // response says `Connection: close` and its connection ends after it, so that no client sends
  // its next request on a connection that the old process is about to drop.
  static void closeAfterResponses();
  // Sessions alive in the process (any thread): the drain waits, briefly, for them to end.
  static std::int64_t liveCount();
  // Handles a request that was already read (after a hand-off between shards).
  void handle(Request&& request);
  // Notes a request handled outside handle(), for the keep-alive decision.
  void noteRequest(const Request& request);
  // Writes the response, then reads the next request unless the connection is closing.
  void respond(Response response, bool keepAlive = true);
  // Whether a response was written on this session (a kept-alive connection's later request).
  bool answered() const { return answered_; }

  // Runs once with the status of the answer to the request being handled: the response's
  // (respond), 101 when the socket is taken after an upgrade (takeSocket), or 0 when the session
  // ends with no answer (the client left). From the thread the session runs on. For `partyd tail`.
  using ResponseHook = std::function<void(unsigned status)>;
  void onResponse(ResponseHook hook) { hook_ = std::move(hook); }
  // Takes the hook unrun (a hand-off between shards carries it to the session that answers).
  ResponseHook takeResponseHook() { return std::exchange(hook_, nullptr); }

  // Takes the socket and any bytes read past the request; the session is finished after this.
  // (It converts to tcp::socket by a move.)
  net::Socket takeSocket();
  // The same as a bare descriptor (-1 if it is gone), with no stop in Asio's reactor on the way:
  // for a move to another shard.
  int takeDescriptor();
  // The same with its registration in the shard's poller kept (a socket read through Asio goes
  // there now): for a ws::Connection on this shard, which takes the registration over. Its fd is
  // -1 when the socket is gone or the poller refused it.
  net::Polled takePolled();
  std::string takeLeftover();

  // The client's address (for a connection that came through TLS, the TLS client's).
  boost::asio::ip::tcp::endpoint remote() const;
  // Whether the connection came through partyd's TLS front (net/tls_server.h): each of its
  // requests then carries `x-forwarded-proto: https`, set here (a client's own is replaced).
  bool secure() const { return secure_; }

  // Counts each response (by status class, and its time by kind and class) into `counts`,
  // owned by the shard's metrics (party::PartyCounters::http), or nowhere (null).
  void countResponses(ResponseCounts* counts) { counts_ = counts; }
  // When the request being answered was parsed (or handed to this shard), and its kind.
  std::chrono::steady_clock::time_point requestStarted() const { return started_; }

 private:
  void parseBuffered();  // feeds the parser what is buffered; reads more when it needs more
  boost::beast::flat_buffer::mutable_buffers_type readSpace();
  void readSome();  // one read through Asio's reactor
  void onEof();
  void onRead(boost::system::error_code ec);
  void fail(unsigned status, std::string body);
  void writeHead(const Response& response);
  void writeRest(std::size_t written);  // the part of the response the socket did not take
  void writePolled();
  void afterWrite();
  // A kept-alive connection's descriptor moves from Asio's reactor to the shard's net::Poller.
  void enterPoller();
  void onPollEvents(std::uint32_t events) override;
  void onPollerShutdown() override;
  int leavePoller();
  void stopAllWaits();  // the poller's waits end without an event (the socket leaves)
  void letGo();
  void startWaiting(bool* flag);
  void stopWaiting(bool* flag);
  int fd() { return fd_ >= 0 ? fd_ : socket_.native_handle(); }
  void shutdownSocket(int how);
  // The idle timeout: reading or writing may not take longer than limits_.idleTimeout.
  void armIdle();
  void onIdleTimer();

  net::Socket socket_;  // closed once the descriptor is in the poller (fd_)
  // Once a connection has had its first response, its descriptor is read and written through
  // the shard's poller: one edge-triggered registration, no operation to start per request and
  // no read that only learns the socket is empty. readReady_/writeReady_ say whether the last
  // read or write left the socket with more to give or room to take.
  net::Poller* poller_ = nullptr;
  std::uint32_t slot_ = net::Poller::kNoSlot;
  int fd_ = -1;
  bool readReady_ = true;
  bool writeReady_ = true;
  bool readWaiting_ = false;
  bool writeWaiting_ = false;
  std::shared_ptr<Session> waitingSelf_;  // held while it waits, as a pending Asio operation did
  std::size_t written_ = 0;               // of head_ and body_, while the poller writes the rest
  boost::beast::flat_buffer buffer_;
  net::Timer idle_;
  // While reading or writing, when the connection counts as idle; max() while a handler works.
  std::chrono::steady_clock::time_point idleDeadline_ = std::chrono::steady_clock::time_point::max();
  bool idleArmed_ = false;
  bool deadlineFresh_ = false;  // idleDeadline_ was set by a write that just ended
  std::string head_;  // the response being written: its head, then its body
  std::string body_;
  Limits limits_;
  Handler handler_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool keepAlive_ = true;
  bool headRequest_ = false;  // the request being answered is a HEAD: the response has no body
  bool again_ = false;        // read the next request after this response
  bool released_ = false;
  bool answered_ = false;
  std::string requestLine_;  // "GET /path" of the request being answered, for the log
  std::chrono::steady_clock::time_point started_;
  RequestKind kind_ = RequestKind::kFetch;
  ResponseCounts* counts_ = nullptr;
  bool secure_ = false;
  boost::asio::ip::tcp::endpoint pipedRemote_;
  mutable std::optional<boost::asio::ip::tcp::endpoint> peer_;  // remote(), once known
  ResponseHook hook_;
};

}  // namespace partyd::http
