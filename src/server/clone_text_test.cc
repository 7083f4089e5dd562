#include "server/clone_text.h"

#include <gtest/gtest.h>

#include <cstring>

namespace partyd::server {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

TEST(CloneText, Primitives) {
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, 'I', 0x54})), "42");  // zigzag 84 → 42
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, 'I', 0x03})), "-2");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, '_'})), "undefined");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, '0'})), "null");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, 'T'})), "true");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, 'N', 0, 0, 0, 0, 0, 0, 0xF8, 0x3F})), "1.5");
  // One-byte (Latin-1) and two-byte (UTF-16) strings become UTF-8, JSON-escaped.
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, '"', 3, 'a', 0xE4, '\n'})), "\"a\xC3\xA4\\n\"");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, 'c', 4, 0x3D, 0xD8, 0x00, 0xDE})),
            "\"\xF0\x9F\x98\x80\"");
}

// A double, tag 'N' and its 8 bytes, little-endian.
std::string doubleClone(double d) {
  std::string s = bytes({0xFF, 0x0F, 'N'});
  char raw[8];
  std::memcpy(raw, &d, 8);
  s.append(raw, 8);
  return s;
}

TEST(CloneText, NumbersAsJavaScriptWritesThem) {
  EXPECT_EQ(cloneToText(doubleClone(1796527734680.0)), "1796527734680");  // a Date.now()
  EXPECT_EQ(cloneToText(doubleClone(0.1)), "0.1");
  EXPECT_EQ(cloneToText(doubleClone(-123.456)), "-123.456");
  EXPECT_EQ(cloneToText(doubleClone(1e21)), "1e+21");
  EXPECT_EQ(cloneToText(doubleClone(123456789012345680000.0)), "123456789012345680000");
  EXPECT_EQ(cloneToText(doubleClone(0.000001)), "0.000001");
  EXPECT_EQ(cloneToText(doubleClone(1.5e-7)), "1.5e-7");
  EXPECT_EQ(cloneToText(doubleClone(-0.0)), "0");
  EXPECT_EQ(cloneToText(doubleClone(5e-324)), "5e-324");
  EXPECT_EQ(cloneToText(doubleClone(1.7976931348623157e308)), "1.7976931348623157e+308");
}

TEST(CloneText, ObjectsArraysMapsAndSets) {
  // {a: 1, b: [true, "x"]}
  std::string obj = bytes({0xFF, 0x0F, 'o', '"', 1, 'a', 'I', 2, '"', 1,   'b',
                           'A',  2,    'T', '"', 1, 'x', '$', 0, 2,   '{', 2});
  EXPECT_EQ(cloneToText(obj), "{\"a\": 1, \"b\": [true, \"x\"]}");
  // new Map([["k", 1]]), new Set([null])
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, ';', '"', 1, 'k', 'I', 2, ':', 2})),
            "Map(1) {\"k\" => 1}");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, '\'', '0', ',', 1})), "Set(1) {null}");
  // new Uint8Array([1, 2]): the buffer, then the view
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, 'B', 2, 1, 2, 'V', 'B', 0, 2, 0})),
            "Uint8Array(2) [1, 2]");
}

TEST(CloneText, DamagedBytesNeverThrow) {
  EXPECT_EQ(cloneToText(""), "<unreadable at byte 0>");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, 'o', '"', 9, 'a'})), "{<unreadable at byte 5>");
  EXPECT_EQ(cloneToText(bytes({0xFF, 0x0F, '~'})), "<unreadable tag 0x7e>");
  // Arrays nested past the depth limit.
  std::string nested = bytes({0xFF, 0x0F});
  for (int i = 0; i < 100; ++i) nested += "A\x01";
  EXPECT_NE(cloneToText(nested).find("<unreadable"), std::string::npos);
}

}  // namespace
TEST(CloneText, ArrayItemsEachAsText) {
  // ["id", null, [true]]: a stash's shape, each element read on its own.
  std::string stash = bytes({0xFF, 0x0F, 'A', 3, '"', 2, 'i', 'd', '0', 'A', 1, 'T', '$', 0, 1,
                             '$', 0, 3});
  auto items = cloneArrayToTexts(stash);
  ASSERT_TRUE(items.has_value());
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[0], "\"id\"");
  EXPECT_EQ((*items)[1], "null");
  EXPECT_EQ((*items)[2], "[true]");
  // Not an array, or an array cut short: nothing.
  EXPECT_FALSE(cloneArrayToTexts(bytes({0xFF, 0x0F, 'I', 0x54})).has_value());
  EXPECT_FALSE(cloneArrayToTexts(bytes({0xFF, 0x0F, 'A', 3, 'T'})).has_value());
  EXPECT_FALSE(cloneArrayToTexts("").has_value());
}

}  // namespace partyd::server
