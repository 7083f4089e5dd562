// Routing of party URLs, as PartyKit's facade does it: `/party/<room>[/...]` is the main party,
// `/parties/<party>/<room>[/...]` any party. The room is the raw path segment, not decoded; the
// query plays no part. An empty room is not a party URL (it falls through to assets / onFetch).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace partyd::http {

struct PartyRoute {
  std::string party;
  std::string room;
};

// `target` is the request target (path and query); the query is ignored.
std::optional<PartyRoute> routeParty(std::string_view target);

// The path of a request target, without query or fragment.
std::string_view pathOf(std::string_view target);
// The value of query parameter `name` (percent-decoded, '+' as space), if present.
std::optional<std::string> queryParam(std::string_view target, std::string_view name);

// What '+' means: itself in a path, a space in a query (application/x-www-form-urlencoded).
enum class Plus { kPlus, kSpace };
// Undoes %XX escapes. As in WHATWG's percent-decode, this never fails: a '%' that is not followed
// by two hex digits is kept as it is. The result may hold any byte ("%00", "%2F", "%FF").
std::string percentDecode(std::string_view s, Plus plus = Plus::kPlus);

}  // namespace partyd::http
