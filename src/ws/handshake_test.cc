// Tests for the opening handshake helpers: RFC 6455's accept-key vector, client key checks and
// the bytes of the 101 response.
#include "ws/handshake.h"

#include <gtest/gtest.h>

namespace partyd::ws {
namespace {

TEST(Handshake, AcceptKeyMatchesRfcExample) {
  EXPECT_EQ(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Handshake, AcceptKeyOfOtherKeys) {
  // Computed independently: printf '%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11' KEY | sha1 | base64.
  EXPECT_EQ(acceptKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  EXPECT_EQ(acceptKey("AAAAAAAAAAAAAAAAAAAAAA=="), "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
}

TEST(Handshake, AcceptsCanonicalClientKeys) {
  EXPECT_TRUE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(isValidClientKey("x3JJHMbDL1EzLkh9GBhXDw=="));
  EXPECT_TRUE(isValidClientKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(isValidClientKey("/////////////////////w=="));
  EXPECT_TRUE(isValidClientKey("+++++++++++++++++++++g=="));
}

TEST(Handshake, RejectsMalformedClientKeys) {
  EXPECT_FALSE(isValidClientKey(""));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ="));    // 23 characters
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ==="));  // 25
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQAA"));   // no padding: 18 bytes
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZR=="));   // stray low bits
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25j*Q=="));   // not base64
  EXPECT_FALSE(isValidClientKey(" dGhlIHNhbXBsZSBub25jZQ=="));  // whitespace
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ=\n"));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25j=Q=="));
}

TEST(Handshake, BuildsSwitchingProtocolsResponse) {
  EXPECT_EQ(buildSwitchingProtocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", ""),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
}

TEST(Handshake, BuildsResponseWithProtocol) {
  EXPECT_EQ(buildSwitchingProtocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat"),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "\r\n");
}

TEST(Handshake, LeavesOutProtocolThatIsNotAToken) {
  std::string out = buildSwitchingProtocols("k", "chat\r\nSet-Cookie: a=b");
  EXPECT_EQ(out.find("Set-Cookie"), std::string::npos);
  EXPECT_EQ(out.find("Sec-WebSocket-Protocol"), std::string::npos);
  EXPECT_EQ(buildSwitchingProtocols("k", "a b").find("Sec-WebSocket-Protocol"), std::string::npos);
}

}  // namespace
}  // namespace partyd::ws
