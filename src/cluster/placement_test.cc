#include "cluster/placement.h"

#include <gtest/gtest.h>

#include <map>

#include "cluster/ownership.h"

namespace partyd::cluster {
namespace {

std::vector<NodeInfo> three() {
  return {{"node-a", "127.0.0.11:1999", "eu", 0, 1.0},
          {"node-b", "127.0.0.12:1999", "eu", 0, 1.0},
          {"node-c", "127.0.0.13:1999", "us", 0, 1.0}};
}

TEST(Hash64, IsXxHash64) {
  EXPECT_EQ(hash64(""), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(hash64("abc"), 0x44BC2CF5AD770999ULL);
  EXPECT_EQ(hash64("abc"), hash64(std::string("abc")));
  EXPECT_NE(hash64("abd"), hash64("abc"));
}

TEST(Hrw, IsStableAndBalancedOverThreeNodes) {
  auto nodes = three();
  std::map<std::string, int> count;
  for (int i = 0; i < 30000; ++i) {
    std::string key = placementKey("p", "main", "room-" + std::to_string(i));
    const NodeInfo* n = hrw(nodes, key);
    ASSERT_NE(n, nullptr);
    count[n->id]++;
    // The same answer whatever the order of the live set.
    std::vector<NodeInfo> rev(nodes.rbegin(), nodes.rend());
    ASSERT_EQ(hrw(rev, key)->id, n->id);
  }
  for (auto& [id, c] : count) {
    EXPECT_GT(c, 9000) << id;
    EXPECT_LT(c, 11000) << id;
  }
}

TEST(Hrw, MovesOnlyTheKeysOfANodeThatLeaves) {
  auto nodes = three();
  auto fewer = nodes;
  fewer.erase(fewer.begin() + 1);  // node-b leaves
  int moved = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string key = "k" + std::to_string(i);
    std::string before = hrw(nodes, key)->id, after = hrw(fewer, key)->id;
    if (before != "node-b") {
      EXPECT_EQ(before, after) << key;
    } else {
      ++moved;
    }
  }
  EXPECT_GT(moved, 2800);
  EXPECT_LT(moved, 3900);
}

TEST(Hrw, WeightsAndRegions) {
  auto nodes = three();
  nodes[0].weight = 2.0;
  std::map<std::string, int> count;
  for (int i = 0; i < 20000; ++i) count[hrw(nodes, "w" + std::to_string(i))->id]++;
  EXPECT_GT(count["node-a"], count["node-b"] * 3 / 2);
  for (int i = 0; i < 1000; ++i) {
    std::string key = "r" + std::to_string(i);
    EXPECT_EQ(hrw(nodes, key, "us")->id, "node-c");
    EXPECT_NE(hrw(nodes, key, "eu")->id, "node-c");
    EXPECT_EQ(hrw(nodes, key, "mars")->id, hrw(nodes, key)->id) << "no node there: any node";
  }
  EXPECT_EQ(hrw({}, "k"), nullptr);
}

TEST(KeyEncoding, IsEncodeUriComponent) {
  EXPECT_EQ(encodeComponent("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(encodeComponent("AZaz09-_.!~*'()"), "AZaz09-_.!~*'()");
  EXPECT_EQ(encodeComponent("ü%"), "%C3%BC%25");
  EXPECT_EQ(decodeComponent("%C3%BC%25"), "ü%");
  EXPECT_FALSE(decodeComponent("%G0").has_value());
  EXPECT_FALSE(decodeComponent("%2").has_value());
}

}  // namespace
}  // namespace partyd::cluster
