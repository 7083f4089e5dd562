#include "party/room_registry.h"

#include <gtest/gtest.h>

namespace partyd::party {

// A Durable Object id: SHA-256 of party, a zero byte and room, in hex. Stored data and clients
// may hold it, so it must never change.
TEST(RoomRegistry, InternalIdIsSha256OfPartyZeroRoom) {
  EXPECT_EQ(internalId({"main", "room-1"}),
            "adb8559b21df39d6801e3b90ee7fbaf24bd0ee337fa316ffd2ddf4479aecb0a9");
}

TEST(RoomRegistry, SameKeyReachesSameRoom) {
  RoomRegistry reg;
  auto [a, createdA] = reg.getOrCreate({"main", "r1"}, 0);
  auto [b, createdB] = reg.getOrCreate({"main", "r1"}, 5);
  EXPECT_TRUE(createdA);
  EXPECT_FALSE(createdB);
  EXPECT_EQ(a, b);
  EXPECT_EQ(reg.byHandle(a->handle), a);
  EXPECT_EQ(reg.find({"main", "r1"}), a);
}

TEST(RoomRegistry, NewIdOrOtherPartyCreatesNewRoom) {
  RoomRegistry reg;
  Room* a = reg.getOrCreate({"main", "r1"}, 0).first;
  Room* b = reg.getOrCreate({"main", "r2"}, 0).first;
  Room* c = reg.getOrCreate({"other", "r1"}, 0).first;
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a->handle, c->handle);
  EXPECT_EQ(reg.size(), 3u);
}

TEST(RoomRegistry, KeysWithSeparatorsDoNotCollide) {
  RoomRegistry reg;
  Room* a = reg.getOrCreate({"a", "b/c"}, 0).first;
  Room* b = reg.getOrCreate({"a/b", "c"}, 0).first;
  EXPECT_NE(a, b);
}

TEST(RoomRegistry, EvictsIdleRoomAfterTimeout) {
  RoomRegistry reg;
  Room* idle = reg.getOrCreate({"main", "idle"}, 0).first;
  Room* busy = reg.getOrCreate({"main", "busy"}, 0).first;
  busy->busy = 1;
  EXPECT_TRUE(reg.idleRooms(999, 1000).empty());
  auto out = reg.idleRooms(1000, 1000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], idle->handle);
  reg.touch(*idle, 1500);
  EXPECT_TRUE(reg.idleRooms(2000, 1000).empty());
  reg.erase(idle->handle);
  EXPECT_EQ(reg.find({"main", "idle"}), nullptr);
  EXPECT_EQ(reg.byHandle(out[0]), nullptr);
}

TEST(RoomRegistry, RoomWithConnectionIsNotIdle) {
  RoomRegistry reg;
  Room* r = reg.getOrCreate({"main", "r"}, 0).first;
  r->sockets.emplace(1, Socket{});
  EXPECT_TRUE(reg.idleRooms(1'000'000, 10).empty());
}

TEST(RoomRegistry, OnlyQuietHibernatingRoomsWithSocketsMayHibernate) {
  RoomRegistry reg;
  Room* plain = reg.getOrCreate({"main", "plain"}, 0).first;
  Room* hib = reg.getOrCreate({"main", "hib"}, 0).first;
  Room* empty = reg.getOrCreate({"main", "empty"}, 0).first;
  plain->sockets.emplace(1, Socket{});
  hib->sockets.emplace(2, Socket{});
  hib->hibernate = true;
  empty->hibernate = true;
  EXPECT_TRUE(reg.hibernationCandidates(50, 100).empty());
  auto out = reg.hibernationCandidates(100, 100);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], hib->handle);
  hib->busy = 1;
  EXPECT_TRUE(reg.hibernationCandidates(1000, 100).empty());
  hib->busy = 0;
  hib->hibernated = true;
  EXPECT_TRUE(reg.hibernationCandidates(1000, 100).empty());
}

}  // namespace partyd::party
