#include "server/host_routing.h"

#include <gtest/gtest.h>

namespace partyd::server {
namespace {

std::vector<RouteEntry> table() {
  return {
      {{"team", "alpha", ""}, ""},
      {{"team", "alpha", "pr-7"}, ""},
      {{"other", "beta", ""}, "chat.example.com"},
  };
}

TEST(HostRouting, NameTeamDomain) {
  auto t = table();
  EXPECT_EQ(resolveHost("alpha.team.example.net", "example.net", t, ""), 0u);
  EXPECT_EQ(resolveHost("Alpha.TEAM.example.net:443", "example.net", t, ""), 0u);
  EXPECT_EQ(resolveHost("beta.other.example.net", "example.net", t, ""), 2u);
}

TEST(HostRouting, PreviewIsThreeLabels) {
  auto t = table();
  EXPECT_EQ(resolveHost("pr-7.alpha.team.example.net", "example.net", t, ""), 1u);
  EXPECT_FALSE(resolveHost("pr-8.alpha.team.example.net", "example.net", t, "").has_value());
}

TEST(HostRouting, OwnDomain) {
  auto t = table();
  EXPECT_EQ(resolveHost("chat.example.com", "example.net", t, ""), 2u);
  EXPECT_EQ(resolveHost("CHAT.example.com.:8080", "", t, ""), 2u);
}

TEST(HostRouting, UnknownNameUnderTheDomainIsNothingNotTheDefault) {
  auto t = table();
  EXPECT_FALSE(resolveHost("gamma.team.example.net", "example.net", t, "team/alpha").has_value());
  EXPECT_FALSE(resolveHost("a.b.c.d.example.net", "example.net", t, "team/alpha").has_value());
}

TEST(HostRouting, DefaultProjectOrTheOnlyOne) {
  auto t = table();
  EXPECT_EQ(resolveHost("127.0.0.1:1999", "example.net", t, "other/beta"), 2u);
  EXPECT_EQ(resolveHost("localhost", "", t, "team/alpha~pr-7"), 1u);
  // two production deploys and no default: none
  EXPECT_FALSE(resolveHost("127.0.0.1", "", t, "").has_value());
  // the only production deploy (previews do not count)
  std::vector<RouteEntry> one{{{"team", "alpha", ""}, ""}, {{"team", "alpha", "pr"}, ""}};
  EXPECT_EQ(resolveHost("[::1]:1999", "", one, ""), 0u);
  EXPECT_FALSE(resolveHost("x", "", {}, "").has_value());
}

TEST(HostRouting, ProjectKeys) {
  auto id = parseProjectKey("team/alpha~pr-7");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->team, "team");
  EXPECT_EQ(id->name, "alpha");
  EXPECT_EQ(id->preview, "pr-7");
  EXPECT_EQ(id->key(), "team/alpha~pr-7");
  EXPECT_FALSE(parseProjectKey("team").has_value());
  EXPECT_FALSE(parseProjectKey("../x/y").has_value());
  EXPECT_FALSE(parseProjectKey("team/a.b").has_value());
  EXPECT_FALSE(validName(".."));
  EXPECT_FALSE(validName(""));
  EXPECT_TRUE(validName("my-project_2"));
}

}  // namespace
}  // namespace partyd::server
