// The load generator's codec against the floor's (bench/floor/mini_ws.h): each side parses what the
// other writes, at every length encoding, and the handshake matches RFC 6455's own example.
#include "ws_codec.h"

#include <gtest/gtest.h>

#include "../floor/mini_ws.h"

namespace partyd::bench {
namespace {

TEST(WsCodec, AcceptKeyMatchesTheRfcExample) {
  EXPECT_EQ(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsCodec, UpgradeResponseFromTheFloorPassesTheCheck) {
  std::string key = makeKey(7);
  std::string response = floor::upgradeResponse(key) + "\x81\x02hi";
  Handshake handshake = checkUpgradeResponse(response, key);
  ASSERT_EQ(handshake.status, HandshakeStatus::kOk) << handshake.error;
  EXPECT_EQ(response.substr(handshake.header_bytes), "\x81\x02hi");
}

TEST(WsCodec, UpgradeCheckWaitsForTheWholeHeadAndRejectsOtherStatuses) {
  std::string key = makeKey(1);
  EXPECT_EQ(checkUpgradeResponse("HTTP/1.1 101 Switching", key).status, HandshakeStatus::kNeedMore);
  EXPECT_EQ(checkUpgradeResponse("HTTP/1.1 404 Not Found\r\n\r\n", key).status,
            HandshakeStatus::kFailed);
  std::string wrong = floor::upgradeResponse(makeKey(2));
  EXPECT_EQ(checkUpgradeResponse(wrong, key).status, HandshakeStatus::kFailed);
}

TEST(WsCodec, ClientFramesUnmaskOnTheServerAtEveryLengthEncoding) {
  for (size_t size : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 31 + 7);
    std::string wire;
    appendClientFrame(wire, Opcode::kText, payload, 0xA1B2C3D4u);
    floor::ClientFrame frame;
    ASSERT_EQ(floor::parseClientFrame(wire.data(), wire.size(), frame), floor::Parse::kFrame);
    EXPECT_EQ(frame.frame_bytes, wire.size());
    EXPECT_EQ(frame.opcode, 0x1);
    EXPECT_EQ(frame.payload, payload) << "size " << size;
    // One byte short is never a frame.
    floor::ClientFrame partial;
    std::string copy;
    appendClientFrame(copy, Opcode::kText, payload, 1);
    EXPECT_EQ(floor::parseClientFrame(copy.data(), copy.size() - 1, partial),
              floor::Parse::kNeedMore);
  }
}

TEST(WsCodec, ServerFramesParseAtEveryLengthEncoding) {
  for (size_t size : {0, 125, 126, 65535, 65536}) {
    std::string payload(size, 'p');
    std::string wire;
    floor::appendFrame(wire, 0x2, payload);
    wire += "next";
    Frame frame;
    std::string error;
    ASSERT_EQ(parseServerFrame(wire, frame, error), ParseStatus::kFrame) << error;
    EXPECT_EQ(frame.opcode, Opcode::kBinary);
    EXPECT_EQ(frame.payload.size(), size);
    EXPECT_EQ(wire.substr(frame.frame_bytes), "next");
    EXPECT_EQ(
        parseServerFrame(std::string_view(wire).substr(0, frame.frame_bytes - 1), frame, error),
        ParseStatus::kNeedMore);
  }
}

TEST(WsCodec, MaskedServerFramesAreAnError) {
  std::string wire;
  appendClientFrame(wire, Opcode::kText, "x", 5);
  Frame frame;
  std::string error;
  EXPECT_EQ(parseServerFrame(wire, frame, error), ParseStatus::kError);
}

}  // namespace
}  // namespace partyd::bench
