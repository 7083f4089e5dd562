// Client-side WebSocket codec for the load generator: the upgrade request and the check of its
// response, masked client frames, and a parser for (unmasked) server frames. Pure functions over
// byte buffers: sockets belong to WsConn and to the blocking echo client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace partyd::bench {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// makeKey returns a Sec-WebSocket-Key: the base64 of 16 bytes drawn from `seed`.
std::string makeKey(uint64_t seed);

// upgradeRequest returns the whole HTTP/1.1 upgrade request for `path` on `host`.
std::string upgradeRequest(std::string_view host, std::string_view path, std::string_view key);

enum class HandshakeStatus { kNeedMore, kOk, kFailed };

struct Handshake {
  HandshakeStatus status = HandshakeStatus::kNeedMore;
  size_t header_bytes = 0;  // when kOk: bytes of `buf` taken by the response head
  std::string error;        // when kFailed
};

// checkUpgradeResponse looks for a complete response head at the start of `buf` and checks that it
// is a 101 whose Sec-WebSocket-Accept matches `key`.
Handshake checkUpgradeResponse(std::string_view buf, std::string_view key);

// appendClientFrame appends one final frame carrying `payload`, masked with `mask`.
void appendClientFrame(std::string& out, Opcode opcode, std::string_view payload, uint32_t mask);

struct Frame {
  Opcode opcode = Opcode::kText;
  bool fin = true;
  std::string_view payload;  // points into the parsed buffer
  size_t frame_bytes = 0;    // header + payload
};

enum class ParseStatus { kFrame, kNeedMore, kError };

// parseServerFrame parses one frame at the start of `buf`. Server frames must not be masked.
ParseStatus parseServerFrame(std::string_view buf, Frame& frame, std::string& error);

// acceptKey returns the Sec-WebSocket-Accept value that answers `key` (RFC 6455 §4.2.2).
std::string acceptKey(std::string_view key);

std::string base64(const unsigned char* data, size_t size);

}  // namespace partyd::bench
