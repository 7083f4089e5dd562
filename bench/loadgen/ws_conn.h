// WsConn is one client WebSocket on one Loops thread: TCP connect (from the Target's source
// address for this connection), the upgrade, then masked frames out and server frames in. Writes
// are batched: queueText() appends a frame, flush() starts one write for everything queued.
// Events go to a WsHandler; the workload owns both and keeps them alive until its loops stop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "target.h"
#include "ws_codec.h"

namespace partyd::bench {

class WsConn;

class WsHandler {
 public:
  // onOpen runs when the 101 has arrived (conn.openedAt() is set).
  virtual void onOpen(WsConn& conn) {}
  // onMessage runs for each complete text or binary message; `now` is when its read completed.
  virtual void onMessage(WsConn& conn, Opcode opcode, std::string_view payload,
                         Clock::time_point now) = 0;
  // onDrained runs when a write completed and nothing more is queued.
  virtual void onDrained(WsConn& conn) {}
  // onFailure runs once, when the connection fails or the server closes it; the socket is closed.
  virtual void onFailure(WsConn& conn, std::string_view error) = 0;

 protected:
  ~WsHandler() = default;
};

class WsConn {
 public:
  enum class State { kIdle, kConnecting, kOpen, kClosed };

  WsConn(asio::io_context& io, WsHandler& handler, size_t read_buffer = 16384);
  WsConn(const WsConn&) = delete;
  WsConn& operator=(const WsConn&) = delete;

  // open connects connection number `n` of the run to `path` on the target.
  void open(const Target& target, size_t n, const std::string& path);
  void queueText(std::string_view payload);
  void flush();
  void sendText(std::string_view payload) {
    queueText(payload);
    flush();
  }
  // close sends a close frame (1000) and then closes the socket without waiting for the reply.
  void close();

  State state() const { return state_; }
  bool writing() const { return writing_; }
  Clock::time_point connectStart() const { return connect_start_; }
  Clock::time_point openedAt() const { return opened_at_; }

  uint32_t index = 0;  // for the workload: which client this is

 private:
  void readMore();
  void onRead(const boost::system::error_code& ec, size_t n);
  void dispatch(const Frame& frame, Clock::time_point now);
  void writeQueued();
  void fail(std::string_view error);
  uint32_t nextMask();

  asio::ip::tcp::socket socket_;
  WsHandler& handler_;
  State state_ = State::kIdle;
  std::string key_;
  std::string request_;
  std::vector<char> read_;
  size_t read_len_ = 0;
  std::string fragments_;
  Opcode fragment_opcode_ = Opcode::kText;
  std::string queued_;
  std::string writing_buffer_;
  bool writing_ = false;
  bool close_after_write_ = false;
  uint32_t mask_state_;
  Clock::time_point connect_start_;
  Clock::time_point opened_at_;
};

}  // namespace partyd::bench
