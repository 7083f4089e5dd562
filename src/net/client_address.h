// The client's address of a request: the socket's peer, or, when the peer is a trusted proxy
// (`--trusted-proxy CIDR`), the right-most address of X-Forwarded-For that is not itself a
// trusted proxy. A client's own X-Forwarded-For is never believed: its peer is not trusted.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace partyd::net {

struct Cidr {
  boost::asio::ip::address network;  // IPv4, or IPv6 (never an IPv4-mapped one)
  unsigned prefix = 0;
};

// "10.0.0.0/8", "fd00::/8", or one address ("192.0.2.1", "::1"): its own /32 or /128.
Result<Cidr> parseCidr(std::string_view text);

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports) as IPv4.
boost::asio::ip::address unmapped(const boost::asio::ip::address& a);

class TrustedProxies {
 public:
  void add(const Cidr& cidr) { cidrs_.push_back(cidr); }
  bool empty() const { return cidrs_.empty(); }
  bool contains(const boost::asio::ip::address& a) const;

 private:
  std::vector<Cidr> cidrs_;
};

// `forwardedFor` holds the request's X-Forwarded-For field values in the order they came. An entry
// may carry a port ("192.0.2.1:4711", "[2001:db8::1]:80"). Walking from the right, trusted
// proxies are skipped; the first untrusted address is the client. An entry that is not an address
// ends the walk at the trusted address to its right; when every entry is trusted, the left-most is
// the client.
boost::asio::ip::address clientAddress(const boost::asio::ip::address& peer,
                                       const std::vector<std::string_view>& forwardedFor,
                                       const TrustedProxies& trusted);

}  // namespace partyd::net
