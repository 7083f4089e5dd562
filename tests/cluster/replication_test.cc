// Deploys and env made through one node's admin API reach the other nodes (server/replication.h),
// against a real PostgreSQL that this test starts on loopback (initdb as the postgres user) and
// stops by pid. Each node: a ShardPool, an AdminServer with the deploy routes, Deployments on its
// own data folder, all sharing one database.
#include "server/replication.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "server/admin.h"
#include "server/deployments.h"

namespace partyd::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using asio::ip::tcp;

const char* kPgBin = "/usr/lib/postgresql/15/bin";

struct Answer {
  unsigned status = 0;
  std::string body;
};

Answer call(unsigned short port, bhttp::verb method, const std::string& target,
            const std::string& body = "", const std::string& contentType = "",
            const std::string& host = "127.0.0.1") {
  try {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::Request req{method, target, 11};
    req.set(bhttp::field::host, host);
    if (!contentType.empty()) req.set(bhttp::field::content_type, contentType);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(socket, req);
    boost::beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket, buffer, res);
    return {res.result_int(), res.body()};
  } catch (const std::exception& e) {
    return {0, e.what()};
  }
}

std::string form(const std::string& code) {
  return "--B\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n" + code + "\r\n--B--\r\n";
}

std::string bundle(const std::string& version) {
  return "globalThis.__partyd_parties = { main: class { constructor(room) { this.room = room; } "
         "onRequest() { return new Response(\"" +
         version + " \" + (this.room.env.COLOR ?? \"none\")); } } };\n";
}

int run(const std::string& cmd) {
  return std::system(cmd.c_str());
}

// One PostgreSQL on 127.0.0.1 in a temporary folder.
class Postgres {
 public:
  Postgres() {
    dir_ = fs::temp_directory_path() / ("partyd-repl-pg-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    run("chown postgres " + dir_.string());
    int rc = run("runuser -u postgres -- " + std::string(kPgBin) + "/initdb -D " +
                 (dir_ / "data").string() + " -A trust -U postgres >" +
                 (dir_ / "initdb.log").string() + " 2>&1");
    ok_ = rc == 0;
    port_ = 20000 + ::getpid() % 20000;
  }
  ~Postgres() {
    stop();
    fs::remove_all(dir_);
  }
  bool initialized() const { return ok_; }
  std::string url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
  }
  bool start() {
    std::string cmd = "runuser -u postgres -- " + std::string(kPgBin) + "/pg_ctl -D " +
                      (dir_ / "data").string() + " -l " + (dir_ / "pg.log").string() +
                      " -w -o \"-p " + std::to_string(port_) +
                      " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir_.string() +
                      "\" start >/dev/null";
    return run(cmd) == 0;
  }
  // Stops it by the postmaster's pid (fast shutdown) and waits until it is gone.
  void stop() {
    std::ifstream in(dir_ / "data" / "postmaster.pid");
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0) return;
    ::kill(pid, SIGINT);
    for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::string psql(const std::string& sql) {
    std::string out = (dir_ / "psql.out").string();
    run("runuser -u postgres -- " + std::string(kPgBin) + "/psql -At -h 127.0.0.1 -p " +
        std::to_string(port_) + " -c \"" + sql + "\" postgres >" + out + " 2>&1");
    std::ifstream in(out);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  fs::path dir_;
  unsigned short port_ = 0;
  bool ok_ = false;
};

Postgres* pg = nullptr;

class Node {
 public:
  Node(const fs::path& data) : data_(data) {
    pool_ = std::make_unique<ShardPool>(PoolOptions{"127.0.0.1", 0, 1, {}});
    admin_ = std::make_unique<AdminServer>(AdminOptions{});
    DeploymentsOptions o;
    o.data = data;
    o.domain = "test";
    o.replicateUrl = pg->url();
    deployments_ = std::make_unique<Deployments>(*pool_, admin_->io(), o);
    auto* d = deployments_.get();
    EXPECT_TRUE(pool_
                    ->start([d](std::size_t shard, std::shared_ptr<http::Session> s,
                                http::Request&& r) { d->route(shard, std::move(s), std::move(r)); })
                    .ok());
    deployments_->loadAll();
    addDeployRoutes(*admin_, *deployments_);
    EXPECT_TRUE(admin_->start().ok());
    EXPECT_TRUE(pool_->listen().ok());
  }
  ~Node() {
    pool_->closeListeners();
    admin_->stop();
    deployments_->stopAll();
    pool_->stop();
  }
  Answer api(bhttp::verb method, const std::string& target, const std::string& body = "",
             const std::string& contentType = "") {
    return call(admin_->port(), method, target, body, contentType);
  }
  Answer deploy(const std::string& version) {
    return api(bhttp::verb::post, "/parties/team/app", form(bundle(version)),
               "multipart/form-data; boundary=B");
  }
  Answer upload(const std::string& name, const std::string& bytes) {
    try {
      asio::io_context io;
      tcp::socket socket(io);
      socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), admin_->port()));
      http::Request req{bhttp::verb::put, "/parties/team/app/assets", 11};
      req.set(bhttp::field::host, "127.0.0.1");
      req.set("x-partykit-asset-name", name);
      req.body() = bytes;
      req.prepare_payload();
      bhttp::write(socket, req);
      boost::beast::flat_buffer buffer;
      bhttp::response<bhttp::string_body> res;
      bhttp::read(socket, buffer, res);
      return {res.result_int(), res.body()};
    } catch (const std::exception& e) {
      return {0, e.what()};
    }
  }
  Answer file(const std::string& path) {
    return call(pool_->port(), bhttp::verb::get, path, "", "", "app.team.test");
  }
  Answer get() {
    return call(pool_->port(), bhttp::verb::get, "/parties/main/r1", "", "", "app.team.test");
  }
  Replicator* replicator() { return deployments_->replicator(); }

 private:
  fs::path data_;
  std::unique_ptr<ShardPool> pool_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<Deployments> deployments_;
};

// Waits up to 20 s for `f` to hold.
bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 200; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

class ReplicationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg = new Postgres();
    ASSERT_TRUE(pg->initialized()) << "initdb failed (run as root with PostgreSQL 15 installed)";
    ASSERT_TRUE(pg->start()) << "PostgreSQL did not start";
  }
  static void TearDownTestSuite() {
    delete pg;
    pg = nullptr;
  }
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("partyd-repl-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    pg->psql("DROP TABLE IF EXISTS partyd_admin_ops");
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(ReplicationTest, DeployEnvAndDeleteOnOneNodeReachTheOther) {
  Node a(root_ / "a"), b(root_ / "b");
  ASSERT_EQ(a.deploy("v1").status, 200u);
  EXPECT_TRUE(eventually([&] { return b.get().body == "v1 none"; })) << b.get().body;

  ASSERT_EQ(a.api(bhttp::verb::post, "/parties/team/app/env/COLOR", "blue").status, 200u);
  EXPECT_TRUE(eventually([&] {
    return b.api(bhttp::verb::get, "/parties/team/app/env").body == "{\"COLOR\":\"blue\"}";
  }));
  // A deploy on the other node, with the env that came from the first.
  ASSERT_EQ(b.deploy("v2").status, 200u);
  EXPECT_EQ(b.get().body, "v2 blue");
  EXPECT_TRUE(eventually([&] { return a.get().body == "v2 blue"; })) << a.get().body;

  ASSERT_EQ(b.api(bhttp::verb::delete_, "/parties/team/app/env/COLOR").status, 200u);
  EXPECT_TRUE(
      eventually([&] { return a.api(bhttp::verb::get, "/parties/team/app/env").body == "{}"; }));

  ASSERT_EQ(a.api(bhttp::verb::delete_, "/parties/team/app").status, 200u);
  EXPECT_TRUE(eventually([&] { return b.get().status == 404; })) << b.get().body;
  EXPECT_TRUE(
      eventually([&] { return b.replicator()->appliedSeq() == a.replicator()->appliedSeq(); }));
}

TEST_F(ReplicationTest, ANodeStartedLaterCatchesUpFromACompactedLog) {
  {
    Node a(root_ / "a");
    for (const char* v : {"v1", "v2", "v3", "v4"}) ASSERT_EQ(a.deploy(v).status, 200u);
    ASSERT_EQ(a.api(bhttp::verb::post, "/parties/team/app/env/COLOR", "red").status, 200u);
    ASSERT_EQ(a.api(bhttp::verb::post, "/parties/team/app/env/COLOR", "green").status, 200u);
    ASSERT_EQ(a.deploy("v5").status, 200u);
  }
  // Two deploys (the newest and the one before) and one env snapshot are left.
  EXPECT_EQ(pg->psql("SELECT string_agg(op, ',' ORDER BY seq) FROM partyd_admin_ops"),
            "deploy,env,deploy");
  Node c(root_ / "c");
  EXPECT_TRUE(eventually([&] { return c.get().body == "v5 green"; })) << c.get().body;
}

TEST_F(ReplicationTest, ANodeThatWasDownCatchesUpAndABadOpIsSkipped) {
  Node a(root_ / "a");
  {
    Node b(root_ / "b");
    ASSERT_EQ(a.deploy("v1").status, 200u);
    EXPECT_TRUE(eventually([&] { return b.get().body == "v1 none"; }));
  }
  // While b is away: an op no partyd wrote (skipped with a log line), then a deploy.
  pg->psql(
      "INSERT INTO partyd_admin_ops(project, op, payload, node) VALUES ('team/app', "
      "'deploy', 'junk', 'elsewhere')");
  ASSERT_EQ(a.deploy("v2").status, 200u);
  Node b(root_ / "b");
  EXPECT_TRUE(eventually([&] { return b.get().body == "v2 none"; })) << b.get().body;
  std::ifstream in(root_ / "b" / "cluster-applied-seq");
  std::int64_t seq = 0;
  in >> seq;
  EXPECT_EQ(seq, a.replicator()->appliedSeq());
}

TEST_F(ReplicationTest, WithPostgresDownAnAdminOpIsRefusedAndNothingChanges) {
  Node a(root_ / "a"), b(root_ / "b");
  ASSERT_EQ(a.deploy("v1").status, 200u);
  EXPECT_TRUE(eventually([&] { return b.get().body == "v1 none"; }));
  pg->stop();
  Answer refused = a.api(bhttp::verb::post, "/parties/team/app/env/COLOR", "red");
  EXPECT_EQ(refused.status, 503u);
  EXPECT_NE(refused.body.find("cannot be written, so nothing changed"), std::string::npos)
      << refused.body;
  EXPECT_EQ(a.api(bhttp::verb::get, "/parties/team/app/env").body, "{}");
  EXPECT_EQ(a.deploy("v2").status, 503u);
  EXPECT_EQ(a.get().body, "v1 none");
  ASSERT_TRUE(pg->start());
  // Back: the admin op goes through and reaches the other node (whose replicator reconnects).
  EXPECT_EQ(a.api(bhttp::verb::post, "/parties/team/app/env/COLOR", "red").status, 200u);
  EXPECT_TRUE(eventually([&] {
    return b.api(bhttp::verb::get, "/parties/team/app/env").body == "{\"COLOR\":\"red\"}";
  }));
  EXPECT_EQ(a.deploy("v3").status, 200u);
  EXPECT_TRUE(eventually([&] { return b.get().body == "v3 red"; })) << b.get().body;
}

TEST_F(ReplicationTest, AnAssetUploadedOnOneNodeServesFromADeployMadeOnAnother) {
  Node a(root_ / "a"), b(root_ / "b");
  ASSERT_EQ(a.upload("hello-1.txt", "hello from a").status, 200u);
  ASSERT_EQ(a.upload("hello-1.txt", "hello from a").status, 200u);  // a retry: logged once
  EXPECT_EQ(pg->psql("SELECT count(*) FROM partyd_admin_ops WHERE op = 'asset'"), "1");
  ASSERT_TRUE(
      eventually([&] { return b.replicator()->appliedSeq() == a.replicator()->appliedSeq(); }));
  std::string manifest = "{\"assets\":{\"hello.txt\":\"hello-1.txt\"}}";
  std::string body = "--B\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n" + bundle("v1") +
                     "\r\n--B\r\nContent-Disposition: form-data; "
                     "name=\"staticAssetsManifest\"\r\n\r\n" +
                     manifest + "\r\n--B--\r\n";
  Answer deployed =
      b.api(bhttp::verb::post, "/parties/team/app", body, "multipart/form-data; boundary=B");
  ASSERT_EQ(deployed.status, 200u) << deployed.body;
  EXPECT_TRUE(eventually([&] { return a.file("/hello.txt").body == "hello from a"; }))
      << a.file("/hello.txt").body;
}

}  // namespace
}  // namespace partyd::server
