// The smallest server-side WebSocket the floor servers need: the upgrade answer (RFC 6455 §4.2.2),
// parsing masked client frames in place, and server frame headers. Header-only, shared by
// epoll_echo.cc and epoll_broadcast.cc; no sockets here.
#pragma once

#include <openssl/evp.h>
#include <strings.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace partyd::floor {

inline std::string base64(const unsigned char* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < size; i += 3) {
    uint32_t v = data[i] << 16;
    if (i + 1 < size) v |= data[i + 1] << 8;
    if (i + 2 < size) v |= data[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < size ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// headerValue returns the value of header `name` in a request head, or an empty view.
inline std::string_view headerValue(std::string_view head, std::string_view name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (head.size() - pos > name.size() && head[pos + name.size()] == ':' &&
        strncasecmp(head.data() + pos, name.data(), name.size()) == 0) {
      size_t start = pos + name.size() + 1;
      size_t end = head.find("\r\n", start);
      std::string_view value = head.substr(start, end - start);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value;
    }
  }
  return {};
}

// upgradeResponse returns the 101 answer to a request carrying Sec-WebSocket-Key `key`.
inline std::string upgradeResponse(std::string_view key) {
  std::string input(key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         base64(digest, length) + "\r\n\r\n";
}

// appendFrame appends an unmasked final server frame.
inline void appendFrame(std::string& out, uint8_t opcode, std::string_view payload) {
  size_t n = payload.size();
  char header[10];
  size_t h = 0;
  header[h++] = static_cast<char>(0x80 | opcode);
  if (n < 126) {
    header[h++] = static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    header[h++] = 126;
    header[h++] = static_cast<char>(n >> 8);
    header[h++] = static_cast<char>(n);
  } else {
    header[h++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8)
      header[h++] = static_cast<char>(uint64_t{n} >> shift);
  }
  out.append(header, h);
  out.append(payload);
}

struct ClientFrame {
  uint8_t opcode = 0;
  bool fin = true;
  std::string_view payload;  // unmasked in place
  size_t frame_bytes = 0;
};

enum class Parse { kFrame, kNeedMore, kError };

// parseClientFrame parses (and unmasks in place) one client frame at the start of `buf`.
inline Parse parseClientFrame(char* buf, size_t size, ClientFrame& frame) {
  if (size < 2) return Parse::kNeedMore;
  auto* p = reinterpret_cast<unsigned char*>(buf);
  frame.fin = (p[0] & 0x80) != 0;
  frame.opcode = p[0] & 0x0F;
  if ((p[1] & 0x80) == 0) return Parse::kError;  // clients must mask
  uint64_t length = p[1] & 0x7F;
  size_t header = 2;
  if (length == 126) {
    if (size < 4) return Parse::kNeedMore;
    length = (uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (length == 127) {
    if (size < 10) return Parse::kNeedMore;
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | p[i];
    header = 10;
  }
  if (length > (1u << 26)) return Parse::kError;
  if (size < header + 4 + length) return Parse::kNeedMore;
  unsigned char mask[4];
  std::memcpy(mask, p + header, 4);
  unsigned char* data = p + header + 4;
  for (uint64_t i = 0; i < length; ++i) data[i] ^= mask[i & 3];
  frame.payload = std::string_view(reinterpret_cast<char*>(data), length);
  frame.frame_bytes = header + 4 + length;
  return Parse::kFrame;
}

}  // namespace partyd::floor
