// Tests for http::forward over real loopback TCP sockets: a client talks to an http::Session (the
// "ingress node"), whose handler forwards to a target server (the "owner", a small Beast HTTP and
// WebSocket server in this file) on another 127/8 address. Everything runs on one io_context,
// driven step by step with run_one_for (which waits for an event, not for a time); only the
// timeout tests wait for their (short) timers.
#include "http/forward.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace partyd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

using ClientResponse = bhttp::response<bhttp::string_body>;
using Kind = ForwardResult::Kind;

// One connection the target accepted.
struct Exchange {
  explicit Exchange(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  beast::flat_buffer buffer;
  Request request;
  bool requestRead = false;
  tcp::endpoint peer;
  // after a WebSocket upgrade
  std::unique_ptr<websocket::stream<tcp::socket>> ws;
  beast::flat_buffer wsBuffer;
  std::vector<std::string> wsReceived;
  bool wsReadEnded = false;
  error_code wsReadError;
  bool echo = true;
};

// The owner: accepts connections, reads one request on each and answers as `mode` says.
class Target {
 public:
  enum class Mode { kEcho, kNotOwner, kSilent, kBigBody, kWebSocket };

  Target(asio::io_context& io, std::string_view address, Mode mode)
      : io_(io), acceptor_(io, tcp::endpoint(asio::ip::make_address(address), 0)), mode_(mode) {
    acceptNext();
  }

  ForwardTarget target() const {
    return {acceptor_.local_endpoint().address().to_string(), acceptor_.local_endpoint().port()};
  }

  std::vector<std::shared_ptr<Exchange>> exchanges;
  bool wsEcho = true;

 private:
  void acceptNext() {
    auto x = std::make_shared<Exchange>(io_);
    acceptor_.async_accept(x->socket, [this, x](error_code ec) {
      if (ec) return;
      x->peer = x->socket.remote_endpoint();
      exchanges.push_back(x);
      bhttp::async_read(x->socket, x->buffer, x->request, [this, x](error_code ec, std::size_t) {
        if (ec) return;
        x->requestRead = true;
        answer(x);
      });
      acceptNext();
    });
  }

  void answer(const std::shared_ptr<Exchange>& x) {
    if (mode_ == Mode::kSilent) return;
    if (mode_ == Mode::kWebSocket) {
      x->echo = wsEcho;
      x->ws = std::make_unique<websocket::stream<tcp::socket>>(std::move(x->socket));
      x->ws->async_accept(x->request, [this, x](error_code ec) {
        if (!ec) readMessage(x);
      });
      return;
    }
    auto response = std::make_shared<ClientResponse>();
    response->version(11);
    response->set(bhttp::field::content_type, "text/plain");
    response->set("x-from-owner", "yes");
    response->set(bhttp::field::connection, "close, x-owner-private");
    response->set("x-owner-private", "hop-by-hop: must not reach the client");
    if (mode_ == Mode::kNotOwner) {
      response->result(421);
      response->body() = "not mine\n";
    } else if (mode_ == Mode::kBigBody) {
      response->body() = std::string(2000, 'b');
    } else {
      response->body() = std::string(x->request.method_string()) + " " +
                         std::string(x->request.target()) + " " + x->request.body();
    }
    response->prepare_payload();
    bhttp::async_write(x->socket, *response, [x, response](error_code, std::size_t) {
      error_code ignored;
      x->socket.shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  void readMessage(const std::shared_ptr<Exchange>& x) {
    x->ws->async_read(x->wsBuffer, [this, x](error_code ec, std::size_t) {
      if (ec) {
        x->wsReadEnded = true;
        x->wsReadError = ec;
        return;
      }
      x->wsReceived.push_back(beast::buffers_to_string(x->wsBuffer.data()));
      if (!x->echo) {
        x->wsBuffer.consume(x->wsBuffer.size());
        return readMessage(x);
      }
      x->ws->binary(x->ws->got_binary());
      x->ws->async_write(x->wsBuffer.data(), [this, x](error_code ec, std::size_t) {
        x->wsBuffer.consume(x->wsBuffer.size());
        if (!ec) readMessage(x);
      });
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  Mode mode_;
};

struct Outcome {
  Kind kind;
  unsigned status;
  std::string error;
};

class ForwardTest : public ::testing::Test {
 protected:
  // The ingress node: a Session on 127.0.0.1 whose handler forwards every request to `target_`.
  void connect(tcp::socket& client) {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client.connect(acceptor.local_endpoint());
    tcp::socket server(io_);
    acceptor.accept(server);
    auto session = std::make_shared<Session>(std::move(server), std::string(), Limits{},
                                             [this](std::shared_ptr<Session> s, Request&& request) {
                                               doForward(std::move(s), std::move(request), target_);
                                             });
    session->start();
  }

  void doForward(std::shared_ptr<Session> session, Request&& request, const ForwardTarget& t) {
    forward(io_, std::move(session), std::move(request), t, options_, [this](ForwardResult r) {
      outcomes_.push_back({r.kind, r.status, r.error});
      if (onResult) onResult(std::move(r));
    });
  }

  void send(std::string_view bytes) { asio::write(client_, asio::buffer(bytes)); }

  std::optional<ClientResponse> readResponse() {
    ClientResponse response;
    bool done = false;
    error_code result;
    bhttp::async_read(client_, buffer_, response, [&](error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    EXPECT_TRUE(runUntil([&] { return done; }));
    if (!done || result) return std::nullopt;
    return response;
  }

  // Runs handlers until `done` holds; false if 5 s pass with no event at all.
  bool runUntil(const std::function<bool()>& done) {
    while (!done()) {
      if (io_.stopped()) io_.restart();
      if (io_.run_one_for(5s) == 0 && !done()) return false;
    }
    return true;
  }

  // A WebSocket client through the ingress node; false if the handshake failed.
  bool openWebSocket(websocket::stream<tcp::socket>& ws, std::string_view target) {
    connect(ws.next_layer());
    bool done = false;
    error_code result;
    ws.async_handshake(upgradeResponse_, "localhost", std::string(target), [&](error_code ec) {
      done = true;
      result = ec;
    });
    EXPECT_TRUE(runUntil([&] { return done; }));
    EXPECT_FALSE(result) << result.message();
    return done && !result;
  }

  // Reads one message; "" and `error` set when the read failed.
  std::string readMessage(websocket::stream<tcp::socket>& ws, error_code* error = nullptr) {
    beast::flat_buffer buffer;
    bool done = false;
    error_code result;
    ws.async_read(buffer, [&](error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    EXPECT_TRUE(runUntil([&] { return done; }));
    if (error) *error = result;
    if (result) return {};
    return beast::buffers_to_string(buffer.data());
  }

  void writeMessage(websocket::stream<tcp::socket>& ws, const std::string& message, bool binary) {
    bool done = false;
    ws.binary(binary);
    ws.async_write(asio::buffer(message), [&](error_code ec, std::size_t) {
      EXPECT_FALSE(ec) << ec.message();
      done = true;
    });
    ASSERT_TRUE(runUntil([&] { return done; }));
  }

  static std::string get(std::string_view target, std::string_view extra = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: example.test\r\n" +
           std::string(extra) + "\r\n";
  }

  asio::io_context io_;
  tcp::socket client_{io_};
  beast::flat_buffer buffer_;
  ForwardTarget target_;
  ForwardCounters counters_;
  ForwardOptions options_ = [this] {
    ForwardOptions o;
    o.epochSeen = 42;
    o.homeRegion = "eu";
    o.counters = &counters_;
    return o;
  }();
  std::vector<Outcome> outcomes_;
  std::function<void(ForwardResult)> onResult;
  websocket::response_type upgradeResponse_;
};

// ---- plain HTTP ----------------------------------------------------------------------------

TEST_F(ForwardTest, ForwardsAGetAndAPostOnOneKeepAliveConnection) {
  Target owner(io_, "127.0.0.1", Target::Mode::kEcho);
  target_ = owner.target();
  connect(client_);

  send(get("/parties/main/room-1?x=1",
           "X-Custom: kept\r\nConnection: keep-alive, x-client-private\r\n"
           "X-Client-Private: hop-by-hop\r\n"));
  auto first = readResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->result_int(), 200);
  EXPECT_EQ(first->body(), "GET /parties/main/room-1?x=1 ");
  EXPECT_EQ((*first)["x-from-owner"], "yes");
  EXPECT_EQ(first->count("x-owner-private"), 0u);  // named in the owner's Connection
  EXPECT_TRUE(first->keep_alive());                // the client's connection, not the owner's

  send(
      "POST /parties/main/room-1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 10\r\n"
      "Content-Type: text/plain\r\n\r\nhello body");
  auto second = readResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->result_int(), 200);
  EXPECT_EQ(second->body(), "POST /parties/main/room-1 hello body");
  EXPECT_TRUE(second->keep_alive());

  ASSERT_EQ(owner.exchanges.size(), 2u);  // one owner connection per forwarded request
  const Request& got = owner.exchanges[0]->request;
  EXPECT_EQ(got[kHopHeader], "1");
  EXPECT_EQ(got[kEpochSeenHeader], "42");
  EXPECT_EQ(got[kHomeRegionHeader], "eu");
  EXPECT_EQ(got[bhttp::field::host], "example.test");
  EXPECT_EQ(got["x-custom"], "kept");
  EXPECT_EQ(got.count("x-client-private"), 0u);
  EXPECT_EQ(got["x-forwarded-for"], "127.0.0.1");
  const Request& posted = owner.exchanges[1]->request;
  EXPECT_EQ(posted.method(), bhttp::verb::post);
  EXPECT_EQ(posted.body(), "hello body");
  EXPECT_EQ(posted[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(posted[kHopHeader], "1");

  ASSERT_EQ(outcomes_.size(), 2u);
  EXPECT_EQ(outcomes_[0].kind, Kind::kForwarded);
  EXPECT_EQ(outcomes_[1].status, 200u);
  EXPECT_EQ(counters_.http, 2u);
  EXPECT_EQ(counters_.failed, 0u);
}

TEST_F(ForwardTest, NotOwnerIsReportedWithNothingWrittenAndMayBeRetriedElsewhere) {
  Target wrong(io_, "127.0.0.1", Target::Mode::kNotOwner);
  Target right(io_, "127.0.0.1", Target::Mode::kEcho);
  target_ = wrong.target();
  int retries = 0;
  onResult = [&](ForwardResult r) {
    if (r.kind != Kind::kNotOwner) return;
    ASSERT_TRUE(r.request && r.session);
    EXPECT_FALSE(isHop(*r.request));  // the client's request as it came, ready to go again
    ++retries;
    doForward(std::move(r.session), std::move(*r.request), right.target());
  };
  connect(client_);
  send(get("/parties/main/moved", "X-Custom: kept\r\n"));
  auto response = readResponse();
  ASSERT_TRUE(response);
  // The first answer the client sees is the right owner's: the 421 never reached it.
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_EQ(response->body(), "GET /parties/main/moved ");
  EXPECT_EQ(retries, 1);
  ASSERT_EQ(outcomes_.size(), 2u);
  EXPECT_EQ(outcomes_[0].kind, Kind::kNotOwner);
  EXPECT_EQ(outcomes_[0].status, 421u);
  EXPECT_NE(outcomes_[0].error.find("does not own the room: not mine"), std::string::npos)
      << outcomes_[0].error;
  EXPECT_EQ(outcomes_[1].kind, Kind::kForwarded);
  ASSERT_EQ(right.exchanges.size(), 1u);
  EXPECT_EQ(right.exchanges[0]->request[kHopHeader], "1");
  EXPECT_EQ(right.exchanges[0]->request["x-custom"], "kept");
  EXPECT_EQ(right.exchanges[0]->request.count(kHopHeader), 1u);
  EXPECT_EQ(counters_.notOwner, 1u);
  EXPECT_EQ(counters_.http, 1u);
}

TEST_F(ForwardTest, ARequestThatWasForwardedOnceIsRefused) {
  Target owner(io_, "127.0.0.1", Target::Mode::kEcho);
  target_ = owner.target();
  onResult = [](ForwardResult r) {
    if (r.kind == Kind::kHopRefused) r.session->respond(notOwnerResponse());
  };
  connect(client_);
  send(get("/parties/main/loop", "x-partyd-hop: 1\r\nx-partyd-epoch-seen: 7\r\n"));
  auto response = readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 421);
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_EQ(outcomes_[0].kind, Kind::kHopRefused);
  EXPECT_TRUE(owner.exchanges.empty());
  EXPECT_EQ(counters_.http + counters_.failed, 0u);
}

TEST(ForwardHeaders, HopHeadersAreReadAndStripped) {
  Request r{bhttp::verb::get, "/", 11};
  EXPECT_FALSE(isHop(r));
  EXPECT_FALSE(epochSeen(r));
  r.set("X-Partyd-Hop", "1");
  r.set("X-Partyd-Epoch-Seen", "12345678901");
  EXPECT_TRUE(isHop(r));
  EXPECT_EQ(epochSeen(r), 12345678901);
  r.set(kEpochSeenHeader, "12x");
  EXPECT_FALSE(epochSeen(r));
  EXPECT_EQ(homeRegion(r), "");
  r.set("X-Partyd-Home-Region", "eu-west");
  EXPECT_EQ(homeRegion(r), "eu-west");
  stripHopHeaders(r);
  EXPECT_FALSE(isHop(r));
  EXPECT_EQ(r.count(kEpochSeenHeader), 0u);
  EXPECT_EQ(r.count(kHomeRegionHeader), 0u);
}

TEST_F(ForwardTest, TargetDownGets502WithTheReason) {
  std::uint16_t port;
  {
    tcp::acceptor closed(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = closed.local_endpoint().port();
  }
  target_ = {"127.0.0.1", port};
  connect(client_);
  send(get("/parties/main/x"));
  auto response = readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 502);
  std::string where = "127.0.0.1:" + std::to_string(port);
  EXPECT_NE(response->body().find("connect failed for the room's owner at " + where +
                                  ": Connection refused"),
            std::string::npos)
      << response->body();
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_EQ(outcomes_[0].kind, Kind::kFailed);
  EXPECT_EQ(outcomes_[0].status, 502u);
  EXPECT_EQ(counters_.failed, 1u);
  // The client's connection goes on.
  EXPECT_TRUE(response->keep_alive());
  send(get("/parties/main/x"));
  ASSERT_TRUE(readResponse());
}

TEST_F(ForwardTest, TargetThatNeverAnswersGets504) {
  Target owner(io_, "127.0.0.1", Target::Mode::kSilent);
  target_ = owner.target();
  options_.responseTimeout = 200ms;
  connect(client_);
  auto started = std::chrono::steady_clock::now();
  send(get("/parties/main/slow"));
  auto response = readResponse();
  ASSERT_TRUE(response);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
  EXPECT_EQ(response->result_int(), 504);
  EXPECT_NE(response->body().find("did not answer within 200 ms"), std::string::npos)
      << response->body();
  ASSERT_EQ(owner.exchanges.size(), 1u);
  EXPECT_TRUE(owner.exchanges[0]->requestRead);  // the request got there; no answer came back
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_EQ(outcomes_[0].status, 504u);
}

TEST_F(ForwardTest, ResponseOverTheLimitGets502) {
  Target owner(io_, "127.0.0.1", Target::Mode::kBigBody);
  target_ = owner.target();
  options_.maxResponseBytes = 1000;
  connect(client_);
  send(get("/parties/main/big"));
  auto response = readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 502);
  EXPECT_NE(response->body().find("a body over 1000 bytes"), std::string::npos) << response->body();
}

TEST_F(ForwardTest, BindsTheOutgoingSocketToTheSourceAddress) {
  Target owner(io_, "127.0.0.11", Target::Mode::kEcho);
  target_ = owner.target();
  options_.sourceAddress = "127.0.0.12";
  connect(client_);
  send(get("/parties/main/bound"));
  auto response = readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200);
  ASSERT_EQ(owner.exchanges.size(), 1u);
  EXPECT_EQ(owner.exchanges[0]->peer.address().to_string(), "127.0.0.12");
}

TEST_F(ForwardTest, ASourceAddressThatIsNotAnAddressGets502) {
  Target owner(io_, "127.0.0.1", Target::Mode::kEcho);
  target_ = owner.target();
  options_.sourceAddress = "node-12";
  connect(client_);
  send(get("/parties/main/x"));
  auto response = readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 502);
  EXPECT_NE(response->body().find("\"node-12\" is not an IP address"), std::string::npos);
  EXPECT_TRUE(owner.exchanges.empty());
}

// ---- WebSocket relay -----------------------------------------------------------------------

TEST_F(ForwardTest, RelaysAWebSocketBothWays) {
  Target owner(io_, "127.0.0.1", Target::Mode::kWebSocket);
  target_ = owner.target();
  websocket::stream<tcp::socket> ws(io_);
  ASSERT_TRUE(openWebSocket(ws, "/parties/main/chat?_pk=abc"));
  EXPECT_EQ(upgradeResponse_.result_int(), 101);
  ASSERT_EQ(owner.exchanges.size(), 1u);
  const Request& got = owner.exchanges[0]->request;
  EXPECT_EQ(got.target(), "/parties/main/chat?_pk=abc");
  EXPECT_EQ(got[kHopHeader], "1");
  EXPECT_EQ(got[kEpochSeenHeader], "42");
  EXPECT_TRUE(beast::iequals(got[bhttp::field::upgrade], "websocket"));
  EXPECT_EQ(counters_.ws, 1u);
  EXPECT_EQ(counters_.relaysOpen, 1u);

  writeMessage(ws, "hello", false);
  EXPECT_EQ(readMessage(ws), "hello");
  EXPECT_TRUE(ws.got_text());
  // The owner speaks first too.
  bool sent = false;
  owner.exchanges[0]->ws->text(true);
  owner.exchanges[0]->ws->async_write(asio::buffer(std::string_view("from the owner")),
                                      [&](error_code ec, std::size_t) { sent = !ec; });
  EXPECT_EQ(readMessage(ws), "from the owner");
  EXPECT_TRUE(sent);
  EXPECT_EQ(owner.exchanges[0]->wsReceived, (std::vector<std::string>{"hello"}));
  EXPECT_TRUE(outcomes_.empty());  // the relay is still running
  EXPECT_GT(counters_.bytesToOwner, 5u);
  EXPECT_GT(counters_.bytesToClient, 5u + 14u);
}

TEST_F(ForwardTest, RelaysMegabyteFramesBothWays) {
  Target owner(io_, "127.0.0.1", Target::Mode::kWebSocket);
  target_ = owner.target();
  websocket::stream<tcp::socket> ws(io_);
  ASSERT_TRUE(openWebSocket(ws, "/parties/main/big"));
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + (i >> 12));
  for (int round = 0; round < 2; ++round) {
    writeMessage(ws, big, true);
    std::string echoed = readMessage(ws);
    EXPECT_TRUE(ws.got_binary());
    ASSERT_EQ(echoed.size(), big.size());
    EXPECT_TRUE(echoed == big);
  }
  EXPECT_GE(counters_.bytesToOwner, 2u << 20);
  EXPECT_GE(counters_.bytesToClient, 2u << 20);
}

TEST_F(ForwardTest, TheOwnerClosingClosesTheClient) {
  Target owner(io_, "127.0.0.1", Target::Mode::kWebSocket);
  target_ = owner.target();
  websocket::stream<tcp::socket> ws(io_);
  ASSERT_TRUE(openWebSocket(ws, "/parties/main/bye"));
  owner.exchanges[0]->ws->async_close(websocket::close_reason(websocket::close_code::going_away),
                                      [](error_code) {});
  error_code error;
  EXPECT_EQ(readMessage(ws, &error), "");
  EXPECT_EQ(error, websocket::error::closed) << error.message();
  EXPECT_EQ(ws.reason().code, websocket::close_code::going_away);
  // Both sides have closed: the relay ends, cleanly.
  ASSERT_TRUE(runUntil([&] { return !outcomes_.empty(); }));
  EXPECT_EQ(outcomes_[0].kind, Kind::kForwarded);
  EXPECT_EQ(outcomes_[0].status, 101u);
  EXPECT_EQ(outcomes_[0].error, "");
  EXPECT_EQ(counters_.relaysOpen, 0u);
  EXPECT_EQ(counters_.relayErrors, 0u);
}

TEST_F(ForwardTest, TheClientClosingGivesTheOwnerEof) {
  Target owner(io_, "127.0.0.1", Target::Mode::kWebSocket);
  target_ = owner.target();
  websocket::stream<tcp::socket> ws(io_);
  ASSERT_TRUE(openWebSocket(ws, "/parties/main/gone"));
  writeMessage(ws, "last words", false);
  EXPECT_EQ(readMessage(ws), "last words");
  // The client goes away without a close frame: the owner reads the end of the stream.
  ws.next_layer().shutdown(tcp::socket::shutdown_send);
  auto& x = *owner.exchanges[0];
  ASSERT_TRUE(runUntil([&] { return x.wsReadEnded; }));
  EXPECT_EQ(x.wsReadError, asio::error::eof) << x.wsReadError.message();
  // The owner's side then closes and the relay ends.
  error_code ignored;
  x.ws->next_layer().close(ignored);
  ASSERT_TRUE(runUntil([&] { return !outcomes_.empty(); }));
  EXPECT_EQ(outcomes_[0].kind, Kind::kForwarded);
  EXPECT_EQ(counters_.relaysOpen, 0u);
}

TEST_F(ForwardTest, AHalfOpenRelayEndsAfterTheTimeout) {
  Target owner(io_, "127.0.0.1", Target::Mode::kWebSocket);
  target_ = owner.target();
  options_.halfCloseTimeout = 100ms;
  websocket::stream<tcp::socket> ws(io_);
  ASSERT_TRUE(openWebSocket(ws, "/parties/main/half"));
  ws.next_layer().shutdown(tcp::socket::shutdown_send);
  auto& x = *owner.exchanges[0];
  ASSERT_TRUE(runUntil([&] { return x.wsReadEnded; }));
  // The owner keeps its half open; the relay gives up on it and closes both sides.
  ASSERT_TRUE(runUntil([&] { return !outcomes_.empty(); }));
  EXPECT_EQ(outcomes_[0].kind, Kind::kForwarded);
  EXPECT_EQ(counters_.relaysOpen, 0u);
  std::array<char, 16> scratch;
  error_code ec;
  x.ws->next_layer().read_some(asio::buffer(scratch), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(ForwardTest, TheOwnerFailingClosesTheClientSocket) {
  Target owner(io_, "127.0.0.1", Target::Mode::kWebSocket);
  target_ = owner.target();
  websocket::stream<tcp::socket> ws(io_);
  ASSERT_TRUE(openWebSocket(ws, "/parties/main/crash"));
  // A reset, as when the owner's process dies with unread data or the peer aborts.
  auto& sock = owner.exchanges[0]->ws->next_layer();
  sock.set_option(asio::socket_base::linger(true, 0));
  sock.close();
  error_code error;
  readMessage(ws, &error);
  EXPECT_TRUE(error == asio::error::eof || error == asio::error::connection_reset)
      << error.message();
  ASSERT_TRUE(runUntil([&] { return !outcomes_.empty(); }));
  EXPECT_NE(outcomes_[0].error.find("owner read failed"), std::string::npos) << outcomes_[0].error;
  EXPECT_EQ(counters_.relayErrors, 1u);
  EXPECT_EQ(counters_.relaysOpen, 0u);
}

TEST_F(ForwardTest, AnUpgradeTheOwnerRefusesIsAnsweredWithItsResponse) {
  Target owner(io_, "127.0.0.1", Target::Mode::kEcho);  // answers 200, not 101
  target_ = owner.target();
  websocket::stream<tcp::socket> ws(io_);
  connect(ws.next_layer());
  bool done = false;
  error_code result;
  ws.async_handshake(upgradeResponse_, "localhost", "/parties/main/no", [&](error_code ec) {
    done = true;
    result = ec;
  });
  ASSERT_TRUE(runUntil([&] { return done; }));
  EXPECT_EQ(result, websocket::error::upgrade_declined);
  EXPECT_EQ(upgradeResponse_.result_int(), 200);
  EXPECT_EQ(counters_.ws, 0u);
  EXPECT_EQ(counters_.relaysOpen, 0u);
}

TEST_F(ForwardTest, UpgradeToADownOwnerGets502) {
  std::uint16_t port;
  {
    tcp::acceptor closed(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = closed.local_endpoint().port();
  }
  target_ = {"127.0.0.1", port};
  websocket::stream<tcp::socket> ws(io_);
  connect(ws.next_layer());
  bool done = false;
  error_code result;
  ws.async_handshake(upgradeResponse_, "localhost", "/parties/main/down", [&](error_code ec) {
    done = true;
    result = ec;
  });
  ASSERT_TRUE(runUntil([&] { return done; }));
  EXPECT_TRUE(result);
  EXPECT_EQ(upgradeResponse_.result_int(), 502);
  EXPECT_NE(upgradeResponse_.body().find("Connection refused"), std::string::npos);
}

}  // namespace
}  // namespace partyd::http
