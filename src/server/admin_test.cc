#include "server/admin.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

namespace partyd::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

struct Answer {
  unsigned status = 0;
  std::string body;
  std::string authenticate;
};

Answer call(unsigned short port, bhttp::verb method, const std::string& target,
            const std::string& authorization = "", const std::string& cookie = "") {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::Request req{method, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
  if (!cookie.empty()) req.set(bhttp::field::cookie, cookie);
  req.prepare_payload();
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  Answer a;
  a.status = res.result_int();
  a.body = res.body();
  if (auto it = res.find(bhttp::field::www_authenticate); it != res.end()) {
    a.authenticate = std::string(it->value());
  }
  return a;
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AdminOptions options;
    options.token = "s3cret-token";
    admin_ = std::make_unique<AdminServer>(options);
    admin_->route(bhttp::verb::get, "/parties/:team/:name", [](AdminRequest& r) {
      r.respondJson(200, "{\"team\":\"" + r.params["team"] + "\",\"name\":\"" +
                             r.params["name"] + "\",\"preview\":\"" +
                             r.query("preview").value_or("-") + "\"}");
    });
    admin_->route(bhttp::verb::get, "/files/*",
                  [](AdminRequest& r) { r.respondJson(200, "\"" + r.params["*"] + "\""); });
    admin_->route(bhttp::verb::get, "/login", [](AdminRequest& r) { r.respondJson(200, "1"); },
                  AdminServer::Access::kPublic);
    admin_->route(bhttp::verb::get, "/throws",
                  [](AdminRequest&) -> void { throw std::runtime_error("boom"); });
    ASSERT_TRUE(admin_->start());
    port_ = admin_->port();
  }
  std::unique_ptr<AdminServer> admin_;
  unsigned short port_ = 0;
};

TEST_F(AdminServerTest, EveryRouteNeedsTheTokenAndSaysNothingWithoutIt) {
  Answer none = call(port_, bhttp::verb::get, "/parties/t/n");
  EXPECT_EQ(none.status, 401u);
  EXPECT_NE(none.authenticate.find("Bearer"), std::string::npos);
  EXPECT_EQ(call(port_, bhttp::verb::get, "/parties/t/n", "Bearer wrong").status, 401u);
  EXPECT_EQ(call(port_, bhttp::verb::get, "/parties/t/n", "Bearer s3cret-token-").status, 401u);
  EXPECT_EQ(call(port_, bhttp::verb::get, "/parties/t/n", "Basic s3cret-token").status, 401u);
  // An unknown route or a wrong method is not told apart from a known one without the token.
  EXPECT_EQ(call(port_, bhttp::verb::get, "/nothing/here").status, 401u);
  EXPECT_EQ(call(port_, bhttp::verb::delete_, "/parties/t/n").status, 401u);
}

TEST_F(AdminServerTest, TheTokenAsBearerOrCookieReachesTheRouteWithItsParams) {
  Answer a = call(port_, bhttp::verb::get, "/parties/my%20team/chat?preview=pr-1",
                  "Bearer s3cret-token");
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.body, R"({"team":"my team","name":"chat","preview":"pr-1"})");
  Answer c = call(port_, bhttp::verb::get, "/parties/t/n", "",
                  "other=1; partyd_admin=s3cret-token; x=y");
  EXPECT_EQ(c.status, 200u);
  EXPECT_EQ(call(port_, bhttp::verb::get, "/files/a/b%2Fc", "Bearer s3cret-token").body,
            "\"a/b/c\"");
}

TEST_F(AdminServerTest, PublicRoutesUnknownRoutesAndWrongMethods) {
  EXPECT_EQ(call(port_, bhttp::verb::get, "/login").status, 200u);
  EXPECT_EQ(call(port_, bhttp::verb::get, "/nothing", "Bearer s3cret-token").status, 404u);
  EXPECT_EQ(call(port_, bhttp::verb::post, "/parties/t/n", "Bearer s3cret-token").status, 405u);
  // Too many or too few segments do not match.
  EXPECT_EQ(call(port_, bhttp::verb::get, "/parties/t", "Bearer s3cret-token").status, 404u);
  EXPECT_EQ(call(port_, bhttp::verb::get, "/parties/t/n/x", "Bearer s3cret-token").status, 404u);
}

TEST_F(AdminServerTest, AHandlerThatThrowsAnswers500AndTheServerGoesOn) {
  Answer a = call(port_, bhttp::verb::get, "/throws", "Bearer s3cret-token");
  EXPECT_EQ(a.status, 500u);
  EXPECT_NE(a.body.find("boom"), std::string::npos);
  EXPECT_EQ(call(port_, bhttp::verb::get, "/login").status, 200u);
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(constantTimeEquals("", "a"));
  EXPECT_TRUE(constantTimeEquals("", ""));
}

TEST(AdminServerNoToken, OpenWithoutAToken) {
  AdminServer admin(AdminOptions{});
  admin.route(bhttp::verb::get, "/", [](AdminRequest& r) { r.respondJson(200, "{}"); });
  ASSERT_TRUE(admin.start());
  EXPECT_EQ(call(admin.port(), bhttp::verb::get, "/").status, 200u);
  admin.stop();
}

}  // namespace
}  // namespace partyd::server
