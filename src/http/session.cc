#include "http/session.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "base/log.h"
#include "http/route.h"
#include "net/tls_server.h"

namespace partyd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {
constexpr std::string_view kBreaks{"\r\n\0", 3};

// A status whose response has no body (and says no Content-Length).
bool bodiless(unsigned status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

int familyOf(int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 ? local.ss_family
                                                                            : AF_UNSPEC;
}
std::atomic<bool> closeAfterResponses_{false};
std::atomic<std::int64_t> liveSessions_{0};
}  // namespace

void Session::closeAfterResponses() {
  closeAfterResponses_ = true;
}

std::int64_t Session::liveCount() {
  return liveSessions_.load();
}

Session::Session(net::Socket socket, std::string leftover, const Limits& limits, Handler handler)
    : socket_(std::move(socket)),
      idle_(socket_.get_executor()),
      limits_(limits),
      handler_(std::move(handler)) {
  ++liveSessions_;
  if (net::pipesInUse()) secure_ = net::pipedPeer(socket_.native_handle(), &pipedRemote_);
  if (!leftover.empty()) {
    auto buf = buffer_.prepare(leftover.size());
    asio::buffer_copy(buf, asio::buffer(leftover));
    buffer_.commit(leftover.size());
  }
}

Session::Session(asio::io_context& io, int fd, std::string leftover, const Limits& limits,
                 Handler handler, const tcp::endpoint& peer)
    : Session(net::Socket(io), std::move(leftover), limits, std::move(handler)) {
  if (net::pipesInUse()) secure_ = net::pipedPeer(fd, &pipedRemote_);
  if (peer.port() != 0) peer_ = peer;
  net::Poller& poller = net::Poller::of(io);
  const std::uint32_t slot = poller.add(fd, this);
  if (slot != net::Poller::kNoSlot) {
    poller_ = &poller;
    slot_ = slot;
    fd_ = fd;
    return;
  }
  // The poller refused it (out of memory or descriptors): Asio's reactor may still take it.
  boost::system::error_code ec;
  socket_.assign(familyOf(fd) == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) ::close(fd);
}

void Session::start() {
  if (fd_ < 0 && again_) enterPoller();
  parser_.emplace();
  parser_->header_limit(limits_.maxHeaderBytes);
  parser_->body_limit(limits_.maxBodyBytes);
  parser_->eager(true);
  // After a response that went out in one sendmsg, its deadline (a moment old) serves the read.
  if (!deadlineFresh_) idleDeadline_ = std::chrono::steady_clock::now() + limits_.idleTimeout;
  deadlineFresh_ = false;
  // Through the poller the timer is armed only when a read has to wait: a request that is
  // already there (a new WebSocket's upgrade, most often) needs none, nor its cancellation.
  if (fd_ < 0) armIdle();
  parseBuffered();
}

// Feeds the parser what is buffered, and reads while it needs more. Through the poller a read
// that leaves the socket empty (fewer bytes than asked for, or EAGAIN) parks the session until
// the poller says there is more.
void Session::parseBuffered() {
  for (;;) {
    while (buffer_.size() > 0) {
      boost::system::error_code ec;
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) return onRead(ec);
      if (parser_->is_done()) return onRead({});
      if (used == 0) break;
    }
    if (fd_ < 0) return readSome();
    if (!readReady_) {
      armIdle();
      return startWaiting(&readWaiting_);
    }
    const auto space = readSpace();
    const ssize_t n = ::recv(fd_, space.data(), space.size(), MSG_DONTWAIT);
    if (n > 0) {
      buffer_.commit(static_cast<std::size_t>(n));
      readReady_ = static_cast<std::size_t>(n) == space.size();
    } else if (n == 0) {
      return onEof();
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readReady_ = false;
    } else if (errno != EINTR) {
      return onRead(boost::system::error_code(errno, boost::system::system_category()));
    }
  }
}

// What Beast's reads prepare: the buffer's free space, at least 512 bytes and at most 64 KiB.
beast::flat_buffer::mutable_buffers_type Session::readSpace() {
  return buffer_.prepare(
      std::clamp<std::size_t>(buffer_.capacity() - buffer_.size(), 512, 64 * 1024));
}

void Session::readSome() {
  socket_.async_read_some(
      readSpace(), [self = shared_from_this()](boost::system::error_code ec,
                                                         std::size_t n) {
        self->buffer_.commit(n);
        if (!ec) return self->parseBuffered();
        if (ec != asio::error::eof) return self->onRead(ec);
        self->onEof();
      });
}

// The client ended its side: between requests, quietly; within one, as Beast says.
void Session::onEof() {
  if (!parser_->got_some()) return onRead(bhttp::error::end_of_stream);
  boost::system::error_code eofError;
  parser_->put_eof(eofError);
  if (!eofError && parser_->is_done()) return onRead({});
  onRead(eofError ? eofError : bhttp::error::partial_message);
}

// ---- the poller ------------------------------------------------------------------------------

// A connection that asked to be kept alive after its first response leaves Asio here. Its first
// request stays on Asio, so that a WebSocket upgrade or a one-off request costs no move; one that
// the poller cannot take stays on Asio for good.
void Session::enterPoller() {
  if (released_ || !socket_.is_open()) return;
  net::Poller& poller = net::Poller::of(socket_.get_executor().context());
  const int fd = socket_.native_handle();
  const std::uint32_t slot = poller.add(fd, this);
  if (slot == net::Poller::kNoSlot) return;
  boost::system::error_code ec;
  socket_.release(ec);  // out of Asio's reactor; the descriptor stays open
  if (ec) {
    poller.remove(slot, fd);
    return;
  }
  poller_ = &poller;
  slot_ = slot;
  fd_ = fd;
  readReady_ = writeReady_ = true;
}

void Session::onPollEvents(std::uint32_t events) {
  // A hang-up or an error makes both directions ready: the next read or write reports it.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readReady_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writeReady_ = true;
  auto self = shared_from_this();
  if (writeWaiting_ && writeReady_) {
    stopWaiting(&writeWaiting_);
    writePolled();
  }
  if (readWaiting_ && readReady_) {
    stopWaiting(&readWaiting_);
    parseBuffered();
  }
}

// The loop is gone: the waits end without an event, and so may the session (its destructor
// forgets the slot and closes the descriptor), as an Asio operation's handler was destroyed.
void Session::onPollerShutdown() {
  auto last = std::move(waitingSelf_);  // here, not posted: the loop will not run it
  stopAllWaits();
}

// A waiting session keeps itself alive, and the loop running, as a pending Asio operation did.
void Session::startWaiting(bool* flag) {
  if (*flag) return;
  // Writable is watched from the first write that finds the socket full.
  if (flag == &writeWaiting_) poller_->watchWrites(slot_, fd_);
  *flag = true;
  poller_->startWaiting();
  if (!waitingSelf_) waitingSelf_ = shared_from_this();
}

// Only where the caller holds a reference of its own: this may drop the last.
void Session::stopWaiting(bool* flag) {
  if (!*flag) return;
  *flag = false;
  poller_->stopWaiting();
  if (!readWaiting_ && !writeWaiting_) waitingSelf_.reset();
}

void Session::shutdownSocket(int how) {
  if (fd_ >= 0) {
    ::shutdown(fd_, how);
    return;
  }
  boost::system::error_code ignored;
  socket_.shutdown(how == SHUT_WR ? tcp::socket::shutdown_send : tcp::socket::shutdown_both,
                   ignored);
}

void Session::armIdle() {
  if (idleArmed_) return;
  idleArmed_ = true;
  idle_.expires_at(idleDeadline_);
  idle_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->onIdleTimer();
  });
}

void Session::onIdleTimer() {
  idleArmed_ = false;
  // A handler is working (armed again when it answers), or the socket was taken.
  if (released_ || idleDeadline_ == std::chrono::steady_clock::time_point::max()) return;
  if (std::chrono::steady_clock::now() < idleDeadline_) return armIdle();
  // Idle too long: closing the socket ends the pending read or write (operation_aborted), which
  // ends the session quietly. Through the poller, a shutdown wakes the waiting read (end of
  // stream) or write (an error) instead.
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
    return;
  }
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void Session::onRead(boost::system::error_code ec) {
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::operation_aborted || ec == beast::error::timeout ||
      ec == asio::error::connection_reset) {
    shutdownSocket(SHUT_RDWR);
    return;
  }
  if (ec == bhttp::error::header_limit) return fail(431, "Request Header Fields Too Large\n");
  if (ec == bhttp::error::body_limit) {
    if (limits_.jsonErrors) {
      return fail(413, "{\"error\":\"Payload Too Large: the request body is over this partyd's "
                       "limit of " + std::to_string(limits_.maxBodyBytes) + " bytes\"}");
    }
    return fail(413, "Payload Too Large\n");
  }
  if (ec) return fail(400, "Bad Request: " + ec.message() + "\n");
  idleDeadline_ = std::chrono::steady_clock::time_point::max();
  Request request = parser_->release();
  parser_.reset();
  if (secure_) request.set("x-forwarded-proto", "https");
  handle(std::move(request));
}

void Session::handle(Request&& request) {
  keepAlive_ = request.keep_alive();
  noteRequest(request);
  handler_(shared_from_this(), std::move(request));
}

void Session::fail(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("content-type", limits_.jsonErrors && !body.empty() && body[0] == '{'
                                             ? "application/json"
                                             : "text/plain;charset=UTF-8");
  r.body = std::move(body);
  respond(std::move(r), /*keepAlive=*/false);
}

void Session::noteRequest(const Request& request) {
  keepAlive_ = request.keep_alive();
  headRequest_ = request.method() == bhttp::verb::head;
  started_ = std::chrono::steady_clock::now();
  std::string_view target(request.target().data(), request.target().size());
  if (request.find(bhttp::field::upgrade) != request.end()) {
    kind_ = RequestKind::kUpgrade;
  } else if (target.starts_with("/parties/") || target.starts_with("/party/")) {
    kind_ = RequestKind::kParty;
  } else {
    kind_ = RequestKind::kFetch;
  }
  if (log::enabled(log::Level::kInfo)) {
    requestLine_.assign(request.method_string().data(), request.method_string().size());
    requestLine_ += ' ';
    requestLine_.append(target.data(), target.size());
  }
}

void Session::respond(Response response, bool keepAlive) {
  if (released_) return;
  if (auto hook = takeResponseHook()) hook(response.status);
  // One clock read for the metrics, the log line and the write's idle deadline.
  const auto now = std::chrono::steady_clock::now();
  if (counts_) {
    RequestKind kind = response.asset && kind_ == RequestKind::kFetch ? RequestKind::kAsset : kind_;
    counts_->count(kind, response.status, now - started_);
  }
  if (!requestLine_.empty()) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - started_).count();
    // " 200 0.4ms", in integers: printf's float formatting showed in W6's profile.
    const long long tenths = (us + 50) / 100;
    std::string tail = " " + std::to_string(response.status) + " " + std::to_string(tenths / 10);
    tail += '.';
    tail += static_cast<char>('0' + tenths % 10);
    tail += "ms";
    log::Fields fields;
    fields.event = "request";
    fields.status = static_cast<int>(response.status);
    fields.durationMs = us / 1000.0;
    std::optional<PartyRoute> route;
    if (log::fieldsWanted()) {
      std::string_view target = requestLine_;
      target.remove_prefix(std::min(target.size(), target.find(' ') + 1));
      route = routeParty(target);
      if (route) {
        fields.party = route->party;
        fields.room = route->room;
      }
    }
    log::write(log::Level::kInfo, requestLine_ + tail, fields);
    requestLine_.clear();
  }
  answered_ = true;
  again_ = keepAlive && keepAlive_ && !closeAfterResponses_.load(std::memory_order_relaxed);
  writeHead(response);
  // The body of a HEAD response, and of a status that has none, is not sent.
  if (bodiless(response.status) || headRequest_) {
    body_.clear();
  } else {
    body_ = std::move(response.body);
  }
  idleDeadline_ = now + limits_.idleTimeout;
  if (fd_ < 0) armIdle();  // through the poller, only if the write has to wait (writePolled)
  // Most responses fit the socket's buffer: one sendmsg, no wait. MSG_DONTWAIT leaves the
  // descriptor's own mode, which Asio manages, alone.
  iovec iov[2] = {{head_.data(), head_.size()}, {body_.data(), body_.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = body_.empty() ? 1 : 2;
  ssize_t sent = ::sendmsg(fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;  // the client left
    sent = 0;
  }
  writeRest(static_cast<std::size_t>(sent));
}

// The status line and headers, as Beast wrote them: the handler's headers in their order and
// spelling, but partyd's own framing (Content-Length, Connection: close); a header with a line
// break or NUL in it is dropped rather than let it split the response.
void Session::writeHead(const Response& response) {
  const unsigned status = response.status;
  head_.assign("HTTP/1.1 ");
  head_ += std::to_string(status);
  head_ += ' ';
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  head_.append(reason.data(), reason.size());
  head_ += "\r\n";
  std::string_view givenLength;
  for (const auto& [name, value] : response.headers) {
    if (beast::iequals(name, "content-length")) {
      givenLength = value;
      continue;
    }
    if (beast::iequals(name, "transfer-encoding") || beast::iequals(name, "connection")) continue;
    if (name.empty() || name.find_first_of(kBreaks) != std::string::npos ||
        value.find_first_of(kBreaks) != std::string::npos) {
      continue;
    }
    head_ += name;
    head_ += ": ";
    head_ += value;
    head_ += "\r\n";
  }
  if (!again_) head_ += "Connection: close\r\n";
  if (!bodiless(status)) {
    head_ += "Content-Length: ";
    // A HEAD response says the length of the body it would have had: the handler's, when it
    // gave one and no body (static files), else the body's.
    if (headRequest_ && response.body.empty() && !givenLength.empty() &&
        givenLength.find_first_not_of("0123456789") == std::string_view::npos) {
      head_ += givenLength;
    } else {
      head_ += std::to_string(response.body.size());
    }
    head_ += "\r\n";
  }
  head_ += "\r\n";
}

void Session::writeRest(std::size_t written) {
  if (written >= head_.size() + body_.size()) {
    deadlineFresh_ = true;
    return afterWrite();
  }
  if (fd_ >= 0) {
    written_ = written;
    writeReady_ = false;  // the socket took less than it was given
    return writePolled();
  }
  std::array<asio::const_buffer, 2> rest;
  if (written < head_.size()) {
    rest = {asio::buffer(head_) + written, asio::buffer(body_)};
  } else {
    rest = {asio::buffer(body_) + (written - head_.size()), asio::const_buffer()};
  }
  asio::async_write(socket_, rest,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      if (!ec) self->afterWrite();
                    });
}

void Session::writePolled() {
  for (;;) {
    if (written_ >= head_.size() + body_.size()) return afterWrite();
    if (!writeReady_) {
      armIdle();
      return startWaiting(&writeWaiting_);
    }
    iovec iov[2];
    std::size_t count = 0;
    if (written_ < head_.size()) {
      iov[count++] = {head_.data() + written_, head_.size() - written_};
      if (!body_.empty()) iov[count++] = {body_.data(), body_.size()};
    } else {
      const std::size_t at = written_ - head_.size();
      iov[count++] = {body_.data() + at, body_.size() - at};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      written_ += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writeReady_ = false;
    } else if (errno != EINTR) {
      return;  // the client left: the session ends with its last reference
    }
  }
}

void Session::afterWrite() {
  body_ = std::string();
  if (!again_) {
    idleDeadline_ = std::chrono::steady_clock::time_point::max();
    shutdownSocket(SHUT_WR);
    return;
  }
  // A pipelined request already in the buffer is handled from the loop, not from this stack.
  if (buffer_.size() > 0) {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->start(); });
  } else {
    start();
  }
}

Session::~Session() {
  --liveSessions_;
  if (hook_) hook_(0);
  if (fd_ >= 0) {
    poller_->forget(slot_);
    stopAllWaits();
    ::close(std::exchange(fd_, -1));
  }
}

// The session lets go of its socket: the hook hears 101, and no idle timeout or read follows.
void Session::letGo() {
  if (auto hook = takeResponseHook()) hook(101);
  released_ = true;
  idleDeadline_ = std::chrono::steady_clock::time_point::max();
  idle_.cancel();
}

// Unregisters the descriptor from the poller and gives it up (still open).
int Session::leavePoller() {
  poller_->remove(slot_, fd_);
  stopAllWaits();
  return std::exchange(fd_, -1);
}

void Session::stopAllWaits() {
  for (bool* flag : {&readWaiting_, &writeWaiting_}) {
    if (*flag) poller_->stopWaiting();
    *flag = false;
  }
  if (waitingSelf_) asio::post(socket_.get_executor(), [last = std::move(waitingSelf_)] {});
}

net::Socket Session::takeSocket() {
  if (fd_ < 0) {
    letGo();
    return std::move(socket_);
  }
  // Back from the poller to an Asio socket, for whoever takes it.
  const int fd = takeDescriptor();
  net::Socket socket(socket_.get_executor());
  boost::system::error_code ec;
  socket.assign(familyOf(fd) == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) ::close(fd);
  return socket;
}

int Session::takeDescriptor() {
  if (fd_ < 0) {
    net::Socket socket = takeSocket();
    boost::system::error_code ec;
    const int fd = socket.release(ec);
    return ec ? -1 : fd;
  }
  letGo();
  return leavePoller();
}

net::Polled Session::takePolled() {
  net::Polled out;
  if (fd_ < 0) {
    // Read through Asio: the descriptor leaves its reactor, unregistered (kNoSlot); the new
    // owner registers it, and the registration reports whatever bytes are waiting.
    out.poller = &net::Poller::of(socket_.get_executor().context());
    out.fd = takeDescriptor();
    return out;
  }
  letGo();
  stopAllWaits();
  out.poller = poller_;
  out.fd = std::exchange(fd_, -1);
  out.slot = std::exchange(slot_, net::Poller::kNoSlot);
  out.readReady = readReady_;
  out.writeReady = writeReady_;
  return out;
}

std::string Session::takeLeftover() {
  std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.consume(buffer_.size());
  return out;
}

tcp::endpoint Session::remote() const {
  if (secure_) return pipedRemote_;
  if (peer_) return *peer_;
  if (fd_ >= 0) {
    tcp::endpoint peer;
    socklen_t len = static_cast<socklen_t>(peer.capacity());
    if (::getpeername(fd_, peer.data(), &len) != 0) return {};
    peer.resize(len);
    peer_ = peer;
    return peer;
  }
  boost::system::error_code ec;
  tcp::endpoint peer = socket_.remote_endpoint(ec);
  if (!ec) peer_ = peer;
  return peer;
}

}  // namespace partyd::http
