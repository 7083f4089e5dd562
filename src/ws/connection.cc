#include "ws/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>

namespace partyd::ws {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// Reads go through one buffer per thread, so an idle connection holds no read buffer of its own.
thread_local std::array<char, 64 * 1024> tScratch;
constexpr std::size_t kMaxIov = 64;
constexpr auto kCloseHandshakeTimeout = std::chrono::seconds(3);
}  // namespace

Frame makeFrame(Opcode op, std::string_view payload) {
  auto bytes = std::make_shared<std::string>();
  bytes->reserve(frameHeaderSize(payload.size()) + payload.size());
  appendFrame(*bytes, op, payload);
  return bytes;
}

Frame makeCloseFrame(std::uint16_t code, std::string_view reason) {
  if (code == 1005) return makeFrame(Opcode::kClose, {});
  return makeFrame(Opcode::kClose, closePayload(code, reason));
}

// ---- FlushQueue -----------------------------------------------------------------------------

void FlushQueue::add(Connection* c) {
  if (c->inFlushQueue_) return;
  c->inFlushQueue_ = true;
  pending_.push_back(c->shared_from_this());
}

void FlushQueue::flushAll() {
  while (!pending_.empty()) {
    scratch_.swap(pending_);
    for (auto& c : scratch_) {
      c->inFlushQueue_ = false;
      c->flush();
    }
    scratch_.clear();
  }
}

FlushQueue::Sealed FlushQueue::seal() {
  Sealed out;
  out.reserve(pending_.size());
  for (auto& c : pending_) {
    c->inFlushQueue_ = false;
    out.emplace_back(c, c->queueEnd());
  }
  pending_.clear();
  return out;
}

void FlushQueue::release(const Sealed& sealed) {
  for (const auto& [c, end] : sealed) c->releaseTo(end);
}

// ---- Connection -----------------------------------------------------------------------------

namespace {
asio::io_context& contextOf(tcp::socket& socket) {
  return static_cast<asio::io_context&>(
      asio::query(socket.get_executor(), asio::execution::context));
}

enum class Io { kDone, kWouldBlock, kFailed };

// recv(2) and sendmsg(2) as one result: bytes moved, nothing possible now, or the end (an error,
// or a read of zero bytes: the peer finished sending).
Io readSome(int fd, char* data, std::size_t size, std::size_t* n) {
  for (;;) {
    ssize_t r = ::recv(fd, data, size, MSG_DONTWAIT);
    if (r > 0) {
      *n = static_cast<std::size_t>(r);
      return Io::kDone;
    }
    if (r == 0) return Io::kFailed;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWouldBlock : Io::kFailed;
  }
}

Io writeSome(int fd, iovec* iov, std::size_t count, std::size_t* n) {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  for (;;) {
    ssize_t r = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
      *n = static_cast<std::size_t>(r);
      return Io::kDone;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWouldBlock : Io::kFailed;
  }
}
}  // namespace

// The descriptor leaves Asio here (its reactor forgets it) for the shard's poller. One that is
// already dead, or that the poller cannot take, is closed: the connection then reads nothing and
// writes nothing, as an Asio socket that failed to open did. Reads and writes say MSG_DONTWAIT,
// so the descriptor's own blocking mode does not matter (no ioctl on the way).
Connection::Connection(tcp::socket socket, std::string leftover, const ConnectionLimits& limits,
                       FlushQueue* flushQueue)
    : poller_(&net::Poller::of(contextOf(socket))), limits_(limits), flushQueue_(flushQueue) {
  boost::system::error_code ec;
  if (socket.is_open()) {
    int fd = socket.release(ec);
    if (!ec) adopt(fd, net::Poller::kNoSlot);
  }
  if (!leftover.empty()) parser().feed(leftover.data(), leftover.size());
}

// A socket that is already in the poller (an HTTP session's, after the upgrade) keeps its
// registration: no epoll_ctl, and what its session knew of its readiness stays true.
Connection::Connection(net::Polled polled, std::string leftover, const ConnectionLimits& limits,
                       FlushQueue* flushQueue)
    : poller_(polled.poller), limits_(limits), flushQueue_(flushQueue) {
  if (polled.fd >= 0) {
    adopt(polled.fd, polled.slot);
    if (fd_ >= 0 && polled.slot != net::Poller::kNoSlot) {
      readReady_ = polled.readReady;
      writeReady_ = polled.writeReady;
    }
  }
  if (!leftover.empty()) parser().feed(leftover.data(), leftover.size());
}

void Connection::adopt(int fd, std::uint32_t slot) {
  if (slot == net::Poller::kNoSlot) {
    slot = poller_->add(fd, this);
    if (slot == net::Poller::kNoSlot) {
      ::close(fd);
      return;
    }
  } else {
    poller_->retarget(slot, this);
  }
  fd_ = fd;
  slot_ = slot;
}

Connection::~Connection() {
  closeDescriptor();
}

// ---- the descriptor and its events ----------------------------------------------------------

void Connection::onPollEvents(std::uint32_t events) {
  // A hang-up or an error makes both directions "ready": the next read or write reports it.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readReady_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writeReady_ = true;
  dispatchReady();
}

// The write first, then the read, in the order Asio's reactor completed the two waits.
void Connection::dispatchReady() {
  auto self = shared_from_this();
  if (writeWaiting_ && writeReady_) {
    stopWaiting(&writeWaiting_);
    flush();
  }
  if (readWaiting_ && readReady_) {
    stopWaiting(&readWaiting_);
    onReadable();
  }
}

void Connection::postReady() {
  if (readyPosted_) return;
  readyPosted_ = true;
  asio::post(poller_->context(), [self = shared_from_this()] {
    self->readyPosted_ = false;
    self->dispatchReady();
  });
}

// The loop is gone: the waits end without an event, and the connection may end with them (its
// destructor forgets the slot and closes the descriptor). Its owner, if it still has one, keeps it.
void Connection::onPollerShutdown() {
  auto last = std::move(waitingSelf_);  // here, not posted: the loop will not run it
  stopAllWaits();
}

// A waiting connection keeps itself alive, as the pending operation of an Asio wait did: an owner
// that lets go of a finished connection still has its last bytes written (or its drain run).
void Connection::startWaiting(bool* flag) {
  *flag = true;
  poller_->startWaiting();
  if (!waitingSelf_) waitingSelf_ = shared_from_this();
}

// Only where the caller holds a reference of its own (dispatchReady): this may drop the last.
void Connection::stopWaiting(bool* flag) {
  if (!*flag) return;
  *flag = false;
  poller_->stopWaiting();
  if (!readWaiting_ && !writeWaiting_) waitingSelf_.reset();
}

// Closing ends the waits at once; the reference they held goes from the loop, as an Asio socket's
// waits completed with operation_aborted (the caller may be a method of this connection).
void Connection::closeDescriptor() {
  if (fd_ < 0) return;
  poller_->forget(slot_);
  ::close(fd_);
  fd_ = -1;
  slot_ = net::Poller::kNoSlot;
  readReady_ = writeReady_ = false;
  stopAllWaits();
}

// The waits end without an event; the reference they held goes from the loop (the caller may be a
// method of this connection).
void Connection::stopAllWaits() {
  for (bool* flag : {&readWaiting_, &writeWaiting_}) {
    if (*flag) poller_->stopWaiting();
    *flag = false;
  }
  if (waitingSelf_) asio::post(poller_->context(), [last = std::move(waitingSelf_)] {});
}

void Connection::noteQueued() {
  if (!flushQueue_ || !flushQueue_->gated()) return;
  if (limit_ == kNoLimit) limit_ = base_ + queue_.size();
  flushQueue_->add(this);
}

void Connection::releaseTo(std::uint64_t end) {
  if (limit_ != kNoLimit && end > limit_) limit_ = end;
  flush();
}

void Connection::discardHeld() {
  if (limit_ == kNoLimit) return;
  std::size_t keep = limit_ > base_ ? static_cast<std::size_t>(limit_ - base_) : 0;
  keep = std::max(keep, head_ + (headOffset_ > 0 ? 1 : 0));
  for (std::size_t i = keep; i < queue_.size(); ++i) queuedBytes_ -= queue_[i]->size();
  if (keep < queue_.size()) queue_.resize(keep);
}

void Connection::queueRaw(std::string bytes) {
  noteQueued();
  queuedBytes_ += bytes.size();
  queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(head_),
                std::make_shared<const std::string>(std::move(bytes)));
}

void Connection::open(std::string switchingProtocols) {
  if (state_ != State::kPending) return;
  queueRaw(std::move(switchingProtocols));
  state_ = State::kOpen;
  scheduleFlush();
  waitReadable();
  if (parser_ && parser_->buffered() > 0) {
    // Frames that arrived with the upgrade request. Not handled inline: the caller may be JS.
    asio::post(poller_->context(), [self = shared_from_this()] { self->handleBatch(); });
  }
}

void Connection::reject(std::string httpResponse) {
  if (state_ != State::kPending) return;
  // Frames queued while pending must not follow an HTTP error; the error itself is not gated.
  queue_.clear();
  limit_ = kNoLimit;
  head_ = headOffset_ = 0;
  queuedBytes_ = 0;
  queueRaw(std::move(httpResponse));
  state_ = State::kClosing;
  closeAfterFlush_ = true;
  finished_ = true;  // the owner never saw this connection open
  flush();
}

SendStatus Connection::send(const Frame& frame) {
  if (finished_ || closeSent_) return SendStatus::kDropped;
  if (queuedBytes_ + frame->size() > limits_.maxQueuedBytes) {
    // A consumer this far behind would grow memory without bound. Before the upgrade there is
    // nothing to tell it with: it is cut off. After it, the frames it has not begun to receive
    // are dropped and it is closed with 1008, which it sees as soon as it reads again (the close
    // timer cuts it off if it never does).
    if (state_ == State::kPending) {
      abort();
      return SendStatus::kOverflow;
    }
    std::size_t keep = head_ + (headOffset_ > 0 ? 1 : 0);
    for (std::size_t i = keep; i < queue_.size(); ++i) queuedBytes_ -= queue_[i]->size();
    queue_.resize(std::min(keep, queue_.size()));
    close(1008, "send queue full: the client reads too slowly");
    return SendStatus::kOverflow;
  }
  noteQueued();
  queuedBytes_ += frame->size();
  queue_.push_back(frame);
  scheduleFlush();
  return SendStatus::kQueued;
}

void Connection::scheduleFlush() {
  if (state_ == State::kPending || !flushQueue_) return;
  flushQueue_->add(this);
}

void Connection::close(std::uint16_t code, std::string_view reason) {
  if (finished_ || closeSent_) return;
  closeSent_ = true;
  Frame frame = makeCloseFrame(code, reason);
  noteQueued();
  queuedBytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (state_ == State::kPending) return;  // sent right after the 101
  state_ = State::kClosing;
  scheduleFlush();
  closeTimer_ = std::make_unique<asio::steady_timer>(poller_->context());
  closeTimer_->expires_after(kCloseHandshakeTimeout);
  closeTimer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->abort();
  });
}

void Connection::abort() {
  closeDescriptor();
  queue_.clear();
  head_ = headOffset_ = queuedBytes_ = 0;
  if (closeTimer_) closeTimer_->cancel();
  finish(1006, "", false);
}

void Connection::finish(std::uint16_t code, std::string_view reason, bool clean) {
  if (finished_) return;
  finished_ = true;
  state_ = State::kClosed;
  closeAfterFlush_ = true;
  if (head_ >= queue_.size()) {
    if (closeSent_ && fd_ >= 0) {
      startDrain();
    } else {
      closeDescriptor();
    }
  } else {
    scheduleFlush();
  }
  if (closeTimer_ && !draining_) closeTimer_->cancel();
  if (owner_) {
    ConnectionOwner* owner = owner_;
    owner_ = nullptr;
    owner->onWsClosed(tag_, code, reason, clean);
  }
}

// ---- reading --------------------------------------------------------------------------------

FrameParser& Connection::parser() {
  if (!parser_) parser_ = std::make_unique<FrameParser>(limits_.maxMessageBytes);
  return *parser_;
}

void Connection::trim() {
  if (parser_ && parser_->idle()) parser_.reset();
  if (queue_.empty()) std::vector<Frame>().swap(queue_);
}

void Connection::waitReadable() {
  if (readWaiting_ || fd_ < 0) return;
  startWaiting(&readWaiting_);
  // The event came while nothing waited (before open(), or during the read's own handlers): it
  // will not come again, so the wait ends from the loop, never inside the caller (it may be JS).
  if (readReady_) postReady();
}

void Connection::onReadable() {
  auto self = shared_from_this();
  if (draining_) {
    // After our close frame: read and drop until the peer closes, so that unread bytes do not
    // turn our close into a reset that loses the close frame.
    for (;;) {
      std::size_t n = 0;
      Io io = readSome(fd_, tScratch.data(), tScratch.size(), &n);
      if (io == Io::kWouldBlock) {
        readReady_ = false;
        break;
      }
      if (io == Io::kFailed) {
        closeSocket();
        return;
      }
    }
    waitReadable();
    return;
  }
  bool eof = false;
  for (;;) {
    std::size_t n = 0;
    Io io = readSome(fd_, tScratch.data(), tScratch.size(), &n);
    if (io == Io::kWouldBlock) {
      readReady_ = false;
      break;
    }
    if (io == Io::kFailed) {
      eof = true;
      break;
    }
    parser().feed(tScratch.data(), n);
    // A short read emptied the socket: bytes that come after it raise a new event.
    if (n < tScratch.size()) {
      readReady_ = false;
      break;
    }
  }
  handleBatch();
  if (eof) {
    if (draining_) {
      closeSocket();
      return;
    }
    abort();
    return;
  }
  if (!finished_ || draining_) waitReadable();
  if (parser_ && parser_->buffered() == 0) parser_->shrink();
}

void Connection::handleBatch() {
  ConnectionOwner* owner = owner_;  // handleFrames may detach it; the bracket must close anyway
  if (owner) owner->onWsReadBatch(true);
  handleFrames();
  if (owner) owner->onWsReadBatch(false);
}

void Connection::handleFrames() {
  auto self = shared_from_this();
  while (parser_ && fd_ >= 0) {
    FrameParser& parser = *parser_;
    FrameParser::Status status = parser.next();
    switch (status) {
      case FrameParser::Status::kNeedMore:
        return;
      case FrameParser::Status::kMessage:
        if (state_ == State::kOpen && owner_) {
          owner_->onWsMessage(tag_, parser.opcode(), parser.payload());
        }
        break;
      case FrameParser::Status::kPing:
        if (!closeSent_) {
          Frame pong = makeFrame(Opcode::kPong, parser.payload());
          noteQueued();
          queuedBytes_ += pong->size();
          queue_.push_back(std::move(pong));
          flush();
        }
        break;
      case FrameParser::Status::kPong:
        break;
      case FrameParser::Status::kClose: {
        std::uint16_t code = parser.closeCode();
        std::string reason(parser.closeReason());
        if (!closeSent_) {
          closeSent_ = true;
          Frame frame = makeCloseFrame(code, reason);
          noteQueued();
          queuedBytes_ += frame->size();
          queue_.push_back(std::move(frame));
        }
        finish(code, reason, true);
        flush();
        return;
      }
      case FrameParser::Status::kError: {
        std::uint16_t code = parser.errorCode();
        std::string reason(parser.errorReason());
        if (!closeSent_) {
          closeSent_ = true;
          Frame frame = makeCloseFrame(code, reason);
          noteQueued();
          queuedBytes_ += frame->size();
          queue_.push_back(std::move(frame));
        }
        finish(code, reason, false);
        flush();
        return;
      }
    }
  }
}

// ---- writing --------------------------------------------------------------------------------

void Connection::flush() {
  if (writeWaiting_ || fd_ < 0 || state_ == State::kPending) return;
  // Past limit_ the frames wait for their commit (the gate of asynchronous commits).
  const std::size_t end =
      limit_ == kNoLimit
          ? queue_.size()
          : std::min<std::size_t>(queue_.size(), limit_ > base_ ? limit_ - base_ : 0);
  while (head_ < end) {
    std::array<iovec, kMaxIov> iov;
    std::size_t count = 0;
    for (std::size_t i = head_; i < end && count < kMaxIov; ++i) {
      const std::string& bytes = *queue_[i];
      std::size_t skip = (i == head_) ? headOffset_ : 0;
      iov[count++] = {const_cast<char*>(bytes.data() + skip), bytes.size() - skip};
    }
    std::size_t written = 0;
    Io io = writeSome(fd_, iov.data(), count, &written);
    if (io == Io::kWouldBlock) {
      writeReady_ = false;
      waitWritable();
      return;
    }
    if (io == Io::kFailed) {
      abort();
      return;
    }
    queuedBytes_ -= written;
    while (written > 0) {
      std::size_t left = queue_[head_]->size() - headOffset_;
      if (written >= left) {
        written -= left;
        queue_[head_].reset();
        ++head_;
        headOffset_ = 0;
      } else {
        headOffset_ += written;
        written = 0;
      }
    }
  }
  if (head_ < queue_.size()) return;  // the rest is held
  base_ += queue_.size();
  queue_.clear();
  head_ = headOffset_ = 0;
  if (closeAfterFlush_ && finished_) startDrain();
}

void Connection::startDrain() {
  if (draining_) return;
  draining_ = true;
  ::shutdown(fd_, SHUT_WR);
  closeTimer_ = std::make_unique<asio::steady_timer>(poller_->context());
  closeTimer_->expires_after(kCloseHandshakeTimeout);
  closeTimer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->closeSocket();
  });
  waitReadable();
}

void Connection::closeSocket() {
  closeDescriptor();
  if (closeTimer_) closeTimer_->cancel();
}

void Connection::waitWritable() {
  // Writable is watched from the first write that finds the socket full.
  poller_->watchWrites(slot_, fd_);
  startWaiting(&writeWaiting_);
  if (writeReady_) postReady();
}

}  // namespace partyd::ws
