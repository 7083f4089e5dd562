#include "base/strings.h"

#include <gtest/gtest.h>

namespace partyd {
namespace {

TEST(Strings, IequalsFoldsAsciiCaseOnly) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("host", "hosts"));
  EXPECT_FALSE(iequals("a", "b"));
  EXPECT_FALSE(iequals("[", "{"));  // 0x5B and 0x7B differ by 0x20 but are not letters
  EXPECT_FALSE(iequals("\xC3\xA9", "\xC3\x89"));  // é and É: not ASCII, compared as bytes
  static_assert(iequals("WebSocket", "websocket"));
}

TEST(Strings, AsciiLowerChangesOnlyCapitalLetters) {
  EXPECT_EQ(asciiLower("HTTPS://Example.COM/@[Z]"), "https://example.com/@[z]");
  EXPECT_EQ(asciiLower("\xC3\x89"), "\xC3\x89");
  static_assert(asciiLower('Q') == 'q' && asciiLower('@') == '@');
}

}  // namespace
}  // namespace partyd
