// ASCII case folding for protocol text: HTTP header names, URL schemes and hosts, tokens. Only
// 'A'..'Z' change; other bytes (UTF-8 included) compare as they are, and the locale plays no part.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace partyd {

constexpr char asciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

// True when a and b are equal up to ASCII case.
constexpr bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return asciiLower(x) == asciiLower(y);
         });
}

}  // namespace partyd
