// libFuzzer target for the WebSocket codec (src/ws/frame.h, src/ws/utf8.h). It owns nothing but
// its checks. Built twice (fuzz/CMakeLists.txt): ws_frame_fuzz parses client frames (masked), as
// partyd's server does; ws_server_frame_fuzz, with PARTYD_FUZZ_FRAMES_FROM_SERVER, parses server
// frames (unmasked), as partyd's outgoing WebSocket client does. Each input is either raw wire
// bytes or, when its first byte is odd, a list of frame specs encoded into a well-formed-looking
// stream (masked or not, to suit the mode), which reaches fragmentation and long frames much
// sooner. Either way the stream is parsed three ways and compared:
//   - FrameParser fed in random-sized chunks,
//   - FrameParser fed the whole stream at once,
//   - referenceParse below: a slow whole-buffer parser written independently from frame.cc,
//     decoding UTF-8 by code point instead of by Table 3-7.
// All three must report the same events with the same codes, and every event must keep the
// documented invariants (sizes, UTF-8, close codes, sticky errors, bounded buffering).
//
// Build and run: `make fuzz` (fuzz/run.sh), or by hand as fuzz/CMakeLists.txt shows.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ws/frame.h"
#include "ws/utf8.h"

namespace {

using partyd::ws::FrameParser;
using partyd::ws::Opcode;
using Status = FrameParser::Status;

#if defined(PARTYD_FUZZ_FRAMES_FROM_SERVER)
constexpr FrameParser::From kFrom = FrameParser::From::kServer;
#else
constexpr FrameParser::From kFrom = FrameParser::From::kClient;
#endif
// Client frames must be masked, server frames must not be (RFC 6455 5.1).
constexpr bool kMasked = kFrom == FrameParser::From::kClient;
constexpr std::size_t kKeyLen = kMasked ? 4 : 0;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

struct Event {
  Status status;
  int opcode = -1;
  std::string payload;
  int code = 0;
  std::string reason;  // close reason; error reasons are not compared

  bool operator==(const Event&) const = default;
};

// Deterministic chunk sizes from a seed taken from the input.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

// ---- reference parser ------------------------------------------------------------------------

// Whether bytes, taken as the start of a UTF-8 text, can still be well-formed: every complete
// sequence decodes to a scalar value in shortest form, and a trailing partial sequence has some
// completion that does. Validity ranges change only at second-byte boundaries, so trying the
// smallest and largest completions (all 80 or all BF) is enough.
bool decodeOne(const std::uint8_t* p, std::size_t n, std::size_t* used) {
  std::uint8_t c = p[0];
  std::size_t len;
  std::uint32_t cp;
  std::uint32_t min;
  if (c < 0x80) {
    *used = 1;
    return true;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (n < len) return false;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  *used = len;
  return cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

// 0: invalid, 1: valid, 2: valid so far but ends inside a character.
int referenceUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t used = 0;
    if (decodeOne(p + i, s.size() - i, &used)) {
      i += used;
      continue;
    }
    // Failed: invalid, or a truncated tail that a completion could fix.
    std::size_t rest = s.size() - i;
    if (rest >= 4) return 0;
    for (std::uint8_t fill : {std::uint8_t{0x80}, std::uint8_t{0xBF}}) {
      std::uint8_t buf[4] = {fill, fill, fill, fill};
      for (std::size_t k = 0; k < rest; ++k) buf[k] = p[i + k];
      for (std::size_t total = rest + 1; total <= 4; ++total) {
        std::size_t u = 0;
        if (decodeOne(buf, total, &u) && u == total) return 2;
      }
    }
    return 0;
  }
  return 1;
}

bool referenceCloseCode(int code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

// Parses a whole buffer; stops at the end of input, after a close or at the first error.
std::vector<Event> referenceParse(const std::uint8_t* d, std::size_t n, std::size_t maxSize) {
  std::vector<Event> out;
  auto fail = [&](int code) {
    out.push_back(Event{Status::kError, -1, {}, code, {}});
    return out;
  };
  std::size_t pos = 0;
  bool inMessage = false;
  int messageOp = 0;
  std::string message;
  for (;;) {
    if (n - pos < 2) return out;
    const std::uint8_t b0 = d[pos], b1 = d[pos + 1];
    const bool fin = b0 >> 7;
    const int op = b0 & 0x0F;
    const bool control = op >= 8;
    const int len7 = b1 & 0x7F;
    if (b0 & 0x70) return fail(1002);
    if (op != 0 && op != 1 && op != 2 && op != 8 && op != 9 && op != 10) return fail(1002);
    if (static_cast<bool>(b1 & 0x80) != kMasked) return fail(1002);
    if (control && (!fin || len7 > 125)) return fail(1002);
    if (op == 0 && !inMessage) return fail(1002);
    if ((op == 1 || op == 2) && inMessage) return fail(1002);
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (n - pos < 2 + ext) return out;
    std::uint64_t len = len7 < 126 ? len7 : 0;
    for (std::size_t i = 0; i < ext; ++i) len = len * 256 + d[pos + 2 + i];
    if (ext == 8 && len >= (std::uint64_t{1} << 63)) return fail(1002);
    if (!control && (op == 0 ? message.size() : 0) + len > maxSize) return fail(1009);
    if (n - pos < 2 + ext + kKeyLen || n - pos - (2 + ext + kKeyLen) < len) return out;
    const std::uint8_t* key = d + pos + 2 + ext;
    std::string payload;
    for (std::size_t i = 0; i < len; ++i) {
      const std::uint8_t b = d[pos + 2 + ext + kKeyLen + i];
      payload.push_back(static_cast<char>(kMasked ? b ^ key[i % 4] : b));
    }
    pos += 2 + ext + kKeyLen + len;
    if (op == 9 || op == 10) {
      out.push_back(Event{op == 9 ? Status::kPing : Status::kPong, op, payload, 0, {}});
      continue;
    }
    if (op == 8) {
      if (len == 1) return fail(1002);
      int code = 1005;
      std::string reason;
      if (len >= 2) {
        code = static_cast<std::uint8_t>(payload[0]) * 256 + static_cast<std::uint8_t>(payload[1]);
        if (!referenceCloseCode(code)) return fail(1002);
        reason = payload.substr(2);
        if (referenceUtf8(reason) != 1) return fail(1007);
      }
      out.push_back(Event{Status::kClose, -1, {}, code, reason});
      return out;
    }
    if (op != 0) {
      messageOp = op;
      message.clear();
    }
    message += payload;
    inMessage = true;
    if (messageOp == 1) {
      int v = referenceUtf8(message);
      if (v == 0 || (fin && v != 1)) return fail(1007);
    }
    if (fin) {
      out.push_back(Event{Status::kMessage, messageOp, message, 0, {}});
      inMessage = false;
      message.clear();
    }
  }
}

// ---- the parser under test -------------------------------------------------------------------

// Drains p, checking per-event invariants. Returns false once an error has been reported.
bool drain(FrameParser& p, std::size_t maxSize, std::vector<Event>& out) {
  for (;;) {
    Status s = p.next();
    switch (s) {
      case Status::kNeedMore:
        // Held bytes: at most one partial frame (header and a payload within the limits) and one
        // partial message.
        FUZZ_CHECK(p.buffered() <=
                   partyd::ws::kMaxFrameHeaderSize + (maxSize > 125 ? maxSize : 125) + maxSize);
        return true;
      case Status::kMessage:
        FUZZ_CHECK(p.opcode() == Opcode::kText || p.opcode() == Opcode::kBinary);
        FUZZ_CHECK(p.payload().size() <= maxSize);
        if (p.opcode() == Opcode::kText) FUZZ_CHECK(partyd::ws::isValidUtf8(p.payload()));
        out.push_back(Event{s, static_cast<int>(p.opcode()), std::string(p.payload()), 0, {}});
        break;
      case Status::kPing:
      case Status::kPong:
        FUZZ_CHECK(p.opcode() == (s == Status::kPing ? Opcode::kPing : Opcode::kPong));
        FUZZ_CHECK(p.payload().size() <= 125);
        out.push_back(Event{s, static_cast<int>(p.opcode()), std::string(p.payload()), 0, {}});
        break;
      case Status::kClose:
        FUZZ_CHECK(p.closeCode() == 1005 || partyd::ws::isValidCloseCode(p.closeCode()));
        FUZZ_CHECK(p.closeReason().size() <= 123);
        FUZZ_CHECK(partyd::ws::isValidUtf8(p.closeReason()));
        if (p.closeCode() == 1005) FUZZ_CHECK(p.closeReason().empty());
        out.push_back(Event{s, -1, {}, p.closeCode(), std::string(p.closeReason())});
        // After a close, nothing more comes out.
        FUZZ_CHECK(p.next() == Status::kNeedMore);
        return true;
      case Status::kError: {
        const int code = p.errorCode();
        FUZZ_CHECK(code == 1002 || code == 1007 || code == 1009);
        FUZZ_CHECK(!p.errorReason().empty());
        out.push_back(Event{s, -1, {}, code, {}});
        FUZZ_CHECK(p.next() == Status::kError && p.errorCode() == code);
        return false;
      }
    }
  }
}

std::vector<Event> parseChunked(const std::string& wire, std::size_t maxSize, Rng& rng) {
  FrameParser p(maxSize, kFrom);
  std::vector<Event> out;
  std::size_t at = 0;
  bool open = true;
  while (open && at < wire.size()) {
    // A quarter tiny chunks (splitting headers), the rest up to a socket read.
    std::size_t n = rng.next() % 4 == 0 ? 1 + rng.next() % 16 : 1 + rng.next() % 4096;
    if (n > wire.size() - at) n = wire.size() - at;
    p.feed(wire.data() + at, n);
    at += n;
    open = drain(p, maxSize, out);
    if (rng.next() % 64 == 0) p.shrink();
  }
  if (open) drain(p, maxSize, out);
  return out;
}

std::vector<Event> parseWhole(const std::string& wire, std::size_t maxSize) {
  FrameParser p(maxSize, kFrom);
  std::vector<Event> out;
  p.feed(wire.data(), wire.size());
  drain(p, maxSize, out);
  return out;
}

// ---- UTF-8 soup -----------------------------------------------------------------------------

// Maps input bytes to text built from the sequences where validators go wrong: each boundary of
// each sequence length, overlongs, surrogates, past U+10FFFF, truncated and stray bytes. Random
// bytes alone almost never spell these.
std::string utf8Soup(std::string_view in) {
  static const char* const kTokens[] = {"a",
                                        "\x7F",
                                        "\xC2\x80",
                                        "\xDF\xBF",
                                        "\xE0\xA0\x80",
                                        "\xED\x9F\xBF",
                                        "\xED\xA0\x80",
                                        "\xED\xBF\xBF",
                                        "\xEE\x80\x80",
                                        "\xEF\xBF\xBF",
                                        "\xF0\x90\x80\x80",
                                        "\xF4\x8F\xBF\xBF",
                                        "\xF4\x90\x80\x80",
                                        "\xC0\x80",
                                        "\xC1\xBF",
                                        "\xE0\x9F\xBF",
                                        "\xF0\x8F\xBF\xBF",
                                        "\xF5",
                                        "\xFF",
                                        "\x80",
                                        "\xBF",
                                        "\xC2",
                                        "\xE0\xA0",
                                        "\xF0\x90\x80",
                                        "\xED",
                                        "\xF4\x8F",
                                        "\xE1\x80",
                                        "\xF3\xBF\xBF\xBF",
                                        "\xE0",
                                        "\xF0"};
  constexpr std::size_t kCount = sizeof(kTokens) / sizeof(kTokens[0]);
  std::string out;
  for (char c : in) {
    const auto b = static_cast<std::uint8_t>(c);
    if (b % 64 < kCount)
      out += kTokens[b % 64];
    else
      out += c;
  }
  return out;
}

void checkUtf8Agrees(std::string_view text) {
  FUZZ_CHECK(partyd::ws::isValidUtf8(text) == (referenceUtf8(text) == 1));
  std::size_t complete = 0;
  const auto status = partyd::ws::checkUtf8(text, &complete);
  const int ref = referenceUtf8(text);
  FUZZ_CHECK((status == partyd::ws::Utf8Status::kValid) == (ref == 1));
  FUZZ_CHECK((status == partyd::ws::Utf8Status::kIncomplete) == (ref == 2));
  FUZZ_CHECK(complete <= text.size());
  if (status == partyd::ws::Utf8Status::kValid) FUZZ_CHECK(complete == text.size());
  // The complete prefix is valid on its own, and resuming from it gives the same verdict.
  FUZZ_CHECK(referenceUtf8(text.substr(0, complete)) == 1);
  std::size_t again = 0;
  FUZZ_CHECK(partyd::ws::checkUtf8(text.substr(complete), &again) == status);
}

// ---- structured inputs -----------------------------------------------------------------------

// Reads spec bytes from the input; past its end, zeros.
struct Reader {
  const std::uint8_t* d;
  std::size_t n;
  std::size_t i = 0;
  bool done() const { return i >= n; }
  std::uint8_t byte() { return i < n ? d[i++] : 0; }
};

// Appends one frame in the mode's form: masked with a key from the spec for client frames;
// unmasked for server frames (the masked encoding with a zero key, its mask bit and key removed).
void appendModeFrame(std::string& wire, Opcode op, std::string_view payload,
                     std::array<std::uint8_t, 4> key, partyd::ws::Fin fin) {
  const std::size_t start = wire.size();
  if (kMasked) {
    partyd::ws::appendMaskedFrame(wire, op, payload, key, fin);
    return;
  }
  partyd::ws::appendMaskedFrame(wire, op, payload, {0, 0, 0, 0}, fin);
  const std::size_t keyAt = start + partyd::ws::frameHeaderSize(payload.size());
  wire[start + 1] = static_cast<char>(wire[start + 1] & 0x7F);
  wire.erase(keyAt, 4);
}

// Builds a stream (masked or not, by mode) from frame specs: per frame a flags byte, a length byte,
// a mask-key byte, then the payload bytes (repeated from what is left of the input when it runs
// short).
std::string buildStream(Reader& r) {
  static constexpr Opcode kOps[] = {Opcode::kText,         Opcode::kBinary, Opcode::kContinuation,
                                    Opcode::kContinuation, Opcode::kPing,   Opcode::kPong,
                                    Opcode::kClose,        Opcode::kText};
  static constexpr std::size_t kBigSizes[] = {125, 126, 127, 65535, 65536, 70000};
  std::string wire;
  int frames = 0;
  while (!r.done() && frames++ < 64) {
    const std::uint8_t flags = r.byte();
    const std::uint8_t lenByte = r.byte();
    const std::uint8_t keyByte = r.byte();
    Opcode op = kOps[flags & 7];
    const auto fin = (flags & 8) ? partyd::ws::Fin::kNo : partyd::ws::Fin::kYes;
    std::size_t len = lenByte < 250 ? lenByte % 130 : kBigSizes[lenByte - 250];
    std::string payload(len, '\0');
    for (std::size_t k = 0; k < len; ++k) {
      payload[k] = static_cast<char>(r.done() ? 'a' + k % 26 : r.byte());
    }
    if ((flags & 0x20) && op != Opcode::kBinary) {
      // Text built from tricky UTF-8; a close frame keeps its 2 code bytes in front.
      const std::size_t keep = op == Opcode::kClose && len >= 2 ? 2 : 0;
      payload = payload.substr(0, keep) + utf8Soup(std::string_view(payload).substr(keep));
      if (op == Opcode::kClose || op == Opcode::kPing || op == Opcode::kPong) {
        if (payload.size() > 125) payload.resize(125);
      }
    }
    if (flags & 0x10 && op == Opcode::kClose && payload.size() >= 2) {
      // Mostly valid close codes, so the reason checks get exercised.
      payload[0] = static_cast<char>(0x03);
      payload[1] = static_cast<char>(0xE8 + (flags >> 6));
    }
    std::array<std::uint8_t, 4> key = {keyByte, static_cast<std::uint8_t>(keyByte * 7),
                                       static_cast<std::uint8_t>(keyByte ^ 0x5A), 0x11};
    const std::size_t start = wire.size();
    appendModeFrame(wire, op, payload, key, fin);
    // Rare corruptions of the header.
    if ((flags & 0xE0) == 0xE0) wire[start] = static_cast<char>(wire[start] ^ (keyByte & 0x7F));
    if ((flags & 0xE0) == 0xC0 && (keyByte & 1)) wire[start + 1] ^= 0x80;  // flip the mask bit
  }
  return wire;
}

// The encoder's own invariants, checked on payloads cut from the input.
void checkEncoder(std::string_view payload) {
  std::string frame;
  partyd::ws::appendFrame(frame, Opcode::kBinary, payload);
  std::uint8_t header[partyd::ws::kMaxFrameHeaderSize];
  std::size_t n = partyd::ws::writeFrameHeader(header, Opcode::kBinary, payload.size());
  FUZZ_CHECK(n == partyd::ws::frameHeaderSize(payload.size()));
  FUZZ_CHECK(frame.size() == n + payload.size());
  FUZZ_CHECK(std::string_view(frame).substr(0, n) ==
             std::string_view(reinterpret_cast<char*>(header), n));
  FUZZ_CHECK(std::string_view(frame).substr(n) == payload);

  std::string close = partyd::ws::closePayload(1000, payload);
  FUZZ_CHECK(close.size() >= 2 && close.size() <= 125);
  std::string_view reason = std::string_view(close).substr(2);
  FUZZ_CHECK(payload.substr(0, reason.size()) == reason);
  if (partyd::ws::isValidUtf8(payload)) FUZZ_CHECK(partyd::ws::isValidUtf8(reason));
  checkUtf8Agrees(payload);
  const std::string soup = utf8Soup(payload);
  checkUtf8Agrees(soup);
  // Truncations of the last characters.
  for (std::size_t cut = 1; cut <= 4 && cut <= soup.size(); ++cut) {
    checkUtf8Agrees(std::string_view(soup).substr(0, soup.size() - cut));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  static constexpr std::size_t kMaxSizes[] = {0, 1, 125, 126, 1000, 65536, 100000, 1 << 20};
  const bool structured = data[0] & 1;
  const std::size_t maxSize = kMaxSizes[(data[0] >> 1) & 7];
  Rng rng{0x9E3779B97F4A7C15ULL ^
          (std::uint64_t{data[1]} << 8 | data[2] | std::uint64_t{data[3]} << 32)};
  data += 4;
  size -= 4;

  std::string wire;
  if (structured) {
    Reader r{data, size};
    wire = buildStream(r);
  } else {
    wire.assign(reinterpret_cast<const char*>(data), size);
    checkEncoder(wire);
  }

  const std::vector<Event> chunked = parseChunked(wire, maxSize, rng);
  const std::vector<Event> whole = parseWhole(wire, maxSize);
  const std::vector<Event> ref =
      referenceParse(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), maxSize);
  if (chunked != whole || whole != ref) {
    std::fprintf(stderr, "mismatch: chunked %zu events, whole %zu, reference %zu\n", chunked.size(),
                 whole.size(), ref.size());
    auto dump = [](const char* name, const std::vector<Event>& v) {
      for (const Event& e : v) {
        std::fprintf(stderr, "  %s: status=%d op=%d len=%zu code=%d\n", name,
                     static_cast<int>(e.status), e.opcode, e.payload.size(), e.code);
      }
    };
    dump("chunked", chunked);
    dump("whole", whole);
    dump("reference", ref);
    std::abort();
  }
  return 0;
}
