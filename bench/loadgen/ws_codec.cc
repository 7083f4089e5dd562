#include "ws_codec.h"

#include <openssl/evp.h>
#include <strings.h>

#include <cstring>

namespace partyd::bench {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// headerValue finds "name:" in a response head (case-insensitively, at a line start) and returns
// its trimmed value, or an empty view.
std::string_view headerValue(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      return value;
    }
    pos = end;
  }
  return {};
}

}  // namespace

std::string base64(const unsigned char* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < size; i += 3) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == size) {
    uint32_t v = data[i] << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == size) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string makeKey(uint64_t seed) {
  unsigned char bytes[16];
  uint64_t a = splitmix(seed);
  uint64_t b = splitmix(seed);
  std::memcpy(bytes, &a, 8);
  std::memcpy(bytes + 8, &b, 8);
  return base64(bytes, sizeof bytes);
}

std::string acceptKey(std::string_view key) {
  std::string input(key);
  input += kGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
  return base64(digest, length);
}

std::string upgradeRequest(std::string_view host, std::string_view path, std::string_view key) {
  std::string request;
  request.reserve(256);
  request += "GET ";
  request += path;
  request += " HTTP/1.1\r\nHost: ";
  request += host;
  request +=
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: ";
  request += key;
  request += "\r\n\r\n";
  return request;
}

Handshake checkUpgradeResponse(std::string_view buf, std::string_view key) {
  Handshake result;
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > 16384) {
      result.status = HandshakeStatus::kFailed;
      result.error = "upgrade response head longer than 16 KiB";
    }
    return result;
  }
  std::string_view head = buf.substr(0, end + 2);
  if (head.substr(0, 12) != "HTTP/1.1 101") {
    result.status = HandshakeStatus::kFailed;
    result.error = "upgrade refused: " + std::string(head.substr(0, head.find("\r\n")));
    return result;
  }
  std::string_view accept = headerValue(head, "Sec-WebSocket-Accept");
  if (accept != acceptKey(key)) {
    result.status = HandshakeStatus::kFailed;
    result.error = "bad Sec-WebSocket-Accept: '" + std::string(accept) + "'";
    return result;
  }
  result.status = HandshakeStatus::kOk;
  result.header_bytes = end + 4;
  return result;
}

void appendClientFrame(std::string& out, Opcode opcode, std::string_view payload, uint32_t mask) {
  size_t n = payload.size();
  size_t at = out.size();
  size_t header = n < 126 ? 6 : n <= 0xFFFF ? 8 : 14;
  out.resize(at + header + n);
  unsigned char* p = reinterpret_cast<unsigned char*>(out.data() + at);
  *p++ = 0x80 | static_cast<uint8_t>(opcode);
  if (n < 126) {
    *p++ = 0x80 | static_cast<uint8_t>(n);
  } else if (n <= 0xFFFF) {
    *p++ = 0x80 | 126;
    *p++ = static_cast<uint8_t>(n >> 8);
    *p++ = static_cast<uint8_t>(n);
  } else {
    *p++ = 0x80 | 127;
    for (int shift = 56; shift >= 0; shift -= 8) *p++ = static_cast<uint8_t>(uint64_t{n} >> shift);
  }
  std::memcpy(p, &mask, 4);
  unsigned char key[4];
  std::memcpy(key, &mask, 4);
  p += 4;
  const unsigned char* src = reinterpret_cast<const unsigned char*>(payload.data());
  uint64_t wide = uint64_t{mask} | (uint64_t{mask} << 32);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, src + i, 8);
    chunk ^= wide;
    std::memcpy(p + i, &chunk, 8);
  }
  for (; i < n; ++i) p[i] = src[i] ^ key[i & 3];
}

ParseStatus parseServerFrame(std::string_view buf, Frame& frame, std::string& error) {
  if (buf.size() < 2) return ParseStatus::kNeedMore;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(buf.data());
  frame.fin = (p[0] & 0x80) != 0;
  frame.opcode = static_cast<Opcode>(p[0] & 0x0F);
  if (p[0] & 0x70) {
    error = "server frame has RSV bits set";
    return ParseStatus::kError;
  }
  if (p[1] & 0x80) {
    error = "server frame is masked";
    return ParseStatus::kError;
  }
  uint64_t length = p[1] & 0x7F;
  size_t header = 2;
  if (length == 126) {
    if (buf.size() < 4) return ParseStatus::kNeedMore;
    length = (uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (length == 127) {
    if (buf.size() < 10) return ParseStatus::kNeedMore;
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | p[i];
    header = 10;
  }
  if (length > (uint64_t{1} << 30)) {
    error = "server frame larger than 1 GiB";
    return ParseStatus::kError;
  }
  if (buf.size() < header + length) return ParseStatus::kNeedMore;
  frame.payload = buf.substr(header, length);
  frame.frame_bytes = header + length;
  return ParseStatus::kFrame;
}

}  // namespace partyd::bench
