// Tests for net::Poller over socket pairs: events reach the registered target through the
// io_context, a removed socket hears nothing more (even from the batch under way), and the loop
// ends once nobody waits. Driven with run_one_for / run, never with sleeps.
#include "net/poller.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace partyd::net {
namespace {

using namespace std::chrono_literals;

struct Target : PollTarget {
  std::vector<std::uint32_t> events;
  std::function<void()> then;
  void onPollEvents(std::uint32_t e) override {
    events.push_back(e);
    if (then) then();
  }
};

struct Pair {
  int ours = -1, peer = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    ours = fds[0];
    peer = fds[1];
  }
  ~Pair() {
    if (ours >= 0) ::close(ours);
    if (peer >= 0) ::close(peer);
  }
};

TEST(Poller, DeliversReadinessToTheTargetWhileSomeoneWaits) {
  boost::asio::io_context io;
  Poller& poller = Poller::of(io);
  EXPECT_EQ(&poller, &Poller::of(io));
  Pair p;
  Target t;
  std::uint32_t slot = poller.add(p.ours, &t);
  ASSERT_NE(slot, Poller::kNoSlot);
  poller.startWaiting();
  // Writable is not watched yet: a fresh socket that has room wakes nobody.
  io.run_one_for(50ms);
  EXPECT_TRUE(t.events.empty());
  ASSERT_EQ(::write(p.peer, "x", 1), 1);
  while (t.events.empty()) ASSERT_GT(io.run_one_for(1s), 0u);
  EXPECT_TRUE(t.events[0] & EPOLLIN);
  EXPECT_FALSE(t.events[0] & EPOLLOUT);
  ::close(p.peer);
  p.peer = -1;
  while (t.events.size() < 2) ASSERT_GT(io.run_one_for(1s), 0u);
  EXPECT_TRUE(t.events[1] & EPOLLRDHUP);
  poller.stopWaiting();
  poller.remove(slot, p.ours);
  EXPECT_EQ(poller.registered(), 0u);
}

// A writer that found the socket full asks for writable; it hears it once the peer reads, and a
// socket that has room when asked hears it at once.
TEST(Poller, WatchesWritesOnceAsked) {
  boost::asio::io_context io;
  Poller& poller = Poller::of(io);
  Pair p;
  Target t;
  std::uint32_t slot = poller.add(p.ours, &t);
  poller.startWaiting();
  char block[4096] = {};
  while (::write(p.ours, block, sizeof block) > 0) {
  }
  ASSERT_TRUE(poller.watchWrites(slot, p.ours));
  io.run_one_for(50ms);
  EXPECT_TRUE(t.events.empty());  // still full
  while (::read(p.peer, block, sizeof block) > 0) {
  }
  while (t.events.empty()) ASSERT_GT(io.run_one_for(1s), 0u);
  EXPECT_TRUE(t.events[0] & EPOLLOUT);
  EXPECT_TRUE(poller.watchWrites(slot, p.ours));  // already on: nothing changes
  poller.stopWaiting();
  poller.remove(slot, p.ours);

  Pair q;
  Target u;
  std::uint32_t other = poller.add(q.ours, &u);
  io.restart();
  poller.startWaiting();
  ASSERT_TRUE(poller.watchWrites(other, q.ours));
  while (u.events.empty()) ASSERT_GT(io.run_one_for(1s), 0u);
  EXPECT_TRUE(u.events[0] & EPOLLOUT);
  poller.stopWaiting();
  poller.remove(other, q.ours);
}

// A registration that changes hands keeps its slot and its events: the new target hears what
// comes after, the old one nothing.
TEST(Poller, ARetargetedSlotReachesItsNewTarget) {
  boost::asio::io_context io;
  Poller& poller = Poller::of(io);
  Pair p;
  Target before, after;
  std::uint32_t slot = poller.add(p.ours, &before);
  poller.retarget(slot, &after);
  poller.startWaiting();
  ASSERT_EQ(::write(p.peer, "x", 1), 1);
  while (after.events.empty()) ASSERT_GT(io.run_one_for(1s), 0u);
  EXPECT_TRUE(after.events[0] & EPOLLIN);
  EXPECT_TRUE(before.events.empty());
  poller.stopWaiting();
  poller.remove(slot, p.ours);
}

TEST(Poller, ARemovedSocketHearsNothingFromTheBatchUnderWay) {
  boost::asio::io_context io;
  Poller& poller = Poller::of(io);
  Pair a, b;
  Target ta, tb;
  std::uint32_t sa = poller.add(a.ours, &ta);
  std::uint32_t sb = poller.add(b.ours, &tb);
  // Whichever hears first removes the other and gives its slot to a new socket: the old event
  // of the removed one must reach neither.
  Pair c;
  Target tc;
  bool removed = false;
  auto removeOther = [&](int fd, std::uint32_t slot) {
    if (removed) return;
    removed = true;
    poller.remove(slot, fd);
    EXPECT_EQ(poller.add(c.ours, &tc), slot);
  };
  ta.then = [&] { removeOther(b.ours, sb); };
  tb.then = [&] { removeOther(a.ours, sa); };
  ASSERT_EQ(::write(a.peer, "x", 1), 1);
  ASSERT_EQ(::write(b.peer, "x", 1), 1);
  poller.startWaiting();
  io.run_one_for(1s);
  EXPECT_EQ(ta.events.size() + tb.events.size(), 1u);
  EXPECT_TRUE(tc.events.empty());
  poller.stopWaiting();
}

// A socket forgotten as it is closed leaves its registration to close(2); when a duplicate keeps
// the socket open (a child between fork and exec), its events still come, and are dropped as
// stale, also once its slot serves another socket.
TEST(Poller, AForgottenSocketHearsNothingEvenWhileADuplicateKeepsItOpen) {
  boost::asio::io_context io;
  Poller& poller = Poller::of(io);
  Pair p;
  Target old;
  std::uint32_t slot = poller.add(p.ours, &old);
  const int duplicate = ::dup(p.ours);
  ASSERT_GE(duplicate, 0);
  poller.forget(slot);
  ::close(p.ours);
  p.ours = -1;
  EXPECT_EQ(poller.registered(), 0u);
  Pair q;
  Target next;
  EXPECT_EQ(poller.add(q.ours, &next), slot);
  poller.startWaiting();
  ASSERT_EQ(::write(p.peer, "x", 1), 1);  // the old socket's event, under the old generation
  ASSERT_EQ(::write(q.peer, "y", 1), 1);
  while (next.events.empty()) ASSERT_GT(io.run_one_for(1s), 0u);
  io.run_one_for(50ms);
  EXPECT_TRUE(old.events.empty());
  EXPECT_EQ(next.events.size(), 1u);
  poller.stopWaiting();
  poller.remove(slot, q.ours);
  ::close(duplicate);
}

// A target that holds itself while it waits is let go when its io_context goes away, as a pending
// Asio operation's handler is destroyed then; one that nobody held hears nothing.
struct SelfHeld : PollTarget, std::enable_shared_from_this<SelfHeld> {
  std::shared_ptr<SelfHeld> self;
  int shutdowns = 0;
  void onPollEvents(std::uint32_t) override {}
  void onPollerShutdown() override {
    ++shutdowns;
    self.reset();
  }
};

TEST(Poller, ShutdownLetsGoOfTargetsThatHoldThemselves) {
  Pair p;
  std::weak_ptr<SelfHeld> weak;
  {
    boost::asio::io_context io;
    Poller& poller = Poller::of(io);
    auto target = std::make_shared<SelfHeld>();
    target->self = target;
    weak = target;
    ASSERT_NE(poller.add(p.ours, target.get()), Poller::kNoSlot);
    poller.startWaiting();
    target.reset();
    EXPECT_FALSE(weak.expired());
  }
  EXPECT_TRUE(weak.expired());
}

TEST(Poller, TheLoopEndsWhenNobodyWaits) {
  boost::asio::io_context io;
  Poller& poller = Poller::of(io);
  Pair p;
  Target t;
  poller.add(p.ours, &t);
  poller.startWaiting();
  t.then = [&] { poller.stopWaiting(); };
  ASSERT_EQ(::write(p.peer, "x", 1), 1);
  io.run();  // returns: the one event came, and then nothing waited
  EXPECT_EQ(t.events.size(), 1u);
  // Waiting again and stopping before any event: the cancelled wait lets run() end too.
  ASSERT_EQ(::write(p.peer, "y", 1), 1);
  io.restart();
  poller.startWaiting();
  poller.stopWaiting();
  io.run();
  EXPECT_EQ(t.events.size(), 1u);
}

}  // namespace
}  // namespace partyd::net
