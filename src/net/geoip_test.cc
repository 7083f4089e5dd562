#include "net/geoip.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace partyd::net {
namespace {

namespace fs = std::filesystem;
namespace ip = boost::asio::ip;

// The databases come from the test writer tests/fixtures/mmdb.mjs (node), as the e2e test's do.
class GeoIpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("partyd-geoip-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    std::string writer = std::string(PARTYD_SOURCE_DIR) + "/tests/fixtures/mmdb.mjs";
    std::string geo = (*dir_ / "geo.mmdb").string(), asn = (*dir_ / "asn.mmdb").string();
    ASSERT_EQ(std::system(("node " + writer + " " + geo).c_str()), 0);
    ASSERT_EQ(std::system(("node " + writer + " " + asn + " asn").c_str()), 0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path path(const char* name) { return *dir_ / name; }
  static fs::path* dir_;
};
fs::path* GeoIpTest::dir_ = nullptr;

std::string look(const GeoIp& g, const char* a) {
  return g.lookup(ip::make_address(a));
}

TEST_F(GeoIpTest, FillsCloudflareFields) {
  auto g = GeoIp::open({path("geo.mmdb")});
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(look(**g, "127.0.0.1"),
            R"({"country":"NZ","isEUCountry":null,"continent":"OC","city":"Wellington",)"
            R"("region":"Wellington Region","regionCode":"WGN","metroCode":null,)"
            R"("postalCode":"6011","latitude":"-41.28660","longitude":"174.77560",)"
            R"("timezone":"Pacific/Auckland","asn":64500,)"
            R"("asOrganization":"Loopback \"Test\" Networks"})");
  // No AS data for ::1: the network group is left out (request.cf keeps the placeholder's).
  EXPECT_EQ(look(**g, "::1"),
            R"({"country":"DE","isEUCountry":"1","continent":"EU","city":"Berlin",)"
            R"("region":"Land Berlin","regionCode":"BE","metroCode":null,"postalCode":"10117",)"
            R"("latitude":"52.52000","longitude":"13.40500","timezone":"Europe/Berlin"})");
  std::string sf = look(**g, "192.0.2.200");
  EXPECT_NE(sf.find(R"("metroCode":"807")"), std::string::npos) << sf;
  EXPECT_NE(sf.find(R"("asn":64501,"asOrganization":"Example Transit")"), std::string::npos);
  EXPECT_EQ(look(**g, "203.0.113.1"),
            R"({"country":"AU","isEUCountry":null,"continent":null,"city":null,"region":null,)"
            R"("regionCode":null,"metroCode":null,"postalCode":null,"latitude":null,)"
            R"("longitude":null,"timezone":null})");
  // Not in the database: nothing (the placeholder stays).
  EXPECT_EQ(look(**g, "10.0.0.1"), "");
  EXPECT_EQ(look(**g, "2001:db8::1"), "");
  EXPECT_EQ(look(**g, "192.0.3.1"), "");
}

TEST_F(GeoIpTest, AsnDatabaseAddsToCity) {
  auto g = GeoIp::open({path("geo.mmdb"), path("asn.mmdb")});
  ASSERT_TRUE(g.ok()) << g.error().message;
  std::string au = look(**g, "203.0.113.1");
  EXPECT_EQ(au.rfind(R"({"country":"AU",)", 0), 0u) << au;
  EXPECT_NE(au.find(R"("asn":64502,"asOrganization":"Documentation AS"})"), std::string::npos)
      << au;
  // The first database's AS wins where both have one.
  EXPECT_NE(look(**g, "127.0.0.1").find(R"("asn":64500)"), std::string::npos);
  auto only = GeoIp::open({path("asn.mmdb")});
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(look(**only, "203.0.113.1"), R"({"asn":64502,"asOrganization":"Documentation AS"})");
  EXPECT_EQ(look(**only, "127.0.0.1"), "");
}

TEST_F(GeoIpTest, MissingOrCorruptFileIsAnError) {
  auto missing = GeoIp::open({path("nope.mmdb")});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope.mmdb"), std::string::npos);
  {
    std::ofstream bad(path("bad.mmdb"), std::ios::binary);
    bad << "this is not a MaxMind database";
  }
  auto corrupt = GeoIp::open({path("bad.mmdb")});
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.error().message.find("bad.mmdb"), std::string::npos) << corrupt.error().message;
  // A good file cut short: its metadata is gone.
  {
    std::ifstream in(path("geo.mmdb"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream cut(path("cut.mmdb"), std::ios::binary);
    cut << bytes.substr(0, bytes.size() / 2);
  }
  EXPECT_FALSE(GeoIp::open({path("cut.mmdb")}).ok());
  EXPECT_FALSE(GeoIp::open({path("geo.mmdb"), path("bad.mmdb")}).ok());
  auto dir = GeoIp::open({*dir_});
  EXPECT_FALSE(dir.ok());
}

// A database damaged after its metadata was checked (flipped bytes in the tree and data) gives
// no record or fewer fields, never a crash.
TEST_F(GeoIpTest, DamagedDatabaseDoesNotCrash) {
  std::ifstream in(path("geo.mmdb"), std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), {});
  const std::size_t body = good.find("\xab\xcd\xefMaxMind.com");
  ASSERT_NE(body, std::string::npos);
  std::uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  int opened = 0;
  for (int round = 0; round < 300; ++round) {
    std::string bytes = good;
    for (int k = 0; k < 8; ++k) bytes[next() % body] = static_cast<char>(next() >> 24);
    {
      std::ofstream out(path("damaged.mmdb"), std::ios::binary | std::ios::trunc);
      out << bytes;
    }
    auto g = GeoIp::open({path("damaged.mmdb")});
    if (!g) continue;
    ++opened;
    for (const char* a :
         {"127.0.0.1", "::1", "192.0.2.1", "203.0.113.1", "10.0.0.1", "2001:db8::"}) {
      std::string json = look(**g, a);
      EXPECT_TRUE(json.empty() || (json.front() == '{' && json.back() == '}')) << json;
    }
  }
  EXPECT_GT(opened, 0);
}

}  // namespace
}  // namespace partyd::net
