#include "ws_conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/write.hpp>
#include <cstring>

namespace partyd::bench {

namespace {

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

using boost::system::error_code;

}  // namespace

WsConn::WsConn(asio::io_context& io, WsHandler& handler, size_t read_buffer)
    : socket_(io), handler_(handler), read_(read_buffer < 64 ? 64 : read_buffer) {
  mask_state_ = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(this) >> 4) | 1;
}

// bindSource makes the kernel pick the port at connect() time (IP_BIND_ADDRESS_NO_PORT), so that
// each (source, destination) pair gets the whole ephemeral range.
static error_code bindSource(asio::ip::tcp::socket& socket, const asio::ip::address& source) {
  int on = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
  error_code ec;
  socket.bind({source, 0}, ec);
  return ec;
}

void WsConn::open(const Target& target, size_t n, const std::string& path) {
  connect_start_ = Clock::now();
  state_ = State::kConnecting;
  key_ = makeKey(n * 0x100000001b3ull + reinterpret_cast<uintptr_t>(this));
  request_ = upgradeRequest(target.hostHeader(), path, key_);
  error_code ec;
  socket_.open(asio::ip::tcp::v4(), ec);
  if (!ec && target.sources > 1) ec = bindSource(socket_, target.sourceFor(n));
  if (ec) {
    fail("socket: " + ec.message());
    return;
  }
  socket_.async_connect(target.endpoint(), [this](const error_code& ec) {
    if (ec) {
      fail("connect: " + ec.message());
      return;
    }
    socket_.set_option(asio::ip::tcp::no_delay(true));
    asio::async_write(socket_, asio::buffer(request_), [this](const error_code& ec, size_t) {
      if (ec) fail("write upgrade: " + ec.message());
    });
    readMore();
  });
}

void WsConn::readMore() {
  if (read_len_ == read_.size()) read_.resize(read_.size() * 2);
  socket_.async_read_some(asio::buffer(read_.data() + read_len_, read_.size() - read_len_),
                          [this](const error_code& ec, size_t n) { onRead(ec, n); });
}

void WsConn::onRead(const error_code& ec, size_t n) {
  if (state_ == State::kClosed) return;
  if (ec) {
    fail(ec == asio::error::eof ? "server closed the connection (EOF)" : "read: " + ec.message());
    return;
  }
  Clock::time_point now = Clock::now();
  read_len_ += n;
  std::string_view data(read_.data(), read_len_);
  size_t used = 0;
  if (state_ == State::kConnecting) {
    Handshake handshake = checkUpgradeResponse(data, key_);
    if (handshake.status == HandshakeStatus::kNeedMore) {
      readMore();
      return;
    }
    if (handshake.status == HandshakeStatus::kFailed) {
      fail(handshake.error);
      return;
    }
    used = handshake.header_bytes;
    state_ = State::kOpen;
    opened_at_ = now;
    request_.clear();
    request_.shrink_to_fit();
    handler_.onOpen(*this);
  }
  std::string error;
  while (state_ == State::kOpen) {
    Frame frame;
    ParseStatus status = parseServerFrame(data.substr(used), frame, error);
    if (status == ParseStatus::kNeedMore) break;
    if (status == ParseStatus::kError) {
      fail(error);
      return;
    }
    used += frame.frame_bytes;
    dispatch(frame, now);
  }
  if (state_ == State::kClosed) return;
  std::memmove(read_.data(), read_.data() + used, read_len_ - used);
  read_len_ -= used;
  readMore();
}

void WsConn::dispatch(const Frame& frame, Clock::time_point now) {
  switch (frame.opcode) {
    case Opcode::kText:
    case Opcode::kBinary:
      if (frame.fin) {
        handler_.onMessage(*this, frame.opcode, frame.payload, now);
      } else {
        fragment_opcode_ = frame.opcode;
        fragments_.assign(frame.payload);
      }
      return;
    case Opcode::kContinuation:
      fragments_.append(frame.payload);
      if (frame.fin) {
        handler_.onMessage(*this, fragment_opcode_, fragments_, now);
        fragments_.clear();
      }
      return;
    case Opcode::kPing:
      appendClientFrame(queued_, Opcode::kPong, frame.payload, nextMask());
      flush();
      return;
    case Opcode::kPong:
      return;
    case Opcode::kClose: {
      int code = frame.payload.size() >= 2 ? (static_cast<unsigned char>(frame.payload[0]) << 8) |
                                                 static_cast<unsigned char>(frame.payload[1])
                                           : 1005;
      std::string reason(frame.payload.size() > 2 ? frame.payload.substr(2) : std::string_view());
      fail("server sent close " + std::to_string(code) + " '" + reason + "'");
      return;
    }
    default:
      fail("unknown opcode " + std::to_string(static_cast<int>(frame.opcode)));
  }
}

uint32_t WsConn::nextMask() {
  uint32_t x = mask_state_;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  mask_state_ = x;
  return x;
}

void WsConn::queueText(std::string_view payload) {
  appendClientFrame(queued_, Opcode::kText, payload, nextMask());
}

void WsConn::flush() {
  if (writing_ || queued_.empty() || state_ != State::kOpen) return;
  writeQueued();
}

void WsConn::writeQueued() {
  writing_ = true;
  writing_buffer_.swap(queued_);
  asio::async_write(socket_, asio::buffer(writing_buffer_), [this](const error_code& ec, size_t) {
    writing_ = false;
    writing_buffer_.clear();
    if (state_ == State::kClosed) return;
    if (ec) {
      fail("write: " + ec.message());
      return;
    }
    if (close_after_write_ && queued_.empty()) {
      state_ = State::kClosed;
      error_code ignored;
      socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
      return;
    }
    if (!queued_.empty()) {
      writeQueued();
      return;
    }
    handler_.onDrained(*this);
  });
}

void WsConn::close() {
  if (state_ != State::kOpen) {
    fail("closed by the client");
    return;
  }
  static constexpr char kNormal[] = {0x03, static_cast<char>(0xE8)};
  appendClientFrame(queued_, Opcode::kClose, std::string_view(kNormal, 2), nextMask());
  close_after_write_ = true;
  flush();
}

void WsConn::fail(std::string_view error) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  error_code ignored;
  socket_.close(ignored);
  handler_.onFailure(*this, error);
}

}  // namespace partyd::bench
