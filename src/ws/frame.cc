// The WebSocket frame codec: see frame.h. Encoding first, then masking, then FrameParser.
#include "ws/frame.h"

#include <cstring>

namespace partyd::ws {

namespace {

constexpr std::uint8_t kFinBit = 0x80;
constexpr std::uint8_t kRsvBits = 0x70;
constexpr std::uint8_t kOpcodeBits = 0x0F;
constexpr std::uint8_t kMaskBit = 0x80;
constexpr std::uint8_t kLen7Bits = 0x7F;
constexpr std::uint8_t kLen16 = 126;
constexpr std::uint8_t kLen64 = 127;

constexpr std::uint16_t kCloseNoStatus = 1005;
constexpr std::uint16_t kCloseProtocolError = 1002;
constexpr std::uint16_t kCloseInvalidPayload = 1007;
constexpr std::uint16_t kCloseTooBig = 1009;

bool isControl(std::uint8_t op) {
  return (op & 0x08) != 0;
}

bool isKnownOpcode(std::uint8_t op) {
  switch (static_cast<Opcode>(op)) {
    case Opcode::kContinuation:
    case Opcode::kText:
    case Opcode::kBinary:
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong:
      return true;
  }
  return false;
}

// Writes the header of an unmasked frame, with the mask bit left for the caller to set.
std::size_t writeHeader(std::uint8_t* buf, Opcode op, Fin fin, std::uint64_t len) {
  buf[0] =
      static_cast<std::uint8_t>((fin == Fin::kYes ? kFinBit : 0) | static_cast<std::uint8_t>(op));
  if (len < kLen16) {
    buf[1] = static_cast<std::uint8_t>(len);
    return 2;
  }
  if (len <= 0xFFFF) {
    buf[1] = kLen16;
    buf[2] = static_cast<std::uint8_t>(len >> 8);
    buf[3] = static_cast<std::uint8_t>(len);
    return 4;
  }
  buf[1] = kLen64;
  for (int i = 0; i < 8; ++i) buf[2 + i] = static_cast<std::uint8_t>(len >> (56 - 8 * i));
  return 10;
}

}  // namespace

// ---- server frames ---------------------------------------------------------------------------

std::size_t frameHeaderSize(std::size_t payloadLen) {
  if (payloadLen < kLen16) return 2;
  if (payloadLen <= 0xFFFF) return 4;
  return 10;
}

std::size_t writeFrameHeader(std::uint8_t* buf, Opcode op, std::size_t payloadLen) {
  return writeHeader(buf, op, Fin::kYes, payloadLen);
}

void appendFrame(std::string& out, Opcode op, std::string_view payload) {
  std::uint8_t header[kMaxFrameHeaderSize];
  std::size_t n = writeHeader(header, op, Fin::kYes, payload.size());
  out.reserve(out.size() + n + payload.size());
  out.append(reinterpret_cast<const char*>(header), n);
  out.append(payload);
}

std::string closePayload(std::uint16_t code, std::string_view reason) {
  if (reason.size() > kMaxCloseReason) {
    // Back up over continuation bytes so the cut never splits a character.
    std::size_t cut = kMaxCloseReason;
    while (cut > 0 && (static_cast<std::uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string out;
  out.reserve(2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
  return out;
}

bool isValidCloseCode(std::uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

// ---- masking ---------------------------------------------------------------------------------

void applyMask(char* data, std::size_t len, std::array<std::uint8_t, 4> key) {
  // The key repeated over 8 bytes, in memory order, so a word XOR matches byte-by-byte masking
  // whatever the endianness.
  std::uint8_t key8[8];
  std::memcpy(key8, key.data(), 4);
  std::memcpy(key8 + 4, key.data(), 4);
  std::uint64_t mask;
  std::memcpy(&mask, key8, 8);
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= mask;
    std::memcpy(data + i, &w, 8);
  }
  // i is a multiple of 8 here, so the key phase restarts at 0.
  for (std::size_t k = 0; i < len; ++i, ++k) data[i] = static_cast<char>(data[i] ^ key[k & 3]);
}

void appendMaskedFrame(std::string& out, Opcode op, std::string_view payload,
                       std::array<std::uint8_t, 4> key, Fin fin) {
  std::uint8_t header[kMaxFrameHeaderSize];
  std::size_t n = writeHeader(header, op, fin, payload.size());
  header[1] |= kMaskBit;
  std::memcpy(header + n, key.data(), 4);
  n += 4;
  std::size_t start = out.size();
  out.reserve(start + n + payload.size());
  out.append(reinterpret_cast<const char*>(header), n);
  out.append(payload);
  applyMask(out.data() + start + n, payload.size(), key);
}

// ---- FrameParser -----------------------------------------------------------------------------

FrameParser::FrameParser(std::size_t maxMessageSize, From from)
    : maxMessageSize_(maxMessageSize), from_(from) {}

void FrameParser::feed(const char* data, std::size_t len) {
  if (state_ != State::kOpen) return;
  compact();
  input_.append(data, len);
}

void FrameParser::compact() {
  if (pos_ == 0) return;
  if (pos_ == input_.size()) {
    input_.clear();
  } else {
    input_.erase(0, pos_);
  }
  pos_ = 0;
}

void FrameParser::endMessage() {
  message_.clear();  // keeps its capacity for the next fragmented message; shrink() gives it back
  inMessage_ = false;
  messageReturned_ = false;
  utf8Checked_ = 0;
}

void FrameParser::releaseAll() {
  endMessage();
  std::string().swap(input_);
  std::string().swap(message_);
  pos_ = 0;
}

void FrameParser::shrink() {
  if (state_ != State::kOpen) {
    releaseAll();
    return;
  }
  if (messageReturned_) endMessage();
  compact();
  if (input_.empty())
    std::string().swap(input_);
  else
    input_.shrink_to_fit();
  if (message_.empty())
    std::string().swap(message_);
  else
    message_.shrink_to_fit();
  payload_ = {};
  closeReason_ = {};
}

FrameParser::Status FrameParser::fail(std::uint16_t code, std::string_view reason) {
  state_ = State::kFailed;
  errorCode_ = code;
  errorReason_ = reason;
  payload_ = {};
  closeReason_ = {};
  return Status::kError;
}

bool FrameParser::checkMessageUtf8(Fin fin) {
  std::size_t complete = 0;
  std::string_view rest(message_.data() + utf8Checked_, message_.size() - utf8Checked_);
  Utf8Status status = checkUtf8(rest, &complete);
  utf8Checked_ += complete;
  if (status == Utf8Status::kInvalid) return false;
  return fin == Fin::kNo || status == Utf8Status::kValid;
}

FrameParser::Status FrameParser::onClose(std::string_view payload) {
  if (payload.size() == 1) return fail(kCloseProtocolError, "close payload of 1 byte");
  std::uint16_t code = kCloseNoStatus;
  std::string_view reason;
  if (payload.size() >= 2) {
    code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                      static_cast<std::uint8_t>(payload[1]));
    if (!isValidCloseCode(code)) return fail(kCloseProtocolError, "invalid close code");
    reason = payload.substr(2);
    if (!isValidUtf8(reason)) return fail(kCloseInvalidPayload, "invalid UTF-8 in close reason");
  }
  state_ = State::kClosed;
  opcode_ = Opcode::kClose;
  payload_ = payload;
  closeCode_ = code;
  closeReason_ = reason;
  return Status::kClose;
}

FrameParser::Status FrameParser::next() {
  if (state_ == State::kFailed) {
    releaseAll();
    return Status::kError;
  }
  if (state_ == State::kClosed) {
    releaseAll();
    payload_ = {};
    closeReason_ = {};
    return Status::kNeedMore;
  }
  if (messageReturned_) endMessage();
  payload_ = {};
  closeReason_ = {};

  for (;;) {
    const std::size_t avail = input_.size() - pos_;
    const auto* p = reinterpret_cast<const std::uint8_t*>(input_.data() + pos_);
    if (avail < 2) break;

    // The first two bytes settle everything but the length, so most bad frames fail here,
    // before their payload arrives.
    const bool fin = (p[0] & kFinBit) != 0;
    const std::uint8_t op = p[0] & kOpcodeBits;
    if ((p[0] & kRsvBits) != 0) return fail(kCloseProtocolError, "reserved bits set");
    if (!isKnownOpcode(op)) return fail(kCloseProtocolError, "unknown opcode");
    const bool masked = (p[1] & kMaskBit) != 0;
    if (from_ == From::kClient && !masked) {
      return fail(kCloseProtocolError, "unmasked client frame");
    }
    if (from_ == From::kServer && masked) return fail(kCloseProtocolError, "masked frame from the server");
    const std::uint8_t len7 = p[1] & kLen7Bits;
    if (isControl(op)) {
      if (!fin) return fail(kCloseProtocolError, "fragmented control frame");
      if (len7 > kMaxControlPayload) return fail(kCloseProtocolError, "control frame too long");
    } else if (op == static_cast<std::uint8_t>(Opcode::kContinuation)) {
      if (!inMessage_) return fail(kCloseProtocolError, "continuation without a message");
    } else if (inMessage_) {
      return fail(kCloseProtocolError, "new message inside a fragmented one");
    }

    const std::size_t lenBytes = len7 == kLen16 ? 2 : len7 == kLen64 ? 8 : 0;
    if (avail < 2 + lenBytes) break;
    std::uint64_t len = len7;
    if (lenBytes != 0) {
      len = 0;
      for (std::size_t i = 0; i < lenBytes; ++i) len = (len << 8) | p[2 + i];
      if (len >> 63) return fail(kCloseProtocolError, "64-bit length with its top bit set");
    }
    // The size limit is checked from the header alone, so an oversized frame is refused before
    // any of its payload is buffered.
    if (!isControl(op)) {
      const std::uint64_t room = maxMessageSize_ - (inMessage_ ? message_.size() : 0);
      if (len > room) return fail(kCloseTooBig, "message too big");
    }

    const std::size_t headerLen = 2 + lenBytes + (masked ? 4 : 0);
    if (avail < headerLen || avail - headerLen < len) break;

    char* payload = input_.data() + pos_ + headerLen;
    const std::size_t n = static_cast<std::size_t>(len);
    if (masked) {
      std::array<std::uint8_t, 4> key;
      std::memcpy(key.data(), p + 2 + lenBytes, 4);
      applyMask(payload, n, key);
    }
    pos_ += headerLen + n;
    const std::string_view view(payload, n);

    switch (static_cast<Opcode>(op)) {
      case Opcode::kPing:
      case Opcode::kPong:
        opcode_ = static_cast<Opcode>(op);
        payload_ = view;
        return op == static_cast<std::uint8_t>(Opcode::kPing) ? Status::kPing : Status::kPong;
      case Opcode::kClose:
        return onClose(view);
      case Opcode::kText:
      case Opcode::kBinary:
        if (fin) {
          // The common case: a whole message in one frame, handed out in place.
          if (op == static_cast<std::uint8_t>(Opcode::kText) && !isValidUtf8(view)) {
            return fail(kCloseInvalidPayload, "invalid UTF-8 in text message");
          }
          opcode_ = static_cast<Opcode>(op);
          payload_ = view;
          return Status::kMessage;
        }
        inMessage_ = true;
        messageOpcode_ = static_cast<Opcode>(op);
        message_.assign(view);
        utf8Checked_ = 0;
        break;
      case Opcode::kContinuation:
        message_.append(view);
        break;
    }

    // A fragment was added to message_. Text is checked as it arrives, so bad UTF-8 fails
    // on the fragment that carries it rather than at the end of a long message.
    if (messageOpcode_ == Opcode::kText && !checkMessageUtf8(fin ? Fin::kYes : Fin::kNo)) {
      return fail(kCloseInvalidPayload, "invalid UTF-8 in text message");
    }
    if (fin) {
      opcode_ = messageOpcode_;
      payload_ = message_;
      messageReturned_ = true;
      return Status::kMessage;
    }
  }

  compact();
  return Status::kNeedMore;
}

}  // namespace partyd::ws
