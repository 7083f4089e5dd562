// parseJson5 reads JSON5 text, the superset of JSON that partykit.json, partykit.json5 and
// partykit.jsonc are all read as (comments, trailing commas, unquoted keys, single-quoted strings,
// hex numbers, Infinity and NaN), into a boost::json::value. It remembers where each value and key
// starts so that later schema checks can name the line and column of a bad field. It reads no
// files: callers pass the text and the name to print in errors.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"

namespace partyd::project {

// 1-based; columns count characters (UTF-8 code points), as editors do.
struct TextPosition {
  int line = 1;
  int column = 1;
};

// The position of byte `offset` in `text` (an offset past the end means the end).
TextPosition positionOf(std::string_view text, std::size_t offset);

struct Json5Document {
  boost::json::value root;
  // JSON Pointer (RFC 6901; "" is the root) → byte offset of the first character of that value.
  std::unordered_map<std::string, std::size_t> valueOffsets;
  // JSON Pointer of an object member → byte offset of its key.
  std::unordered_map<std::string, std::size_t> keyOffsets;
};

// Parses one JSON5 value (with surrounding whitespace and comments). Duplicate keys keep the last
// value, as JSON5.parse does. On failure the message reads "<displayName>:<line>:<col>: <what was
// expected, and what was found>".
Result<Json5Document> parseJson5(std::string_view text, std::string_view displayName);

// `base` + "/" + key, with "~" and "/" escaped as RFC 6901 says.
std::string jsonPointerAppend(std::string_view base, std::string_view key);

}  // namespace partyd::project
