// Tests for ws::Connection and FlushQueue over real loopback TCP sockets. The test is the client:
// it writes masked frames with plain blocking writes and reads the server's bytes asynchronously
// on the same io_context, parsing them with a FrameParser in client mode. Everything is driven
// step by step with run_one_for (which waits for an event, never for a time).
#include "ws/connection.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ws/frame.h"

namespace partyd::ws {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

constexpr std::string_view kSwitching =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

// ---- the owner: records what the connection reports -------------------------------------------

struct Owner : ConnectionOwner {
  std::vector<std::string> messages;  // "text:..." or "binary:..."
  int batchesBegun = 0;
  int batchesEnded = 0;
  int closes = 0;
  std::uint16_t closeCode = 0;
  std::string closeReason;
  bool closeClean = false;
  std::function<void(std::string_view)> onMessage;

  void onWsMessage(std::uint64_t tag, Opcode op, std::string_view payload) override {
    EXPECT_EQ(tag, 7u);
    messages.push_back((op == Opcode::kText ? "text:" : "binary:") + std::string(payload));
    if (onMessage) onMessage(payload);
  }
  void onWsReadBatch(bool begin) override { ++(begin ? batchesBegun : batchesEnded); }
  void onWsClosed(std::uint64_t tag, std::uint16_t code, std::string_view reason,
                  bool clean) override {
    EXPECT_EQ(tag, 7u);
    ++closes;
    closeCode = code;
    closeReason = std::string(reason);
    closeClean = clean;
  }
};

// ---- the client side ---------------------------------------------------------------------------

// What the server sent, one event per frame (or the end of the stream).
struct ServerEvent {
  FrameParser::Status status;
  Opcode op = Opcode::kText;
  std::string payload;
  std::uint16_t code = 0;
  std::string reason;
};

class Client {
 public:
  explicit Client(asio::io_context& io) : socket_(io) {}

  tcp::socket& socket() { return socket_; }

  // Writes one masked frame (a blocking write: the bytes are in the server's socket on return).
  void sendFrame(Opcode op, std::string_view payload, Fin fin = Fin::kYes) {
    std::string wire;
    appendMaskedFrame(wire, op, payload, {0x12, 0x34, 0x56, 0x78}, fin);
    sendRaw(wire);
  }
  void sendClose(std::uint16_t code, std::string_view reason) {
    sendFrame(Opcode::kClose, closePayload(code, reason));
  }
  void sendRaw(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // Starts reading the server's bytes in the background of the io_context.
  void startReading() {
    if (reading_) return;
    reading_ = true;
    readMore();
  }

  // The HTTP head the server wrote before its frames ("" until it is complete).
  const std::string& head() const { return head_; }
  std::vector<ServerEvent>& events() { return events_; }
  std::size_t frameBytes() const { return frameBytes_; }
  bool ended() const { return ended_; }
  error_code endError() const { return endError_; }

 private:
  void readMore() {
    socket_.async_read_some(asio::buffer(buf_), [this](error_code ec, std::size_t n) {
      if (ec) {
        ended_ = true;
        endError_ = ec;
        return;
      }
      take(std::string_view(buf_.data(), n));
      readMore();
    });
  }

  void take(std::string_view bytes) {
    if (!headDone_) {
      pendingHead_.append(bytes);
      std::size_t end = pendingHead_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      head_ = pendingHead_.substr(0, end + 4);
      headDone_ = true;
      bytes = std::string_view(pendingHead_).substr(end + 4);
      frameBytes_ += bytes.size();
      parser_.feed(bytes.data(), bytes.size());
    } else {
      frameBytes_ += bytes.size();
      parser_.feed(bytes.data(), bytes.size());
    }
    for (;;) {
      FrameParser::Status s = parser_.next();
      if (s == FrameParser::Status::kNeedMore) break;
      ServerEvent e;
      e.status = s;
      if (s == FrameParser::Status::kError) {
        e.code = parser_.errorCode();
        events_.push_back(e);
        break;
      }
      e.op = parser_.opcode();
      e.payload = std::string(parser_.payload());
      if (s == FrameParser::Status::kClose) {
        e.code = parser_.closeCode();
        e.reason = std::string(parser_.closeReason());
      }
      events_.push_back(std::move(e));
    }
  }

  tcp::socket socket_;
  std::array<char, 16 * 1024> buf_;
  bool reading_ = false;
  bool headDone_ = false;
  std::string pendingHead_;
  std::string head_;
  FrameParser parser_{std::size_t{1} << 30, FrameParser::From::kServer};
  std::vector<ServerEvent> events_;
  std::size_t frameBytes_ = 0;
  bool ended_ = false;
  error_code endError_;
};

// ---- fixture -----------------------------------------------------------------------------------

// Kernel buffer sizes to set (0: the system's), to make writes stop part-way.
struct Buffers {
  int clientReceive = 0;
  int serverSend = 0;
};

class ConnectionTest : public ::testing::Test {
 protected:
  // Connects a client to a Connection on 127.0.0.1 (not yet open).
  void connect(ConnectionLimits limits = {}, std::string leftover = {}, Buffers buffers = {}) {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client_ = std::make_unique<Client>(io_);
    client_->socket().open(tcp::v4());
    if (buffers.clientReceive > 0) {
      client_->socket().set_option(asio::socket_base::receive_buffer_size(buffers.clientReceive));
    }
    client_->socket().connect(acceptor.local_endpoint());
    tcp::socket server(io_);
    acceptor.accept(server);
    if (buffers.serverSend > 0) {
      server.set_option(asio::socket_base::send_buffer_size(buffers.serverSend));
    }
    conn_ = std::make_shared<Connection>(std::move(server), std::move(leftover), limits, &flush_);
    conn_->setOwner(&owner_, 7);
  }

  // connect(), then the upgrade completes: the 101 goes out with the end of the turn.
  void connectOpen(ConnectionLimits limits = {}) {
    connect(limits);
    conn_->open(std::string(kSwitching));
    flush_.flushAll();
    client_->startReading();
    ASSERT_TRUE(runUntil([&] { return !client_->head().empty(); }));
    EXPECT_EQ(client_->head(), kSwitching);
  }

  // Runs handlers until `done` holds; false if 5 s pass with no event at all.
  bool runUntil(const std::function<bool()>& done) {
    while (!done()) {
      if (io_.stopped()) io_.restart();
      if (io_.run_one_for(5s) == 0 && !done()) return false;
    }
    return true;
  }

  bool hasServerEvent(FrameParser::Status s) {
    for (const auto& e : client_->events()) {
      if (e.status == s) return true;
    }
    return false;
  }

  asio::io_context io_;
  Owner owner_;
  FlushQueue flush_;
  std::unique_ptr<Client> client_;
  std::shared_ptr<Connection> conn_;
};

// ---- reading ----------------------------------------------------------------------------------

TEST_F(ConnectionTest, DeliversFramesReceivedInOneRead) {
  connectOpen();
  std::string wire;
  appendMaskedFrame(wire, Opcode::kText, "one", {1, 2, 3, 4});
  appendMaskedFrame(wire, Opcode::kBinary, std::string("\0\1\2", 3), {5, 6, 7, 8});
  appendMaskedFrame(wire, Opcode::kText, "thr", {9, 9, 9, 9}, Fin::kNo);
  appendMaskedFrame(wire, Opcode::kContinuation, "ee", {1, 1, 1, 1});
  client_->sendRaw(wire);
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 3; }));
  EXPECT_EQ(owner_.messages,
            (std::vector<std::string>{"text:one", std::string("binary:\0\1\2", 10), "text:three"}));
  // One read, one batch around all three.
  EXPECT_EQ(owner_.batchesBegun, 1);
  EXPECT_EQ(owner_.batchesEnded, 1);
  EXPECT_EQ(conn_->state(), Connection::State::kOpen);
}

TEST_F(ConnectionTest, ReassemblesFramesSplitAcrossReads) {
  connectOpen();
  std::string wire;
  appendMaskedFrame(wire, Opcode::kText, std::string(300, 'x'), {1, 2, 3, 4});  // 16-bit length
  // In the first 2 bytes, then inside the extended length, the mask key and the payload.
  std::size_t cuts[] = {1, 3, 6, 100, wire.size()};
  std::size_t at = 0;
  int reads = 0;
  for (std::size_t cut : cuts) {
    EXPECT_TRUE(owner_.messages.empty());
    client_->sendRaw(std::string_view(wire).substr(at, cut - at));
    at = cut;
    ++reads;
    ASSERT_TRUE(runUntil([&] { return owner_.batchesEnded == reads; }));
  }
  ASSERT_EQ(owner_.messages.size(), 1u);
  EXPECT_EQ(owner_.messages[0], "text:" + std::string(300, 'x'));

  // A fragmented message whose fragments come in separate reads.
  client_->sendFrame(Opcode::kBinary, "ab", Fin::kNo);
  ASSERT_TRUE(runUntil([&] { return owner_.batchesEnded == reads + 1; }));
  client_->sendFrame(Opcode::kContinuation, "cd", Fin::kNo);
  ASSERT_TRUE(runUntil([&] { return owner_.batchesEnded == reads + 2; }));
  EXPECT_EQ(owner_.messages.size(), 1u);
  client_->sendFrame(Opcode::kContinuation, "ef");
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 2; }));
  EXPECT_EQ(owner_.messages[1], "binary:abcdef");
}

TEST_F(ConnectionTest, HandlesFramesThatCameWithTheUpgradeRequest) {
  std::string leftover;
  appendMaskedFrame(leftover, Opcode::kText, "early", {1, 2, 3, 4});
  appendMaskedFrame(leftover, Opcode::kText, "bi", {1, 2, 3, 4}, Fin::kNo);  // half a message
  connect({}, leftover);
  conn_->open(std::string(kSwitching));
  // Not delivered inline from open(): its caller may be JS.
  EXPECT_TRUE(owner_.messages.empty());
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 1; }));
  EXPECT_EQ(owner_.messages[0], "text:early");
  client_->sendFrame(Opcode::kContinuation, "rd");
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 2; }));
  EXPECT_EQ(owner_.messages[1], "text:bird");
}

TEST_F(ConnectionTest, AnswersPingWithPong) {
  connectOpen();
  client_->sendFrame(Opcode::kPing, "are you there");
  ASSERT_TRUE(runUntil([&] { return !client_->events().empty(); }));
  const ServerEvent& pong = client_->events()[0];
  EXPECT_EQ(pong.status, FrameParser::Status::kPong);
  EXPECT_EQ(pong.payload, "are you there");
  // A pong from the client is not a message.
  client_->sendFrame(Opcode::kPong, "unsolicited");
  client_->sendFrame(Opcode::kText, "after");
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 1; }));
  EXPECT_EQ(owner_.messages[0], "text:after");
  EXPECT_EQ(client_->events().size(), 1u);
}

// ---- the close handshake -----------------------------------------------------------------------

TEST_F(ConnectionTest, EchoesTheClientsCloseWithItsCodeAndReason) {
  connectOpen();
  client_->sendClose(4000, "bye now");
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 4000);
  EXPECT_EQ(owner_.closeReason, "bye now");
  EXPECT_TRUE(owner_.closeClean);
  EXPECT_EQ(conn_->state(), Connection::State::kClosed);
  // The echo, then the server's side of the stream ends.
  ASSERT_TRUE(runUntil([&] { return client_->ended(); }));
  ASSERT_EQ(client_->events().size(), 1u);
  EXPECT_EQ(client_->events()[0].status, FrameParser::Status::kClose);
  EXPECT_EQ(client_->events()[0].code, 4000);
  EXPECT_EQ(client_->events()[0].reason, "bye now");
  EXPECT_EQ(client_->endError(), asio::error::eof);
  // Sends after the close are dropped.
  EXPECT_EQ(conn_->send(Opcode::kText, "late"), SendStatus::kDropped);
  EXPECT_EQ(owner_.closes, 1);
}

TEST_F(ConnectionTest, ClientCloseWithoutCodeReadsAs1005) {
  connectOpen();
  client_->sendFrame(Opcode::kClose, "");
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 1005);
  EXPECT_TRUE(owner_.closeClean);
  ASSERT_TRUE(runUntil([&] { return !client_->events().empty(); }));
  EXPECT_EQ(client_->events()[0].status, FrameParser::Status::kClose);
  EXPECT_EQ(client_->events()[0].code, 1005);  // an empty close frame back
}

TEST_F(ConnectionTest, ServerCloseWaitsForTheClientsAnswer) {
  connectOpen();
  conn_->close(4001, "room is done");
  EXPECT_EQ(conn_->state(), Connection::State::kClosing);
  // Queued like any frame: it leaves with the end of the turn.
  flush_.flushAll();
  ASSERT_TRUE(runUntil([&] { return !client_->events().empty(); }));
  EXPECT_EQ(client_->events()[0].status, FrameParser::Status::kClose);
  EXPECT_EQ(client_->events()[0].code, 4001);
  EXPECT_EQ(client_->events()[0].reason, "room is done");
  EXPECT_EQ(owner_.closes, 0);  // not finished until the client answers
  EXPECT_EQ(conn_->send(Opcode::kText, "after close"), SendStatus::kDropped);

  // Messages still in flight from the client are not delivered once closing.
  client_->sendFrame(Opcode::kText, "in flight");
  client_->sendClose(4001, "ok");
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_TRUE(owner_.messages.empty());
  EXPECT_EQ(owner_.closeCode, 4001);
  EXPECT_EQ(owner_.closeReason, "ok");
  EXPECT_TRUE(owner_.closeClean);
  ASSERT_TRUE(runUntil([&] { return client_->ended(); }));
  EXPECT_EQ(client_->events().size(), 1u);  // no second close frame
  EXPECT_EQ(client_->endError(), asio::error::eof);
}

TEST_F(ConnectionTest, ClientEndingWithoutCloseFrameIs1006) {
  connectOpen();
  client_->socket().shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 1006);
  EXPECT_FALSE(owner_.closeClean);
}

// ---- protocol errors ----------------------------------------------------------------------------

TEST_F(ConnectionTest, OversizedMessageClosesWith1009) {
  ConnectionLimits limits;
  limits.maxMessageBytes = 100;
  connectOpen(limits);
  client_->sendFrame(Opcode::kBinary, std::string(100, 'a'));  // at the limit: fine
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 1; }));
  client_->sendFrame(Opcode::kBinary, std::string(101, 'a'));
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 1009);
  EXPECT_FALSE(owner_.closeClean);
  EXPECT_EQ(owner_.messages.size(), 1u);
  ASSERT_TRUE(runUntil([&] { return !client_->events().empty(); }));
  EXPECT_EQ(client_->events()[0].status, FrameParser::Status::kClose);
  EXPECT_EQ(client_->events()[0].code, 1009);
  EXPECT_FALSE(client_->events()[0].reason.empty());
}

TEST_F(ConnectionTest, OversizedFragmentedMessageClosesWith1009) {
  ConnectionLimits limits;
  limits.maxMessageBytes = 100;
  connectOpen(limits);
  client_->sendFrame(Opcode::kText, std::string(60, 'a'), Fin::kNo);
  client_->sendFrame(Opcode::kContinuation, std::string(41, 'a'));
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 1009);
  EXPECT_TRUE(owner_.messages.empty());
}

TEST_F(ConnectionTest, InvalidUtf8TextClosesWith1007) {
  connectOpen();
  client_->sendFrame(Opcode::kBinary, "\xff binary is not checked");
  client_->sendFrame(Opcode::kText, "bad \xc3\x28 text");
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 1007);
  EXPECT_FALSE(owner_.closeClean);
  EXPECT_EQ(owner_.messages.size(), 1u);
  ASSERT_TRUE(runUntil([&] { return client_->ended(); }));
  ASSERT_EQ(client_->events().size(), 1u);
  EXPECT_EQ(client_->events()[0].code, 1007);
}

TEST_F(ConnectionTest, UnmaskedClientFrameClosesWith1002) {
  connectOpen();
  std::string wire;
  appendFrame(wire, Opcode::kText, "not masked");
  client_->sendRaw(wire);
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 1002);
  EXPECT_TRUE(owner_.messages.empty());
}

// ---- writing ------------------------------------------------------------------------------------

TEST_F(ConnectionTest, SendsLeaveOnlyWhenTheFlushQueueRuns) {
  connectOpen();
  std::unique_ptr<Client> first = std::move(client_);
  auto firstConn = conn_;
  connectOpen();  // a second connection on the same queue
  EXPECT_TRUE(flush_.empty());

  Frame shared = makeFrame(Opcode::kText, "to everyone");
  EXPECT_EQ(firstConn->send(shared), SendStatus::kQueued);
  EXPECT_EQ(firstConn->send(Opcode::kBinary, "just you"), SendStatus::kQueued);
  EXPECT_EQ(conn_->send(shared), SendStatus::kQueued);
  EXPECT_EQ(flush_.size(), 2u);  // one entry per connection, however many sends
  EXPECT_GT(firstConn->queuedBytes(), 0u);

  // Nothing has left yet: the output gate holds until the turn ends.
  io_.poll();
  EXPECT_TRUE(first->events().empty());
  EXPECT_TRUE(client_->events().empty());

  flush_.flushAll();
  EXPECT_TRUE(flush_.empty());
  EXPECT_EQ(firstConn->queuedBytes(), 0u);
  ASSERT_TRUE(
      runUntil([&] { return first->events().size() == 2 && client_->events().size() == 1; }));
  EXPECT_EQ(first->events()[0].payload, "to everyone");
  EXPECT_EQ(first->events()[1].op, Opcode::kBinary);
  EXPECT_EQ(first->events()[1].payload, "just you");
  EXPECT_EQ(client_->events()[0].payload, "to everyone");
  firstConn->abort();
}

TEST_F(ConnectionTest, FramesQueuedWhilePendingFollowThe101) {
  connect();
  EXPECT_EQ(conn_->send(Opcode::kText, "hello"), SendStatus::kQueued);
  EXPECT_TRUE(flush_.empty());  // a pending connection writes nothing
  conn_->open(std::string(kSwitching));
  flush_.flushAll();
  client_->startReading();
  ASSERT_TRUE(runUntil([&] { return client_->events().size() == 1; }));
  EXPECT_EQ(client_->head(), kSwitching);
  EXPECT_EQ(client_->events()[0].payload, "hello");
}

TEST_F(ConnectionTest, RejectWritesOnlyTheHttpErrorAndCloses) {
  connect();
  EXPECT_EQ(conn_->send(Opcode::kText, "never sent"), SendStatus::kQueued);
  const std::string error = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
  conn_->reject(error);
  client_->startReading();
  ASSERT_TRUE(runUntil([&] { return client_->ended(); }));
  EXPECT_EQ(client_->head(), error);
  EXPECT_EQ(client_->frameBytes(), 0u);
  EXPECT_EQ(owner_.closes, 0);  // the owner never saw it open
}

TEST_F(ConnectionTest, KeepsWritingAfterTheSocketBufferFills) {
  // Small kernel buffers on both sides, so the writes stop part-way through a frame.
  connect({}, {}, Buffers{.clientReceive = 8192, .serverSend = 16384});
  conn_->open(std::string(kSwitching));
  std::vector<std::string> sent;
  for (int i = 0; i < 64; ++i) {
    sent.push_back(std::string(64 * 1024 + i, static_cast<char>('a' + i % 26)));
    ASSERT_EQ(conn_->send(Opcode::kBinary, sent.back()), SendStatus::kQueued);
  }
  flush_.flushAll();
  EXPECT_GT(conn_->queuedBytes(), 0u);  // the socket took only part of it

  client_->startReading();
  ASSERT_TRUE(runUntil([&] { return client_->events().size() == sent.size(); }));
  EXPECT_EQ(conn_->queuedBytes(), 0u);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(client_->events()[i].status, FrameParser::Status::kMessage);
    EXPECT_TRUE(client_->events()[i].payload == sent[i]) << "frame " << i;
  }
}

TEST_F(ConnectionTest, SendPastTheQueueLimitClosesWith1008) {
  ConnectionLimits limits;
  limits.maxQueuedBytes = 1000;
  connectOpen(limits);
  const std::string payload(400, 'p');
  EXPECT_EQ(conn_->send(Opcode::kBinary, payload), SendStatus::kQueued);
  EXPECT_EQ(conn_->send(Opcode::kBinary, payload), SendStatus::kQueued);
  // The third would put 1212 bytes in the queue: the frames not yet begun are dropped and the
  // slow consumer gets a close frame with 1008 and a reason it can read.
  EXPECT_EQ(conn_->send(Opcode::kBinary, payload), SendStatus::kOverflow);
  EXPECT_EQ(conn_->state(), Connection::State::kClosing);
  EXPECT_EQ(conn_->send(Opcode::kBinary, "x"), SendStatus::kDropped);
  flush_.flushAll();
  client_->startReading();
  ASSERT_TRUE(runUntil([&] { return !client_->events().empty(); }));
  ASSERT_EQ(client_->events().size(), 1u);
  EXPECT_EQ(client_->events()[0].status, FrameParser::Status::kClose);
  EXPECT_EQ(client_->events()[0].code, 1008);
  EXPECT_NE(client_->events()[0].reason.find("too slowly"), std::string::npos);
  // The client answers; the owner hears the close.
  client_->sendClose(1008, "");
  ASSERT_TRUE(runUntil([&] { return owner_.closes == 1; }));
  EXPECT_EQ(owner_.closeCode, 1008);
}

TEST_F(ConnectionTest, TrimmedIdleConnectionStillReads) {
  connectOpen();
  client_->sendFrame(Opcode::kText, "be", Fin::kNo);
  ASSERT_TRUE(runUntil([&] { return owner_.batchesEnded == 1; }));
  conn_->trim();  // holds half a message: the parser must survive
  client_->sendFrame(Opcode::kContinuation, "fore");
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 1; }));
  conn_->trim();  // idle now: the parser goes, and comes back with the next bytes
  client_->sendFrame(Opcode::kText, "after");
  ASSERT_TRUE(runUntil([&] { return owner_.messages.size() == 2; }));
  EXPECT_EQ(owner_.messages, (std::vector<std::string>{"text:before", "text:after"}));
}

}  // namespace
}  // namespace partyd::ws
