#include "http/route.h"

#include <gtest/gtest.h>

namespace partyd::http {

TEST(RouteParty, PartyAliasIsMainParty) {
  auto r = routeParty("/party/r1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->party, "main");
  EXPECT_EQ(r->room, "r1");
  auto p = routeParty("/parties/main/r1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->party, "main");
  EXPECT_EQ(p->room, "r1");
}

TEST(RouteParty, RoomIsTheRawSegment) {
  auto r = routeParty("/party/a%20b/x?y=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->room, "a%20b");
}

TEST(RouteParty, SubpathAndQueryAreIgnored) {
  auto r = routeParty("/parties/other/x/hello/world?q=1#f");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->party, "other");
  EXPECT_EQ(r->room, "x");
}

TEST(RouteParty, EmptyOrMissingRoomIsNotAParty) {
  EXPECT_FALSE(routeParty("/party/"));
  EXPECT_FALSE(routeParty("/party"));
  EXPECT_FALSE(routeParty("/parties/main/"));
  EXPECT_FALSE(routeParty("/parties/x"));
  EXPECT_FALSE(routeParty("/parties//r"));
  EXPECT_FALSE(routeParty("/"));
  EXPECT_FALSE(routeParty("/partyx/r"));
  EXPECT_FALSE(routeParty("party/r"));
  EXPECT_FALSE(routeParty("/custom?party=1"));
}

TEST(QueryParam, DecodesAndFindsFirst) {
  EXPECT_EQ(queryParam("/p?_pk=alice&tag=red", "_pk"), "alice");
  EXPECT_EQ(queryParam("/p?a=1&_pk=a%20b+c", "_pk"), "a b c");
  EXPECT_EQ(queryParam("/p?_pk", "_pk"), "");
  EXPECT_FALSE(queryParam("/p?x=1", "_pk"));
  EXPECT_FALSE(queryParam("/p", "_pk"));
  EXPECT_EQ(queryParam("/p?_pk=%zz", "_pk"), "%zz");
}

}  // namespace partyd::http
