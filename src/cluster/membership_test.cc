#include "cluster/membership.h"

#include <gtest/gtest.h>

#include "base/clock.h"
#include "cluster/ownership.h"
#include "cluster/placement.h"
#include "cluster/test_util.h"

namespace partyd::cluster {
namespace {

using namespace std::chrono_literals;
using testing::runFor;
using testing::runUntil;
using testing::Waiter;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::etcdBinary().empty()) GTEST_SKIP() << "etcd is not installed (/usr/bin/etcd)";
    ASSERT_TRUE(server_.start()) << "etcd did not start";
  }
  std::unique_ptr<Etcd> client(std::chrono::milliseconds timeout = 1000ms) {
    EtcdOptions o;
    o.endpoints = {server_.url()};
    o.timeout = timeout;
    auto e = Etcd::create(io_, o);
    EXPECT_TRUE(e.ok());
    return std::move(*e);
  }
  MembershipOptions opts(std::string addr, std::string region = {}) {
    MembershipOptions m;
    m.clusterName = "t";
    m.addr = std::move(addr);
    m.region = std::move(region);
    m.ttl = 2s;
    m.margin = 400ms;
    return m;
  }
  void join(Membership& m) {
    Waiter<Result<void>> w;
    m.start(w.cb());
    ASSERT_TRUE(w.wait(io_));
    ASSERT_TRUE(w.value->ok()) << w.value->error().message;
  }

  boost::asio::io_context io_;
  testing::EtcdProcess server_;
};

TEST_F(ClusterTest, NodesJoinSeeEachOtherAndLeave) {
  auto e1 = client(), e2 = client();
  Membership a(*e1, opts("127.0.0.11:1999", "eu")), b(*e2, opts("127.0.0.12:1999"));
  int changes = 0;
  b.onNodesChanged = [&] { ++changes; };
  join(a);
  join(b);
  EXPECT_NE(a.nodeId(), b.nodeId());
  EXPECT_TRUE(a.healthy());
  EXPECT_NE(a.leaseId(), 0);
  EXPECT_EQ(a.epoch(), 1u);
  ASSERT_TRUE(runUntil(
      io_, [&] { return a.live().size() == 2 && b.live().size() == 2; }, 5000ms));
  const NodeInfo* seen = nullptr;
  for (const auto& n : b.live())
    if (n.id == a.nodeId()) seen = &n;
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->addr, "127.0.0.11:1999");
  EXPECT_EQ(seen->region, "eu");
  EXPECT_GT(changes, 0);
  // Keepalives hold the lease well past T.
  runFor(io_, 3000ms);
  EXPECT_TRUE(a.healthy());
  EXPECT_EQ(b.live().size(), 2u);
  bool stopped = false;
  a.stop([&] { stopped = true; });
  ASSERT_TRUE(runUntil(
      io_, [&] { return stopped && b.live().size() == 1; }, 5000ms));
  EXPECT_EQ(b.live()[0].id, b.nodeId());
}

TEST(NodeRecord, RoundTripsAndRefusesGarbage) {
  NodeInfo n{"id1", "127.0.0.11:1999", "eu", 123, 2.0};
  auto back = parseNodeRecord(nodeRecordJson(n));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, "id1");
  EXPECT_EQ(back->addr, "127.0.0.11:1999");
  EXPECT_EQ(back->region, "eu");
  EXPECT_EQ(back->started, 123);
  EXPECT_EQ(back->weight, 2.0);
  EXPECT_FALSE(parseNodeRecord("not json"));
  EXPECT_FALSE(parseNodeRecord("{\"id\":5}"));
  EXPECT_FALSE(parseNodeRecord("{\"addr\":\"x\"}"));
}

// SIGSTOP etcd for longer than T: the node fences itself before t_sent + T (when etcd could
// first expire its lease), then rejoins with a new lease once etcd is back.
TEST_F(ClusterTest, SelfFencesBeforeTheLeaseCanExpireThenRejoins) {
  auto e = client(500ms);
  Counters counters;
  Membership m(*e, opts("127.0.0.11:1999"), &counters);
  std::int64_t firedAt = 0, ackSentAt = 0;
  int fenced = 0, rejoined = 0;
  m.onFenced = [&] {
    ++fenced;
    firedAt = monotonicMs();
    ackSentAt = m.lastAckSentMs();
    EXPECT_FALSE(m.healthy());
  };
  m.onRejoined = [&] { ++rejoined; };
  join(m);
  std::int64_t firstLease = m.leaseId();
  runFor(io_, 1000ms);
  server_.pause();
  ASSERT_TRUE(runUntil(
      io_, [&] { return fenced == 1; }, 5000ms));
  EXPECT_LT(firedAt, ackSentAt + 2000) << "fenced before the lease could expire";
  EXPECT_GE(firedAt, ackSentAt + 2000 - 400);
  runFor(io_, 2000ms);  // etcd stays stopped longer than T
  EXPECT_EQ(fenced, 1) << "onFenced fires once";
  EXPECT_EQ(rejoined, 0);
  server_.resume();
  ASSERT_TRUE(runUntil(
      io_, [&] { return rejoined == 1; }, 10000ms));
  EXPECT_TRUE(m.healthy());
  EXPECT_NE(m.leaseId(), firstLease);
  EXPECT_EQ(m.epoch(), 2u);
  EXPECT_EQ(counters.selfFences.load(), 1u);
  ASSERT_TRUE(runUntil(
      io_, [&] { return m.live().size() == 1; }, 5000ms));
  runFor(io_, 2500ms);
  EXPECT_TRUE(m.healthy()) << "the new lease is kept alive";
  EXPECT_EQ(m.live().size(), 1u);
}

// ---- ownership --------------------------------------------------------------------------------

struct Node {
  Node(ClusterTest* t, std::unique_ptr<Etcd> e, MembershipOptions o)
      : etcd(std::move(e)),
        membership(*etcd, std::move(o), &counters),
        ownership(*etcd, membership, &counters) {}
  Counters counters;
  std::unique_ptr<Etcd> etcd;
  Membership membership;
  Ownership ownership;
};

TEST_F(ClusterTest, TwoNodesRaceAClaimExactlyOneWinsAndTheOtherSeesTheOwner) {
  Node a(this, client(), opts("127.0.0.11:1999")), b(this, client(), opts("127.0.0.12:1999"));
  join(a.membership);
  join(b.membership);
  a.ownership.start();
  b.ownership.start();
  RoomRef room{"proj", "main", "room/1 ü"};
  Waiter<Result<ClaimResult>> wa, wb;
  a.ownership.claim(room, "", wa.cb());
  b.ownership.claim(room, "", wb.cb());
  ASSERT_TRUE(wa.wait(io_) && wb.wait(io_));
  ASSERT_TRUE(wa.value->ok()) << wa.value->error().message;
  ASSERT_TRUE(wb.value->ok()) << wb.value->error().message;
  const ClaimResult& ra = **wa.value;
  const ClaimResult& rb = **wb.value;
  ASSERT_NE(ra.won, rb.won);
  Node& winner = ra.won ? a : b;
  const ClaimResult& won = ra.won ? ra : rb;
  const ClaimResult& lost = ra.won ? rb : ra;
  EXPECT_EQ(lost.owner.node, winner.membership.nodeId());
  EXPECT_EQ(lost.owner.addr, winner.membership.self().addr);
  EXPECT_EQ(lost.epoch, won.epoch);
  EXPECT_GT(won.epoch, 0);
  EXPECT_EQ(winner.ownership.heldEpoch(room), won.epoch);
  EXPECT_EQ(a.counters.claimsWon + b.counters.claimsWon, 1u);
  EXPECT_EQ(a.counters.claimsLost + b.counters.claimsLost, 1u);
  // Both caches learn the owner from the watch.
  ASSERT_TRUE(runUntil(
      io_,
      [&] {
        auto x = a.ownership.lookup(room), y = b.ownership.lookup(room);
        return x && y && x->epoch == won.epoch && y->epoch == won.epoch;
      },
      5000ms));
  // The key is the contract's.
  EXPECT_EQ(a.ownership.roomKey(room), "/partyd/t/rooms/proj/main/room%2F1%20%C3%BC");
  auto parsed = a.ownership.parseRoomKey(a.ownership.roomKey(room));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, room);
  // A claim by the owner again is won with the same epoch.
  Waiter<Result<ClaimResult>> again;
  winner.ownership.claim(room, "", again.cb());
  ASSERT_TRUE(again.wait(io_));
  ASSERT_TRUE(again.value->ok());
  EXPECT_TRUE((*again.value)->won);
  EXPECT_EQ((*again.value)->epoch, won.epoch);
}

TEST_F(ClusterTest, AWinningClaimRecordsTheHomeRegionWhichOutlivesTheOwner) {
  Node a(this, client(), opts("127.0.0.11:1999", "us")), b(this, client(), opts("127.0.0.12:1999"));
  join(a.membership);
  join(b.membership);
  RoomRef room{"p", "main", "home"}, plain{"p", "main", "plain"};
  Waiter<Result<std::string>> none;
  b.ownership.homeRegion(room, none.cb());
  ASSERT_TRUE(none.wait(io_) && none.value->ok());
  EXPECT_EQ(**none.value, "") << "a room never claimed has no home";
  Waiter<Result<ClaimResult>> c1, c2;
  a.ownership.claim(room, "us", c1.cb());
  a.ownership.claim(plain, "", c2.cb());
  ASSERT_TRUE(c1.wait(io_) && c1.value->ok() && (*c1.value)->won);
  ASSERT_TRUE(c2.wait(io_) && c2.value->ok() && (*c2.value)->won);
  EXPECT_EQ(a.ownership.homeKey(room), "/partyd/t/home/p/main/home");
  // The owner leaves (its lease and owner keys go); the home stays, for b to place the room by.
  Waiter<Result<bool>> rel;
  a.ownership.release(room, rel.cb());
  ASSERT_TRUE(rel.wait(io_) && rel.value->ok() && **rel.value);
  Waiter<Result<std::string>> home, plainHome;
  b.ownership.homeRegion(room, home.cb());
  b.ownership.homeRegion(plain, plainHome.cb());
  ASSERT_TRUE(home.wait(io_) && home.value->ok());
  EXPECT_EQ(**home.value, "us");
  ASSERT_TRUE(plainHome.wait(io_) && plainHome.value->ok());
  EXPECT_EQ(**plainHome.value, "") << "a claim with no region records no home";
  // A lost claim does not change the home.
  Waiter<Result<ClaimResult>> lost;
  b.ownership.claim(plain, "eu", lost.cb());
  ASSERT_TRUE(lost.wait(io_) && lost.value->ok());
  EXPECT_FALSE((*lost.value)->won);
  Waiter<Result<std::string>> still;
  a.ownership.homeRegion(plain, still.cb());
  ASSERT_TRUE(still.wait(io_) && still.value->ok());
  EXPECT_EQ(**still.value, "");
  // The project is deleted: its homes go, and another project's stay.
  RoomRef other{"p2", "main", "home"};
  Waiter<Result<ClaimResult>> c3;
  a.ownership.claim(other, "eu", c3.cb());
  ASSERT_TRUE(c3.wait(io_) && c3.value->ok() && (*c3.value)->won);
  Waiter<Result<std::int64_t>> forgot;
  b.ownership.forgetProject("p", forgot.cb());
  ASSERT_TRUE(forgot.wait(io_) && forgot.value->ok());
  EXPECT_EQ(**forgot.value, 1) << "one home of p was recorded";
  Waiter<Result<std::string>> gone, kept;
  b.ownership.homeRegion(room, gone.cb());
  b.ownership.homeRegion(other, kept.cb());
  ASSERT_TRUE(gone.wait(io_) && gone.value->ok());
  EXPECT_EQ(**gone.value, "") << "the cached home of a deleted project was used";
  ASSERT_TRUE(kept.wait(io_) && kept.value->ok());
  EXPECT_EQ(**kept.value, "eu");
}

TEST_F(ClusterTest, ReleaseThenReclaimGivesAHigherEpochAndReleaseSparesOthers) {
  Node a(this, client(), opts("127.0.0.11:1999")), b(this, client(), opts("127.0.0.12:1999"));
  join(a.membership);
  join(b.membership);
  RoomRef room{"p", "main", "r"};
  Waiter<Result<ClaimResult>> c1;
  a.ownership.claim(room, "", c1.cb());
  ASSERT_TRUE(c1.wait(io_) && c1.value->ok() && (*c1.value)->won);
  Waiter<Result<bool>> notMine;
  b.ownership.release(room, notMine.cb());
  ASSERT_TRUE(notMine.wait(io_));
  ASSERT_TRUE(notMine.value->ok());
  EXPECT_FALSE(**notMine.value) << "b never owned it";
  Waiter<Result<bool>> rel;
  a.ownership.release(room, rel.cb());
  ASSERT_TRUE(rel.wait(io_));
  ASSERT_TRUE(rel.value->ok());
  EXPECT_TRUE(**rel.value);
  Waiter<Result<ClaimResult>> c2;
  b.ownership.claim(room, "", c2.cb());
  ASSERT_TRUE(c2.wait(io_) && c2.value->ok());
  EXPECT_TRUE((*c2.value)->won);
  EXPECT_GT((*c2.value)->epoch, (*c1.value)->epoch);
  // a's stale release (it forgot the claim, but the cache still names it) deletes nothing.
  Waiter<Result<bool>> stale;
  a.ownership.release(room, stale.cb());
  ASSERT_TRUE(stale.wait(io_));
  EXPECT_FALSE(stale.value->ok() && **stale.value);
  Waiter<Result<std::optional<Owner>>> fresh;
  a.ownership.lookupFresh(room, fresh.cb());
  ASSERT_TRUE(fresh.wait(io_) && fresh.value->ok());
  ASSERT_TRUE(fresh.value->value().has_value());
  EXPECT_EQ(fresh.value->value()->node, b.membership.nodeId());
}

TEST_F(ClusterTest, LeaseExpiryDeletesTheRoomsAndTheOtherNodeSeesTheOwnerGone) {
  Node a(this, client(), opts("127.0.0.11:1999")), b(this, client(), opts("127.0.0.12:1999"));
  join(a.membership);
  join(b.membership);
  b.ownership.start();
  std::vector<std::pair<RoomRef, Owner>> gone;
  b.ownership.onOwnerGone = [&](const RoomRef& r, const Owner& o) { gone.emplace_back(r, o); };
  int fenced = 0;
  a.membership.onFenced = [&] {
    ++fenced;
    a.ownership.forgetAll();
  };
  RoomRef r1{"p", "main", "one"}, r2{"p", "main", "two"};
  Waiter<Result<ClaimResult>> c1, c2;
  a.ownership.claim(r1, "", c1.cb());
  a.ownership.claim(r2, "", c2.cb());
  ASSERT_TRUE(c1.wait(io_) && c2.wait(io_));
  ASSERT_TRUE(c1.value->ok() && (*c1.value)->won);
  ASSERT_TRUE(c2.value->ok() && (*c2.value)->won);
  ASSERT_TRUE(runUntil(
      io_, [&] { return b.ownership.cachedCount() == 2; }, 5000ms));

  a.membership.setPausedForTesting(true);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(runUntil(
      io_, [&] { return gone.size() == 2; }, 8000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1000ms) << "not before the lease ran out";
  EXPECT_EQ(fenced, 1) << "a fenced itself first";
  for (auto& [room, owner] : gone) {
    EXPECT_EQ(owner.node, a.membership.nodeId());
    EXPECT_TRUE(room == r1 || room == r2);
  }
  EXPECT_FALSE(b.ownership.lookup(r1).has_value());
  Waiter<Result<ClaimResult>> take;
  b.ownership.claim(r1, "", take.cb());
  ASSERT_TRUE(take.wait(io_) && take.value->ok());
  EXPECT_TRUE((*take.value)->won);
  EXPECT_GT((*take.value)->epoch, (*c2.value)->epoch);
  // While a is fenced, its claims fail with a clear error and send nothing.
  Waiter<Result<ClaimResult>> refused;
  a.ownership.claim(r2, "", refused.cb());
  ASSERT_TRUE(refused.wait(io_));
  ASSERT_FALSE(refused.value->ok());
  EXPECT_NE(refused.value->error().message.find("not serving"), std::string::npos);
  // Unpaused, a rejoins with a new lease and can claim again.
  int rejoined = 0;
  a.membership.onRejoined = [&] { ++rejoined; };
  a.membership.setPausedForTesting(false);
  ASSERT_TRUE(runUntil(
      io_, [&] { return rejoined == 1; }, 5000ms));
  Waiter<Result<ClaimResult>> back;
  a.ownership.claim(r2, "", back.cb());
  ASSERT_TRUE(back.wait(io_) && back.value->ok());
  EXPECT_TRUE((*back.value)->won);
  EXPECT_GT((*back.value)->epoch, (*take.value)->epoch);
}

TEST_F(ClusterTest, ClaimFailsBeforeJoining) {
  Node a(this, client(), opts("127.0.0.11:1999"));
  Waiter<Result<ClaimResult>> w;
  a.ownership.claim({"p", "main", "r"}, "", w.cb());
  ASSERT_TRUE(w.wait(io_));
  ASSERT_FALSE(w.value->ok());
  EXPECT_NE(w.value->error().message.find("not serving"), std::string::npos);
}

}  // namespace
}  // namespace partyd::cluster
