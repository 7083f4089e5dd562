// Tests for the frame codec: encoding of server frames, and FrameParser on whole, split, fragmented
// and malformed client input.
#include "ws/frame.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace partyd::ws {
namespace {

using Status = FrameParser::Status;

constexpr std::array<std::uint8_t, 4> kKey = {0x37, 0xfa, 0x21, 0x3d};  // RFC 6455 5.7

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

std::string masked(Opcode op, std::string_view payload, Fin fin = Fin::kYes,
                   std::array<std::uint8_t, 4> key = kKey) {
  std::string out;
  appendMaskedFrame(out, op, payload, key, fin);
  return out;
}

// One event, copied out of the parser so it outlives the next call.
struct Event {
  Status status;
  Opcode opcode = Opcode::kContinuation;
  std::string payload;
  std::uint16_t code = 0;
  std::string reason;

  bool operator==(const Event&) const = default;
};

Event event(Status status, Opcode opcode = Opcode::kContinuation, std::string payload = {},
            std::uint16_t code = 0, std::string reason = {}) {
  return Event{status, opcode, std::move(payload), code, std::move(reason)};
}

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "Event{status=" << static_cast<int>(e.status) << " op=" << static_cast<int>(e.opcode)
            << " payload.size=" << e.payload.size() << " code=" << e.code << " reason=" << e.reason
            << "}";
}

Event current(const FrameParser& p, Status s) {
  Event e = event(s);
  switch (s) {
    case Status::kMessage:
    case Status::kPing:
    case Status::kPong:
      e.opcode = p.opcode();
      e.payload = std::string(p.payload());
      break;
    case Status::kClose:
      e.code = p.closeCode();
      e.reason = std::string(p.closeReason());
      break;
    case Status::kError:
      e.code = p.errorCode();
      e.reason = std::string(p.errorReason());
      break;
    case Status::kNeedMore:
      break;
  }
  return e;
}

// Calls next() until kNeedMore (or a repeated kError), collecting events.
void drain(FrameParser& p, std::vector<Event>& out) {
  for (;;) {
    Status s = p.next();
    if (s == Status::kNeedMore) return;
    out.push_back(current(p, s));
    if (s == Status::kError) return;
  }
}

// Feeds input in chunks of the given sizes (the rest in one piece), draining after each.
std::vector<Event> parseChunks(std::string_view input, const std::vector<std::size_t>& cuts,
                               std::size_t maxSize = 1 << 20) {
  FrameParser p(maxSize);
  std::vector<Event> events;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    p.feed(input.data() + at, cut - at);
    at = cut;
    drain(p, events);
  }
  p.feed(input.data() + at, input.size() - at);
  drain(p, events);
  return events;
}

std::vector<Event> parseAll(std::string_view input, std::size_t maxSize = 1 << 20) {
  return parseChunks(input, {}, maxSize);
}

// The close code of the first error in events, or 0.
std::uint16_t errorCodeOf(const std::vector<Event>& events) {
  for (const Event& e : events) {
    if (e.status == Status::kError) return e.code;
  }
  return 0;
}

// ---- encoding --------------------------------------------------------------------------------

TEST(Frame, HeaderSizeGrowsAt126And65536) {
  EXPECT_EQ(frameHeaderSize(0), 2u);
  EXPECT_EQ(frameHeaderSize(125), 2u);
  EXPECT_EQ(frameHeaderSize(126), 4u);
  EXPECT_EQ(frameHeaderSize(65535), 4u);
  EXPECT_EQ(frameHeaderSize(65536), 10u);
  EXPECT_EQ(frameHeaderSize(std::size_t{1} << 40), 10u);
}

TEST(Frame, AppendsRfcExampleFrames) {
  std::string out;
  appendFrame(out, Opcode::kText, "Hello");
  EXPECT_EQ(out, bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}));

  out.clear();
  appendFrame(out, Opcode::kPing, "Hello");
  EXPECT_EQ(out, bytes({0x89, 0x05, 'H', 'e', 'l', 'l', 'o'}));

  out.clear();
  appendFrame(out, Opcode::kBinary, std::string(256, 'x'));
  EXPECT_EQ(out.substr(0, 4), bytes({0x82, 0x7E, 0x01, 0x00}));
  EXPECT_EQ(out.size(), 4u + 256);

  out.clear();
  appendFrame(out, Opcode::kBinary, std::string(65536, 'x'));
  EXPECT_EQ(out.substr(0, 10), bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  EXPECT_EQ(out.size(), 10u + 65536);
}

TEST(Frame, AppendKeepsWhatIsAlreadyInTheBuffer) {
  std::string out = "abc";
  appendFrame(out, Opcode::kText, "");
  EXPECT_EQ(out, "abc" + bytes({0x81, 0x00}));
}

TEST(Frame, HeaderAtLengthBoundaries) {
  for (std::size_t len : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
    std::uint8_t buf[kMaxFrameHeaderSize];
    std::size_t n = writeFrameHeader(buf, Opcode::kBinary, len);
    EXPECT_EQ(n, frameHeaderSize(len)) << len;
    std::string whole;
    appendFrame(whole, Opcode::kBinary, std::string(len, 'z'));
    EXPECT_EQ(whole.size(), n + len);
    EXPECT_EQ(whole.substr(0, n), std::string(reinterpret_cast<char*>(buf), n)) << len;
  }
  std::uint8_t buf[kMaxFrameHeaderSize];
  ASSERT_EQ(writeFrameHeader(buf, Opcode::kText, 125), 2u);
  EXPECT_EQ(buf[1], 125);
  ASSERT_EQ(writeFrameHeader(buf, Opcode::kText, 126), 4u);
  EXPECT_EQ(buf[1], 126);
  EXPECT_EQ(buf[2], 0);
  EXPECT_EQ(buf[3], 126);
  ASSERT_EQ(writeFrameHeader(buf, Opcode::kText, 65535), 4u);
  EXPECT_EQ(buf[2], 0xFF);
  EXPECT_EQ(buf[3], 0xFF);
  ASSERT_EQ(writeFrameHeader(buf, Opcode::kText, 65536), 10u);
  EXPECT_EQ(buf[1], 127);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf + 2), 8), bytes({0, 0, 0, 0, 0, 1, 0, 0}));
}

TEST(Frame, MasksLikeRfcExample) {
  EXPECT_EQ(masked(Opcode::kText, "Hello"),
            bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  EXPECT_EQ(masked(Opcode::kPong, "Hello"),
            bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(Frame, ApplyMaskMatchesBytewiseAtEveryLength) {
  std::mt19937 rng(7);
  for (std::size_t len = 0; len < 40; ++len) {
    std::string data(len, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    std::string expect = data;
    for (std::size_t i = 0; i < len; ++i) expect[i] = static_cast<char>(expect[i] ^ kKey[i % 4]);
    applyMask(data.data(), len, kKey);
    EXPECT_EQ(data, expect) << len;
  }
}

TEST(Frame, ClosePayloadPutsCodeFirst) {
  EXPECT_EQ(closePayload(1000, ""), bytes({0x03, 0xE8}));
  EXPECT_EQ(closePayload(4000, "bye"), bytes({0x0F, 0xA0, 'b', 'y', 'e'}));
}

TEST(Frame, ClosePayloadCutsReasonAtCharacterBoundary) {
  std::string fits(123, 'a');
  EXPECT_EQ(closePayload(1000, fits).size(), 125u);
  EXPECT_EQ(closePayload(1000, fits + "b").size(), 125u);

  // 122 ASCII bytes then "é" (C3 A9): byte 123 would split the character, so it goes whole.
  std::string reason = std::string(122, 'a') + "\xC3\xA9";
  std::string out = closePayload(1000, reason);
  EXPECT_EQ(out.size(), 2u + 122);
  EXPECT_TRUE(isValidUtf8(std::string_view(out).substr(2)));

  // A 4-byte character straddling the limit.
  reason = std::string(121, 'a') + "\xF0\x9F\x98\x80";
  out = closePayload(1000, reason);
  EXPECT_EQ(out.size(), 2u + 121);

  // Exactly fitting multibyte text is kept.
  reason = std::string(120, 'a') + "\xE2\x82\xAC";
  EXPECT_EQ(closePayload(1000, reason).size(), 125u);
}

TEST(Frame, CloseCodesFollowRfc6455) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    EXPECT_TRUE(isValidCloseCode(static_cast<std::uint16_t>(code))) << code;
  }
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(isValidCloseCode(static_cast<std::uint16_t>(code))) << code;
  }
}

// ---- parsing ---------------------------------------------------------------------------------

TEST(FrameParser, ParsesRfcMaskedHello) {
  FrameParser p(1024);
  std::string in = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  p.feed(in.data(), in.size());
  ASSERT_EQ(p.next(), Status::kMessage);
  EXPECT_EQ(p.opcode(), Opcode::kText);
  EXPECT_EQ(p.payload(), "Hello");
  EXPECT_EQ(p.next(), Status::kNeedMore);
  EXPECT_EQ(p.buffered(), 0u);
}

// A client reads a server's frames: unmasked (RFC 6455's unmasked "Hello"), and a masked one
// is a protocol error; the reverse of a server.
TEST(FrameParser, FromServerReadsUnmaskedAndRefusesMasked) {
  FrameParser p(1024, FrameParser::From::kServer);
  std::string in = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  p.feed(in.data(), in.size());
  ASSERT_EQ(p.next(), Status::kMessage);
  EXPECT_EQ(p.payload(), "Hello");
  EXPECT_EQ(p.next(), Status::kNeedMore);

  std::string maskedHello = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  p.feed(maskedHello.data(), maskedHello.size());
  EXPECT_EQ(p.next(), Status::kError);
  EXPECT_EQ(p.errorCode(), 1002);

  FrameParser server(1024);
  server.feed(in.data(), in.size());
  EXPECT_EQ(server.next(), Status::kError);  // unmasked from a client
}

TEST(FrameParser, NeedsMoreOnEmptyInput) {
  FrameParser p(1024);
  EXPECT_EQ(p.next(), Status::kNeedMore);
  p.feed("", 0);
  EXPECT_EQ(p.next(), Status::kNeedMore);
}

TEST(FrameParser, ParsesEmptyAndLengthBoundaryMessages) {
  for (std::size_t len : {0u, 125u, 126u, 65535u, 65536u, 100000u}) {
    std::string payload(len, '\0');
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(i * 31);
    auto events = parseAll(masked(Opcode::kBinary, payload));
    ASSERT_EQ(events.size(), 1u) << len;
    EXPECT_EQ(events[0], event(Status::kMessage, Opcode::kBinary, payload)) << len;
  }
}

// A sequence exercising every frame kind, used for the split tests.
std::string mixedStream() {
  std::string in;
  in += masked(Opcode::kText, "first");
  in += masked(Opcode::kPing, "p1");
  in += masked(Opcode::kText, "frag", Fin::kNo);
  in += masked(Opcode::kPong, "", Fin::kYes, {1, 2, 3, 4});
  in += masked(Opcode::kContinuation, "ment\xC3", Fin::kNo);
  in += masked(Opcode::kContinuation, "\xA9", Fin::kYes);  // é split across fragments
  in += masked(Opcode::kBinary, std::string(300, '\x7f'));
  in += masked(Opcode::kClose, closePayload(1000, "done"));
  return in;
}

std::vector<Event> mixedExpected() {
  return {
      event(Status::kMessage, Opcode::kText, "first"),
      event(Status::kPing, Opcode::kPing, "p1"),
      event(Status::kPong, Opcode::kPong, ""),
      event(Status::kMessage, Opcode::kText, "fragment\xC3\xA9"),
      event(Status::kMessage, Opcode::kBinary, std::string(300, '\x7f')),
      event(Status::kClose, Opcode::kContinuation, "", 1000, "done"),
  };
}

TEST(FrameParser, ParsesMixedStreamWhole) {
  EXPECT_EQ(parseAll(mixedStream()), mixedExpected());
}

TEST(FrameParser, ParsesMixedStreamSplitAtEveryByte) {
  std::string in = mixedStream();
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    EXPECT_EQ(parseChunks(in, {cut}), mixedExpected()) << "cut at " << cut;
  }
}

TEST(FrameParser, ParsesMixedStreamOneByteAtATime) {
  std::string in = mixedStream();
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < in.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(parseChunks(in, cuts), mixedExpected());
}

TEST(FrameParser, ParsesLongFramesSplitAtEveryHeaderByte) {
  // 16-bit and 64-bit lengths cut inside the extended length and the mask key.
  for (std::size_t len : {126u, 70000u}) {
    std::string payload(len, 'q');
    std::string in = masked(Opcode::kText, payload);
    for (std::size_t cut = 0; cut <= 20; ++cut) {
      auto events = parseChunks(in, {cut});
      ASSERT_EQ(events.size(), 1u) << len << " " << cut;
      EXPECT_EQ(events[0].payload, payload);
    }
  }
}

TEST(FrameParser, ReassemblesFragmentsAroundInterleavedPing) {
  std::string in = masked(Opcode::kBinary, "ab", Fin::kNo) + masked(Opcode::kPing, "x") +
                   masked(Opcode::kContinuation, "", Fin::kNo) +
                   masked(Opcode::kContinuation, "cd", Fin::kNo) + masked(Opcode::kPong, "y") +
                   masked(Opcode::kContinuation, "e", Fin::kYes);
  FrameParser p(1024);
  p.feed(in.data(), in.size());
  ASSERT_EQ(p.next(), Status::kPing);
  EXPECT_EQ(p.payload(), "x");
  EXPECT_EQ(p.buffered(), in.size() - (2 * 6 + 2 + 1) + 2);  // held: rest of input + "ab"
  ASSERT_EQ(p.next(), Status::kPong);
  EXPECT_EQ(p.payload(), "y");
  ASSERT_EQ(p.next(), Status::kMessage);
  EXPECT_EQ(p.opcode(), Opcode::kBinary);
  EXPECT_EQ(p.payload(), "abcde");
  EXPECT_EQ(p.next(), Status::kNeedMore);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(FrameParser, ReturnsUnfragmentedMessageInPlace) {
  // The payload view of a single-frame message points into the bytes that were fed (as copied into
  // the parser), right after the 6-byte header: no extra copy.
  FrameParser p(1024);
  std::string in = masked(Opcode::kText, "hi") + masked(Opcode::kText, "there");
  p.feed(in.data(), in.size());
  ASSERT_EQ(p.next(), Status::kMessage);
  const char* first = p.payload().data();
  ASSERT_EQ(p.next(), Status::kMessage);
  EXPECT_EQ(p.payload(), "there");
  EXPECT_EQ(p.payload().data(), first + 2 + 6);
}

TEST(FrameParser, CloseWithoutPayloadReports1005) {
  auto events = parseAll(masked(Opcode::kClose, ""));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status, Status::kClose);
  EXPECT_EQ(events[0].code, 1005);
  EXPECT_EQ(events[0].reason, "");
}

TEST(FrameParser, IgnoresInputAfterClose) {
  FrameParser p(1024);
  std::string in = masked(Opcode::kClose, closePayload(1001, "")) + masked(Opcode::kText, "late");
  p.feed(in.data(), in.size());
  ASSERT_EQ(p.next(), Status::kClose);
  EXPECT_EQ(p.closeCode(), 1001);
  EXPECT_EQ(p.next(), Status::kNeedMore);
  p.feed(in.data(), in.size());
  EXPECT_EQ(p.next(), Status::kNeedMore);
  EXPECT_EQ(p.buffered(), 0u);
}

// ---- protocol errors -------------------------------------------------------------------------

struct BadInput {
  const char* name;
  std::string input;
  std::uint16_t code;
};

std::vector<BadInput> badInputs() {
  std::string unmasked;
  appendFrame(unmasked, Opcode::kText, "hi");
  std::string rsv1 = masked(Opcode::kText, "hi");
  rsv1[0] = static_cast<char>(rsv1[0] | 0x40);
  std::string rsv3 = masked(Opcode::kText, "hi");
  rsv3[0] = static_cast<char>(rsv3[0] | 0x10);
  std::string op3 = masked(Opcode::kText, "hi");
  op3[0] = static_cast<char>(0x83);
  std::string opB = masked(Opcode::kText, "hi");
  opB[0] = static_cast<char>(0x8B);
  std::string longPing = masked(Opcode::kPing, std::string(126, 'p'));
  std::string msb = bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4});
  return {
      {"unmasked", unmasked, 1002},
      {"rsv1", rsv1, 1002},
      {"rsv3", rsv3, 1002},
      {"opcode 3", op3, 1002},
      {"opcode 11", opB, 1002},
      {"fragmented ping", masked(Opcode::kPing, "x", Fin::kNo), 1002},
      {"fragmented close", masked(Opcode::kClose, "", Fin::kNo), 1002},
      {"ping of 126 bytes", longPing, 1002},
      {"continuation first", masked(Opcode::kContinuation, "x"), 1002},
      {"text inside fragmented message",
       masked(Opcode::kText, "a", Fin::kNo) + masked(Opcode::kText, "b"), 1002},
      {"binary inside fragmented message",
       masked(Opcode::kBinary, "a", Fin::kNo) + masked(Opcode::kBinary, "b", Fin::kNo), 1002},
      {"64-bit length with top bit", msb, 1002},
      {"close of 1 byte", masked(Opcode::kClose, "\x03"), 1002},
      {"close code 1005", masked(Opcode::kClose, closePayload(1005, "")), 1002},
      {"close code 999", masked(Opcode::kClose, closePayload(999, "")), 1002},
      {"close code 2999", masked(Opcode::kClose, closePayload(2999, "")), 1002},
      {"close code 5000", masked(Opcode::kClose, closePayload(5000, "")), 1002},
      {"close reason bad UTF-8", masked(Opcode::kClose, closePayload(1000, "\xC0\xAF")), 1007},
      {"text bad UTF-8", masked(Opcode::kText, "ok\xFF"), 1007},
      {"text truncated UTF-8", masked(Opcode::kText, "\xE2\x82"), 1007},
      {"fragmented text truncated at end",
       masked(Opcode::kText, "a\xE2", Fin::kNo) + masked(Opcode::kContinuation, "\x82"), 1007},
      {"text surrogate", masked(Opcode::kText, "\xED\xA0\x80"), 1007},
      {"too big", masked(Opcode::kBinary, std::string(101, 'b')), 1009},
      {"too big across fragments",
       masked(Opcode::kText, std::string(60, 'a'), Fin::kNo) +
           masked(Opcode::kContinuation, std::string(41, 'a')),
       1009},
  };
}

TEST(FrameParser, RejectsEachProtocolErrorWithItsCode) {
  for (const BadInput& bad : badInputs()) {
    auto events = parseAll(bad.input, 100);
    ASSERT_FALSE(events.empty()) << bad.name;
    EXPECT_EQ(events.back().status, Status::kError) << bad.name;
    EXPECT_EQ(events.back().code, bad.code) << bad.name;
    EXPECT_FALSE(events.back().reason.empty()) << bad.name;
    // Split input reaches the same verdict.
    for (std::size_t cut = 0; cut <= bad.input.size(); ++cut) {
      EXPECT_EQ(errorCodeOf(parseChunks(bad.input, {cut}, 100)), bad.code)
          << bad.name << " cut at " << cut;
    }
  }
}

TEST(FrameParser, ErrorIsSticky) {
  FrameParser p(100);
  std::string in = masked(Opcode::kContinuation, "x");
  p.feed(in.data(), in.size());
  ASSERT_EQ(p.next(), Status::kError);
  EXPECT_EQ(p.errorCode(), 1002);
  std::string good = masked(Opcode::kText, "ok");
  p.feed(good.data(), good.size());
  EXPECT_EQ(p.next(), Status::kError);
  EXPECT_EQ(p.errorCode(), 1002);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(FrameParser, RejectsBadHeaderBeforeItsLengthArrives) {
  // The first two bytes of an unmasked frame are enough.
  FrameParser p(100);
  p.feed("\x81\x05", 2);
  EXPECT_EQ(p.next(), Status::kError);
  EXPECT_EQ(p.errorCode(), 1002);
}

TEST(FrameParser, RejectsOversizedMessageFromItsHeaderAlone) {
  FrameParser p(1000);
  std::string in = masked(Opcode::kBinary, std::string(1001, 'x'));
  p.feed(in.data(), 4);  // header up to the 16-bit length, no key, no payload
  EXPECT_EQ(p.next(), Status::kError);
  EXPECT_EQ(p.errorCode(), 1009);

  // A 64-bit length that no buffer could hold.
  FrameParser q(1 << 20);
  std::string huge = bytes({0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  q.feed(huge.data(), huge.size());
  EXPECT_EQ(q.next(), Status::kError);
  EXPECT_EQ(q.errorCode(), 1009);
}

TEST(FrameParser, AcceptsMessageOfExactlyMaxSize) {
  std::string in = masked(Opcode::kText, std::string(60, 'a'), Fin::kNo) +
                   masked(Opcode::kContinuation, std::string(40, 'a'));
  auto events = parseAll(in, 100);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload.size(), 100u);
  events = parseAll(masked(Opcode::kText, std::string(100, 'a')), 100);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status, Status::kMessage);
}

TEST(FrameParser, ControlFramesDoNotCountTowardsMaxSize) {
  auto events = parseAll(masked(Opcode::kPing, std::string(125, 'p')), 10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status, Status::kPing);
}

TEST(FrameParser, FailsFastOnBadUtf8InFirstFragment) {
  // The error comes with the fragment that carries the bad byte, before the message ends.
  FrameParser p(1000);
  std::string in = masked(Opcode::kText, "abc\xC0\x80", Fin::kNo);
  p.feed(in.data(), in.size());
  EXPECT_EQ(p.next(), Status::kError);
  EXPECT_EQ(p.errorCode(), 1007);
}

TEST(FrameParser, AcceptsCharacterSplitAcrossManyFragments) {
  // U+1F600 one byte per fragment.
  std::string in =
      masked(Opcode::kText, "\xF0", Fin::kNo) + masked(Opcode::kContinuation, "\x9F", Fin::kNo) +
      masked(Opcode::kContinuation, "\x98", Fin::kNo) + masked(Opcode::kContinuation, "\x80");
  auto events = parseAll(in);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "\xF0\x9F\x98\x80");
}

TEST(FrameParser, BinaryMessagesAreNotCheckedForUtf8) {
  auto events = parseAll(masked(Opcode::kBinary, "\xFF\xFE"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status, Status::kMessage);
}

// ---- memory ----------------------------------------------------------------------------------

TEST(FrameParser, CompactsConsumedInput) {
  // Feed a frame and a half at a time and drain, so a partial frame is always left behind; the
  // buffer holds no more than that partial frame.
  FrameParser p(1 << 16);
  std::string frame = masked(Opcode::kText, std::string(1000, 'a'));
  std::string stream;
  for (int i = 0; i < 3000; ++i) stream += frame;
  const std::size_t chunk = frame.size() * 3 / 2;
  int messages = 0;
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    p.feed(stream.data() + at, std::min(chunk, stream.size() - at));
    for (Status s; (s = p.next()) != Status::kNeedMore;) {
      ASSERT_EQ(s, Status::kMessage);
      ++messages;
    }
    EXPECT_LT(p.buffered(), frame.size());
  }
  EXPECT_EQ(messages, 3000);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(FrameParser, CompactsWhenFedWithoutDraining) {
  FrameParser p(1 << 16);
  std::string frame = masked(Opcode::kBinary, std::string(500, 'b'));
  p.feed(frame.data(), frame.size());
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(p.next(), Status::kMessage);
    p.feed(frame.data(), frame.size());  // feed drops the consumed frame before appending
    EXPECT_EQ(p.buffered(), frame.size());
  }
}

TEST(FrameParser, ShrinkReleasesIdleBuffersAndKeepsPartialFrames) {
  FrameParser p(1 << 20);
  std::string big = masked(Opcode::kText, std::string(100000, 'a'), Fin::kNo) +
                    masked(Opcode::kContinuation, "b");
  p.feed(big.data(), big.size());
  ASSERT_EQ(p.next(), Status::kMessage);
  EXPECT_EQ(p.buffered(), 100001u);  // the reassembled message, still in view
  p.shrink();
  EXPECT_EQ(p.buffered(), 0u);

  // A partial frame survives shrink().
  std::string in = masked(Opcode::kText, "hello");
  p.feed(in.data(), 3);
  EXPECT_EQ(p.next(), Status::kNeedMore);
  p.shrink();
  EXPECT_EQ(p.buffered(), 3u);
  p.feed(in.data() + 3, in.size() - 3);
  ASSERT_EQ(p.next(), Status::kMessage);
  EXPECT_EQ(p.payload(), "hello");
}

// ---- round trip ------------------------------------------------------------------------------

TEST(FrameParser, RoundTripsRandomMessagesInRandomChunks) {
  std::mt19937 rng(12345);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  for (int round = 0; round < 200; ++round) {
    std::string wire;
    std::vector<Event> expected;
    int messages = 1 + static_cast<int>(pick(20));
    for (int m = 0; m < messages; ++m) {
      // Payload sizes cluster around the length-encoding boundaries.
      static constexpr std::size_t kSizes[] = {0, 1, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536};
      std::size_t size = kSizes[pick(std::size(kSizes))];
      if (pick(4) == 0) size = pick(3000);
      bool text = pick(2) == 0;
      std::string payload(size, '\0');
      if (text) {
        // Random code points of every length, as UTF-8.
        payload.clear();
        while (payload.size() < size) {
          static const char* kChars[] = {"a",
                                         "\x7F",
                                         "\xC2\x80",
                                         "\xDF\xBF",
                                         "\xE0\xA0\x80",
                                         "\xED\x9F\xBF",
                                         "\xEE\x80\x80",
                                         "\xF0\x90\x80\x80",
                                         "\xF4\x8F\xBF\xBF"};
          payload += kChars[pick(std::size(kChars))];
        }
      } else {
        for (char& c : payload) c = static_cast<char>(rng());
      }
      Opcode op = text ? Opcode::kText : Opcode::kBinary;
      std::array<std::uint8_t, 4> key = {
          static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
          static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())};
      // Cut into fragments at arbitrary byte offsets (splitting UTF-8 characters too), with
      // pings between some of them.
      std::size_t fragments = 1 + pick(4);
      std::vector<std::size_t> cuts;
      for (std::size_t f = 1; f < fragments; ++f) cuts.push_back(pick(payload.size() + 1));
      std::sort(cuts.begin(), cuts.end());
      cuts.push_back(payload.size());
      std::size_t at = 0;
      for (std::size_t f = 0; f < cuts.size(); ++f) {
        bool last = f + 1 == cuts.size();
        appendMaskedFrame(wire, f == 0 ? op : Opcode::kContinuation,
                          std::string_view(payload).substr(at, cuts[f] - at), key,
                          last ? Fin::kYes : Fin::kNo);
        at = cuts[f];
        if (!last && pick(3) == 0) {
          std::string ping(pick(126), 'p');
          appendMaskedFrame(wire, Opcode::kPing, ping, key);
          expected.push_back(event(Status::kPing, Opcode::kPing, ping));
        }
      }
      expected.push_back(event(Status::kMessage, op, payload));
    }
    std::vector<std::size_t> chunks;
    for (std::size_t at = 0; at < wire.size();) {
      at += 1 + pick(pick(2) == 0 ? 16 : 70000);
      if (at < wire.size()) chunks.push_back(at);
    }
    ASSERT_EQ(parseChunks(wire, chunks, 1 << 20), expected) << "round " << round;
  }
}

}  // namespace
}  // namespace partyd::ws
