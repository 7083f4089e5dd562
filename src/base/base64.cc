// Base64 on EVP_EncodeBlock and EVP_DecodeBlock. Those take an int length and neither checks
// padding (EVP_DecodeBlock reads '=' as zero bits and skips leading whitespace), so the input is
// checked here first and long inputs go through in chunks.
#include "base/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>

namespace partyd {
namespace {

// Whole 3-byte groups and whole 4-character groups, far below INT_MAX.
constexpr std::size_t kEncodeChunk = 3 * 256 * 1024;
constexpr std::size_t kDecodeChunk = 4 * 256 * 1024;

// The 6-bit value of an alphabet character, or -1.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

const unsigned char* bytesOf(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  while (!bytes.empty()) {
    std::string_view chunk = bytes.substr(0, kEncodeChunk);
    bytes.remove_prefix(chunk.size());
    std::size_t at = out.size();
    // EVP_EncodeBlock writes a NUL after the text: room for it, then cut it off.
    out.resize(at + (chunk.size() + 2) / 3 * 4 + 1);
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at), bytesOf(chunk),
                            static_cast<int>(chunk.size()));
    out.resize(at + static_cast<std::size_t>(std::max(n, 0)));
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string_view data = text.substr(0, text.size() - padding);
  for (char c : data) {
    if (sextet(c) < 0) return std::nullopt;  // '=' before the padding lands here too
  }
  // One '=' leaves 2 bits of the last character unused, two leave 4: they must be zero.
  if (padding == 1 && (sextet(data.back()) & 0x3) != 0) return std::nullopt;
  if (padding == 2 && (sextet(data.back()) & 0xF) != 0) return std::nullopt;

  std::string out;
  out.reserve(text.size() / 4 * 3);
  while (!text.empty()) {
    std::string_view chunk = text.substr(0, kDecodeChunk);
    text.remove_prefix(chunk.size());
    std::size_t at = out.size();
    out.resize(at + chunk.size() / 4 * 3);
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + at), bytesOf(chunk),
                            static_cast<int>(chunk.size()));
    if (n < 0 || static_cast<std::size_t>(n) != chunk.size() / 4 * 3) return std::nullopt;
  }
  out.resize(out.size() - padding);  // EVP_DecodeBlock counts each '=' as a zero byte
  return out;
}

}  // namespace partyd
