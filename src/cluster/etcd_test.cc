#include "cluster/etcd.h"

#include <gtest/gtest.h>

#include "cluster/test_util.h"

namespace partyd::cluster {
namespace {

using namespace std::chrono_literals;
using testing::EtcdProcess;
using testing::Relay;
using testing::runFor;
using testing::runUntil;
using testing::Waiter;

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::etcdBinary().empty()) GTEST_SKIP() << "etcd is not installed (/usr/bin/etcd)";
    ASSERT_TRUE(server_.start()) << "etcd did not start";
    client_ = make({server_.url()});
  }
  std::unique_ptr<Etcd> make(std::vector<std::string> endpoints, std::string source = {}) {
    EtcdOptions o;
    o.endpoints = std::move(endpoints);
    o.sourceAddress = std::move(source);
    o.timeout = 2000ms;
    auto e = Etcd::create(io_, o);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return e.ok() ? std::move(*e) : nullptr;
  }
  std::int64_t put(Etcd& e, const std::string& k, const std::string& v, std::int64_t lease = 0) {
    Waiter<Result<std::int64_t>> w;
    e.put(k, v, lease, w.cb());
    EXPECT_TRUE(w.wait(io_));
    EXPECT_TRUE(w.value->ok()) << w.value->error().message;
    return w.value->ok() ? **w.value : 0;
  }
  RangeResult range(Etcd& e, const std::string& k, Etcd::Range kind) {
    Waiter<Result<RangeResult>> w;
    e.range(k, kind, w.cb());
    EXPECT_TRUE(w.wait(io_));
    EXPECT_TRUE(w.value->ok()) << w.value->error().message;
    return w.value->ok() ? **w.value : RangeResult{};
  }

  boost::asio::io_context io_;
  EtcdProcess server_;
  std::unique_ptr<Etcd> client_;
};

TEST(EtcdOptions, RefusesBadEndpointsAndSources) {
  boost::asio::io_context io;
  auto bad = [&](std::vector<std::string> eps, std::string src = {}) {
    EtcdOptions o;
    o.endpoints = std::move(eps);
    o.sourceAddress = std::move(src);
    auto r = Etcd::create(io, o);
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(bad({}), "");
  EXPECT_NE(bad({"https://127.0.0.1:2379"}).find("not http://host:port"), std::string::npos);
  EXPECT_NE(bad({"http://127.0.0.1"}).find("no port"), std::string::npos);
  EXPECT_NE(bad({"http://127.0.0.1:99999"}).find("bad port"), std::string::npos);
  EXPECT_NE(bad({"http://127.0.0.1:2379"}, "not-an-ip").find("not an IP"), std::string::npos);
  EXPECT_EQ(bad({"http://[::1]:2379", "http://localhost:2379/"}), "");
}

TEST(EtcdPrefix, EndIsThePrefixWithItsLastByteIncremented) {
  EXPECT_EQ(prefixEnd("/a/"), "/a0");
  EXPECT_EQ(prefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefixEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST_F(EtcdTest, PutRangeDelete) {
  std::int64_t r1 = put(*client_, "/t/a", "1");
  std::int64_t r2 = put(*client_, "/t/b", std::string("\0\xff bytes", 8));
  put(*client_, "/u/c", "3");
  EXPECT_GT(r2, r1);
  RangeResult one = range(*client_, "/t/a", Etcd::Range::kKey);
  ASSERT_EQ(one.kvs.size(), 1u);
  EXPECT_EQ(one.kvs[0].value, "1");
  EXPECT_EQ(one.kvs[0].createRevision, r1);
  EXPECT_GE(one.revision, r2);
  RangeResult all = range(*client_, "/t/", Etcd::Range::kPrefix);
  ASSERT_EQ(all.kvs.size(), 2u);
  EXPECT_EQ(all.kvs[1].value, std::string("\0\xff bytes", 8));
  Waiter<Result<std::int64_t>> del;
  client_->del("/t/", Etcd::Range::kPrefix, del.cb());
  ASSERT_TRUE(del.wait(io_));
  ASSERT_TRUE(del.value->ok());
  EXPECT_EQ(**del.value, 2);
  EXPECT_TRUE(range(*client_, "/t/", Etcd::Range::kPrefix).kvs.empty());
  EXPECT_EQ(range(*client_, "/u/", Etcd::Range::kPrefix).kvs.size(), 1u);
}

TEST_F(EtcdTest, CreateIfAbsentWinsOnceAndDeleteIfCreatedSparesANewerKey) {
  Waiter<Result<CreateResult>> first, second;
  client_->createIfAbsent("/room", "me", 0, first.cb());
  client_->createIfAbsent("/room", "you", 0, second.cb());
  ASSERT_TRUE(first.wait(io_));
  ASSERT_TRUE(second.wait(io_));
  ASSERT_TRUE(first.value->ok() && second.value->ok());
  const CreateResult& a = **first.value;
  const CreateResult& b = **second.value;
  ASSERT_NE(a.won, b.won) << "exactly one create wins";
  const CreateResult& won = a.won ? a : b;
  const CreateResult& lost = a.won ? b : a;
  ASSERT_TRUE(lost.current.has_value());
  EXPECT_EQ(lost.current->createRevision, won.revision);
  EXPECT_EQ(lost.current->value, a.won ? "me" : "you");

  Waiter<Result<bool>> wrong, right, again;
  client_->deleteIfCreated("/room", won.revision + 1, wrong.cb());
  ASSERT_TRUE(wrong.wait(io_));
  ASSERT_TRUE(wrong.value->ok());
  EXPECT_FALSE(**wrong.value);
  EXPECT_EQ(range(*client_, "/room", Etcd::Range::kKey).kvs.size(), 1u);
  client_->deleteIfCreated("/room", won.revision, right.cb());
  ASSERT_TRUE(right.wait(io_));
  EXPECT_TRUE(**right.value);
  client_->deleteIfCreated("/room", won.revision, again.cb());
  ASSERT_TRUE(again.wait(io_));
  EXPECT_FALSE(**again.value);
}

TEST_F(EtcdTest, LeaseGrantKeepAliveRevoke) {
  Waiter<Result<LeaseGrant>> g;
  client_->leaseGrant(2, g.cb());
  ASSERT_TRUE(g.wait(io_));
  ASSERT_TRUE(g.value->ok()) << g.value->error().message;
  std::int64_t lease = (*g.value)->id;
  EXPECT_EQ((*g.value)->ttlSeconds, 2);
  put(*client_, "/leased", "x", lease);
  EXPECT_EQ(range(*client_, "/leased", Etcd::Range::kKey).kvs.at(0).lease, lease);

  Waiter<Result<std::int64_t>> ka;
  client_->leaseKeepAlive(lease, ka.cb());
  ASSERT_TRUE(ka.wait(io_));
  ASSERT_TRUE(ka.value->ok()) << ka.value->error().message;
  EXPECT_EQ(**ka.value, 2);

  Waiter<Result<void>> rv;
  client_->leaseRevoke(lease, rv.cb());
  ASSERT_TRUE(rv.wait(io_));
  ASSERT_TRUE(rv.value->ok());
  EXPECT_TRUE(range(*client_, "/leased", Etcd::Range::kKey).kvs.empty());

  Waiter<Result<std::int64_t>> gone;
  client_->leaseKeepAlive(lease, gone.cb());
  ASSERT_TRUE(gone.wait(io_));
  ASSERT_TRUE(gone.value->ok());
  EXPECT_EQ(**gone.value, 0) << "a keepalive of a revoked lease grants nothing";

  Waiter<Result<void>> rv2;
  client_->leaseRevoke(lease, rv2.cb());
  ASSERT_TRUE(rv2.wait(io_));
  ASSERT_FALSE(rv2.value->ok());
  EXPECT_NE(rv2.value->error().message.find("lease not found"), std::string::npos);
}

TEST_F(EtcdTest, LeasedKeyGoesWhenKeepalivesStop) {
  Waiter<Result<LeaseGrant>> g;
  client_->leaseGrant(1, g.cb());
  ASSERT_TRUE(g.wait(io_));
  ASSERT_TRUE(g.value->ok());
  put(*client_, "/short", "x", (*g.value)->id);
  std::vector<WatchEvent> seen;
  WatchHandlers h;
  h.onEvents = [&](const std::vector<WatchEvent>& e) {
    seen.insert(seen.end(), e.begin(), e.end());
  };
  auto w = client_->watch("/short", Etcd::Range::kKey, h);
  ASSERT_TRUE(runUntil(
      io_, [&] { return !seen.empty(); }, 5000ms));
  EXPECT_EQ(seen[0].type, WatchEvent::Type::kDelete);
  ASSERT_TRUE(seen[0].prevKv.has_value());
  EXPECT_EQ(seen[0].prevKv->value, "x");
}

TEST_F(EtcdTest, WatchListsThenStreamsPutsAndDeletesWithPrevKv) {
  put(*client_, "/w/old", "0");
  std::vector<RangeResult> snaps;
  std::vector<WatchEvent> events;
  WatchHandlers h;
  h.onSnapshot = [&](const RangeResult& r) { snaps.push_back(r); };
  h.onEvents = [&](const std::vector<WatchEvent>& e) {
    events.insert(events.end(), e.begin(), e.end());
  };
  auto w = client_->watch("/w/", Etcd::Range::kPrefix, h);
  ASSERT_TRUE(runUntil(
      io_, [&] { return w->connected(); }, 5000ms));
  ASSERT_EQ(snaps.size(), 1u);
  ASSERT_EQ(snaps[0].kvs.size(), 1u);
  EXPECT_EQ(snaps[0].kvs[0].key, "/w/old");
  put(*client_, "/w/a", "1");
  put(*client_, "/w/a", "2");
  put(*client_, "/x/other", "not watched");
  Waiter<Result<std::int64_t>> del;
  client_->del("/w/a", Etcd::Range::kKey, del.cb());
  ASSERT_TRUE(del.wait(io_));
  ASSERT_TRUE(runUntil(
      io_, [&] { return events.size() >= 3; }, 5000ms));
  runFor(io_, 100ms);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_FALSE(events[0].prevKv.has_value());
  EXPECT_EQ(events[1].kv.value, "2");
  ASSERT_TRUE(events[1].prevKv.has_value());
  EXPECT_EQ(events[1].prevKv->value, "1");
  EXPECT_EQ(events[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, "/w/a");
  ASSERT_TRUE(events[2].prevKv.has_value());
  EXPECT_EQ(events[2].prevKv->value, "2");
  EXPECT_EQ(w->revision(), events[2].kv.modRevision);
}

// The watch goes through a relay that the test cuts: after the drop it resumes from the last
// revision + 1 (nothing missed, nothing repeated); when that revision was compacted meanwhile, it
// lists again.
TEST_F(EtcdTest, WatchResumesAfterADropAndRelistsAfterCompaction) {
  Relay relay(io_, server_.port());
  relay.open();
  auto viaRelay = make({relay.url()});
  int snaps = 0, drops = 0;
  std::vector<std::string> values;
  std::size_t lastSnapshotSize = 0;
  WatchHandlers h;
  h.onSnapshot = [&](const RangeResult& r) {
    ++snaps;
    lastSnapshotSize = r.kvs.size();
  };
  h.onEvents = [&](const std::vector<WatchEvent>& e) {
    for (auto& ev : e) values.push_back(ev.kv.value);
  };
  h.onDisconnected = [&](const Error&) { ++drops; };
  auto w = viaRelay->watch("/r/", Etcd::Range::kPrefix, h);
  ASSERT_TRUE(runUntil(
      io_, [&] { return w->connected(); }, 5000ms));
  put(*client_, "/r/k", "1");
  ASSERT_TRUE(runUntil(
      io_, [&] { return values.size() == 1; }, 5000ms));

  relay.cut();
  ASSERT_TRUE(runUntil(
      io_, [&] { return drops >= 1; }, 5000ms));
  put(*client_, "/r/k", "2");
  put(*client_, "/r/k", "3");
  relay.open();
  ASSERT_TRUE(runUntil(
      io_, [&] { return values.size() == 3; }, 10000ms));
  EXPECT_EQ(values, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(snaps, 1);

  relay.cut();
  ASSERT_TRUE(runUntil(
      io_, [&] { return !w->connected(); }, 5000ms));
  put(*client_, "/r/k", "4");
  std::int64_t last = put(*client_, "/r/j", "5");
  Waiter<Result<void>> c;
  client_->compact(last, c.cb());
  ASSERT_TRUE(c.wait(io_));
  ASSERT_TRUE(c.value->ok()) << c.value->error().message;
  relay.open();
  ASSERT_TRUE(runUntil(
      io_, [&] { return snaps == 2 && w->connected(); }, 10000ms));
  EXPECT_EQ(lastSnapshotSize, 2u) << "the re-list has both keys";
  EXPECT_EQ(values.size(), 3u) << "events lost to compaction come as the snapshot instead";
  put(*client_, "/r/k", "6");
  ASSERT_TRUE(runUntil(
      io_, [&] { return values.size() == 4; }, 5000ms));
  EXPECT_EQ(values.back(), "6");
}

TEST_F(EtcdTest, FailsOverToTheNextEndpoint) {
  int dead = testing::freePort();
  auto e = make({"http://127.0.0.1:" + std::to_string(dead), server_.url()});
  EXPECT_GT(put(*e, "/f", "1"), 0);
  EXPECT_EQ(e->currentEndpoint(), 1u);
  EXPECT_EQ(range(*e, "/f", Etcd::Range::kKey).kvs.size(), 1u);

  auto none = make({"http://127.0.0.1:" + std::to_string(dead)});
  Waiter<Result<std::int64_t>> w;
  none->put("/f", "1", 0, w.cb());
  ASSERT_TRUE(w.wait(io_));
  ASSERT_FALSE(w.value->ok());
  EXPECT_NE(w.value->error().message.find("refused"), std::string::npos)
      << w.value->error().message;
}

TEST_F(EtcdTest, BindsOutgoingSocketsToTheSourceAddress) {
  Relay relay(io_, server_.port());
  relay.open();
  auto e = make({relay.url()}, "127.0.0.12");
  EXPECT_GT(put(*e, "/src", "1"), 0);
  ASSERT_FALSE(relay.peers().empty());
  for (const auto& p : relay.peers()) EXPECT_EQ(p, "127.0.0.12");
}

TEST_F(EtcdTest, TimesOutWhenEtcdDoesNotAnswer) {
  server_.pause();
  Waiter<Result<std::int64_t>> w;
  auto start = std::chrono::steady_clock::now();
  client_->put("/p", "1", 0, w.cb());
  ASSERT_TRUE(w.wait(io_, 5000ms));
  server_.resume();
  ASSERT_FALSE(w.value->ok());
  EXPECT_NE(w.value->error().message.find("timed out after 2000 ms"), std::string::npos)
      << w.value->error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3000ms);
  EXPECT_GT(put(*client_, "/p", "2"), 0) << "works again once etcd answers";
}

TEST_F(EtcdTest, ReconnectsAfterEtcdIsKilledAndRestartedOnItsDataDir) {
  put(*client_, "/d/before", "1");
  std::vector<std::string> values;
  int drops = 0;
  WatchHandlers h;
  h.onEvents = [&](const std::vector<WatchEvent>& e) {
    for (auto& ev : e) values.push_back(ev.kv.value);
  };
  h.onDisconnected = [&](const Error&) { ++drops; };
  auto w = client_->watch("/d/", Etcd::Range::kPrefix, h);
  ASSERT_TRUE(runUntil(
      io_, [&] { return w->connected(); }, 5000ms));

  server_.kill9();
  Waiter<Result<std::int64_t>> down;
  client_->put("/d/during", "x", 0, down.cb());
  ASSERT_TRUE(down.wait(io_));
  ASSERT_FALSE(down.value->ok());
  EXPECT_NE(down.value->error().message.find("etcd: "), std::string::npos);
  ASSERT_TRUE(runUntil(
      io_, [&] { return drops >= 1; }, 5000ms));

  ASSERT_TRUE(server_.start());
  EXPECT_EQ(range(*client_, "/d/before", Etcd::Range::kKey).kvs.size(), 1u)
      << "the data dir survived";
  put(*client_, "/d/after", "2");
  ASSERT_TRUE(runUntil(
      io_, [&] { return !values.empty(); }, 10000ms));
  EXPECT_EQ(values, std::vector<std::string>{"2"});
}

}  // namespace
}  // namespace partyd::cluster
