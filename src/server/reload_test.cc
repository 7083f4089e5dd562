// Server::reload and Server::rollback on a real Server (two shards, V8): a new build serves on
// every shard, rollback swaps back to the one before, and a build that throws at load, or whose
// party is not a server, is refused with its error while the old one keeps serving.
#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include "server/server.h"

namespace partyd::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

std::string bundle(const std::string& version) {
  return "globalThis.__partyd_parties = { main: class { onRequest() { return new Response(\"" +
         version + "\"); } } };\n";
}

std::string get(unsigned short port, const std::string& target) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::Request req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  return std::to_string(res.result_int()) + " " + res.body();
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.runtime.userBundle = bundle("v1");
    options.runtime.partyNames = {"main"};
    server_ = std::make_unique<Server>(std::move(options));
    auto started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }
  void TearDown() override { server_->stop(); }

  Result<void> reload(const std::string& code) {
    return server_->reload(code, "party.js", "{}", {"main"});
  }
  // Rooms on both shards (placement spreads them by key).
  std::vector<std::string> answers() {
    std::vector<std::string> out;
    for (int i = 0; i < 6; ++i) {
      out.push_back(get(server_->port(), "/parties/main/r" + std::to_string(i)));
    }
    return out;
  }
  static std::vector<std::string> all(const std::string& answer) {
    return std::vector<std::string>(6, answer);
  }

  std::unique_ptr<Server> server_;
};

TEST_F(ReloadTest, ANewBuildServesOnEveryShardAndRollbackSwapsBack) {
  EXPECT_EQ(answers(), all("200 v1"));
  EXPECT_FALSE(server_->hasPrevious());
  ASSERT_TRUE(reload(bundle("v2")).ok());
  EXPECT_EQ(answers(), all("200 v2")) << "a live room moves to the new build once idle";
  ASSERT_TRUE(server_->hasPrevious());
  ASSERT_TRUE(server_->rollback().ok());
  EXPECT_EQ(answers(), all("200 v1"));
  ASSERT_TRUE(server_->rollback().ok()) << "the build rolled back from is now the previous one";
  EXPECT_EQ(answers(), all("200 v2"));
}

TEST_F(ReloadTest, ABuildThatThrowsAtLoadIsRefusedAndTheOldOneServes) {
  EXPECT_EQ(answers(), all("200 v1"));
  auto r = reload("globalThis.__partyd_parties = {};\nthrow new Error('boom at load');\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("boom at load"), std::string::npos) << r.error().message;
  EXPECT_EQ(answers(), all("200 v1"));
  EXPECT_FALSE(server_->hasPrevious()) << "a refused build is not a version";
  EXPECT_FALSE(server_->rollback().ok());
  EXPECT_EQ(answers(), all("200 v1"));
}

TEST_F(ReloadTest, ABuildWhosePartyIsNoServerIsRefused) {
  auto r = reload("globalThis.__partyd_parties = { main: 42 };\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("party \"main\""), std::string::npos) << r.error().message;
  EXPECT_EQ(answers(), all("200 v1"));
  ASSERT_TRUE(reload(bundle("v3")).ok()) << "a refused build leaves nothing behind";
  EXPECT_EQ(answers(), all("200 v3"));
}

}  // namespace
}  // namespace partyd::server
