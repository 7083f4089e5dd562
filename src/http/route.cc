// Party routes, and the query and percent-decoding helpers beside them. The decoding is
// Boost.URL's.
#include "http/route.h"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/pct_string_view.hpp>
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

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::string percentDecode(std::string_view s, Plus plus) {
  if (s.find_first_of(plus == Plus::kSpace ? "%+" : "%") == std::string_view::npos) {
    return std::string(s);
  }
  // Boost.URL decodes only valid escapes; a '%' without two hex digits after it stands for
  // itself (WHATWG's percent-decode), so it is escaped as "%25" first.
  std::string valid;
  valid.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    valid += s[i];
    if (s[i] == '%' && !(i + 2 < s.size() && isHex(s[i + 1]) && isHex(s[i + 2]))) valid += "25";
  }
  boost::urls::encoding_opts opts;
  opts.space_as_plus = plus == Plus::kSpace;
  auto pct = boost::urls::make_pct_string_view(valid);
  return pct ? pct->decode(opts) : std::string(s);
}

std::optional<std::string> queryParam(std::string_view target, std::string_view name) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    std::string key = percentDecode(pair.substr(0, eq), Plus::kSpace);
    if (key == name) {
      return eq == std::string_view::npos ? std::string()
                                          : percentDecode(pair.substr(eq + 1), Plus::kSpace);
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

}  // namespace partyd::http
