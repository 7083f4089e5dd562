// The server side of the WebSocket opening handshake: see handshake.h. SHA-1 comes from OpenSSL
// (libcrypto), base64 from base/.
#include "ws/handshake.h"

#include <openssl/evp.h>

#include <cstdint>
#include <optional>

#include "base/base64.h"

namespace partyd::ws {

namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t kSha1Size = 20;
constexpr std::size_t kClientKeySize = 24;  // base64 of 16 bytes
constexpr std::size_t kClientNonceSize = 16;

// tchar from RFC 9110 5.6.2.
bool isTokenChar(char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

// SHA-1 fetched once: EVP_sha1() makes OpenSSL 3 look its provider up again on every digest
// (a lock and a hash lookup per new connection).
const EVP_MD* sha1() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return md ? md : EVP_sha1();
}

}  // namespace

std::string acceptKey(std::string_view secWebSocketKey) {
  std::string input;
  input.reserve(secWebSocketKey.size() + kAcceptGuid.size());
  input.append(secWebSocketKey);
  input.append(kAcceptGuid);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digestLen = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digestLen, sha1(), nullptr) != 1 ||
      digestLen != kSha1Size) {
    return {};  // only if libcrypto itself is broken; the handshake then fails to match
  }
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), kSha1Size));
}

bool isValidClientKey(std::string_view key) {
  if (key.size() != kClientKeySize) return false;
  // base64Decode takes only canonical text, so this also rules out stray low bits.
  std::optional<std::string> nonce = base64Decode(key);
  return nonce && nonce->size() == kClientNonceSize;
}

std::string buildSwitchingProtocols(std::string_view acceptKey, std::string_view protocol) {
  std::string out;
  out.reserve(160 + protocol.size());
  out.append(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ");
  out.append(acceptKey);
  out.append("\r\n");
  if (isToken(protocol)) {
    out.append("Sec-WebSocket-Protocol: ");
    out.append(protocol);
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

}  // namespace partyd::ws
