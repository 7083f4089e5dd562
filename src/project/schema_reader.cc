// Type checks with located, named errors for the config reader.
#include "project/schema_reader.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cctype>
#include <cstdint>
#include <cstdlib>

namespace partyd::project {
namespace {

std::vector<std::string> splitPointer(const std::string& pointer) {
  std::vector<std::string> segments;
  if (pointer.empty()) return segments;
  std::string current;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      segments.push_back(current);
      current.clear();
    } else if (pointer[i] == '~' && i + 1 < pointer.size()) {
      current += pointer[i + 1] == '1' ? '/' : '~';
      ++i;
    } else {
      current += pointer[i];
    }
  }
  return segments;
}

bool isPlainName(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$';
  });
}

// Optimal string alignment distance (edits plus swaps of neighbours), ignoring case: "mian" is one
// step from "main".
std::size_t editDistance(std::string_view a, std::string_view b) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

SchemaReader::SchemaReader(const Json5Document& doc, std::string_view text, std::string displayName,
                           std::string basePointer)
    : doc_(doc),
      text_(text),
      displayName_(std::move(displayName)),
      basePointer_(std::move(basePointer)) {}

std::string SchemaReader::fieldName(const std::string& pointer) const {
  std::vector<std::string> segments = splitPointer(pointer);
  std::size_t skip = splitPointer(basePointer_).size();
  const boost::json::value* at = &doc_.root;
  std::string name;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& s = segments[i];
    bool inArray = at != nullptr && at->is_array();
    if (i >= skip) {
      if (inArray) {
        name += "[" + s + "]";
      } else if (isPlainName(s)) {
        name += (name.empty() ? "" : ".") + s;
      } else {
        name += "[\"" + s + "\"]";
      }
    }
    if (at == nullptr) continue;
    if (inArray) {
      std::size_t index = std::strtoul(s.c_str(), nullptr, 10);
      at = index < at->as_array().size() ? &at->as_array()[index] : nullptr;
    } else if (at->is_object()) {
      at = at->as_object().if_contains(s);
    } else {
      at = nullptr;
    }
  }
  return name;
}

std::string SchemaReader::describe(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return value.get_bool() ? "a boolean (true)" : "a boolean (false)";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "a number (" + boost::json::serialize(value) + ")";
    case boost::json::kind::string: {
      std::string s = boost::json::serialize(value);
      if (s.size() > 40) s = s.substr(0, 36) + "...\"";
      return "a string (" + s + ")";
    }
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::object:
      return "an object";
  }
  return "a value";
}

std::size_t SchemaReader::offsetOf(const std::string& pointer, bool atKey) const {
  if (atKey) {
    auto it = doc_.keyOffsets.find(pointer);
    if (it != doc_.keyOffsets.end()) return it->second;
  }
  auto it = doc_.valueOffsets.find(pointer);
  return it != doc_.valueOffsets.end() ? it->second : SIZE_MAX;
}

std::string SchemaReader::position(const std::string& pointer, bool atKey) const {
  std::size_t offset = offsetOf(pointer, atKey);
  if (offset == SIZE_MAX) return displayName_ + ": ";
  TextPosition p = positionOf(text_, offset);
  return displayName_ + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": ";
}

std::string SchemaReader::locate(const std::string& pointer, bool atKey) const {
  std::string field = fieldName(pointer);
  return field.empty() ? position(pointer, atKey) : position(pointer, atKey) + field + ": ";
}

void SchemaReader::addError(const std::string& pointer, bool atKey, std::string message) {
  errors_.emplace_back(offsetOf(pointer, atKey), std::move(message));
}

void SchemaReader::error(const std::string& pointer, std::string_view message) {
  addError(pointer, false, locate(pointer, false) + std::string(message));
}

void SchemaReader::errorAtKey(const std::string& pointer, std::string_view message) {
  addError(pointer, true, locate(pointer, true) + std::string(message));
}

void SchemaReader::warning(const std::string& pointer, std::string_view message) {
  warnings_.push_back(locate(pointer, true) + std::string(message));
}

Error SchemaReader::takeError() const {
  std::vector<std::pair<std::size_t, std::string>> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string message;
  for (const auto& [offset, text] : sorted) {
    if (!message.empty()) message += '\n';
    message += text;
  }
  return makeError(message);
}

void SchemaReader::typeError(const boost::json::value& value, const std::string& pointer,
                             std::string_view expected) {
  error(pointer, "expected " + std::string(expected) + ", got " + describe(value));
}

const boost::json::object* SchemaReader::object(const boost::json::value& value,
                                                const std::string& pointer) {
  if (value.is_object()) return &value.get_object();
  typeError(value, pointer, "an object");
  return nullptr;
}

std::optional<std::string> SchemaReader::string(const boost::json::value& value,
                                                const std::string& pointer) {
  if (value.is_string()) return std::string(value.get_string());
  typeError(value, pointer, "a string");
  return std::nullopt;
}

std::optional<bool> SchemaReader::boolean(const boost::json::value& value,
                                          const std::string& pointer) {
  if (value.is_bool()) return value.get_bool();
  typeError(value, pointer, "true or false");
  return std::nullopt;
}

std::optional<double> SchemaReader::number(const boost::json::value& value,
                                           const std::string& pointer) {
  if (value.is_number()) return value.to_number<double>();
  typeError(value, pointer, "a number");
  return std::nullopt;
}

std::optional<std::vector<std::string>> SchemaReader::strings(const boost::json::value& value,
                                                              const std::string& pointer,
                                                              bool allowSingle) {
  if (allowSingle && value.is_string()) {
    return std::vector<std::string>{std::string(value.get_string())};
  }
  if (!value.is_array()) {
    typeError(value, pointer,
              allowSingle ? "a string or an array of strings" : "an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool good = true;
  const boost::json::array& array = value.get_array();
  for (std::size_t i = 0; i < array.size(); ++i) {
    auto s = string(array[i], jsonPointerAppend(pointer, std::to_string(i)));
    if (s) {
      out.push_back(std::move(*s));
    } else {
      good = false;
    }
  }
  if (!good) return std::nullopt;
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> SchemaReader::stringMap(
    const boost::json::value& value, const std::string& pointer) {
  if (!value.is_object()) {
    typeError(value, pointer, "an object of names to strings");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  bool good = true;
  for (const auto& member : value.get_object()) {
    std::string key(member.key());
    auto s = string(member.value(), jsonPointerAppend(pointer, key));
    if (s) {
      out.emplace_back(std::move(key), std::move(*s));
    } else {
      good = false;
    }
  }
  if (!good) return std::nullopt;
  return out;
}

void SchemaReader::checkKeys(const boost::json::object& object, const std::string& pointer,
                             std::initializer_list<std::string_view> known, UnknownKeys unknown) {
  for (const auto& member : object) {
    std::string_view key = member.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string child = jsonPointerAppend(pointer, key);
    std::string_view best;
    std::size_t bestDistance = 3;
    for (std::string_view k : known) {
      std::size_t d = editDistance(key, k);
      if (d < bestDistance && d <= std::max<std::size_t>(1, k.size() / 3)) {
        best = k;
        bestDistance = d;
      }
    }
    std::string where = fieldName(pointer);
    std::string message = "unknown field \"" + std::string(key) + "\"";
    if (!where.empty()) message += " in " + where;
    if (!best.empty()) {
      message += " (did you mean \"" + std::string(best) + "\"?)";
    } else {
      message += " (expected one of:";
      for (std::string_view k : known) message += " " + std::string(k);
      message += ")";
    }
    std::string at = position(child, true);
    if (unknown == UnknownKeys::kError) {
      addError(child, true, at + message);
    } else {
      warnings_.push_back(at + "ignoring " + message);
    }
  }
}

}  // namespace partyd::project
