// Tests for the UTF-8 validator, with cases in the spirit of the Autobahn testsuite (section 6):
// boundaries of each sequence length, overlong forms, surrogates, code points past U+10FFFF,
// truncated and stray bytes, each also placed after ASCII runs to cross the 8-byte fast path.
#include "ws/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace partyd::ws {
namespace {

const char* const kValid[] = {
    "",
    "Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!",  // Autobahn 6.2
    "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5",                             // κόσμε, 6.3
    "\x7F",                                                                     // last 1-byte
    "\xC2\x80",                                                                 // first 2-byte
    "\xDF\xBF",                                                                 // last 2-byte
    "\xE0\xA0\x80",                                                             // first 3-byte
    "\xED\x9F\xBF",                                                             // U+D7FF
    "\xEE\x80\x80",                                                             // U+E000
    "\xEF\xBF\xBD",                                                             // U+FFFD
    "\xEF\xBF\xBF",                                                             // U+FFFF
    "\xF0\x90\x80\x80",                                                         // first 4-byte
    "\xF4\x8F\xBF\xBF",                                                         // U+10FFFF, max
    "\xEF\xBB\xBF",                                                             // BOM
};

const char* const kInvalid[] = {
    "\x80",                      // lone continuation
    "\xBF",                      // lone continuation
    "\xC0\x80",                  // overlong NUL
    "\xC1\xBF",                  // overlong 2-byte
    "\xC0\xAF",                  // overlong '/'
    "\xE0\x80\xAF",              // overlong '/' in 3 bytes
    "\xE0\x9F\xBF",              // overlong 3-byte max
    "\xF0\x80\x80\xAF",          // overlong '/' in 4 bytes
    "\xF0\x8F\xBF\xBF",          // overlong 4-byte max
    "\xF8\x88\x80\x80\x80",      // 5-byte form
    "\xFC\x84\x80\x80\x80\x80",  // 6-byte form
    "\xED\xA0\x80",              // U+D800, high surrogate
    "\xED\xAD\xBF",              // U+DB7F
    "\xED\xBF\xBF",              // U+DFFF, low surrogate
    "\xED\xA0\x80\xED\xB0\x80",  // surrogate pair
    "\xF4\x90\x80\x80",          // U+110000
    "\xF5\x80\x80\x80",          // lead byte past F4
    "\xFE",
    "\xFF",
    "\xC2",          // truncated 2-byte
    "\xE0\xA0",      // truncated 3-byte
    "\xF0\x90\x80",  // truncated 4-byte
    "\xC2\x41",      // continuation missing
    "\xE1\x80\x41",
    "\xF1\x80\x80\x41",
    "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80\x65\x64\x69\x74\x65\x64",  // 6.4.2
};

TEST(Utf8, AcceptsWellFormedText) {
  for (const char* s : kValid) EXPECT_TRUE(isValidUtf8(s)) << testing::PrintToString(s);
}

TEST(Utf8, RejectsMalformedText) {
  for (const char* s : kInvalid) EXPECT_FALSE(isValidUtf8(s)) << testing::PrintToString(s);
}

TEST(Utf8, VerdictHoldsAtEveryOffsetAroundTheAsciiFastPath) {
  for (std::size_t pad = 0; pad < 20; ++pad) {
    std::string ascii(pad, 'a');
    for (const char* s : kValid) {
      EXPECT_TRUE(isValidUtf8(ascii + s + ascii)) << pad << testing::PrintToString(s);
    }
    for (const char* s : kInvalid) {
      EXPECT_FALSE(isValidUtf8(ascii + s + ascii)) << pad << testing::PrintToString(s);
      EXPECT_FALSE(isValidUtf8(ascii + s)) << pad << testing::PrintToString(s);
    }
  }
}

TEST(Utf8, AcceptsNulAndLongAscii) {
  EXPECT_TRUE(isValidUtf8(std::string_view("\0\0\0", 3)));
  EXPECT_TRUE(isValidUtf8(std::string(1000, 'x')));
}

TEST(Utf8, AgreesWithCodePointDefinitionOnAllTwoAndThreeByteSequences) {
  // Every 2- and 3-byte sequence with a 2- or 3-byte lead byte, judged against the definition:
  // well-formed iff it decodes to a scalar value (not a surrogate) in its shortest form.
  for (int a = 0xC0; a <= 0xEF; ++a) {
    for (int b = 0; b < 256; ++b) {
      std::string two{static_cast<char>(a), static_cast<char>(b)};
      bool cont = (b & 0xC0) == 0x80;
      bool expect2 = a < 0xE0 && cont && (((a & 0x1F) << 6) | (b & 0x3F)) >= 0x80;
      EXPECT_EQ(isValidUtf8(two), expect2) << a << " " << b;
      if (a < 0xE0) continue;
      for (int c = 0x7F; c <= 0xC0; ++c) {
        std::string three = two + static_cast<char>(c);
        int cp = ((a & 0x0F) << 12) | ((b & 0x3F) << 6) | (c & 0x3F);
        bool expect3 = cont && (c & 0xC0) == 0x80 && cp >= 0x800 && !(cp >= 0xD800 && cp <= 0xDFFF);
        EXPECT_EQ(isValidUtf8(three), expect3) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(Utf8, AgreesWithCodePointDefinitionOnFourByteSequences) {
  for (int a = 0xF0; a <= 0xF7; ++a) {
    for (int b = 0x70; b <= 0xC0; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b), '\x80', '\xBF'};
      int cp = ((a & 0x07) << 18) | ((b & 0x3F) << 12) | (0 << 6) | 0x3F;
      bool expect = (b & 0xC0) == 0x80 && cp >= 0x10000 && cp <= 0x10FFFF;
      EXPECT_EQ(isValidUtf8(s), expect) << a << " " << b;
    }
  }
}

TEST(Utf8, ReportsIncompleteTailForStreaming) {
  std::size_t complete = 99;
  EXPECT_EQ(checkUtf8("ab\xE2\x82", &complete), Utf8Status::kIncomplete);
  EXPECT_EQ(complete, 2u);
  EXPECT_EQ(checkUtf8("ab\xF0", &complete), Utf8Status::kIncomplete);
  EXPECT_EQ(complete, 2u);
  EXPECT_EQ(checkUtf8("ab\xE2\x82\xAC", &complete), Utf8Status::kValid);
  EXPECT_EQ(complete, 5u);
}

TEST(Utf8, ReportsInvalidAsSoonAsNoContinuationCanHelp) {
  std::size_t complete = 99;
  // E0 80 is already overlong and ED A0 already a surrogate, though both are short.
  EXPECT_EQ(checkUtf8("abc\xE0\x80", &complete), Utf8Status::kInvalid);
  EXPECT_EQ(complete, 3u);
  EXPECT_EQ(checkUtf8("\xED\xA0", &complete), Utf8Status::kInvalid);
  EXPECT_EQ(checkUtf8("\xF4\x90", &complete), Utf8Status::kInvalid);
  EXPECT_EQ(checkUtf8("\xC0", &complete), Utf8Status::kInvalid);
  EXPECT_EQ(checkUtf8("\xF5", &complete), Utf8Status::kInvalid);
}

TEST(Utf8, StreamingInPiecesMatchesWholeCheck) {
  // Feeding U+1F600 (and friends) one byte at a time through checkUtf8's resume offset.
  std::string text = "x\xF0\x9F\x98\x80y\xE2\x82\xAC\xC3\xA9z";
  std::string buf;
  std::size_t checked = 0;
  for (char c : text) {
    buf.push_back(c);
    std::size_t complete;
    Utf8Status s = checkUtf8(std::string_view(buf).substr(checked), &complete);
    ASSERT_NE(s, Utf8Status::kInvalid);
    checked += complete;
  }
  EXPECT_EQ(checked, text.size());
}

}  // namespace
}  // namespace partyd::ws
