// UTF-8 validation: see utf8.h. One scalar decoder, with an 8-byte ASCII fast path in front of it,
// since chat and JSON traffic is mostly ASCII.
#include "ws/utf8.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace partyd::ws {

namespace {

constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

// Number of leading ASCII bytes in the 8-byte word at p, or 8 if all are ASCII.
inline std::size_t asciiRun(const unsigned char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  std::uint64_t high = w & kHighBits;
  if (high == 0) return 8;
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<std::size_t>(std::countr_zero(high)) / 8;
  } else {
    return static_cast<std::size_t>(std::countl_zero(high)) / 8;
  }
}

inline bool inRange(unsigned char c, unsigned char lo, unsigned char hi) {
  return c >= lo && c <= hi;
}

}  // namespace

Utf8Status checkUtf8(std::string_view s, std::size_t* completeLen) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path: skip whole words, then the ASCII head of the word that stopped us.
    while (i + 8 <= n) {
      std::size_t run = asciiRun(p + i);
      i += run;
      if (run < 8) break;
    }
    if (i >= n) break;
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Table 3-7: the lead byte fixes the length and the range of the second byte; the rest are
    // plain continuation bytes 80..BF.
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (inRange(c, 0xC2, 0xDF)) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;  // excludes overlong 3-byte forms
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;  // excludes surrogates U+D800..U+DFFF
    } else if (inRange(c, 0xE1, 0xEF)) {
      len = 3;
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;  // excludes overlong 4-byte forms
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;  // excludes code points past U+10FFFF
    } else if (inRange(c, 0xF1, 0xF3)) {
      len = 4;
    } else {
      // 80..BF (stray continuation), C0/C1 (overlong 2-byte), F5..FF (never valid).
      *completeLen = i;
      return Utf8Status::kInvalid;
    }
    std::size_t have = n - i < len ? n - i : len;
    for (std::size_t k = 1; k < have; ++k) {
      unsigned char b = p[i + k];
      bool ok = k == 1 ? inRange(b, lo, hi) : inRange(b, 0x80, 0xBF);
      if (!ok) {
        *completeLen = i;
        return Utf8Status::kInvalid;
      }
    }
    if (have < len) {
      *completeLen = i;
      return Utf8Status::kIncomplete;
    }
    i += len;
  }
  *completeLen = n;
  return Utf8Status::kValid;
}

bool isValidUtf8(std::string_view s) {
  std::size_t complete;
  return checkUtf8(s, &complete) == Utf8Status::kValid;
}

}  // namespace partyd::ws
