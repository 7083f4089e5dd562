#include "base/utf8.h"

#include <gtest/gtest.h>

namespace partyd {
namespace {

std::string utf8(char32_t cp) {
  std::string out;
  appendUtf8(out, cp);
  return out;
}

TEST(AppendUtf8, WritesOneToFourBytesAtEachBoundary) {
  EXPECT_EQ(utf8(0), std::string(1, '\0'));
  EXPECT_EQ(utf8(0x7F), "\x7F");
  EXPECT_EQ(utf8(0x80), "\xC2\x80");
  EXPECT_EQ(utf8(0xE9), "\xC3\xA9");
  EXPECT_EQ(utf8(0x7FF), "\xDF\xBF");
  EXPECT_EQ(utf8(0x800), "\xE0\xA0\x80");
  EXPECT_EQ(utf8(0x20AC), "\xE2\x82\xAC");
  EXPECT_EQ(utf8(0xFFFF), "\xEF\xBF\xBF");
  EXPECT_EQ(utf8(0x10000), "\xF0\x90\x80\x80");
  EXPECT_EQ(utf8(0x1F600), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8(0x10FFFF), "\xF4\x8F\xBF\xBF");
}

TEST(AppendUtf8, WritesTheReplacementCharacterForSurrogatesAndValuesPastUnicode) {
  const std::string kReplacement = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8(0xD800), kReplacement);
  EXPECT_EQ(utf8(0xDFFF), kReplacement);
  EXPECT_EQ(utf8(0x110000), kReplacement);
  EXPECT_EQ(utf8(0xFFFFFFFF), kReplacement);
  EXPECT_EQ(utf8(0xD7FF), "\xED\x9F\xBF");
  EXPECT_EQ(utf8(0xE000), "\xEE\x80\x80");
}

TEST(AppendUtf8, Appends) {
  std::string out = "a";
  appendUtf8(out, 0xE9);
  appendUtf8(out, 'b');
  EXPECT_EQ(out,
            "a\xC3\xA9"
            "b");
}

}  // namespace
}  // namespace partyd
