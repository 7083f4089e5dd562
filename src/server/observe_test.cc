// The admin routes of observe.h behind a token, on a server with no shards: what an operator
// without the token sees (401 and nothing else), with it as Bearer (Prometheus) or as the cookie
// that /login sets (the inspector). The figures themselves are tested live in e2e_observe.
#include "server/observe.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace partyd::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

struct Answer {
  unsigned status = 0;
  std::string type;
  std::string body;
};

Answer get(unsigned short port, const std::string& target, const std::string& authorization = "",
           const std::string& cookie = "") {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::Request req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
  if (!cookie.empty()) req.set(bhttp::field::cookie, cookie);
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  return {res.result_int(), std::string(res[bhttp::field::content_type]), res.body()};
}

TEST(Observe, RoutesNeedTheTokenAsBearerOrCookie) {
  net::Sharded<party::Edge> shards({});
  AdminOptions options;
  options.token = "t0ken";
  AdminServer admin(options);
  addObservabilityRoutes(admin, shards, ObserveOptions{"proj", "1.2.3"});
  ASSERT_TRUE(admin.start());
  const unsigned short port = admin.port();

  for (const char* path : {"/metrics", "/", "/api/rooms", "/api/rooms/main/r",
                           "/api/rooms/main/r/storage", "/api/rooms/main/r/value?key=k"}) {
    Answer a = get(port, path);
    EXPECT_EQ(a.status, 401u) << path;
    EXPECT_EQ(a.body.find("proj"), std::string::npos) << path;
    EXPECT_EQ(a.body.find("partyd_build"), std::string::npos) << path;
  }
  Answer login = get(port, "/login");
  EXPECT_EQ(login.status, 200u);
  EXPECT_NE(login.body.find("partyd_admin="), std::string::npos);

  Answer metrics = get(port, "/metrics", "Bearer t0ken");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("# TYPE partyd_build_info gauge\n"
                              "partyd_build_info{version=\"1.2.3\",project=\"proj\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("# HELP partyd_handler_duration_seconds "), std::string::npos);
  EXPECT_NE(metrics.body.find("partyd_handler_duration_seconds_count{project=\"proj\"} 0\n"),
            std::string::npos);

  Answer page = get(port, "/", "", "partyd_admin=t0ken");
  EXPECT_EQ(page.status, 200u);
  EXPECT_NE(page.body.find("partyd inspector"), std::string::npos);
  Answer rooms = get(port, "/api/rooms", "", "partyd_admin=t0ken");
  EXPECT_EQ(rooms.status, 200u);
  EXPECT_NE(rooms.body.find("\"project\":\"proj\""), std::string::npos);
  EXPECT_NE(rooms.body.find("\"rooms\":[]"), std::string::npos);
  // No shard to ask: a clear error, not a crash.
  EXPECT_EQ(get(port, "/api/rooms/main/r", "Bearer t0ken").status, 503u);
  EXPECT_EQ(get(port, "/api/rooms/main/r/storage?limit=x", "Bearer t0ken").status, 400u);
  EXPECT_EQ(get(port, "/api/rooms/main/r/value", "Bearer t0ken").status, 400u);
  admin.stop();
}

TEST(Observe, DevAdminAddressesAreCheckedBeforeBinding) {
  net::Sharded<party::Edge> shards({});
  EXPECT_FALSE(startDevAdmin("nonsense", shards, {}));
  EXPECT_FALSE(startDevAdmin("127.0.0.1:99999", shards, {}));
  EXPECT_FALSE(startDevAdmin("127.0.0.1:", shards, {}));
  auto ok = startDevAdmin("0", shards, {});
  ASSERT_TRUE(ok);
  EXPECT_NE((*ok)->port(), 0);
  (*ok)->stop();
}

}  // namespace
}  // namespace partyd::server
