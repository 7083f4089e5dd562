#include "net/client_address.h"

#include <charconv>
#include <string>

namespace partyd::net {

namespace ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parseAddress(std::string_view text, ip::address& out) {
  boost::system::error_code ec;
  ip::address a = ip::make_address(std::string(text), ec);
  if (ec) return false;
  out = unmapped(a);
  return true;
}

// One X-Forwarded-For entry: an address, "[v6]", "[v6]:port" or "v4:port".
bool parseForwarded(std::string_view e, ip::address& out) {
  if (!e.empty() && e.front() == '[') {
    std::size_t close = e.find(']');
    if (close == std::string_view::npos) return false;
    return parseAddress(e.substr(1, close - 1), out);
  }
  std::size_t colon = e.find(':');
  if (colon != std::string_view::npos && e.find(':', colon + 1) == std::string_view::npos) {
    e = e.substr(0, colon);  // IPv4 with a port
  }
  return parseAddress(e, out);
}

bool prefixMatches(const unsigned char* a, const unsigned char* b, unsigned bits) {
  unsigned full = bits / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (a[i] != b[i]) return false;
  }
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

ip::address unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  return a;
}

Result<Cidr> parseCidr(std::string_view text) {
  std::string_view t = trim(text);
  std::size_t slash = t.find('/');
  Cidr c;
  if (!parseAddress(t.substr(0, slash), c.network)) {
    return makeError("not an IP address or CIDR range: \"" + std::string(text) + "\"");
  }
  const unsigned max = c.network.is_v4() ? 32 : 128;
  c.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = t.substr(slash + 1);
    unsigned prefix = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix > max) {
      return makeError("bad prefix length in \"" + std::string(text) + "\" (0 to " +
                       std::to_string(max) + ")");
    }
    c.prefix = prefix;
  }
  return c;
}

bool TrustedProxies::contains(const ip::address& addr) const {
  ip::address a = unmapped(addr);
  for (const Cidr& c : cidrs_) {
    if (a.is_v4() && c.network.is_v4()) {
      auto x = a.to_v4().to_bytes();
      auto y = c.network.to_v4().to_bytes();
      if (prefixMatches(x.data(), y.data(), c.prefix)) return true;
    } else if (a.is_v6() && c.network.is_v6()) {
      auto x = a.to_v6().to_bytes();
      auto y = c.network.to_v6().to_bytes();
      if (prefixMatches(x.data(), y.data(), c.prefix)) return true;
    }
  }
  return false;
}

ip::address clientAddress(const ip::address& peer,
                          const std::vector<std::string_view>& forwardedFor,
                          const TrustedProxies& trusted) {
  ip::address client = unmapped(peer);
  if (!trusted.contains(client)) return client;
  for (auto field = forwardedFor.rbegin(); field != forwardedFor.rend(); ++field) {
    std::string_view rest = *field;
    while (true) {
      std::size_t comma = rest.rfind(',');
      std::string_view entry =
          trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      if (!entry.empty()) {
        ip::address a;
        if (!parseForwarded(entry, a)) return client;
        client = a;
        if (!trusted.contains(a)) return client;
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(0, comma);
    }
  }
  return client;
}

}  // namespace partyd::net
