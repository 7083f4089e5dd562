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

TEST(RouteParty, AnEscapedSlashStaysInsideTheRoom) {
  auto r = routeParty("/party/a%2Fb/rest");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->room, "a%2Fb");
  auto p = routeParty("/parties/p%2Fq/r%2fs");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->party, "p%2Fq");
  EXPECT_EQ(p->room, "r%2fs");
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

TEST(QueryParam, DecodesNamesAndKeepsInvalidEscapes) {
  EXPECT_EQ(queryParam("/p?a%5Fb=1&_pk=2", "a_b"), "1");
  EXPECT_EQ(queryParam("/p?_pk=a%2Fb%26c%3Dd", "_pk"), "a/b&c=d");
  EXPECT_EQ(queryParam("/p?_pk=100%&x=1", "_pk"), "100%");
  EXPECT_EQ(queryParam("/p?_pk=%2", "_pk"), "%2");
  EXPECT_EQ(queryParam("/p?_pk=%20%zz%41", "_pk"), " %zzA");
  EXPECT_EQ(queryParam("/p?_pk=%2B+x#frag", "_pk"), "+ x");
}

TEST(PercentDecode, DecodesValidEscapesAndKeepsTheRest) {
  EXPECT_EQ(percentDecode("/a%20b/c%2Fd"), "/a b/c/d");
  EXPECT_EQ(percentDecode("%e2%82%ac"), "\xE2\x82\xAC");
  EXPECT_EQ(percentDecode("a+b"), "a+b");
  EXPECT_EQ(percentDecode("a+b", Plus::kSpace), "a b");
  EXPECT_EQ(percentDecode("%00"), std::string(1, '\0'));
  EXPECT_EQ(percentDecode("%"), "%");
  EXPECT_EQ(percentDecode("%%41"), "%A");
  EXPECT_EQ(percentDecode("%4"), "%4");
  EXPECT_EQ(percentDecode("%G1%1G"), "%G1%1G");
  EXPECT_EQ(percentDecode("%2e%2E/.."), "../..");
  EXPECT_EQ(percentDecode(""), "");
}

}  // namespace partyd::http
