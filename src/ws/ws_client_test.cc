#include "ws/ws_client.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/test_certs.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace partyd::ws {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

// ---- Recording the client's events ------------------------------------------------------------

struct Recorder {
  std::vector<std::string> log;  // "open:<protocol>", "text:..", "binary:..", "error", "close:..."
  std::string error;
  bool closed = false;

  WsClient::Events events() {
    WsClient::Events e;
    e.onOpen = [this](std::string protocol) { log.push_back("open:" + protocol); };
    e.onMessage = [this](bool binary, std::string data) {
      log.push_back((binary ? "binary:" : "text:") + data);
    };
    e.onError = [this](std::string message) {
      log.push_back("error");
      error = std::move(message);
    };
    e.onClose = [this](std::uint16_t code, std::string reason, bool wasClean) {
      EXPECT_FALSE(closed) << "onClose twice";
      log.push_back("close:" + std::to_string(code) + ":" + reason + ":" +
                    (wasClean ? "clean" : "unclean"));
      closed = true;
    };
    return e;
  }
  bool opened() const { return !log.empty() && log.front().starts_with("open:"); }
};

// ---- A Beast WebSocket server on 127.0.0.1 ----------------------------------------------------
// Echoes every message unless told otherwise; tests drive the last session directly.

struct ServerLog {
  std::vector<std::string> messages;  // "text:.." or "binary:.."
  std::vector<std::string> pongs;
  std::optional<websocket::close_reason> closeReason;  // what the client's close frame said
  std::string readError;
  int sessions = 0;
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void sendText(std::string s) = 0;
  virtual void sendBinary(std::string s) = 0;
  virtual void sendFragmented(std::vector<std::string> parts) = 0;
  virtual void ping(std::string payload) = 0;
  virtual void close(std::uint16_t code, std::string reason) = 0;
  virtual void drop() = 0;
};

template <typename NextLayer>
class Session : public SessionBase, public std::enable_shared_from_this<Session<NextLayer>> {
 public:
  template <typename... Args>
  Session(ServerLog& log, bool echo, std::function<std::string(std::string_view)> choose,
          Args&&... args)
      : log_(log), echo_(echo), choose_(std::move(choose)), ws_(std::forward<Args>(args)...) {}

  void start() {
    auto self = this->shared_from_this();
    if constexpr (std::is_same_v<NextLayer, beast::tcp_stream>) {
      accept();
    } else {
      ws_.next_layer().async_handshake(ssl::stream_base::server, [self](error_code ec) {
        if (!ec) self->accept();
      });
    }
  }

  void sendText(std::string s) override { write(true, std::move(s)); }
  void sendBinary(std::string s) override { write(false, std::move(s)); }
  void sendFragmented(std::vector<std::string> parts) override {
    ws_.text(true);
    writePart(std::make_shared<std::vector<std::string>>(std::move(parts)), 0);
  }
  void ping(std::string payload) override {
    auto p = std::make_shared<std::string>(std::move(payload));
    ws_.async_ping(websocket::ping_data(p->c_str()),
                   [self = this->shared_from_this(), p](error_code) {});
  }
  void close(std::uint16_t code, std::string reason) override {
    websocket::close_reason cr;
    cr.code = code;
    cr.reason = reason;
    ws_.async_close(cr, [self = this->shared_from_this()](error_code) {});
  }
  void drop() override { beast::get_lowest_layer(ws_).socket().close(); }

 private:
  void accept() {
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::pong) log_.pongs.emplace_back(payload);
    });
    ws_.set_option(websocket::stream_base::decorator([this](websocket::response_type& res) {
      std::string chosen = choose_ ? choose_(offered_) : "";
      if (!chosen.empty()) res.set(beast::http::field::sec_websocket_protocol, chosen);
    }));
    beast::http::async_read(
        ws_.next_layer(), buffer_, request_,
        [self = this->shared_from_this()](error_code ec, std::size_t) {
          if (ec) return;
          self->offered_ = std::string(self->request_[beast::http::field::sec_websocket_protocol]);
          self->ws_.async_accept(self->request_, [self](error_code ec) {
            if (ec) return;
            ++self->log_.sessions;
            self->read();
          });
        });
  }
  void read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](error_code ec, std::size_t) {
      if (ec) {
        if (ec == websocket::error::closed) self->log_.closeReason = self->ws_.reason();
        self->log_.readError = ec.message();
        return;
      }
      std::string data = beast::buffers_to_string(self->buffer_.data());
      bool text = self->ws_.got_text();
      self->buffer_.consume(self->buffer_.size());
      self->log_.messages.push_back((text ? "text:" : "binary:") + data);
      if (self->echo_) self->write(text, data);
      self->read();
    });
  }
  void write(bool text, std::string s) {
    auto p = std::make_shared<std::string>(std::move(s));
    ws_.text(text);
    ws_.async_write(asio::buffer(*p),
                    [self = this->shared_from_this(), p](error_code, std::size_t) {});
  }
  void writePart(std::shared_ptr<std::vector<std::string>> parts, std::size_t i) {
    bool fin = i + 1 == parts->size();
    ws_.async_write_some(
        fin, asio::buffer((*parts)[i]),
        [self = this->shared_from_this(), parts, i, fin](error_code ec, std::size_t) {
          if (!ec && !fin) self->writePart(parts, i + 1);
        });
  }

  ServerLog& log_;
  bool echo_;
  std::function<std::string(std::string_view)> choose_;
  websocket::stream<NextLayer> ws_;
  beast::flat_buffer buffer_;
  beast::http::request<beast::http::empty_body> request_;
  std::string offered_;
};

class WsServer {
 public:
  struct Options {
    bool echo = true;
    // Picks the subprotocol from the offered Sec-WebSocket-Protocol value ("" for none).
    std::function<std::string(std::string_view offered)> chooseProtocol;
    ssl::context* tls = nullptr;
  };

  WsServer(asio::io_context& io, Options options) : io_(io), acceptor_(io), options_(options) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    accept();
  }
  explicit WsServer(asio::io_context& io) : WsServer(io, Options{}) {}

  std::string url(std::string_view path = "/", std::string_view host = "127.0.0.1") const {
    return std::string(options_.tls ? "wss://" : "ws://") + std::string(host) + ":" +
           std::to_string(acceptor_.local_endpoint().port()) + std::string(path);
  }
  ServerLog log;
  SessionBase& session() { return *sessions_.back(); }

 private:
  void accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec) return;
      if (options_.tls) {
        auto s = std::make_shared<Session<ssl::stream<beast::tcp_stream>>>(
            log, options_.echo, options_.chooseProtocol, std::move(socket), *options_.tls);
        sessions_.push_back(s);
        s->start();
      } else {
        auto s = std::make_shared<Session<beast::tcp_stream>>(
            log, options_.echo, options_.chooseProtocol, std::move(socket));
        sessions_.push_back(s);
        s->start();
      }
      accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  Options options_;
  std::vector<std::shared_ptr<SessionBase>> sessions_;
};

// ---- A raw TCP server, for answers Beast would never give ---------------------------------------

// Server frames for the raw server: unmasked, FIN as given, payloads under 126 bytes.
std::string frame(Opcode op, std::string_view payload, bool fin = true) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(op)));
  out.push_back(static_cast<char>(payload.size()));
  out.append(payload);
  return out;
}

std::string keyOf(const std::string& request) {
  std::size_t at = request.find("Sec-WebSocket-Key: ");
  if (at == std::string::npos) return "";
  at += 19;
  return request.substr(at, request.find("\r\n", at) - at);
}

std::string upgrade(const std::string& request, std::string extraHeaders = "") {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         acceptKey(keyOf(request)) + "\r\n" + extraHeaders + "\r\n";
}

class RawServer {
 public:
  // Returns the bytes to answer the request with; nullopt to never answer.
  using Responder = std::function<std::optional<std::string>(const std::string& request)>;

  RawServer(asio::io_context& io, Responder respond) : acceptor_(io), respond_(std::move(respond)) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    acceptor_.async_accept([this](error_code ec, tcp::socket s) {
      if (ec) return;
      socket_.emplace(std::move(s));
      asio::async_read_until(*socket_, asio::dynamic_buffer(in_), "\r\n\r\n",
                             [this](error_code ec, std::size_t n) {
                               if (ec) return;
                               request = in_.substr(0, n);
                               in_.erase(0, n);
                               auto out = respond_(request);
                               if (!out) return;
                               out_ = std::move(*out);
                               asio::async_write(*socket_, asio::buffer(out_),
                                                 [this](error_code, std::size_t) { readAll(); });
                             });
    });
  }
  std::string url() const {
    return "ws://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/";
  }

  std::string request;
  std::string received;  // bytes after the request
  bool eof = false;

 private:
  void readAll() {
    socket_->async_read_some(asio::buffer(chunk_), [this](error_code ec, std::size_t n) {
      received.append(chunk_, n);
      if (ec) {
        eof = true;
        return;
      }
      readAll();
    });
  }
  tcp::acceptor acceptor_;
  Responder respond_;
  std::optional<tcp::socket> socket_;
  std::string in_, out_;
  char chunk_[4096];
};

// The first client frame in bytes, unmasked: {opcode, payload}.
std::pair<int, std::string> firstClientFrame(const std::string& bytes) {
  if (bytes.size() < 6) return {-1, ""};
  int op = bytes[0] & 0x0F;
  std::size_t len = bytes[1] & 0x7F;
  EXPECT_TRUE(bytes[1] & 0x80) << "client frames are masked";
  EXPECT_LT(len, 126u);
  std::string payload = bytes.substr(6, len);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] ^= bytes[2 + (i & 3)];
  return {op, payload};
}

// ---- Fixture ---------------------------------------------------------------------------------

class WsClientTest : public ::testing::Test {
 protected:
  // Runs the loop until pred holds; fails after 10 s of wall time (nothing here should take it).
  void runUntil(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "timed out waiting";
        return;
      }
      io_.run_one_for(100ms);
      if (io_.stopped()) io_.restart();
    }
  }
  // Runs the handlers that are ready now, without waiting.
  void poll() {
    io_.poll();
    if (io_.stopped()) io_.restart();
  }
  std::uint64_t connect(const std::string& url, Recorder& r,
                        std::vector<std::string> protocols = {}) {
    return client_->connect(url, std::move(protocols), {}, r.events());
  }

  asio::io_context io_;
  std::unique_ptr<WsClient> client_ = std::make_unique<WsClient>(io_);
};

// ---- Tests -----------------------------------------------------------------------------------

TEST_F(WsClientTest, OpensAndEchoesTextAndBinary) {
  WsServer server(io_);
  Recorder r;
  auto id = connect(server.url("/room?x=1"), r);
  EXPECT_TRUE(r.log.empty()) << "no callback from inside connect()";
  runUntil([&] { return r.opened(); });
  EXPECT_EQ(r.log, std::vector<std::string>{"open:"});
  EXPECT_EQ(client_->send(id, false, "héllo"), WsClient::SendResult::kQueued);
  EXPECT_EQ(client_->send(id, true, std::string("\0\1\2", 3)), WsClient::SendResult::kQueued);
  runUntil([&] { return r.log.size() == 3; });
  EXPECT_EQ(r.log[1], "text:héllo");
  EXPECT_EQ(r.log[2], std::string("binary:\0\1\2", 10));
  EXPECT_EQ(server.log.messages[0], "text:héllo");
  EXPECT_EQ(client_->bufferedAmount(id), 0u);
}

TEST_F(WsClientTest, LargeMessagesBothWays) {
  WsServer server(io_);
  Recorder r;
  auto id = connect(server.url(), r);
  runUntil([&] { return r.opened(); });
  std::string big(3 * 1024 * 1024 + 7, 'x');
  client_->send(id, true, big);
  EXPECT_GT(client_->bufferedAmount(id), 0u);
  runUntil([&] { return r.log.size() == 2; });
  EXPECT_EQ(r.log[1], "binary:" + big);
  EXPECT_EQ(client_->bufferedAmount(id), 0u);
}

TEST_F(WsClientTest, SendBeforeOpenIsDropped) {
  WsServer server(io_);
  Recorder r;
  auto id = connect(server.url(), r);
  EXPECT_EQ(client_->send(id, false, "early"), WsClient::SendResult::kDropped);
  EXPECT_EQ(client_->send(999, false, "nobody"), WsClient::SendResult::kDropped);
  runUntil([&] { return r.opened(); });
  EXPECT_TRUE(server.log.messages.empty());
}

TEST_F(WsClientTest, ReassemblesFragmentedServerMessage) {
  WsServer server(io_);
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.opened() && server.log.sessions == 1; });
  // "é" split across fragments: UTF-8 is checked over the whole message, not per fragment.
  server.session().sendFragmented({"frag", "ment\xC3",
                                   "\xA9"
                                   "d"});
  runUntil([&] { return r.log.size() == 2; });
  EXPECT_EQ(r.log[1],
            "text:fragmenté"
            "d");
}

TEST_F(WsClientTest, AnswersPingWithPong) {
  WsServer server(io_);
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.opened() && server.log.sessions == 1; });
  server.session().ping("are you there");
  runUntil([&] { return !server.log.pongs.empty(); });
  EXPECT_EQ(server.log.pongs[0], "are you there");
  EXPECT_EQ(r.log.size(), 1u) << "pings are not messages";
}

TEST_F(WsClientTest, ServerInitiatedCloseIsClean) {
  WsServer server(io_);
  Recorder r;
  auto id = connect(server.url(), r);
  runUntil([&] { return r.opened() && server.log.sessions == 1; });
  server.session().close(4001, "bye now");
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log.back(), "close:4001:bye now:clean");
  EXPECT_EQ(client_->connectionCount(), 0u);
  EXPECT_EQ(client_->send(id, false, "late"), WsClient::SendResult::kDropped);
}

TEST_F(WsClientTest, ClientCloseHandshake) {
  WsServer server(io_);
  Recorder r;
  auto id = connect(server.url(), r);
  runUntil([&] { return r.opened() && server.log.sessions == 1; });
  client_->close(id, 3001, "done");
  EXPECT_EQ(client_->send(id, false, "after close"), WsClient::SendResult::kDropped);
  client_->close(id, 1000, "twice");  // ignored
  EXPECT_FALSE(r.closed) << "no callback from inside close()";
  runUntil([&] { return r.closed && server.log.closeReason; });
  ASSERT_TRUE(server.log.closeReason.has_value());
  EXPECT_EQ(server.log.closeReason->code, 3001);
  EXPECT_EQ(server.log.closeReason->reason, "done");
  // The close event reports the server's frame: Beast echoes the code without the reason.
  EXPECT_EQ(r.log, (std::vector<std::string>{"open:", "close:3001::clean"}));
}

TEST_F(WsClientTest, CloseWithoutCodeSendsAnEmptyCloseFrame) {
  WsServer server(io_);
  Recorder r;
  auto id = connect(server.url(), r);
  runUntil([&] { return r.opened(); });
  client_->close(id, 0, "");
  runUntil([&] { return r.closed && server.log.closeReason; });
  EXPECT_EQ(server.log.closeReason->code, websocket::close_code::none);
  EXPECT_EQ(r.log.back(), "close:1000::clean") << "Beast answers a code-less close with 1000";
}

TEST_F(WsClientTest, ServerCloseWithoutCodeReports1005) {
  RawServer server(io_,
                   [](const std::string& req) { return upgrade(req) + frame(Opcode::kClose, ""); });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed && server.eof; });
  EXPECT_EQ(r.log.back(), "close:1005::clean");
  auto [op, payload] = firstClientFrame(server.received);
  EXPECT_EQ(op, static_cast<int>(Opcode::kClose));
  EXPECT_EQ(payload, "") << "the echo carries no code either";
}

TEST_F(WsClientTest, ServerDroppingTheConnectionIsUnclean) {
  WsServer server(io_);
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.opened() && server.log.sessions == 1; });
  server.session().drop();
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"open:", "close:1006::unclean"}));
}

TEST_F(WsClientTest, ConnectionRefused) {
  unsigned short port;
  {
    tcp::acceptor a(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  Recorder r;
  std::string url = "ws://127.0.0.1:" + std::to_string(port) + "/";
  connect(url, r);
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"error", "close:1006::unclean"}));
  EXPECT_EQ(r.error, "WebSocket connection to '" + url +
                         "' failed: connection refused to 127.0.0.1:" + std::to_string(port));
}

TEST_F(WsClientTest, BadUrlFailsAfterConnectReturns) {
  Recorder r;
  connect("ftp://example.com/", r);
  EXPECT_TRUE(r.log.empty());
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.error,
            "WebSocket connection to 'ftp://example.com/' failed: unsupported URL "
            "scheme 'ftp:'");
}

TEST_F(WsClientTest, BadAcceptKeyFails) {
  RawServer server(io_, [](const std::string&) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"error", "close:1006::unclean"}));
  EXPECT_NE(r.error.find("incorrect 'Sec-WebSocket-Accept'"), std::string::npos) << r.error;
}

TEST_F(WsClientTest, HandshakeRequestIsWellFormed) {
  RawServer server(io_, [](const std::string& req) { return upgrade(req); });
  Recorder r;
  client_->connect(server.url() + "path?q=1", {"chat"},
                   {{"Authorization", "Bearer x"}, {"Host", "evil"}, {"Sec-WebSocket-Key", "no"}},
                   r.events());
  runUntil([&] { return r.closed; });
  EXPECT_TRUE(server.request.starts_with("GET /path?q=1 HTTP/1.1\r\n")) << server.request;
  EXPECT_NE(server.request.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_NE(server.request.find("Sec-WebSocket-Protocol: chat\r\n"), std::string::npos);
  EXPECT_NE(server.request.find("Authorization: Bearer x\r\n"), std::string::npos);
  EXPECT_EQ(server.request.find("evil"), std::string::npos);
  EXPECT_TRUE(isValidClientKey(keyOf(server.request)));
  // The server chose no protocol although one was offered.
  EXPECT_NE(r.error.find("response has none"), std::string::npos) << r.error;
}

TEST_F(WsClientTest, NegotiatesProtocol) {
  WsServer::Options options;
  options.chooseProtocol = [](std::string_view offered) {
    EXPECT_EQ(offered, "v1.chat, v2.chat");
    return std::string("v2.chat");
  };
  WsServer server(io_, options);
  Recorder r;
  connect(server.url(), r, {"v1.chat", "v2.chat"});
  runUntil([&] { return r.opened(); });
  EXPECT_EQ(r.log[0], "open:v2.chat");
}

TEST_F(WsClientTest, UnofferedProtocolFails) {
  WsServer::Options options;
  options.chooseProtocol = [](std::string_view) { return std::string("other"); };
  WsServer server(io_, options);
  Recorder r;
  connect(server.url(), r, {"mine"});
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"error", "close:1006::unclean"}));
  EXPECT_NE(r.error.find("'other'"), std::string::npos) << r.error;
}

TEST_F(WsClientTest, NonUpgradeResponseFails) {
  RawServer server(io_, [](const std::string&) {
    return "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnope";
  });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed; });
  EXPECT_NE(r.error.find("unexpected response code: 404"), std::string::npos) << r.error;
}

TEST_F(WsClientTest, FramesRightBehindThe101AreDelivered) {
  RawServer server(io_, [](const std::string& req) {
    return upgrade(req) + frame(Opcode::kText, "a", false) + frame(Opcode::kPing, "p") +
           frame(Opcode::kContinuation, "b") + frame(Opcode::kBinary, "c");
  });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.log.size() == 3; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"open:", "text:ab", "binary:c"}));
  runUntil([&] { return !server.received.empty(); });
  auto [op, payload] = firstClientFrame(server.received);
  EXPECT_EQ(op, static_cast<int>(Opcode::kPong));
  EXPECT_EQ(payload, "p");
}

TEST_F(WsClientTest, InvalidUtf8FailsWith1007) {
  RawServer server(io_, [](const std::string& req) {
    return upgrade(req) + frame(Opcode::kText, "bad \xC0\xAF");
  });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed && server.eof; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"open:", "error", "close:1006::unclean"}));
  EXPECT_NE(r.error.find("invalid UTF-8"), std::string::npos) << r.error;
  auto [op, payload] = firstClientFrame(server.received);
  EXPECT_EQ(op, static_cast<int>(Opcode::kClose));
  EXPECT_EQ(payload.substr(0, 2), "\x03\xEF");  // 1007
}

TEST_F(WsClientTest, MaskedServerFrameFails) {
  RawServer server(io_, [](const std::string& req) {
    std::string f;
    appendMaskedFrame(f, Opcode::kText, "hi", {1, 2, 3, 4});
    return upgrade(req) + f;
  });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed; });
  EXPECT_NE(r.error.find("masked frame from the server"), std::string::npos) << r.error;
}

TEST_F(WsClientTest, OversizedMessageFailsWith1009) {
  client_ = std::make_unique<WsClient>(io_, WsClient::Options{.maxMessageSize = 4});
  RawServer server(io_, [](const std::string& req) {
    return upgrade(req) + frame(Opcode::kText, "abc", false) + frame(Opcode::kContinuation, "de");
  });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed && server.eof; });
  EXPECT_NE(r.error.find("message too big"), std::string::npos) << r.error;
  EXPECT_EQ(firstClientFrame(server.received).second.substr(0, 2), "\x03\xF1");  // 1009
}

TEST_F(WsClientTest, ExtensionsInResponseFail) {
  RawServer server(io_, [](const std::string& req) {
    return upgrade(req, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed; });
  EXPECT_NE(r.error.find("Sec-WebSocket-Extensions"), std::string::npos) << r.error;
}

TEST_F(WsClientTest, ConnectTimeout) {
  client_ = std::make_unique<WsClient>(io_, WsClient::Options{.connectTimeout = 50ms});
  RawServer server(io_, [](const std::string&) { return std::nullopt; });
  Recorder r;
  connect(server.url(), r);
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"error", "close:1006::unclean"}));
  EXPECT_NE(r.error.find("timed out after 50 ms"), std::string::npos) << r.error;
}

TEST_F(WsClientTest, CloseTimeoutWhenServerNeverAnswers) {
  client_ = std::make_unique<WsClient>(io_, WsClient::Options{.closeTimeout = 50ms});
  RawServer server(io_, [](const std::string& req) { return upgrade(req); });
  Recorder r;
  auto id = connect(server.url(), r);
  runUntil([&] { return r.opened(); });
  client_->close(id, 1000, "");
  runUntil([&] { return r.closed && server.eof; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"open:", "close:1006::unclean"}));
  EXPECT_EQ(firstClientFrame(server.received).first, static_cast<int>(Opcode::kClose));
}

TEST_F(WsClientTest, CloseWhileConnectingFails) {
  RawServer server(io_, [](const std::string&) { return std::nullopt; });
  Recorder r;
  auto id = connect(server.url(), r);
  client_->close(id, 1000, "");
  EXPECT_TRUE(r.log.empty());
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"error", "close:1006::unclean"}));
}

TEST_F(WsClientTest, CloseFromInsideOnMessageDropsLaterMessages) {
  RawServer server(io_, [](const std::string& req) {
    return upgrade(req) + frame(Opcode::kText, "1") + frame(Opcode::kText, "2") +
           frame(Opcode::kClose, "\x03\xE8");
  });
  Recorder r;
  std::uint64_t id = 0;
  auto events = r.events();
  auto record = events.onMessage;
  events.onMessage = [&](bool binary, std::string data) {
    record(binary, data);
    client_->close(id, 1000, "enough");
  };
  id = client_->connect(server.url(), {}, {}, std::move(events));
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"open:", "text:1", "close:1000::clean"}));
}

TEST_F(WsClientTest, DestroyingTheClientSilencesEverything) {
  WsServer server(io_);
  Recorder r, pending;
  auto id = connect(server.url(), r);
  runUntil([&] { return r.opened() && server.log.sessions == 1; });
  client_->send(id, false, "echo me");
  connect(server.url(), pending);
  client_->close(id, 1000, "");
  client_.reset();
  for (int i = 0; i < 20; ++i) poll();
  runUntil([&] { return !server.log.readError.empty(); });
  EXPECT_EQ(r.log, std::vector<std::string>{"open:"});
  EXPECT_TRUE(pending.log.empty());
}

TEST_F(WsClientTest, DestroyingTheClientFromACallbackIsSafe) {
  WsServer server(io_);
  Recorder r;
  auto events = r.events();
  events.onOpen = [this, &r](std::string) {
    r.log.push_back("open");
    client_.reset();
  };
  client_->connect(server.url(), {}, {}, std::move(events));
  runUntil([&] { return !client_; });
  for (int i = 0; i < 20; ++i) poll();
  EXPECT_FALSE(r.closed);
}

// ---- TLS --------------------------------------------------------------------------------------

class WsClientTlsTest : public WsClientTest {
 protected:
  void SetUp() override {
    net::test::TestCert cert = net::test::makeSelfSignedCert();
    net::test::useCert(serverTls_, cert);
    caFile_.write(cert);
  }
  WsServer::Options tlsOptions() {
    WsServer::Options o;
    o.tls = &serverTls_;
    return o;
  }

  ssl::context serverTls_{ssl::context::tls_server};
  net::test::CaFile caFile_;
};

TEST_F(WsClientTlsTest, SelfSignedCertificateFailsVerification) {
  WsServer server(io_, tlsOptions());
  Recorder r;
  connect(server.url("/", "localhost"), r);
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log, (std::vector<std::string>{"error", "close:1006::unclean"}));
  EXPECT_EQ(r.error, "WebSocket connection to '" + server.url("/", "localhost") +
                         "' failed: certificate verify failed for localhost: self-signed "
                         "certificate");
  EXPECT_EQ(server.log.sessions, 0);
}

TEST_F(WsClientTlsTest, TrustedCertificateEchoes) {
  ASSERT_TRUE(client_->trustCaFileForTesting(caFile_.path()).ok());
  WsServer server(io_, tlsOptions());
  Recorder r;
  auto id = connect(server.url("/", "localhost"), r);
  runUntil([&] { return r.opened(); });
  client_->send(id, false, "secret");
  runUntil([&] { return r.log.size() == 2; });
  EXPECT_EQ(r.log[1], "text:secret");
  client_->close(id, 1000, "");
  runUntil([&] { return r.closed; });
  EXPECT_EQ(r.log.back(), "close:1000::clean");
}

}  // namespace
}  // namespace partyd::ws
