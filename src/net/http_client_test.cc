#include "net/http_client.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/test_certs.h"

namespace partyd::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using Request = bhttp::request<bhttp::string_body>;
using namespace std::chrono_literals;

// ---- A tiny HTTP/1.1 server on 127.0.0.1 ------------------------------------------------------
// Handlers answer with raw bytes, so tests control framing exactly (chunked, no length, 1xx).

struct Reply {
  enum class Action { kSend, kHang, kClose } action = Action::kSend;
  std::string raw;
};

Reply raw(std::string bytes) {
  return Reply{Reply::Action::kSend, std::move(bytes)};
}
Reply hang() {
  return Reply{Reply::Action::kHang, {}};
}
Reply closeWithoutAnswer() {
  return Reply{Reply::Action::kClose, {}};
}

Reply respond(unsigned status, std::string body = "",
              std::vector<std::pair<std::string, std::string>> headers = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " +
                    std::string(bhttp::obsolete_reason(bhttp::int_to_status(status))) + "\r\n";
  for (auto& [n, v] : headers) out += n + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return raw(std::move(out));
}

Reply redirect(unsigned status, std::string location) {
  return respond(status, "", {{"Location", std::move(location)}});
}

class TestServer {
 public:
  // `onConnection` counts requests on the same connection from 0.
  using Handler = std::function<Reply(const Request&, int onConnection)>;

  TestServer(asio::io_context& io, Handler handler, ssl::context* tls = nullptr,
             std::string_view address = "127.0.0.1")
      : st_(std::make_shared<State>(io)) {
    st_->handler = std::move(handler);
    st_->tls = tls;
    tcp::endpoint ep(asio::ip::make_address(address), 0);
    st_->acceptor.open(ep.protocol());
    st_->acceptor.set_option(asio::socket_base::reuse_address(true));
    st_->acceptor.bind(ep);
    st_->acceptor.listen();
    accept(st_);
  }
  ~TestServer() {
    error_code ec;
    st_->acceptor.close(ec);
    for (auto& close : st_->closers) close();
    st_->held.clear();  // hanging sessions hold the state: break the cycle
  }

  unsigned short port() const { return st_->acceptor.local_endpoint().port(); }
  std::string url(std::string_view path, std::string_view host = "127.0.0.1") const {
    if (host == "::1") host = "[::1]";
    return std::string(st_->tls ? "https://" : "http://") + std::string(host) + ":" +
           std::to_string(port()) + std::string(path);
  }
  const std::vector<Request>& requests() const { return st_->requests; }
  int connections() const { return st_->connections; }

 private:
  using error_code = boost::system::error_code;
  struct State {
    explicit State(asio::io_context& io) : io(io), acceptor(io) {}
    asio::io_context& io;
    tcp::acceptor acceptor;
    Handler handler;
    ssl::context* tls = nullptr;
    std::vector<Request> requests;
    int connections = 0;
    std::vector<std::function<void()>> closers;
    std::vector<std::shared_ptr<void>> held;  // sessions told to hang
  };

  template <typename Stream>
  struct Session : std::enable_shared_from_this<Session<Stream>> {
    template <typename... Args>
    Session(std::shared_ptr<State> st, Args&&... args)
        : st(std::move(st)), stream(std::forward<Args>(args)...) {}

    void readNext() {
      req = {};
      bhttp::async_read(stream, buffer, req,
                        [self = this->shared_from_this()](error_code ec, std::size_t) {
                          if (!ec) self->onRequest();
                        });
    }
    void onRequest() {
      st->requests.push_back(req);
      Reply reply = st->handler(req, count++);
      if (reply.action == Reply::Action::kHang) return st->held.push_back(this->shared_from_this());
      if (reply.action == Reply::Action::kClose) return close();
      out = std::move(reply.raw);
      std::string head = out.substr(0, out.find("\r\n\r\n"));
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool closeAfter = head.find("connection: close") != std::string::npos;
      asio::async_write(stream, asio::buffer(out),
                        [self = this->shared_from_this(), closeAfter](error_code ec, std::size_t) {
                          if (ec || closeAfter) return self->close();
                          self->readNext();
                        });
    }
    void close() {
      error_code ec;
      beast::get_lowest_layer(stream).shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(stream).close(ec);
    }

    std::shared_ptr<State> st;
    Stream stream;
    beast::flat_buffer buffer;
    Request req;
    std::string out;
    int count = 0;
  };

  static void accept(std::shared_ptr<State> st) {
    st->acceptor.async_accept([st](error_code ec, tcp::socket socket) {
      if (ec) return;
      ++st->connections;
      if (st->tls) {
        using S = Session<ssl::stream<tcp::socket>>;
        auto s = std::make_shared<S>(st, std::move(socket), *st->tls);
        st->closers.push_back([w = std::weak_ptr<S>(s)] {
          if (auto s = w.lock()) s->close();
        });
        s->stream.async_handshake(ssl::stream_base::server, [s](error_code ec) {
          if (!ec) s->readNext();
        });
      } else {
        using S = Session<tcp::socket>;
        auto s = std::make_shared<S>(st, std::move(socket));
        st->closers.push_back([w = std::weak_ptr<S>(s)] {
          if (auto s = w.lock()) s->close();
        });
        s->readNext();
      }
      accept(st);
    });
  }

  std::shared_ptr<State> st_;
};

std::string header(const Request& r, std::string_view name) {
  auto it = r.find(name);
  return it == r.end() ? "<none>" : std::string(it->value());
}

std::string header(const FetchResponse& r, std::string_view name) {
  for (auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<none>";
}

std::string compress(std::string_view in, int windowBits) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// ---- The fixture: one io_context that runs server and client ---------------------------------

class HttpClientTest : public ::testing::Test {
 protected:
  // Runs the loop until `done` holds; never sleeps. Fails after 10 s of real time as a safety net.
  bool runUntil(const std::function<bool()>& done) {
    auto limit = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > limit) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(50ms);
    }
    return true;
  }

  Result<FetchResponse> fetch(FetchRequest request) {
    std::optional<Result<FetchResponse>> out;
    client_->fetch(std::move(request), [&](Result<FetchResponse> r) { out.emplace(std::move(r)); });
    EXPECT_TRUE(runUntil([&] { return out.has_value(); })) << "fetch never completed";
    if (!out) return makeError("test: no answer");
    return std::move(*out);
  }

  Result<FetchResponse> get(std::string url) {
    FetchRequest r;
    r.url = std::move(url);
    return fetch(std::move(r));
  }

  asio::io_context io_;
  std::unique_ptr<HttpClient> client_ = std::make_unique<HttpClient>(io_);
};

#define ASSERT_OK(r) ASSERT_TRUE((r).ok()) << (r).error().message

// ---- Requests and responses -------------------------------------------------------------------

TEST_F(HttpClientTest, GetReturnsStatusHeadersAndBody) {
  TestServer server(io_, [](const Request&, int) {
    return respond(200, "hello", {{"X-One", "1"}, {"Content-Type", "text/plain"}, {"X-One", "2"}});
  });
  auto r = get(server.url("/path?q=1"));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->statusText, "OK");
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->url, server.url("/path?q=1"));
  EXPECT_FALSE(r->redirected);
  ASSERT_EQ(r->headers.size(), 4u);
  EXPECT_EQ(r->headers[0], (std::pair<std::string, std::string>{"x-one", "1"}));
  EXPECT_EQ(r->headers[1], (std::pair<std::string, std::string>{"content-type", "text/plain"}));
  EXPECT_EQ(r->headers[2], (std::pair<std::string, std::string>{"x-one", "2"}));
  EXPECT_EQ(r->headers[3], (std::pair<std::string, std::string>{"content-length", "5"}));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].method_string(), "GET");
  EXPECT_EQ(server.requests()[0].target(), "/path?q=1");
}

TEST_F(HttpClientTest, SendsDefaultHeadersWhenMissing) {
  TestServer server(io_, [](const Request&, int) { return respond(204); });
  ASSERT_OK(get(server.url("/")));
  const Request& seen = server.requests().at(0);
  EXPECT_EQ(header(seen, "user-agent"), "partyd");
  EXPECT_EQ(header(seen, "accept"), "*/*");
  EXPECT_EQ(header(seen, "host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(header(seen, "content-length"), "<none>");
}

TEST_F(HttpClientTest, UserHeadersReplaceDefaultsButNotFraming) {
  TestServer server(io_, [](const Request&, int) { return respond(200); });
  FetchRequest r;
  r.method = "post";
  r.url = server.url("/");
  r.body = "abc";
  r.headers = {{"User-Agent", "mine"},
               {"Accept", "text/html"},
               {"Content-Length", "999"},
               {"X-Multi", "a"},
               {"X-Multi", "b"}};
  ASSERT_OK(fetch(r));
  const Request& seen = server.requests().at(0);
  EXPECT_EQ(seen.method_string(), "POST");
  EXPECT_EQ(header(seen, "user-agent"), "mine");
  EXPECT_EQ(header(seen, "accept"), "text/html");
  EXPECT_EQ(header(seen, "content-length"), "3");
  EXPECT_EQ(seen.count("x-multi"), 2u);
  EXPECT_EQ(seen.body(), "abc");
}

TEST_F(HttpClientTest, PostSendsBodyAndGetsEcho) {
  TestServer server(io_, [](const Request& req, int) {
    return respond(201, "got:" + req.body(), {{"Content-Type", "text/plain"}});
  });
  FetchRequest r;
  r.method = "POST";
  r.url = server.url("/echo");
  r.body = std::string(100000, 'x');
  r.headers = {{"content-type", "application/octet-stream"}};
  auto res = fetch(r);
  ASSERT_OK(res);
  EXPECT_EQ(res->status, 201u);
  EXPECT_EQ(res->body, "got:" + r.body);
  EXPECT_EQ(header(server.requests().at(0), "content-length"), "100000");
}

TEST_F(HttpClientTest, EmptyPostSendsContentLengthZero) {
  TestServer server(io_, [](const Request&, int) { return respond(200); });
  FetchRequest r;
  r.method = "POST";
  r.url = server.url("/");
  ASSERT_OK(fetch(r));
  EXPECT_EQ(header(server.requests().at(0), "content-length"), "0");
}

TEST_F(HttpClientTest, DecodesChunkedResponse) {
  TestServer server(io_, [](const Request&, int) {
    return raw(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  auto r = get(server.url("/"));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(header(*r, "x-trailer"), "<none>") << "trailers are not headers";
}

TEST_F(HttpClientTest, ReadsBodyUntilCloseWhenNoLength) {
  TestServer server(io_, [](const Request&, int) {
    return raw("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  });
  auto r = get(server.url("/"));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "until the end");
  EXPECT_EQ(client_->idleConnectionCount(), 0u);
}

TEST_F(HttpClientTest, DecodesGzipAndDeflateBodies) {
  std::string text(5000, 'z');
  text += "tail";
  TestServer server(io_, [&](const Request& req, int) {
    if (req.target() == "/gzip")
      return respond(200, compress(text, 31), {{"Content-Encoding", "gzip"}});
    if (req.target() == "/zlib")
      return respond(200, compress(text, 15), {{"Content-Encoding", "deflate"}});
    return respond(200, compress(text, -15), {{"Content-Encoding", "deflate"}});
  });
  for (const char* path : {"/gzip", "/zlib", "/raw"}) {
    auto r = get(server.url(path));
    ASSERT_OK(r);
    EXPECT_EQ(r->body, text) << path;
  }
  EXPECT_EQ(header(server.requests().at(0), "accept-encoding"), "gzip, deflate");
}

TEST_F(HttpClientTest, LeavesUnknownContentEncodingAsReceived) {
  TestServer server(io_, [](const Request&, int) {
    return respond(200, "opaque", {{"Content-Encoding", "br"}});
  });
  auto r = get(server.url("/"));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "opaque");
}

TEST_F(HttpClientTest, CorruptGzipBodyFails) {
  TestServer server(io_, [](const Request&, int) {
    return respond(200, "not gzip at all", {{"Content-Encoding", "gzip"}});
  });
  auto r = get(server.url("/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "fetch failed: cannot decode the compressed body");
}

TEST_F(HttpClientTest, HeadResponseHasNoBodyDespiteContentLength) {
  TestServer server(io_, [](const Request&, int) {
    return raw("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
  });
  FetchRequest r;
  r.method = "HEAD";
  r.url = server.url("/");
  auto res = fetch(r);
  ASSERT_OK(res);
  EXPECT_EQ(res->body, "");
  EXPECT_EQ(header(*res, "content-length"), "1234");
}

TEST_F(HttpClientTest, SkipsInterimResponses) {
  TestServer server(io_, [](const Request&, int) {
    return raw(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  auto r = get(server.url("/"));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "ok");
}

TEST_F(HttpClientTest, MalformedResponseFails) {
  TestServer server(io_, [](const Request&, int) { return raw("NOT HTTP\r\n\r\n"); });
  auto r = get(server.url("/"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().message.starts_with("fetch failed: bad response from 127.0.0.1:"))
      << r.error().message;
}

TEST_F(HttpClientTest, ServerClosingBeforeAnsweringFails) {
  TestServer server(io_, [](const Request&, int) { return closeWithoutAnswer(); });
  auto r = get(server.url("/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "fetch failed: connection to 127.0.0.1:" +
                                   std::to_string(server.port()) + " closed before a response");
}

// ---- URLs -----------------------------------------------------------------------------------

bool ipv6LoopbackWorks() {
  asio::io_context io;
  tcp::acceptor a(io);
  boost::system::error_code ec;
  a.open(tcp::v6(), ec);
  if (!ec) a.bind(tcp::endpoint(asio::ip::make_address("::1"), 0), ec);
  return !ec;
}

TEST_F(HttpClientTest, ConnectsToAnIpv6Host) {
  if (!ipv6LoopbackWorks()) GTEST_SKIP() << "no IPv6 loopback here";
  TestServer server(
      io_, [](const Request&, int) { return respond(200, "six"); }, nullptr, "::1");
  std::string port = std::to_string(server.port());
  auto r = get("http://[::1]:" + port + "/x?y=1#frag");
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "six");
  EXPECT_EQ(r->url, "http://[::1]:" + port + "/x?y=1");
  EXPECT_EQ(header(server.requests().at(0), "host"), "[::1]:" + port);
  auto longForm = get("http://[0:0:0:0:0:0:0:1]:" + port + "/");
  ASSERT_OK(longForm);
  EXPECT_EQ(header(server.requests().at(1), "host"), "[0:0:0:0:0:0:0:1]:" + port);
}

TEST_F(HttpClientTest, RejectsUserinfoInAnyForm) {
  for (const char* url : {"http://user@127.0.0.1/", "http://@127.0.0.1/", "http://u:p@[::1]:80/",
                          "https://a%40b@example.com/"}) {
    auto r = get(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_TRUE(r.error().message.starts_with("fetch failed: URL includes credentials")) << url;
  }
}

TEST_F(HttpClientTest, RejectsBadHostsAndPorts) {
  auto expectError = [&](const std::string& url, std::string_view prefix) {
    auto r = get(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_TRUE(r.error().message.starts_with(prefix)) << url << ": " << r.error().message;
  };
  expectError("http://[::1/", "fetch failed: invalid URL");
  expectError("http://[::g]/", "fetch failed: invalid URL");
  expectError("http://[::1]x/", "fetch failed: invalid URL");
  expectError("http://[v1.x]/", "fetch failed: invalid IPv6 host");
  expectError("http://ex ample.com/", "fetch failed: invalid URL");
  expectError("http://a!b.com/", "fetch failed: invalid host in URL");
  expectError("http://a%00b.com/", "fetch failed: invalid host in URL");
  expectError("http:///", "fetch failed: URL has no host");
  expectError("http://:8080/", "fetch failed: URL has no host");
  expectError("http://127.0.0.1:x/", "fetch failed: invalid URL");
  expectError("http://127.0.0.1:0/", "fetch failed: invalid port");
  expectError("http://127.0.0.1:65536/", "fetch failed: invalid port");
  expectError("http://127.0.0.1:99999999999999999999999/", "fetch failed: invalid port");
}

TEST_F(HttpClientTest, FoldsCaseDecodesTheHostAndReadsLeadingZeros) {
  TestServer server(
      io_, [](const Request& req, int) { return respond(200, std::string(req.target())); });
  std::string port = std::to_string(server.port());
  auto r = get("HTTP://LOCAL%68OST:000" + port + "/A/./b/../C");
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "/A/C");
  EXPECT_EQ(r->url, "http://localhost:" + port + "/A/C");
  EXPECT_EQ(header(server.requests().at(0), "host"), "localhost:" + port);
}

TEST_F(HttpClientTest, AnEmptyPortIsTheSchemesDefault) {
  // Nothing is expected on port 80 here; if something answers, the port was still 80.
  auto r = get("http://127.0.0.1:/");
  if (r.ok()) {
    EXPECT_EQ(r->url, "http://127.0.0.1/");
  } else {
    EXPECT_NE(r.error().message.find("127.0.0.1:80"), std::string::npos) << r.error().message;
  }
}

// ---- Bad input ------------------------------------------------------------------------------

TEST_F(HttpClientTest, RejectsUnsupportedSchemeAndCredentials) {
  auto a = get("ftp://example.com/");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message, "fetch failed: unsupported URL scheme 'ftp:'");
  auto b = get("http://user:pw@127.0.0.1/");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(b.error().message.starts_with("fetch failed: URL includes credentials"));
  auto c = get("not a url");
  ASSERT_FALSE(c.ok());
}

TEST_F(HttpClientTest, RejectsHeaderInjectionAndBadMethods) {
  TestServer server(io_, [](const Request&, int) { return respond(200); });
  FetchRequest r;
  r.url = server.url("/");
  r.headers = {{"x-evil", "a\r\nx-injected: 1"}};
  auto a = fetch(r);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message, "fetch failed: invalid value for header 'x-evil'");
  r.headers = {{"bad name", "v"}};
  EXPECT_FALSE(fetch(r).ok());
  r.headers = {};
  r.method = "CONNECT";
  EXPECT_FALSE(fetch(r).ok());
  r.method = "GET /x";
  EXPECT_FALSE(fetch(r).ok());
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HttpClientTest, ConnectionRefusedIsAnError) {
  auto r = get("http://127.0.0.1:1/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "fetch failed: connection refused to 127.0.0.1:1");
}

TEST_F(HttpClientTest, ResolvesLocalhost) {
  TestServer server(io_, [](const Request&, int) { return respond(200, "local"); });
  auto r = get(server.url("/", "localhost"));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "local");
  EXPECT_EQ(header(server.requests().at(0), "host"), "localhost:" + std::to_string(server.port()));
}

// ---- Redirects --------------------------------------------------------------------------------

class RedirectStatusTest : public HttpClientTest, public ::testing::WithParamInterface<unsigned> {};

TEST_P(RedirectStatusTest, FollowsGetRedirect) {
  unsigned code = GetParam();
  TestServer server(io_, [&](const Request& req, int) {
    return req.target() == "/from" ? redirect(code, "/to") : respond(200, "arrived");
  });
  auto r = get(server.url("/from"));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "arrived");
  EXPECT_TRUE(r->redirected);
  EXPECT_EQ(r->url, server.url("/to"));
}

TEST_P(RedirectStatusTest, PostIsKeptOnlyFor307And308) {
  unsigned code = GetParam();
  TestServer server(io_, [&](const Request& req, int) {
    return req.target() == "/from" ? redirect(code, "/to") : respond(200);
  });
  FetchRequest r;
  r.method = "POST";
  r.url = server.url("/from");
  r.body = "payload";
  r.headers = {{"content-type", "text/plain"}, {"x-keep", "1"}};
  ASSERT_OK(fetch(r));
  ASSERT_EQ(server.requests().size(), 2u);
  const Request& second = server.requests()[1];
  EXPECT_EQ(header(second, "x-keep"), "1");
  if (code == 307 || code == 308) {
    EXPECT_EQ(second.method_string(), "POST");
    EXPECT_EQ(second.body(), "payload");
    EXPECT_EQ(header(second, "content-type"), "text/plain");
  } else {
    EXPECT_EQ(second.method_string(), "GET");
    EXPECT_EQ(second.body(), "");
    EXPECT_EQ(header(second, "content-type"), "<none>");
    EXPECT_EQ(header(second, "content-length"), "<none>");
  }
}

INSTANTIATE_TEST_SUITE_P(AllCodes, RedirectStatusTest, ::testing::Values(301, 302, 303, 307, 308));

TEST_F(HttpClientTest, SeeOtherTurnsPutIntoGetButMovedKeepsPut) {
  TestServer server(io_, [](const Request& req, int) {
    if (req.target() == "/303") return redirect(303, "/done");
    if (req.target() == "/301") return redirect(301, "/done");
    return respond(200);
  });
  FetchRequest r;
  r.method = "PUT";
  r.body = "b";
  r.url = server.url("/303");
  ASSERT_OK(fetch(r));
  EXPECT_EQ(server.requests().at(1).method_string(), "GET");
  r.url = server.url("/301");
  ASSERT_OK(fetch(r));
  EXPECT_EQ(server.requests().at(3).method_string(), "PUT");
  EXPECT_EQ(server.requests().at(3).body(), "b");
}

TEST_F(HttpClientTest, ResolvesRelativeLocations) {
  TestServer server(io_, [](const Request& req, int) {
    std::string t(req.target());
    if (t == "/a/b/c") return redirect(302, "../d?x=1");
    if (t == "/a/d?x=1") return redirect(302, "e f");
    if (t == "/a/e%20f") return redirect(302, "?only=query");
    if (t == "/a/e%20f?only=query") return redirect(302, "./././g/./h/..#frag");
    if (t == "/a/g/")
      return redirect(302, "//127.0.0.1:" + std::string(req["host"]).substr(10) + "/abs");
    return respond(200, t);
  });
  auto r = get(server.url("/a/b/c"));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "/abs");
  EXPECT_EQ(r->url, server.url("/abs"));
  EXPECT_EQ(server.requests().size(), 6u);
}

TEST_F(HttpClientTest, FollowsAbsoluteLocationToAnotherServer) {
  TestServer target(io_, [](const Request& req, int) { return respond(200, "other"); });
  TestServer origin(io_, [&](const Request&, int) { return redirect(301, target.url("/there")); });
  FetchRequest r;
  r.url = origin.url("/");
  r.headers = {{"authorization", "secret"}, {"x-other", "kept"}};
  auto res = fetch(r);
  ASSERT_OK(res);
  EXPECT_EQ(res->body, "other");
  EXPECT_EQ(res->url, target.url("/there"));
  const Request& seen = target.requests().at(0);
  EXPECT_EQ(header(seen, "host"), "127.0.0.1:" + std::to_string(target.port()));
  EXPECT_EQ(header(seen, "authorization"), "<none>");
  EXPECT_EQ(header(seen, "x-other"), "kept");
  EXPECT_EQ(header(origin.requests().at(0), "authorization"), "secret");
}

TEST_F(HttpClientTest, FollowsTwentyRedirectsAndFailsOnTheTwentyFirst) {
  TestServer server(io_, [](const Request& req, int) {
    int n = std::stoi(std::string(req.target().substr(1)));
    return n == 0 ? respond(200, "end") : redirect(302, "/" + std::to_string(n - 1));
  });
  auto ok = get(server.url("/20"));
  ASSERT_OK(ok);
  EXPECT_EQ(ok->body, "end");
  EXPECT_EQ(ok->url, server.url("/0"));
  auto tooMany = get(server.url("/21"));
  ASSERT_FALSE(tooMany.ok());
  EXPECT_EQ(tooMany.error().message, "fetch failed: too many redirects (more than 20)");
  EXPECT_EQ(server.connections(), 1) << "redirects to the same origin reuse the connection";
}

TEST_F(HttpClientTest, ManualRedirectReturnsTheRedirectResponse) {
  TestServer server(io_, [](const Request&, int) { return redirect(302, "/elsewhere"); });
  FetchRequest r;
  r.url = server.url("/");
  r.redirect = FetchRequest::Redirect::kManual;
  auto res = fetch(r);
  ASSERT_OK(res);
  EXPECT_EQ(res->status, 302u);
  EXPECT_EQ(header(*res, "location"), "/elsewhere");
  EXPECT_FALSE(res->redirected);
  EXPECT_EQ(res->url, server.url("/"));
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(HttpClientTest, ErrorRedirectModeFailsOnRedirect) {
  TestServer server(io_, [](const Request&, int) { return redirect(307, "/elsewhere"); });
  FetchRequest r;
  r.url = server.url("/");
  r.redirect = FetchRequest::Redirect::kError;
  auto res = fetch(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message,
            "fetch failed: redirect to '/elsewhere' with redirect mode \"error\"");
}

TEST_F(HttpClientTest, RedirectWithoutLocationIsReturnedAsIs) {
  TestServer server(io_, [](const Request&, int) { return respond(302, "no location"); });
  auto r = get(server.url("/"));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 302u);
  EXPECT_EQ(r->body, "no location");
}

TEST_F(HttpClientTest, RedirectToUnsupportedSchemeFails) {
  TestServer server(io_, [](const Request&, int) { return redirect(302, "ftp://x/"); });
  auto r = get(server.url("/"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().message.starts_with("fetch failed: unsupported URL scheme 'ftp:'"));
}

// ---- Deadlines, limits, abort -----------------------------------------------------------------

TEST_F(HttpClientTest, TimesOutWhenServerNeverAnswers) {
  TestServer server(io_, [](const Request&, int) { return hang(); });
  FetchRequest r;
  r.url = server.url("/");
  r.timeout = 100ms;
  auto start = std::chrono::steady_clock::now();
  auto res = fetch(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message, "fetch timed out after 100 ms");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(client_->idleConnectionCount(), 0u);
}

TEST_F(HttpClientTest, TimeoutCoversTheWholeRedirectChain) {
  TestServer server(io_, [](const Request& req, int) {
    return req.target() == "/" ? redirect(302, "/hang") : hang();
  });
  FetchRequest r;
  r.url = server.url("/");
  r.timeout = 100ms;
  auto res = fetch(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message, "fetch timed out after 100 ms");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(HttpClientTest, BodyOverLimitFails) {
  TestServer server(io_, [](const Request& req, int) {
    if (req.target() == "/chunked") {
      return raw(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "400\r\n" +
          std::string(1024, 'c') + "\r\n0\r\n\r\n");
    }
    if (req.target() == "/gzip") {
      return respond(200, compress(std::string(1 << 20, 'g'), 31), {{"Content-Encoding", "gzip"}});
    }
    if (req.target() == "/eof") {
      return raw("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(1001, 'e'));
    }
    return respond(200, std::string(1001, 'x'));
  });
  for (const char* path : {"/plain", "/chunked", "/gzip", "/eof"}) {
    FetchRequest r;
    r.url = server.url(path);
    r.maxResponseBytes = 1000;
    auto res = fetch(r);
    ASSERT_FALSE(res.ok()) << path;
    EXPECT_EQ(res.error().message, "fetch failed: response body exceeds the limit of 1000 bytes")
        << path;
  }
  FetchRequest exact;
  exact.url = server.url("/plain");
  exact.maxResponseBytes = 1001;
  EXPECT_TRUE(fetch(exact).ok());
}

TEST_F(HttpClientTest, AbortCallsBackWithAbortedError) {
  TestServer server(io_, [](const Request&, int) { return hang(); });
  std::optional<Result<FetchResponse>> out;
  FetchRequest r;
  r.url = server.url("/");
  auto id = client_->fetch(r, [&](Result<FetchResponse> res) { out.emplace(std::move(res)); });
  ASSERT_TRUE(runUntil([&] { return server.requests().size() == 1; }));
  client_->abort(id);
  EXPECT_FALSE(out.has_value()) << "abort() never calls back synchronously";
  ASSERT_TRUE(runUntil([&] { return out.has_value(); }));
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().message, "The operation was aborted");
  client_->abort(id);  // finished: ignored
  client_->abort(12345);
}

TEST_F(HttpClientTest, AbortBeforeConnectingCallsBackOnce) {
  TestServer server(io_, [](const Request&, int) { return respond(200); });
  int calls = 0;
  std::string message;
  FetchRequest r;
  r.url = server.url("/");
  auto id = client_->fetch(r, [&](Result<FetchResponse> res) {
    ++calls;
    message = res.ok() ? "ok" : res.error().message;
  });
  client_->abort(id);
  ASSERT_TRUE(runUntil([&] { return calls > 0; }));
  for (int i = 0; i < 20; ++i) io_.poll();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(message, "The operation was aborted");
}

TEST_F(HttpClientTest, DestroyingTheClientDropsCallbacks) {
  TestServer server(io_, [](const Request&, int) { return hang(); });
  int calls = 0;
  FetchRequest r;
  r.url = server.url("/");
  client_->fetch(r, [&](Result<FetchResponse>) { ++calls; });
  ASSERT_TRUE(runUntil([&] { return server.requests().size() == 1; }));
  FetchRequest bad;
  bad.url = "bad://x";
  client_->fetch(bad, [&](Result<FetchResponse>) { ++calls; });
  client_.reset();
  for (int i = 0; i < 20; ++i) io_.poll();
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpClientTest, CallbackMayDestroyTheClient) {
  TestServer server(io_, [](const Request&, int) { return respond(200); });
  bool called = false;
  FetchRequest r;
  r.url = server.url("/");
  client_->fetch(r, [&](Result<FetchResponse> res) {
    called = true;
    client_.reset();
  });
  ASSERT_TRUE(runUntil([&] { return called; }));
  for (int i = 0; i < 20; ++i) io_.poll();
}

TEST_F(HttpClientTest, HundredConcurrentRequestsAllComplete) {
  TestServer server(io_, [](const Request& req, int) {
    return respond(200, "n=" + std::string(req.target().substr(1)));
  });
  std::map<int, std::string> bodies;
  int failures = 0;
  for (int i = 0; i < 100; ++i) {
    FetchRequest r;
    r.url = server.url("/" + std::to_string(i));
    client_->fetch(r, [&, i](Result<FetchResponse> res) {
      if (res.ok()) {
        bodies[i] = res->body;
      } else {
        ++failures;
        ADD_FAILURE() << res.error().message;
      }
    });
  }
  ASSERT_TRUE(runUntil([&] { return bodies.size() + failures == 100; }));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(bodies[i], "n=" + std::to_string(i));
  EXPECT_EQ(server.connections(), 100);
  EXPECT_LE(client_->idleConnectionCount(), 6u) << "the pool keeps few per origin";
}

// ---- Keep-alive -------------------------------------------------------------------------------

TEST_F(HttpClientTest, ReusesKeepAliveConnection) {
  TestServer server(io_, [](const Request&, int n) { return respond(200, std::to_string(n)); });
  for (int i = 0; i < 3; ++i) {
    auto r = get(server.url("/"));
    ASSERT_OK(r);
    EXPECT_EQ(r->body, std::to_string(i));
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client_->idleConnectionCount(), 1u);
}

TEST_F(HttpClientTest, DoesNotReuseWhenServerSaysClose) {
  TestServer server(io_, [](const Request&, int) {
    return respond(200, "x", {{"Connection", "close"}});
  });
  ASSERT_OK(get(server.url("/")));
  ASSERT_OK(get(server.url("/")));
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(client_->idleConnectionCount(), 0u);
}

TEST_F(HttpClientTest, DropsPooledConnectionTheServerCloses) {
  std::unique_ptr<TestServer> server =
      std::make_unique<TestServer>(io_, [](const Request&, int) { return respond(200); });
  ASSERT_OK(get(server->url("/")));
  EXPECT_EQ(client_->idleConnectionCount(), 1u);
  server.reset();  // closes its end of every connection
  ASSERT_TRUE(runUntil([&] { return client_->idleConnectionCount() == 0; }));
}

TEST_F(HttpClientTest, RetriesOnceWhenPooledConnectionClosesUnderTheRequest) {
  // The second request on a connection finds it closed, as when the server's keep-alive timer
  // fires just as the request arrives: the client sends it again on a new connection.
  TestServer server(io_, [](const Request&, int n) {
    return n == 0 ? respond(200, "fresh") : closeWithoutAnswer();
  });
  ASSERT_OK(get(server.url("/")));
  auto r = get(server.url("/"));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "fresh");
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 3u);
}

// ---- TLS --------------------------------------------------------------------------------------

class HttpClientTlsTest : public HttpClientTest {
 protected:
  void useCert(const char* altNames) {
    test::TestCert cert = test::makeSelfSignedCert(altNames);
    test::useCert(serverTls_, cert);
    caFile_.write(cert);
  }

  ssl::context serverTls_{ssl::context::tls_server};
  test::CaFile caFile_;
};

TEST_F(HttpClientTlsTest, SelfSignedCertificateFailsVerificationByDefault) {
  useCert("DNS:localhost,IP:127.0.0.1");
  TestServer server(
      io_, [](const Request&, int) { return respond(200, "secret"); }, &serverTls_);
  auto r = get(server.url("/", "localhost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "fetch failed: certificate verify failed for localhost: self-signed certificate");
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HttpClientTlsTest, TrustedCertificateSucceedsAndConnectionIsReused) {
  useCert("DNS:localhost,IP:127.0.0.1");
  ASSERT_OK(client_->trustCaFileForTesting(caFile_.path()));
  TestServer server(
      io_,
      [](const Request&, int) {
        return raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecret\r\n0\r\n\r\n");
      },
      &serverTls_);
  for (const char* host : {"localhost", "localhost", "127.0.0.1"}) {
    auto r = get(server.url("/", host));
    ASSERT_OK(r);
    EXPECT_EQ(r->body, "secret");
    EXPECT_EQ(r->url, server.url("/", host));
  }
  EXPECT_EQ(server.connections(), 2) << "one per origin";
}

TEST_F(HttpClientTlsTest, HostnameMismatchFails) {
  useCert("DNS:other.example");
  ASSERT_OK(client_->trustCaFileForTesting(caFile_.path()));
  TestServer server(
      io_, [](const Request&, int) { return respond(200); }, &serverTls_);
  auto r = get(server.url("/", "localhost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "fetch failed: certificate verify failed for localhost: hostname mismatch");
}

TEST_F(HttpClientTlsTest, PlainHttpServerFailsTheHandshake) {
  TestServer server(io_, [](const Request&, int) { return respond(200); });
  auto r = get("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().message.starts_with("fetch failed: TLS handshake with 127.0.0.1:"))
      << r.error().message;
}

TEST_F(HttpClientTlsTest, MissingCaFileIsAnError) {
  EXPECT_FALSE(client_->trustCaFileForTesting("/nonexistent/ca.pem").ok());
}

}  // namespace
}  // namespace partyd::net
