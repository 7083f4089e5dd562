// ws::Connection is one server-side WebSocket after the upgrade: it reads and parses client
// frames, answers pings and the close handshake, and writes pre-encoded frames. Sends only queue;
// the bytes leave when flush() runs, which the shard does once per turn (after the storage
// commit: the output gate), so a burst of sends becomes one writev per socket. Idle connections
// hold no read buffer: reads wait for readability, then go through the shard's scratch buffer.
// The socket is not Asio's: its descriptor is registered once with the shard's net::Poller, and
// the connection reads and writes it itself, so a waiting socket holds no pending operation and
// no reactor state (W4: what a hibernated socket costs).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/poller.h"
#include "ws/frame.h"

namespace partyd::ws {

// Encoded frame bytes, shared: a broadcast encodes once and queues the same buffer everywhere.
using Frame = std::shared_ptr<const std::string>;
Frame makeFrame(Opcode op, std::string_view payload);
Frame makeCloseFrame(std::uint16_t code, std::string_view reason);

// What the owner of a connection (a room) hears from it. Calls come on the shard's thread.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  virtual void onWsMessage(std::uint64_t tag, Opcode op, std::string_view payload) = 0;
  // Brackets the messages of one read (begin = true, then false): the owner may hold its output
  // until the batch ends and write it then, instead of at the end of the loop pass.
  virtual void onWsReadBatch(bool begin) {}
  // Exactly once per connection, when it is finished. `code` is the client's close code, 1005
  // when it sent none, 1006 when the socket ended without a close frame.
  virtual void onWsClosed(std::uint64_t tag, std::uint16_t code, std::string_view reason,
                          bool clean) = 0;
};

// The shard's list of connections with queued bytes, flushed at the end of each turn.
class FlushQueue {
 public:
  void add(class Connection* c);
  void flushAll();
  bool empty() const { return pending_.empty(); }
  std::size_t size() const { return pending_.size(); }

  // The output gate of asynchronous commits (party/turn.h). While gated, what a connection queues
  // is held until released: seal() hands over the connections with output queued since the last
  // seal, each with the end of its queue; release() lets each write up to that end.
  using Sealed = std::vector<std::pair<std::shared_ptr<class Connection>, std::uint64_t>>;
  void setGated(bool on) { gated_ = on; }
  bool gated() const { return gated_; }
  Sealed seal();
  static void release(const Sealed& sealed);

 private:
  bool gated_ = false;
  std::vector<std::shared_ptr<class Connection>> pending_;
  std::vector<std::shared_ptr<class Connection>> scratch_;
};

struct ConnectionLimits {
  std::size_t maxMessageBytes = 16 * 1024 * 1024;
  std::size_t maxQueuedBytes = 32 * 1024 * 1024;  // a slower consumer is disconnected
};

// kDropped: the connection is closing or closed, the frame is not sent. kOverflow: this frame
// would have passed the queue limit; the connection is being closed with 1008 (slow consumer).
enum class SendStatus { kQueued, kDropped, kOverflow };

class Connection final : public std::enable_shared_from_this<Connection>, private net::PollTarget {
 public:
  enum class State : std::uint8_t { kPending, kOpen, kClosing, kClosed };

  Connection(boost::asio::ip::tcp::socket socket, std::string leftover,
             const ConnectionLimits& limits, FlushQueue* flushQueue);
  // A socket handed over with its poller registration (http::Session::takePolled).
  Connection(net::Polled polled, std::string leftover, const ConnectionLimits& limits,
             FlushQueue* flushQueue);
  ~Connection();

  void setOwner(ConnectionOwner* owner, std::uint64_t tag) {
    owner_ = owner;
    tag_ = tag;
  }
  State state() const { return state_; }

  // Queues the handshake response (101, or an HTTP error when rejecting) ahead of any frame.
  void queueRaw(std::string bytes);
  // Completes the upgrade: the 101 is queued first, frames queued while pending follow, and
  // reading starts.
  void open(std::string switchingProtocols);
  // Writes an HTTP error instead of the 101 and closes.
  void reject(std::string httpResponse);

  SendStatus send(const Frame& frame);
  SendStatus send(Opcode op, std::string_view payload) { return send(makeFrame(op, payload)); }
  // Starts the closing handshake (or finishes it, if the client started it).
  void close(std::uint16_t code, std::string_view reason);
  // Drops the socket at once, without a handshake.
  void abort();

  void flush();
  // The output gate (FlushQueue::setGated): lets the queue be written up to `end` (an absolute
  // frame count), and drops what is queued past the released part (a room reset after a failed
  // commit: its unsent output must never leave).
  void releaseTo(std::uint64_t end);
  void discardHeld();
  std::uint64_t queueEnd() const { return base_ + queue_.size(); }
  std::size_t queuedBytes() const { return queuedBytes_; }
  // Gives back what an idle connection holds besides its socket: the frame parser (made again
  // when bytes arrive) and the write queue's capacity. For sockets of hibernated rooms.
  void trim();

 private:
  void adopt(int fd, std::uint32_t slot);  // registers it (kNoSlot) or takes the registration over
  void onPollEvents(std::uint32_t events) override;
  void onPollerShutdown() override;
  void dispatchReady();  // runs the waits whose event has come
  void postReady();      // dispatchReady from the loop, for a wait that starts on an old event
  FrameParser& parser();
  void waitReadable();
  void onReadable();
  void handleBatch();  // handleFrames, bracketed by the owner's onWsReadBatch
  void handleFrames();
  void waitWritable();
  void finish(std::uint16_t code, std::string_view reason, bool clean);
  void startDrain();
  void closeSocket();
  void closeDescriptor();
  void stopAllWaits();  // readWaiting_ and writeWaiting_ end without an event
  void startWaiting(bool* flag);  // readWaiting_ or writeWaiting_
  void stopWaiting(bool* flag);
  void scheduleFlush();
  void noteQueued();  // before every frame joins the queue

  net::Poller* poller_;
  int fd_ = -1;  // -1 once closed
  std::uint32_t slot_ = net::Poller::kNoSlot;
  std::unique_ptr<FrameParser> parser_;  // null while idle and trimmed
  ConnectionLimits limits_;
  FlushQueue* flushQueue_;
  ConnectionOwner* owner_ = nullptr;
  std::uint64_t tag_ = 0;
  std::vector<Frame> queue_;
  std::size_t head_ = 0;        // first frame not fully written
  std::size_t headOffset_ = 0;  // bytes of queue_[head_] already written
  std::size_t queuedBytes_ = 0;
  static constexpr std::uint64_t kNoLimit = ~std::uint64_t{0};
  std::uint64_t base_ = 0;          // frames written and dropped from queue_ so far
  std::uint64_t limit_ = kNoLimit;  // frames before this absolute index may be written
  std::unique_ptr<boost::asio::steady_timer> closeTimer_;
  std::shared_ptr<Connection> waitingSelf_;  // while a wait is on (startWaiting)
  State state_ = State::kPending;
  bool readWaiting_ = false;
  bool writeWaiting_ = false;
  // Edge-triggered: an event says the socket became readable (writable); it stays so until a read
  // (write) finds it drained (full), even when nothing waited at the time of the event.
  bool readReady_ = false;
  bool writeReady_ = false;
  bool readyPosted_ = false;
  bool inFlushQueue_ = false;
  bool closeAfterFlush_ = false;
  bool finished_ = false;
  bool closeSent_ = false;
  bool draining_ = false;  // our close went out; reading only to let the peer finish

  friend class FlushQueue;
};

}  // namespace partyd::ws
