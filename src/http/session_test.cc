// Tests for http::Session over real loopback TCP sockets. The client is a Beast stream on the same
// io_context; everything is driven step by step with run_one_for (which waits for an event, never
// for a time).
#include "http/session.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
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
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

using ClientResponse = bhttp::response<bhttp::string_body>;

class SessionFixture : public ::testing::Test {
 protected:
  // What the handler does with a request; by default it answers "<METHOD> <target> <body>".
  std::function<void(std::shared_ptr<Session>, Request&&)> onRequest =
      [this](std::shared_ptr<Session> session, Request&& request) {
        Response r;
        r.headers.emplace_back("content-type", "text/plain");
        r.headers.emplace_back("connection", "ignored: the session decides");
        r.body = std::string(request.method_string()) + " " + std::string(request.target()) + " " +
                 request.body();
        session->respond(std::move(r));
      };

  // Connects a client to a started Session on 127.0.0.1: with polled_, from the bare descriptor
  // and the peer address that accept4 gave (as a shard's listener makes it), else from an Asio
  // socket.
  void connect(Limits limits = {}, std::string leftover = {}) {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client_.connect(acceptor.local_endpoint());
    Session::Handler handler = [this](std::shared_ptr<Session> s, Request&& request) {
      targets_.push_back(std::string(request.target()));
      onRequest(std::move(s), std::move(request));
    };
    if (polled_) {
      tcp::endpoint peer;
      socklen_t len = static_cast<socklen_t>(peer.capacity());
      const int fd = ::accept4(acceptor.native_handle(), peer.data(), &len, SOCK_NONBLOCK);
      ASSERT_GE(fd, 0);
      peer.resize(len);
      session_ = std::make_shared<Session>(io_, fd, std::move(leftover), limits,
                                           std::move(handler), peer);
    } else {
      tcp::socket server(io_);
      acceptor.accept(server);
      session_ = std::make_shared<Session>(std::move(server), std::move(leftover), limits,
                                           std::move(handler));
    }
    session_->start();
    session_.reset();  // the session keeps itself alive through its pending reads and writes
  }

  void send(std::string_view bytes) { asio::write(client_, asio::buffer(bytes)); }

  // Reads one response; nullopt if the connection ended first.
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

  // Whether the server ends the connection (after anything already read).
  bool serverCloses() {
    bool done = false;
    error_code result;
    std::array<char, 256> scratch;
    std::function<void()> readMore = [&] {
      client_.async_read_some(asio::buffer(scratch), [&](error_code ec, std::size_t) {
        if (!ec) return readMore();  // unexpected bytes; keep reading to the end
        done = true;
        result = ec;
      });
    };
    readMore();
    if (!runUntil([&] { return done; })) return false;
    return result == asio::error::eof || result == asio::error::connection_reset;
  }

  // Connects, sends an upgrade-like request whose handler takes the socket with takePolled, and
  // returns what it took.
  net::Polled takePolledFromARequest() {
    auto taken = std::make_shared<net::Polled>();
    onRequest = [taken](std::shared_ptr<Session> session, Request&&) {
      *taken = session->takePolled();
    };
    connect();
    send(get("/ws"));
    EXPECT_TRUE(runUntil([&] { return taken->fd >= 0; }));
    return *taken;
  }

  // Reads exactly `n` bytes from `from`; "" if the read failed or no bytes came.
  std::string readExactly(tcp::socket& from, std::size_t n) {
    std::string got(n, '\0');
    bool done = false;
    error_code result;
    asio::async_read(from, asio::buffer(got), [&](error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    if (!runUntil([&] { return done; }) || result) return "";
    return got;
  }

  // Runs handlers until `done` holds; false if 5 s pass with no event at all.
  bool runUntil(const std::function<bool()>& done) {
    while (!done()) {
      if (io_.stopped()) io_.restart();
      if (io_.run_one_for(5s) == 0 && !done()) return false;
    }
    return true;
  }

  static std::string get(std::string_view target, std::string_view extra = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" + std::string(extra) +
           "\r\n";
  }

  bool polled_ = false;
  asio::io_context io_;
  tcp::socket client_{io_};
  beast::flat_buffer buffer_;
  std::shared_ptr<Session> session_;
  std::vector<std::string> targets_;
};

// Every test of SessionTest runs twice: on a session made from an Asio socket (TLS's pipes, the
// admin API), and on one made from a bare descriptor as a shard's listener accepts it (the poller
// from the first request).
class SessionTest : public SessionFixture, public ::testing::WithParamInterface<bool> {
 protected:
  SessionTest() { polled_ = GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(AsioOrPoller, SessionTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Accepted") : std::string("Asio");
                         });

// What only a session made from an accepted descriptor does, or only one made from an Asio socket.
class AcceptedSessionTest : public SessionFixture {
 protected:
  AcceptedSessionTest() { polled_ = true; }
};
class AsioSessionTest : public SessionFixture {};

TEST_P(SessionTest, KeepsTheConnectionForASecondRequest) {
  connect();
  send(get("/party/a?x=1"));
  auto first = readResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->result_int(), 200);
  EXPECT_EQ(first->body(), "GET /party/a?x=1 ");
  EXPECT_TRUE(first->keep_alive());
  EXPECT_EQ((*first)[bhttp::field::content_type], "text/plain");
  EXPECT_EQ((*first)[bhttp::field::content_length], "17");

  send("POST /b HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nbody");
  auto second = readResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body(), "POST /b body");
  EXPECT_TRUE(second->keep_alive());
  EXPECT_EQ(targets_, (std::vector<std::string>{"/party/a?x=1", "/b"}));
}

TEST_P(SessionTest, AnswersPipelinedRequestsInOrder) {
  connect();
  send(get("/one") + "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
       get("/three"));
  std::vector<std::string> bodies;
  for (int i = 0; i < 3; ++i) {
    auto r = readResponse();
    ASSERT_TRUE(r) << "response " << i;
    bodies.push_back(r->body());
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"GET /one ", "POST /two abc", "GET /three "}));
}

TEST_P(SessionTest, ConnectionCloseEndsTheSessionAfterTheResponse) {
  connect();
  send(get("/bye", "Connection: close\r\n"));
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "GET /bye ");
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(serverCloses());
}

TEST_P(SessionTest, Http10WithoutKeepAliveCloses) {
  connect();
  send("GET /old HTTP/1.0\r\n\r\n");
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(serverCloses());
}

TEST_P(SessionTest, HeadOverTheLimitGets431) {
  Limits limits;
  limits.maxHeaderBytes = 1024;
  connect(limits);
  send(get("/big", "X-Filler: " + std::string(2000, 'f') + "\r\n"));
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 431);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(serverCloses());
  EXPECT_TRUE(targets_.empty());
}

TEST_P(SessionTest, HeadJustUnderTheLimitIsServed) {
  Limits limits;
  limits.maxHeaderBytes = 1024;
  connect(limits);
  std::string request = get("/fits", "X-Filler: \r\n");
  request.insert(request.find("X-Filler: ") + 10, std::string(1000 - request.size(), 'f'));
  ASSERT_EQ(request.size(), 1000u);
  send(request);
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
}

TEST_P(SessionTest, BodyOverTheLimitGets413) {
  Limits limits;
  limits.maxBodyBytes = 10;
  connect(limits);
  // Refused on the Content-Length alone, before any of the body is read.
  send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 413);
  EXPECT_TRUE(serverCloses());
  EXPECT_TRUE(targets_.empty());
}

TEST_P(SessionTest, ChunkedBodyOverTheLimitGets413) {
  Limits limits;
  limits.maxBodyBytes = 10;
  connect(limits);
  send("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n");
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 413);
  EXPECT_TRUE(targets_.empty());
}

TEST_P(SessionTest, MalformedRequestGets400) {
  connect();
  send("GET /x HTTP/1.1\r\nHost localhost\r\n\r\n");  // no colon after the field name
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 400);
  EXPECT_TRUE(r->body().starts_with("Bad Request"));
  EXPECT_EQ((*r)[bhttp::field::content_type], "text/plain;charset=UTF-8");
  EXPECT_TRUE(serverCloses());
  EXPECT_TRUE(targets_.empty());
}

TEST_P(SessionTest, MalformedSecondRequestStillGetsTheFirstAnswered) {
  connect();
  send(get("/good") + "NOT HTTP AT ALL\r\n\r\n");
  auto first = readResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body(), "GET /good ");
  auto second = readResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->result_int(), 400);
  EXPECT_TRUE(serverCloses());
}

TEST_P(SessionTest, ClientClosingBetweenRequestsEndsQuietly) {
  connect();
  send(get("/only"));
  ASSERT_TRUE(readResponse());
  client_.shutdown(tcp::socket::shutdown_send);
  EXPECT_TRUE(serverCloses());
  EXPECT_EQ(targets_.size(), 1u);
}

TEST_P(SessionTest, HandlesARequestAlreadyReadByAnotherShard) {
  // A hand-off: the bytes read so far come with the socket.
  connect({}, get("/moved") + get("/next"));
  auto first = readResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body(), "GET /moved ");
  auto second = readResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body(), "GET /next ");
}

TEST_P(SessionTest, HandlerMayTakeTheSocketWithTheBytesReadPastTheRequest) {
  tcp::socket taken(io_);
  std::string leftover;
  onRequest = [&](std::shared_ptr<Session> session, Request&&) {
    taken = session->takeSocket();
    leftover = session->takeLeftover();
    // A response after the take is ignored: the socket is no longer the session's.
    session->respond(Response{500, {}, "not sent"});
  };
  connect();
  send(get("/ws") + "frame bytes");
  ASSERT_TRUE(runUntil([&] { return taken.is_open(); }));
  EXPECT_EQ(leftover, "frame bytes");
  // The socket now writes for its new owner.
  asio::write(taken, asio::buffer(std::string("hello")));
  EXPECT_EQ(readExactly(client_, 5), "hello");
}

TEST_P(SessionTest, HandlerMayAnswerLater) {
  std::shared_ptr<Session> held;
  onRequest = [&](std::shared_ptr<Session> session, Request&&) { held = std::move(session); };
  connect();
  send(get("/slow"));
  ASSERT_TRUE(runUntil([&] { return held != nullptr; }));
  io_.poll();
  held->respond(Response{202, {{"x-late", "yes"}}, "later"});
  held.reset();
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 202);
  EXPECT_EQ((*r)["x-late"], "yes");
  EXPECT_EQ(r->body(), "later");
  EXPECT_TRUE(r->keep_alive());
}

TEST_P(SessionTest, RespondCanRefuseKeepAlive) {
  onRequest = [](std::shared_ptr<Session> session, Request&&) {
    session->respond(Response{200, {}, "once"}, /*keepAlive=*/false);
  };
  connect();
  send(get("/a"));
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(serverCloses());
}

// A HEAD response says its body's length and sends no body: the next response on the connection
// starts right after its head.
TEST_P(SessionTest, HeadResponseHasALengthAndNoBody) {
  connect();
  send("HEAD /h HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/next"));
  bhttp::response_parser<bhttp::string_body> head;
  head.skip(true);
  bool done = false;
  error_code result;
  bhttp::async_read(client_, buffer_, head, [&](error_code ec, std::size_t) {
    done = true;
    result = ec;
  });
  ASSERT_TRUE(runUntil([&] { return done; }));
  ASSERT_FALSE(result) << result.message();
  EXPECT_EQ(head.get()[bhttp::field::content_length], "8");  // "HEAD /h "
  EXPECT_EQ(head.get().body(), "");
  auto next = readResponse();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), "GET /next ");
}

// 204 and 304 have no body and no Content-Length, whatever the handler gave.
TEST_P(SessionTest, NoContentStatusDropsTheBody) {
  onRequest = [](std::shared_ptr<Session> session, Request&& request) {
    std::string_view target(request.target().data(), request.target().size());
    Response r;
    r.status = target == "/none" ? 204 : 200;
    r.headers.emplace_back("content-length", "99");
    r.body = "text";
    session->respond(std::move(r));
  };
  connect();
  send(get("/none") + get("/some"));
  auto none = readResponse();
  ASSERT_TRUE(none);
  EXPECT_EQ(none->result_int(), 204);
  EXPECT_EQ(none->count(bhttp::field::content_length), 0u);
  auto some = readResponse();
  ASSERT_TRUE(some);
  EXPECT_EQ(some->body(), "text");
  EXPECT_EQ((*some)[bhttp::field::content_length], "4");
}

// A header whose name or value holds a line break cannot split the response: it is dropped.
TEST_P(SessionTest, HeaderWithALineBreakIsDropped) {
  onRequest = [](std::shared_ptr<Session> session, Request&&) {
    Response r;
    r.headers.emplace_back("x-ok", "fine");
    r.headers.emplace_back("x-bad", "a\r\nSet-Cookie: evil=1");
    r.headers.emplace_back("x-bad\nname", "b");
    r.body = "body";
    session->respond(std::move(r));
  };
  connect();
  send(get("/"));
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["x-ok"], "fine");
  EXPECT_EQ(r->count("x-bad"), 0u);
  EXPECT_EQ(r->count(bhttp::field::set_cookie), 0u);
  EXPECT_EQ(r->body(), "body");
}

// A body larger than the socket takes at once is written in parts, and keep-alive goes on: on a
// connection's first request through Asio, and on later ones through the shard's net::Poller,
// where the rest of the response waits for room.
TEST_P(SessionTest, LargeResponseIsWrittenWholeAndTheConnectionGoesOn) {
  const std::string big(4 * 1024 * 1024, 'x');
  onRequest = [&big](std::shared_ptr<Session> session, Request&& request) {
    Response r;
    r.body = request.target() == "/big" ? big : "small";
    session->respond(std::move(r));
  };
  connect();
  for (const char* target : {"/big", "/small", "/big", "/small"}) {
    send(get(target));
    auto r = readResponse();
    ASSERT_TRUE(r) << target;
    if (std::string_view(target) == "/big") {
      EXPECT_EQ(r->body().size(), big.size());
      EXPECT_EQ(r->body(), big);
    } else {
      EXPECT_EQ(r->body(), "small");
    }
  }
}

// A handler may take the socket of a connection that is already in the poller (an upgrade or a
// hand-off on a kept-alive connection): it comes back as an Asio socket that works.
TEST_P(SessionTest, HandlerMayTakeTheSocketOfAKeptAliveConnection) {
  tcp::socket taken(io_);
  std::string leftover;
  tcp::endpoint remote;
  auto answer = onRequest;
  onRequest = [&](std::shared_ptr<Session> session, Request&& request) {
    if (request.target() != "/take") return answer(std::move(session), std::move(request));
    remote = session->remote();
    taken = session->takeSocket();
    leftover = session->takeLeftover();
  };
  connect();
  send(get("/first"));
  ASSERT_TRUE(readResponse());
  send(get("/take") + "after");
  ASSERT_TRUE(runUntil([&] { return taken.is_open(); }));
  EXPECT_EQ(leftover, "after");
  EXPECT_EQ(remote, client_.local_endpoint());
  asio::write(taken, asio::buffer(std::string("hello")));
  EXPECT_EQ(readExactly(client_, 5), "hello");
  // And reads for it: the poller no longer hears this descriptor.
  send("more");
  EXPECT_EQ(readExactly(taken, 4), "more");
}

// A hand-off between shards moves the bare descriptor: the session that takes it reads and writes
// it through the poller from its first request.
TEST_P(SessionTest, ADescriptorMovedFromAnotherSessionGoesOnWithTheBytesReadPastTheRequest) {
  int moved = -1;
  std::string leftover;
  auto answer = onRequest;
  onRequest = [&](std::shared_ptr<Session> session, Request&& request) {
    if (request.target() != "/move") return answer(std::move(session), std::move(request));
    leftover = session->takeLeftover();
    moved = session->takeDescriptor();
  };
  connect();
  send(get("/first"));
  ASSERT_TRUE(readResponse());
  send(get("/move") + get("/next"));
  ASSERT_TRUE(runUntil([&] { return moved >= 0; }));
  auto next = std::make_shared<Session>(io_, moved, leftover, Limits{},
                                        [this](std::shared_ptr<Session> s, Request&& request) {
                                          targets_.push_back(std::string(request.target()));
                                          onRequest(std::move(s), std::move(request));
                                        });
  next->start();
  next.reset();
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "GET /next ");
  send(get("/last"));
  r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "GET /last ");
  EXPECT_EQ(targets_, (std::vector<std::string>{"/first", "/move", "/next", "/last"}));
}

// A second request that never finishes arriving is cut off by the idle timeout in the poller too.
TEST_P(SessionTest, IdleTimeoutEndsAnUnfinishedSecondRequest) {
  Limits limits;
  limits.idleTimeout = std::chrono::seconds(1);
  connect(limits);
  send(get("/first"));
  ASSERT_TRUE(readResponse());
  send("GET /slow HTTP/1.1\r\nHost: loc");
  EXPECT_TRUE(serverCloses());
  EXPECT_EQ(targets_, std::vector<std::string>{"/first"});
}

// The idle timeout ends a connection that sends nothing, counted from its last response; a
// request within it keeps the connection.
TEST_P(SessionTest, IdleTimeoutEndsAQuietConnection) {
  Limits limits;
  limits.idleTimeout = std::chrono::seconds(1);
  connect(limits);
  asio::steady_timer wait(io_);
  bool waited = false;
  wait.expires_after(600ms);
  wait.async_wait([&](error_code) { waited = true; });
  ASSERT_TRUE(runUntil([&] { return waited; }));
  send(get("/still-here"));
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "GET /still-here ");
  const auto answered = std::chrono::steady_clock::now();
  EXPECT_TRUE(serverCloses());
  const auto after = std::chrono::steady_clock::now() - answered;
  EXPECT_GE(after, 900ms);
  EXPECT_LT(after, 3s);
}

// A request that never finishes arriving is cut off at the idle timeout too.
TEST_P(SessionTest, IdleTimeoutEndsAnUnfinishedRequest) {
  Limits limits;
  limits.idleTimeout = std::chrono::seconds(1);
  connect(limits);
  send("GET /slow HTTP/1.1\r\nHost: loc");
  EXPECT_TRUE(serverCloses());
  EXPECT_TRUE(targets_.empty());
}

// ---- a descriptor that a listener accepted: the poller from the first request ----------------

TEST_F(AcceptedSessionTest, AnAcceptedDescriptorIsServedThroughThePollerFromItsFirstRequest) {
  tcp::endpoint remote;
  auto answer = onRequest;
  onRequest = [&](std::shared_ptr<Session> session, Request&& request) {
    remote = session->remote();
    answer(std::move(session), std::move(request));
  };
  connect({}, get("/first"));  // bytes read with the accept, as a hand-off brings them
  auto r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "GET /first ");
  EXPECT_EQ(remote, client_.local_endpoint());  // from accept4, not asked again
  send(get("/second"));
  r = readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "GET /second ");
}

// The idle timer is armed only when a read must wait: a quiet accepted connection, and one whose
// first request never finishes, are still cut off.
TEST_F(AcceptedSessionTest, IdleTimeoutEndsAQuietAcceptedConnection) {
  Limits limits;
  limits.idleTimeout = std::chrono::seconds(1);
  const auto start = std::chrono::steady_clock::now();
  connect(limits);
  EXPECT_TRUE(serverCloses());
  const auto after = std::chrono::steady_clock::now() - start;
  EXPECT_GE(after, 900ms);
  EXPECT_LT(after, 3s);
}

TEST_F(AcceptedSessionTest, IdleTimeoutEndsAnUnfinishedFirstRequestThroughThePoller) {
  Limits limits;
  limits.idleTimeout = std::chrono::seconds(1);
  connect(limits);
  send("GET /slow HTTP/1.1\r\nHost: loc");
  EXPECT_TRUE(serverCloses());
  EXPECT_TRUE(targets_.empty());
}

struct Heard : net::PollTarget {
  std::vector<std::uint32_t> events;
  void onPollEvents(std::uint32_t e) override { events.push_back(e); }
};

// An upgrade hands the registration over as it is: the new owner hears the socket's next bytes
// with no epoll_ctl of its own, and knows that the request's read emptied the socket.
TEST_F(AcceptedSessionTest, TakePolledHandsTheRegistrationOver) {
  net::Polled taken = takePolledFromARequest();
  ASSERT_GE(taken.fd, 0);
  ASSERT_NE(taken.slot, net::Poller::kNoSlot);
  ASSERT_EQ(taken.poller, &net::Poller::of(io_));
  EXPECT_FALSE(taken.readReady);
  Heard heard;
  taken.poller->retarget(taken.slot, &heard);
  taken.poller->startWaiting();
  send("frame");
  ASSERT_TRUE(runUntil([&] { return !heard.events.empty(); }));
  EXPECT_TRUE(heard.events[0] & EPOLLIN);
  char got[8] = {};
  EXPECT_EQ(::recv(taken.fd, got, sizeof got, MSG_DONTWAIT), 5);
  EXPECT_EQ(std::string(got, 5), "frame");
  taken.poller->stopWaiting();
  taken.poller->remove(taken.slot, taken.fd);
  ::close(taken.fd);
}

// A session read through Asio gives the descriptor out of Asio's reactor, not yet registered.
TEST_F(AsioSessionTest, TakePolledOfAnAsioSessionGivesTheBareDescriptor) {
  net::Polled taken = takePolledFromARequest();
  ASSERT_GE(taken.fd, 0);
  EXPECT_EQ(taken.slot, net::Poller::kNoSlot);
  EXPECT_EQ(::send(taken.fd, "hello", 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(readExactly(client_, 5), "hello");
  ::close(taken.fd);
}

}  // namespace
// Each response is counted by status class and timed by the request's kind: a party route, a
// static asset (the response says so), anything else, and an upgrade that was answered here.
TEST_P(SessionTest, CountsAndTimesResponsesByKindAndClass) {
  ResponseCounts counts;
  onRequest = [&counts](std::shared_ptr<Session> session, Request&& request) {
    session->countResponses(&counts);
    Response r;
    std::string_view target(request.target().data(), request.target().size());
    r.status = target == "/missing" ? 404 : 200;
    r.asset = target == "/app.js";
    session->respond(std::move(r));
  };
  connect();
  for (std::string_view target : {"/parties/main/r1", "/party/r2", "/app.js", "/missing"}) {
    send(get(target));
    ASSERT_TRUE(readResponse());
  }
  send(get("/parties/main/r1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"));
  ASSERT_TRUE(readResponse());
  auto n = [&](RequestKind kind, std::size_t cls) {
    return counts.seconds[static_cast<std::size_t>(kind)][cls].count();
  };
  EXPECT_EQ(counts.byClass[2], 4u);
  EXPECT_EQ(counts.byClass[4], 1u);
  EXPECT_EQ(n(RequestKind::kParty, 2), 2u);
  EXPECT_EQ(n(RequestKind::kAsset, 2), 1u);
  EXPECT_EQ(n(RequestKind::kFetch, 4), 1u);
  EXPECT_EQ(n(RequestKind::kUpgrade, 2), 1u);
  EXPECT_EQ(n(RequestKind::kFetch, 2), 0u);
}

}  // namespace partyd::http
