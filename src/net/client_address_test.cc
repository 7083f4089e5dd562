#include "net/client_address.h"

#include <gtest/gtest.h>

#include <string>

namespace partyd::net {
namespace {

namespace ip = boost::asio::ip;

ip::address addr(const char* s) {
  return ip::make_address(s);
}

TrustedProxies proxies(std::initializer_list<const char*> cidrs) {
  TrustedProxies t;
  for (const char* c : cidrs) {
    auto r = parseCidr(c);
    EXPECT_TRUE(r.ok()) << c;
    if (r) t.add(*r);
  }
  return t;
}

TEST(ParseCidr, RangesAndSingleAddresses) {
  auto a = parseCidr("10.0.0.0/8");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->network, addr("10.0.0.0"));
  EXPECT_EQ(a->prefix, 8u);
  auto b = parseCidr(" fd00::/8 ");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->network.is_v6());
  EXPECT_EQ(b->prefix, 8u);
  auto c = parseCidr("192.0.2.1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->prefix, 32u);
  auto d = parseCidr("::1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->prefix, 128u);
  auto e = parseCidr("::ffff:10.0.0.0/8");  // mapped: taken as IPv4
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->network.is_v4());
}

TEST(ParseCidr, BadInputIsAnError) {
  for (const char* bad : {"", "/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x",
                          "10.0.0.0/8/8", "example.com", "10.0.0.0/-1", "300.1.1.1"}) {
    auto r = parseCidr(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
    }
  }
}

TEST(TrustedProxies, MatchesByPrefix) {
  auto t = proxies({"10.0.0.0/8", "192.168.1.128/25", "fd00::/8", "2001:db8::1"});
  EXPECT_TRUE(t.contains(addr("10.255.1.2")));
  EXPECT_FALSE(t.contains(addr("11.0.0.1")));
  EXPECT_TRUE(t.contains(addr("192.168.1.200")));
  EXPECT_FALSE(t.contains(addr("192.168.1.127")));
  EXPECT_TRUE(t.contains(addr("fdab::5")));
  EXPECT_FALSE(t.contains(addr("fe80::1")));
  EXPECT_TRUE(t.contains(addr("2001:db8::1")));
  EXPECT_FALSE(t.contains(addr("2001:db8::2")));
  EXPECT_TRUE(t.contains(addr("::ffff:10.1.2.3")));  // a dual-stack socket's IPv4 peer
  EXPECT_FALSE(t.contains(addr("::a01:203")));       // not mapped: IPv6, not 10.1.2.3
  EXPECT_TRUE(proxies({"0.0.0.0/0"}).contains(addr("8.8.8.8")));
  EXPECT_FALSE(proxies({"0.0.0.0/0"}).contains(addr("::1")));
  EXPECT_TRUE(proxies({"::/0"}).contains(addr("::1")));
  EXPECT_FALSE(TrustedProxies().contains(addr("127.0.0.1")));
}

TEST(ClientAddress, UntrustedPeerIgnoresForwardedFor) {
  TrustedProxies none;
  EXPECT_EQ(clientAddress(addr("203.0.113.9"), {"192.0.2.1"}, none), addr("203.0.113.9"));
  auto t = proxies({"10.0.0.0/8"});
  EXPECT_EQ(clientAddress(addr("203.0.113.9"), {"192.0.2.1"}, t), addr("203.0.113.9"));
  EXPECT_EQ(clientAddress(addr("::ffff:203.0.113.9"), {}, t), addr("203.0.113.9"));
}

TEST(ClientAddress, TrustedPeerTakesRightMostUntrusted) {
  auto t = proxies({"10.0.0.0/8", "fd00::/8"});
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {}, t), addr("10.0.0.1"));
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"192.0.2.1"}, t), addr("192.0.2.1"));
  // The client's forged entries are on the left; the proxies appended the rest.
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"6.6.6.6, 192.0.2.1, 10.0.0.7"}, t),
            addr("192.0.2.1"));
  // Several fields are one list, in order.
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"6.6.6.6, 192.0.2.1", "10.0.0.7"}, t),
            addr("192.0.2.1"));
  EXPECT_EQ(clientAddress(addr("fd00::1"), {"2001:db8::5, fd00::2"}, t), addr("2001:db8::5"));
  // Ports and brackets.
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"192.0.2.1:4711"}, t), addr("192.0.2.1"));
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"[2001:db8::5]:80"}, t), addr("2001:db8::5"));
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"[2001:db8::6]"}, t), addr("2001:db8::6"));
  // Every entry trusted: the left-most.
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"10.0.0.3, 10.0.0.2"}, t), addr("10.0.0.3"));
  // Empty entries are skipped.
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {" , 192.0.2.1 ,, "}, t), addr("192.0.2.1"));
}

TEST(ClientAddress, GarbageEndsTheWalk) {
  auto t = proxies({"10.0.0.0/8"});
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"unknown"}, t), addr("10.0.0.1"));
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"192.0.2.1, garbage, 10.0.0.2"}, t), addr("10.0.0.2"));
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {"[::1"}, t), addr("10.0.0.1"));
  EXPECT_EQ(clientAddress(addr("10.0.0.1"), {std::string(5000, 'x')}, t), addr("10.0.0.1"));
}

}  // namespace
}  // namespace partyd::net
