// forward(): see forward.h. One Forward object per forwarded request lives as long as its socket
// operations (each handler holds it); after a 101 it is the relay and lives until both sides close.
#include "http/forward.h"

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <utility>
#include <vector>

#include "net/client_address.h"

namespace partyd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kRelayBuffer = 16 * 1024;
constexpr std::uint32_t kResponseHeaderLimit = 64 * 1024;

bool isWebSocketUpgrade(const Request& request) {
  auto up = request[bhttp::field::upgrade];
  return beast::iequals(std::string_view(up.data(), up.size()), "websocket");
}

std::string_view view(beast::string_view s) {
  return {s.data(), s.size()};
}

// The field names listed in Connection: they, like Connection itself, belong to one hop.
std::vector<std::string> connectionTokens(const bhttp::fields& fields) {
  std::vector<std::string> out;
  for (auto it = fields.find(bhttp::field::connection);
       it != fields.end() && it->name() == bhttp::field::connection; ++it) {
    std::string_view value = view(it->value());
    while (!value.empty()) {
      std::size_t comma = value.find(',');
      std::string_view token = value.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty()) out.emplace_back(token);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return out;
}

// Removes the hop-by-hop fields (RFC 9110 7.6.1), and the framing, which is set again when the
// message is written.
void stripHopByHop(bhttp::fields& fields) {
  for (const std::string& name : connectionTokens(fields)) fields.erase(name);
  for (bhttp::field f :
       {bhttp::field::connection, bhttp::field::keep_alive, bhttp::field::proxy_connection,
        bhttp::field::te, bhttp::field::trailer, bhttp::field::transfer_encoding,
        bhttp::field::upgrade, bhttp::field::content_length}) {
    fields.erase(f);
  }
}

std::string endpointText(const ForwardTarget& t) {
  return (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) + ":" +
         std::to_string(t.port);
}

class Forward : public std::enable_shared_from_this<Forward> {
 public:
  Forward(asio::io_context& io, std::shared_ptr<Session> session, Request&& request,
          const ForwardTarget& target, ForwardOptions options,
          std::function<void(ForwardResult)> done)
      : io_(io),
        session_(std::move(session)),
        request_(std::move(request)),
        target_(target),
        options_(std::move(options)),
        done_(std::move(done)),
        upstream_(io),
        halfCloseTimer_(io) {}

  void start();

 private:
  enum Side { kFromClient = 0, kFromOwner = 1 };
  struct Direction {
    std::array<char, kRelayBuffer> buffer;
    std::string ahead;  // bytes read before the relay began, written first
    bool ended = false;
  };

  void prepareRequest();
  void connect(const tcp::endpoint& endpoint);
  void onConnect(error_code ec);
  void readHead();
  void onHead(error_code ec);
  void onBody(error_code ec);
  void ioFailure(std::string_view stage, error_code ec);
  void fail(unsigned status, std::string message);
  void finish(ForwardResult result);

  void startRelay();
  void pump(Side side);
  void sideEnded(Side side);
  void endRelay(std::string error);
  tcp::socket& from(Side side) { return side == kFromClient ? client_ : owner_; }
  tcp::socket& to(Side side) { return side == kFromClient ? owner_ : client_; }

  asio::io_context& io_;
  std::shared_ptr<Session> session_;
  Request request_;
  ForwardTarget target_;
  ForwardOptions options_;
  std::function<void(ForwardResult)> done_;
  bool upgrade_ = false;
  bhttp::request_header<> originalHead_;  // the client's head, restored for a retry

  beast::tcp_stream upstream_;
  std::optional<tcp::resolver> resolver_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;

  // the relay, after a 101
  tcp::socket client_{io_};
  tcp::socket owner_{io_};
  std::unique_ptr<std::array<Direction, 2>> relay_;
  asio::steady_timer halfCloseTimer_;
  bool relayOver_ = false;
};

void Forward::start() {
  if (isHop(request_)) {
    ForwardResult r;
    r.kind = ForwardResult::Kind::kHopRefused;
    r.error = "the request was forwarded once already (x-partyd-hop)";
    r.request = std::move(request_);
    r.session = std::move(session_);
    asio::post(io_, [done = std::move(done_), r = std::move(r)]() mutable { done(std::move(r)); });
    return;
  }
  upgrade_ = isWebSocketUpgrade(request_);
  originalHead_ = request_.base();
  prepareRequest();

  error_code ec;
  asio::ip::address address = asio::ip::make_address(target_.host, ec);
  if (!ec) {
    tcp::endpoint endpoint(address, target_.port);
    asio::post(io_, [self = shared_from_this(), endpoint] { self->connect(endpoint); });
    return;
  }
  resolver_.emplace(io_);
  resolver_->async_resolve(
      target_.host, std::to_string(target_.port),
      [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
        if (ec || results.empty()) return self->ioFailure("resolve", ec);
        self->connect(results.begin()->endpoint());
      });
}

// The request as the owner gets it: the client's method, target, fields and body, without this
// hop's own fields, plus the hop headers and the client's address.
void Forward::prepareRequest() {
  std::string upgradeValue(view(request_[bhttp::field::upgrade]));
  stripHopByHop(request_);
  request_.erase(bhttp::field::expect);  // the body is here already: no 100 Continue wanted
  stripHopHeaders(request_);
  request_.set(kHopHeader, "1");
  request_.set(kEpochSeenHeader, std::to_string(options_.epochSeen));
  if (!options_.homeRegion.empty()) request_.set(kHomeRegionHeader, options_.homeRegion);
  if (options_.appendForwardedFor) {
    tcp::endpoint peer = session_->remote();
    if (!peer.address().is_unspecified()) {
      request_.insert("x-forwarded-for", net::unmapped(peer.address()).to_string());
    }
  }
  if (upgrade_) {
    request_.set(bhttp::field::connection, "Upgrade");
    request_.set(bhttp::field::upgrade, upgradeValue);
  } else {
    request_.keep_alive(false);  // one connection per forwarded request
  }
  request_.prepare_payload();
}

void Forward::connect(const tcp::endpoint& endpoint) {
  error_code ec;
  tcp::socket& socket = upstream_.socket();
  socket.open(endpoint.protocol(), ec);
  if (ec) return ioFailure("open a socket", ec);
  if (!options_.sourceAddress.empty()) {
    asio::ip::address source = asio::ip::make_address(options_.sourceAddress, ec);
    if (ec) {
      return fail(502, "partyd could not forward the request: the source address \"" +
                           options_.sourceAddress + "\" is not an IP address");
    }
    socket.bind(tcp::endpoint(source, 0), ec);
    if (ec) return ioFailure("bind to " + options_.sourceAddress, ec);
  }
  socket.set_option(tcp::no_delay(true), ec);  // relayed frames are small and latency counts
  upstream_.expires_after(options_.connectTimeout);
  upstream_.async_connect(endpoint,
                          [self = shared_from_this()](error_code ec) { self->onConnect(ec); });
}

void Forward::onConnect(error_code ec) {
  if (ec) return ioFailure("connect", ec);
  upstream_.expires_after(options_.responseTimeout);
  bhttp::async_write(upstream_, request_, [self = shared_from_this()](error_code ec, std::size_t) {
    if (ec) return self->ioFailure("send the request", ec);
    self->readHead();
  });
}

void Forward::readHead() {
  parser_.emplace();
  parser_->header_limit(kResponseHeaderLimit);
  parser_->body_limit(options_.maxResponseBytes);
  if (request_.method() == bhttp::verb::head) parser_->skip(true);
  bhttp::async_read_header(
      upstream_, buffer_, *parser_,
      [self = shared_from_this()](error_code ec, std::size_t) { self->onHead(ec); });
}

void Forward::onHead(error_code ec) {
  if (ec) return ioFailure("read the response", ec);
  unsigned status = parser_->get().result_int();
  if (status == 101) {
    if (upgrade_) return startRelay();
    return fail(502, "partyd could not forward the request: the room's owner at " +
                         endpointText(target_) + " switched protocols on a plain request");
  }
  if (status / 100 == 1) return readHead();  // 100 Continue, 103 Early Hints: not final
  bhttp::async_read(upstream_, buffer_, *parser_,
                    [self = shared_from_this()](error_code ec, std::size_t) { self->onBody(ec); });
}

void Forward::onBody(error_code ec) {
  if (ec) return ioFailure("read the response", ec);
  upstream_.close();
  auto& message = parser_->get();
  unsigned status = message.result_int();
  if (status == 421) {
    if (options_.counters) ++options_.counters->notOwner;
    ForwardResult r;
    r.kind = ForwardResult::Kind::kNotOwner;
    r.status = 421;
    r.error = "the node at " + endpointText(target_) + " does not own the room";
    std::string_view body = message.body();
    if (!body.empty()) {
      body = body.substr(0, 200);
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
      r.error += ": " + std::string(body);
    }
    request_.base() = std::move(originalHead_);
    r.request = std::move(request_);
    r.session = session_;
    return finish(std::move(r));
  }
  stripHopByHop(message);
  Response response;
  response.status = status;
  for (const auto& field : message) {
    response.headers.emplace_back(view(field.name_string()), view(field.value()));
  }
  response.body = std::move(message.body());
  session_->respond(std::move(response));
  if (options_.counters) ++options_.counters->http;
  ForwardResult r;
  r.kind = ForwardResult::Kind::kForwarded;
  r.status = status;
  finish(std::move(r));
}

// A socket error before the owner's answer: 504 for the response timeout, 502 for the rest.
void Forward::ioFailure(std::string_view stage, error_code ec) {
  std::string where = "the room's owner at " + endpointText(target_);
  if (ec == bhttp::error::body_limit) {  // on the Content-Length, or while reading the body
    return fail(502, "partyd could not forward the response: " + where +
                         " answered with a body over " + std::to_string(options_.maxResponseBytes) +
                         " bytes");
  }
  if (ec == beast::error::timeout) {
    if (stage == "connect") {
      return fail(502, "partyd could not forward the request: no connection to " + where +
                           " within " + std::to_string(options_.connectTimeout.count()) + " ms");
    }
    return fail(504, "partyd forwarded the request but " + where + " did not answer within " +
                         std::to_string(options_.responseTimeout.count()) + " ms");
  }
  std::string reason = ec ? ec.message() : std::string("no address found");
  if (ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
      ec == bhttp::error::partial_message) {
    reason = "the connection closed before a complete answer";
  }
  fail(502, "partyd could not forward the request: " + std::string(stage) + " failed for " + where +
                ": " + reason);
}

void Forward::fail(unsigned status, std::string message) {
  error_code ignored;
  upstream_.socket().close(ignored);
  if (options_.counters) ++options_.counters->failed;
  session_->respond(textResponse(status, message + "\n"));
  ForwardResult r;
  r.kind = ForwardResult::Kind::kFailed;
  r.status = status;
  r.error = std::move(message);
  finish(std::move(r));
}

void Forward::finish(ForwardResult result) {
  session_.reset();
  if (auto done = std::move(done_)) done(std::move(result));
}

// ---- the relay -----------------------------------------------------------------------------

void Forward::startRelay() {
  upstream_.expires_never();
  relay_ = std::make_unique<std::array<Direction, 2>>();
  // The 101 head as the owner sent it, then whatever the owner sent after it.
  const auto& head = parser_->get();
  std::string& toClient = (*relay_)[kFromOwner].ahead;
  toClient = "HTTP/1.1 101 ";
  toClient.append(view(head.reason()));
  toClient += "\r\n";
  for (const auto& field : head) {
    toClient.append(view(field.name_string()));
    toClient += ": ";
    toClient.append(view(field.value()));
    toClient += "\r\n";
  }
  toClient += "\r\n";
  toClient += beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  parser_.reset();

  owner_ = upstream_.release_socket();
  (*relay_)[kFromClient].ahead = session_->takeLeftover();
  client_ = session_->takeSocket();
  session_.reset();
  if (options_.counters) {
    ++options_.counters->ws;
    ++options_.counters->relaysOpen;
  }
  for (Side side : {kFromClient, kFromOwner}) {
    Direction& d = (*relay_)[side];
    if (d.ahead.empty()) {
      pump(side);
      continue;
    }
    asio::async_write(to(side), asio::buffer(d.ahead),
                      [self = shared_from_this(), side](error_code ec, std::size_t) {
                        if (self->relayOver_) return;
                        if (ec) return self->endRelay("write failed: " + ec.message());
                        (*self->relay_)[side].ahead.clear();
                        (*self->relay_)[side].ahead.shrink_to_fit();
                        self->pump(side);
                      });
  }
}

// One read in flight per side; the next read starts when the write of the last one is done.
void Forward::pump(Side side) {
  Direction& d = (*relay_)[side];
  from(side).async_read_some(
      asio::buffer(d.buffer), [self = shared_from_this(), side](error_code ec, std::size_t n) {
        if (self->relayOver_) return;
        if (ec == asio::error::eof) return self->sideEnded(side);
        if (ec) {
          return self->endRelay(std::string(side == kFromClient ? "client" : "owner") +
                                " read failed: " + ec.message());
        }
        asio::async_write(
            self->to(side), asio::buffer((*self->relay_)[side].buffer.data(), n),
            [self, side](error_code ec, std::size_t n) {
              if (self->relayOver_) return;
              if (ec) {
                return self->endRelay(std::string(side == kFromClient ? "owner" : "client") +
                                      " write failed: " + ec.message());
              }
              if (auto* c = self->options_.counters) {
                (side == kFromClient ? c->bytesToOwner : c->bytesToClient) += n;
              }
              self->pump(side);
            });
      });
}

// One side sent FIN: pass it on as a shutdown of the other side's sending half, and end the relay
// when both have (or when the other side keeps its half open past halfCloseTimeout).
void Forward::sideEnded(Side side) {
  (*relay_)[side].ended = true;
  error_code ignored;
  to(side).shutdown(tcp::socket::shutdown_send, ignored);
  if ((*relay_)[kFromClient].ended && (*relay_)[kFromOwner].ended) return endRelay({});
  halfCloseTimer_.expires_after(options_.halfCloseTimeout);
  halfCloseTimer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->relayOver_) return;
    self->endRelay({});
  });
}

void Forward::endRelay(std::string error) {
  relayOver_ = true;
  halfCloseTimer_.cancel();
  error_code ignored;
  client_.close(ignored);
  owner_.close(ignored);
  if (auto* c = options_.counters) {
    --c->relaysOpen;
    if (!error.empty()) ++c->relayErrors;
  }
  ForwardResult r;
  r.kind = ForwardResult::Kind::kForwarded;
  r.status = 101;
  r.error = std::move(error);
  finish(std::move(r));
}

}  // namespace

bool isHop(const Request& request) {
  return request.find(kHopHeader) != request.end();
}

std::optional<std::int64_t> epochSeen(const Request& request) {
  auto it = request.find(kEpochSeenHeader);
  if (it == request.end()) return std::nullopt;
  std::string_view text = view(it->value());
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string homeRegion(const Request& request) {
  auto it = request.find(kHomeRegionHeader);
  return it == request.end() ? std::string() : std::string(view(it->value()));
}

void stripHopHeaders(Request& request) {
  request.erase(kHopHeader);
  request.erase(kEpochSeenHeader);
  request.erase(kHomeRegionHeader);
}

Response notOwnerResponse() {
  return textResponse(421, "Misdirected Request: this partyd node does not own the room\n");
}

void forward(asio::io_context& io, std::shared_ptr<Session> session, Request&& request,
             const ForwardTarget& target, ForwardOptions options,
             std::function<void(ForwardResult)> done) {
  std::make_shared<Forward>(io, std::move(session), std::move(request), target, std::move(options),
                            std::move(done))
      ->start();
}

}  // namespace partyd::http
