// The outgoing WebSocket client: see ws_client.h. URLs first, then the parser of server frames,
// TLS, one connection (handshake, reading, writing, closing), and the WsClient facade.
#include "ws/ws_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cctype>
#include <optional>
#include <unordered_map>
#include <variant>

#include "base/base64.h"
#include "base/random.h"
#include "base/strings.h"
#include "net/tls_context.h"
#include "ws/frame.h"
#include "ws/handshake.h"
#include "ws/utf8.h"

namespace partyd::ws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using net::makeTlsContext;
using net::systemTlsContext;
using net::TlsContext;

namespace {

constexpr std::uint16_t kCloseNoStatus = 1005;
constexpr std::uint16_t kCloseAbnormal = 1006;
constexpr std::uint16_t kCloseProtocolError = 1002;
constexpr std::uint16_t kCloseInvalidPayload = 1007;
constexpr std::uint16_t kCloseTooBig = 1009;
constexpr std::uint32_t kMaxHandshakeHeaderBytes = 16 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
// Longer timeouts are clamped, so that adding them to now() cannot overflow.
constexpr std::chrono::hours kLongestTimeout{24 * 365};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value holds token (case-insensitive).
bool hasToken(std::string_view list, std::string_view token) {
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = std::min(list.find(',', pos), list.size());
    if (iequals(trim(list.substr(pos, comma - pos)), token)) return true;
    pos = comma + 1;
  }
  return false;
}

bool isTokenChar(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return isTokenChar(c); });
}

// ---- URLs -----------------------------------------------------------------------------------
// api/ hands over URLs serialized by the WHATWG parser, so this reads that form only.

struct WsUrl {
  bool tls = false;
  std::string host;  // lowercased; an IPv6 literal without brackets
  bool ipv6 = false;
  unsigned short port = 0;
  std::string target;  // path and query

  std::string hostHeader() const {
    std::string h = ipv6 ? "[" + host + "]" : host;
    return port == (tls ? 443 : 80) ? h : h + ":" + std::to_string(port);
  }
  std::string endpoint() const {
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

Result<WsUrl> parseWsUrl(std::string_view s) {
  std::size_t colon = s.find("://");
  if (colon == std::string_view::npos) return makeError("invalid URL");
  std::string scheme = asciiLower(s.substr(0, colon));
  WsUrl url;
  if (scheme == "wss" || scheme == "https") {
    url.tls = true;
  } else if (scheme != "ws" && scheme != "http") {
    return makeError("unsupported URL scheme '" + scheme + ":'");
  }
  std::size_t i = colon + 3;
  std::size_t authEnd = std::min(s.find_first_of("/?#", i), s.size());
  std::string_view auth = s.substr(i, authEnd - i);
  if (auth.find('@') != std::string_view::npos) return makeError("URL includes credentials");
  std::string_view portText;
  if (!auth.empty() && auth[0] == '[') {
    std::size_t close = auth.find(']');
    if (close == std::string_view::npos) return makeError("invalid IPv6 host");
    url.host = asciiLower(auth.substr(1, close - 1));
    url.ipv6 = true;
    error_code ec;
    asio::ip::make_address_v6(url.host, ec);
    if (ec) return makeError("invalid IPv6 host");
    std::string_view rest = auth.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return makeError("invalid URL");
    if (!rest.empty()) portText = rest.substr(1);
  } else {
    std::size_t pc = auth.find(':');
    url.host = asciiLower(auth.substr(0, pc));
    if (pc != std::string_view::npos) portText = auth.substr(pc + 1);
    for (unsigned char c : url.host) {
      if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return makeError("invalid host");
    }
  }
  if (url.host.empty()) return makeError("URL has no host");
  url.port = url.tls ? 443 : 80;
  if (!portText.empty()) {
    unsigned long port = 0;
    for (char c : portText) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || (port = port * 10 + (c - '0')) > 65535) {
        return makeError("invalid port");
      }
    }
    if (port == 0) return makeError("invalid port");
    url.port = static_cast<unsigned short>(port);
  }
  std::string_view rest = s.substr(authEnd);
  rest = rest.substr(0, rest.find('#'));
  url.target = rest.empty() || rest[0] == '?' ? "/" + std::string(rest) : std::string(rest);
  for (unsigned char c : url.target) {
    if (c <= 0x20 || c >= 0x7f) return makeError("URL path holds a raw control or non-ASCII byte");
  }
  return url;
}

using TlsStream = ssl::stream<tcp::socket>;
using Stream = std::variant<tcp::socket, TlsStream>;

class Connection;

}  // namespace

// ---- Impl ---------------------------------------------------------------------------------------

struct WsClient::Impl {
  Impl(asio::io_context& io, Options options) : io(io), options(options), tls(systemTlsContext()) {}

  // Four random bytes for a frame mask, from a pool refilled 4 KiB at a time.
  std::array<std::uint8_t, 4> maskKey() {
    if (maskPos == maskPool.size()) {
      randomBytes(maskPool.data(), maskPool.size());
      maskPos = 0;
    }
    std::array<std::uint8_t, 4> key;
    std::copy_n(maskPool.begin() + maskPos, 4, key.begin());
    maskPos += 4;
    return key;
  }

  asio::io_context& io;
  Options options;
  TlsContext tls;
  bool alive = true;
  std::uint64_t nextId = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::array<std::uint8_t, 4096> maskPool{};
  std::size_t maskPos = maskPool.size();
};

using Impl = WsClient::Impl;

// ---- Connection -------------------------------------------------------------------------------

namespace {

// One client socket. Handlers of its operations hold a shared_ptr to it, so it outlives its entry
// in Impl::connections until they have run; `state_ == kClosed` tells them to stop.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Impl> core, std::uint64_t id, std::string href,
             std::vector<std::string> protocols,
             std::vector<std::pair<std::string, std::string>> headers, WsClient::Events events)
      : core_(std::move(core)),
        id_(id),
        href_(std::move(href)),
        protocols_(std::move(protocols)),
        headers_(std::move(headers)),
        events_(std::move(events)),
        resolver_(core_->io),
        timer_(core_->io),
        parser_(core_->options.maxMessageSize, FrameParser::From::kServer) {}

  void start();
  WsClient::SendResult send(bool binary, std::string_view data);
  void close(std::uint16_t code, std::string_view reason);
  std::size_t bufferedAmount() const { return pendingPayload_ + writingPayload_; }
  // Drops the socket without calling back (the client is going away).
  void cancelSilently();

 private:
  enum class State : std::uint8_t { kConnecting, kOpen, kClosing, kClosed };
  // Whether to keep the socket until queued bytes (our close frame) are written.
  enum class Linger : std::uint8_t { kNo, kFlush };

  tcp::socket& socket() {
    return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s); }, *stream_);
  }
  template <typename F>
  void withStream(F&& f) {
    std::visit(std::forward<F>(f), *stream_);
  }

  void armTimer(std::chrono::milliseconds after, std::function<void()> onExpiry);
  void onResolved(error_code ec, const tcp::resolver::results_type& results);
  void onConnected(error_code ec);
  void onTlsHandshake(error_code ec);
  void writeHandshake();
  void onHandshakeResponse(error_code ec);
  Result<std::string> checkHandshake();
  void readFrames();
  void onRead(error_code ec, std::size_t n);
  void processFrames();
  void queueFrame(Opcode op, std::string_view payload, std::size_t countedBytes);
  void flush();
  void onWritten(error_code ec);
  // Ends the connection: fires onError (when error is set) and onClose, posted.
  void finish(std::optional<std::string> error, std::uint16_t code, std::string reason,
              bool wasClean, Linger linger);
  void fail(std::string why) {
    finish("WebSocket connection to '" + href_ + "' failed: " + why, kCloseAbnormal, "", false,
           Linger::kNo);
  }
  void closeSocket();
  // The events, for a callback posted after this returns. Copied when a callback is running, so
  // that it is not destroyed under itself.
  WsClient::Events takeEvents() { return dispatching_ ? events_ : std::move(events_); }
  // True when a direct callback ended this connection or the client.
  bool stopped() const { return !core_->alive || state_ == State::kClosed; }

  std::shared_ptr<Impl> core_;
  std::uint64_t id_;
  std::string href_;
  WsUrl url_;
  std::vector<std::string> protocols_;
  std::vector<std::pair<std::string, std::string>> headers_;
  WsClient::Events events_;
  State state_ = State::kConnecting;
  bool dispatching_ = false;

  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::uint64_t timerEpoch_ = 0;
  std::optional<Stream> stream_;
  bool socketClosed_ = false;

  // Handshake.
  std::string key_;
  std::string request_;
  beast::flat_buffer handshakeBuffer_;
  std::optional<bhttp::response_parser<bhttp::empty_body>> response_;

  // Frames.
  std::unique_ptr<char[]> readChunk_;
  FrameParser parser_;  // reads the server's unmasked frames
  bool closeSent_ = false;
  // Writes: frames queue in pending_ while writing_ is on the wire.
  std::string pending_;
  std::string writing_;
  std::size_t pendingPayload_ = 0;
  std::size_t writingPayload_ = 0;
  bool writeInFlight_ = false;
  bool closeWhenFlushed_ = false;
};

// ---- Connecting ----

void Connection::start() {
  auto url = parseWsUrl(href_);
  if (!url) return fail(url.error().message);
  url_ = std::move(*url);
  for (const auto& p : protocols_) {
    if (!isToken(p)) return fail("invalid subprotocol '" + p + "'");
  }
  for (const auto& [name, value] : headers_) {
    if (!isToken(name)) return fail("invalid header name '" + name + "'");
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return fail("invalid value for header '" + name + "'");
    }
  }
  if (url_.tls && !core_->tls.error.empty()) return fail(core_->tls.error);

  const auto timeout = core_->options.connectTimeout;
  armTimer(timeout, [this, timeout] {
    if (state_ == State::kConnecting) {
      fail("timed out after " + std::to_string(timeout.count()) + " ms");
    }
  });
  if (url_.tls) {
    stream_.emplace(std::in_place_type<TlsStream>, core_->io, *core_->tls.ctx);
  } else {
    stream_.emplace(std::in_place_type<tcp::socket>, core_->io);
  }
  error_code notIp;
  auto ip = asio::ip::make_address(url_.host, notIp);
  if (!notIp) {
    // An address literal needs no resolver (whose getaddrinfo runs on a helper thread).
    auto port = std::to_string(url_.port);
    return onResolved({}, tcp::resolver::results_type::create({ip, url_.port}, url_.host, port));
  }
  resolver_.async_resolve(
      url_.host, std::to_string(url_.port), tcp::resolver::numeric_service,
      [self = shared_from_this()](error_code ec, const tcp::resolver::results_type& results) {
        if (!self->stopped()) self->onResolved(ec, results);
      });
}

void Connection::armTimer(std::chrono::milliseconds after, std::function<void()> onExpiry) {
  std::uint64_t epoch = ++timerEpoch_;
  timer_.expires_after(std::min<std::chrono::milliseconds>(after, kLongestTimeout));
  timer_.async_wait(
      [self = shared_from_this(), epoch, onExpiry = std::move(onExpiry)](error_code ec) {
        if (ec || epoch != self->timerEpoch_ || !self->core_->alive) return;
        onExpiry();
      });
}

void Connection::onResolved(error_code ec, const tcp::resolver::results_type& results) {
  if (ec) return fail("cannot resolve host " + url_.host + ": " + ec.message());
  asio::async_connect(socket(), results,
                      [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
                        if (!self->stopped()) self->onConnected(ec);
                      });
}

void Connection::onConnected(error_code ec) {
  if (ec == asio::error::connection_refused) {
    return fail("connection refused to " + url_.endpoint());
  }
  if (ec) return fail("cannot connect to " + url_.endpoint() + ": " + ec.message());
  error_code ignored;
  socket().set_option(tcp::no_delay(true), ignored);
  if (!url_.tls) return writeHandshake();

  auto& tls = std::get<TlsStream>(*stream_);
  net::prepareClientTls(tls, url_.host, url_.ipv6);
  tls.async_handshake(ssl::stream_base::client, [self = shared_from_this()](error_code ec) {
    if (!self->stopped()) self->onTlsHandshake(ec);
  });
}

void Connection::onTlsHandshake(error_code ec) {
  if (!ec) return writeHandshake();
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long result = SSL_get_verify_result(std::get<TlsStream>(*stream_).native_handle());
    return fail("certificate verify failed for " + url_.host + ": " +
                X509_verify_cert_error_string(result));
  }
  fail("TLS handshake with " + url_.endpoint() + " failed: " + ec.message());
}

// Headers the handshake owns: the caller's versions are skipped.
bool isHandshakeHeader(std::string_view name) {
  return iequals(name, "host") || iequals(name, "upgrade") || iequals(name, "connection") ||
         iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         (name.size() >= 14 && iequals(name.substr(0, 14), "sec-websocket-"));
}

void Connection::writeHandshake() {
  unsigned char nonce[16];
  randomBytes(nonce, sizeof nonce);
  key_ = base64Encode(std::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
  request_ = "GET " + url_.target + " HTTP/1.1\r\nHost: " + url_.hostHeader() +
             "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
             "\r\nSec-WebSocket-Version: 13\r\n";
  if (!protocols_.empty()) {
    request_ += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < protocols_.size(); ++i) {
      if (i > 0) request_ += ", ";
      request_ += protocols_[i];
    }
    request_ += "\r\n";
  }
  bool hasUserAgent = false;
  for (const auto& [name, value] : headers_) {
    if (isHandshakeHeader(name)) continue;
    hasUserAgent |= iequals(name, "user-agent");
    request_ += name + ": " + value + "\r\n";
  }
  if (!hasUserAgent) request_ += "User-Agent: partyd\r\n";
  request_ += "\r\n";
  headers_.clear();
  withStream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(request_),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (self->stopped()) return;
                        if (ec) {
                          return self->fail("cannot send the handshake to " +
                                            self->url_.endpoint() + ": " + ec.message());
                        }
                        self->request_.clear();
                        self->response_.emplace();
                        self->response_->header_limit(kMaxHandshakeHeaderBytes);
                        self->withStream([&self](auto& s) {
                          bhttp::async_read_header(s, self->handshakeBuffer_, *self->response_,
                                                   [self](error_code ec, std::size_t) {
                                                     if (!self->stopped()) {
                                                       self->onHandshakeResponse(ec);
                                                     }
                                                   });
                        });
                      });
  });
}

// Checks the 101 answer (RFC 6455 4.1, and the Fetch standard's "establish a WebSocket
// connection"), returning the chosen subprotocol.
Result<std::string> Connection::checkHandshake() {
  const auto& res = response_->get();
  if (res.result_int() != 101) {
    return makeError("unexpected response code: " + std::to_string(res.result_int()));
  }
  if (!iequals(trim(res[bhttp::field::upgrade]), "websocket")) {
    return makeError("'Upgrade' header value is not 'websocket'");
  }
  if (!hasToken(res[bhttp::field::connection], "upgrade")) {
    return makeError("'Connection' header value is not 'Upgrade'");
  }
  if (res.count(bhttp::field::sec_websocket_accept) != 1 ||
      trim(res[bhttp::field::sec_websocket_accept]) != acceptKey(key_)) {
    return makeError("incorrect 'Sec-WebSocket-Accept' header value");
  }
  if (res.count(bhttp::field::sec_websocket_extensions) != 0) {
    return makeError("'Sec-WebSocket-Extensions' header sent but no extension was requested");
  }
  std::size_t protocolHeaders = res.count(bhttp::field::sec_websocket_protocol);
  if (protocolHeaders == 0) {
    if (!protocols_.empty()) {
      return makeError("sent a 'Sec-WebSocket-Protocol' header but the response has none");
    }
    return std::string();
  }
  std::string chosen(trim(res[bhttp::field::sec_websocket_protocol]));
  if (protocolHeaders > 1 ||
      std::find(protocols_.begin(), protocols_.end(), chosen) == protocols_.end()) {
    return makeError("'Sec-WebSocket-Protocol' header value '" + chosen +
                     "' in the response does not match any of the sent values");
  }
  return chosen;
}

void Connection::onHandshakeResponse(error_code ec) {
  if (ec == bhttp::error::header_limit) return fail("handshake response headers are too large");
  if (ec) {
    return fail("cannot read the handshake response from " + url_.endpoint() + ": " + ec.message());
  }
  auto protocol = checkHandshake();
  if (!protocol) return fail(protocol.error().message);
  response_.reset();
  ++timerEpoch_;  // the connect timeout no longer applies
  timer_.cancel();
  state_ = State::kOpen;
  // Frames the server sent right behind its 101 came in with the headers.
  auto leftover = handshakeBuffer_.data();
  parser_.feed(static_cast<const char*>(leftover.data()), leftover.size());
  handshakeBuffer_.clear();
  handshakeBuffer_.shrink_to_fit();
  readChunk_ = std::make_unique<char[]>(kReadChunk);
  if (events_.onOpen) {
    dispatching_ = true;
    events_.onOpen(std::move(*protocol));
    dispatching_ = false;
    if (stopped()) return;
  }
  processFrames();
}

// ---- Reading ----

void Connection::readFrames() {
  withStream([this](auto& stream) {
    stream.async_read_some(asio::buffer(readChunk_.get(), kReadChunk),
                           [self = shared_from_this()](error_code ec, std::size_t n) {
                             if (!self->stopped()) self->onRead(ec, n);
                           });
  });
}

void Connection::onRead(error_code ec, std::size_t n) {
  // The connection ended without a closing handshake: not a failure, but not clean either.
  if (ec) return finish(std::nullopt, kCloseAbnormal, "", false, Linger::kNo);
  parser_.feed(readChunk_.get(), n);
  processFrames();
}

void Connection::processFrames() {
  for (;;) {
    switch (parser_.next()) {
      case FrameParser::Status::kNeedMore:
        return readFrames();
      case FrameParser::Status::kMessage:
        // Once we have sent our close frame, messages are dropped (WHATWG: readyState is not OPEN).
        if (state_ == State::kOpen && events_.onMessage) {
          dispatching_ = true;
          events_.onMessage(parser_.opcode() == Opcode::kBinary, std::string(parser_.payload()));
          dispatching_ = false;
          if (stopped()) return;
        }
        break;
      case FrameParser::Status::kPing:
        if (!closeSent_) queueFrame(Opcode::kPong, parser_.payload(), 0);
        break;
      case FrameParser::Status::kPong:
        break;
      case FrameParser::Status::kClose: {
        std::uint16_t code = parser_.closeCode();
        if (!closeSent_) {
          // Echo the code (RFC 6455 5.5.1); no code when the server sent none.
          closeSent_ = true;
          queueFrame(Opcode::kClose, code == kCloseNoStatus ? "" : closePayload(code, ""), 0);
        }
        return finish(std::nullopt, code, std::string(parser_.closeReason()), true, Linger::kFlush);
      }
      case FrameParser::Status::kError: {
        if (!closeSent_) {
          closeSent_ = true;
          queueFrame(Opcode::kClose, closePayload(parser_.errorCode(), parser_.errorReason()), 0);
        }
        std::string why(parser_.errorReason());
        return finish("WebSocket connection to '" + href_ + "' failed: " + why, kCloseAbnormal, "",
                      false, Linger::kFlush);
      }
    }
  }
}

// ---- Writing ----

void Connection::queueFrame(Opcode op, std::string_view payload, std::size_t countedBytes) {
  appendMaskedFrame(pending_, op, payload, core_->maskKey());
  pendingPayload_ += countedBytes;
  if (!writeInFlight_) flush();
}

void Connection::flush() {
  if (pending_.empty()) {
    if (closeWhenFlushed_) closeSocket();
    return;
  }
  writing_.swap(pending_);
  pending_.clear();
  writingPayload_ = pendingPayload_;
  pendingPayload_ = 0;
  writeInFlight_ = true;
  withStream([this](auto& stream) {
    asio::async_write(
        stream, asio::buffer(writing_),
        [self = shared_from_this()](error_code ec, std::size_t) { self->onWritten(ec); });
  });
}

void Connection::onWritten(error_code ec) {
  writeInFlight_ = false;
  writing_.clear();
  writingPayload_ = 0;
  if (!core_->alive || socketClosed_) return;
  if (ec) {
    if (state_ == State::kClosed) return closeSocket();
    return finish(std::nullopt, kCloseAbnormal, "", false, Linger::kNo);
  }
  flush();
}

// ---- Closing ----

WsClient::SendResult Connection::send(bool binary, std::string_view data) {
  if (state_ != State::kOpen || closeSent_) return WsClient::SendResult::kDropped;
  queueFrame(binary ? Opcode::kBinary : Opcode::kText, data, data.size());
  return WsClient::SendResult::kQueued;
}

void Connection::close(std::uint16_t code, std::string_view reason) {
  if (state_ == State::kConnecting) {
    return fail("the connection was closed before it was established");
  }
  if (state_ != State::kOpen || closeSent_) return;
  state_ = State::kClosing;
  closeSent_ = true;
  queueFrame(Opcode::kClose, code == 0 ? std::string() : closePayload(code, reason), 0);
  armTimer(core_->options.closeTimeout, [this] {
    if (state_ == State::kClosing) finish(std::nullopt, kCloseAbnormal, "", false, Linger::kNo);
  });
}

void Connection::finish(std::optional<std::string> error, std::uint16_t code, std::string reason,
                        bool wasClean, Linger linger) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  auto self = shared_from_this();
  core_->connections.erase(id_);
  resolver_.cancel();
  if (linger == Linger::kFlush && stream_ && (writeInFlight_ || !pending_.empty())) {
    // Our close frame is on its way: drop the socket once it is written, or after closeTimeout.
    closeWhenFlushed_ = true;
    armTimer(core_->options.closeTimeout, [this] { closeSocket(); });
  } else {
    closeSocket();
  }
  asio::post(core_->io, [core = core_, events = takeEvents(), error = std::move(error), code,
                         reason = std::move(reason), wasClean]() {
    if (core->alive && error && events.onError) events.onError(*error);
    if (core->alive && events.onClose) events.onClose(code, reason, wasClean);
  });
}

void Connection::closeSocket() {
  ++timerEpoch_;
  timer_.cancel();
  if (!stream_ || socketClosed_) return;
  socketClosed_ = true;
  error_code ignored;
  // No TLS close_notify: after the closing handshake the server drops the connection anyway.
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

void Connection::cancelSilently() {
  state_ = State::kClosed;
  resolver_.cancel();
  closeSocket();
  if (!dispatching_) events_ = {};
}

}  // namespace

// ---- WsClient ---------------------------------------------------------------------------------

WsClient::WsClient(asio::io_context& io, Options options)
    : impl_(std::make_shared<Impl>(io, options)) {}

WsClient::~WsClient() {
  impl_->alive = false;
  auto connections = std::move(impl_->connections);
  impl_->connections.clear();
  for (auto& [id, c] : connections) c->cancelSilently();
}

std::uint64_t WsClient::connect(std::string url, std::vector<std::string> protocols,
                                std::vector<std::pair<std::string, std::string>> headers,
                                Events events) {
  std::uint64_t id = impl_->nextId++;
  auto c = std::make_shared<Connection>(impl_, id, std::move(url), std::move(protocols),
                                        std::move(headers), std::move(events));
  impl_->connections.emplace(id, c);
  c->start();
  return id;
}

WsClient::SendResult WsClient::send(std::uint64_t id, bool binary, std::string_view data) {
  auto it = impl_->connections.find(id);
  if (it == impl_->connections.end()) return SendResult::kDropped;
  return it->second->send(binary, data);
}

void WsClient::close(std::uint64_t id, std::uint16_t code, std::string_view reason) {
  auto it = impl_->connections.find(id);
  if (it == impl_->connections.end()) return;
  auto c = it->second;
  c->close(code, reason);
}

std::size_t WsClient::bufferedAmount(std::uint64_t id) const {
  auto it = impl_->connections.find(id);
  return it == impl_->connections.end() ? 0 : it->second->bufferedAmount();
}

std::size_t WsClient::connectionCount() const {
  return impl_->connections.size();
}

Result<void> WsClient::trustCaFileForTesting(const std::string& path) {
  // A context of our own: the shared one must not change under the other shards.
  TlsContext tls = makeTlsContext();
  error_code ec;
  tls.ctx->load_verify_file(path, ec);
  if (ec) return makeError("cannot load CA file " + path + ": " + ec.message());
  impl_->tls = std::move(tls);
  return {};
}

}  // namespace partyd::ws
