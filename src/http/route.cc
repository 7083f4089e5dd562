#include "http/route.h"

#include <vector>

namespace partyd::http {

std::string_view pathOf(std::string_view target) {
  std::size_t end = target.find_first_of("?#");
  return end == std::string_view::npos ? target : target.substr(0, end);
}

std::optional<PartyRoute> routeParty(std::string_view target) {
  std::string_view path = pathOf(target);
  // Split like JS's path.split("/"): segment 0 is the empty string before the leading slash.
  std::vector<std::string_view> seg;
  std::size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      seg.push_back(path.substr(start));
      break;
    }
    seg.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  if (seg.size() < 3 || !seg[0].empty()) return std::nullopt;
  if (seg[1] == "party") {
    if (seg[2].empty()) return std::nullopt;
    return PartyRoute{"main", std::string(seg[2])};
  }
  if (seg[1] == "parties") {
    if (seg.size() < 4 || seg[2].empty() || seg[3].empty()) return std::nullopt;
    return PartyRoute{std::string(seg[2]), std::string(seg[3])};
  }
  return std::nullopt;
}

namespace {
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
std::string formDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> queryParam(std::string_view target, std::string_view name) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    std::string key = formDecode(pair.substr(0, eq));
    if (key == name) {
      return eq == std::string_view::npos ? std::string() : formDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

}  // namespace partyd::http
