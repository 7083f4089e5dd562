#include "base/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace partyd {
namespace {

TEST(Base64, EncodesEveryPaddingCase) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64Encode(std::string("\xff\xfe\xfd\x00", 4)), "//79AA==");
}

TEST(Base64, DecodesWhatItEncodes) {
  EXPECT_EQ(base64Decode(""), "");
  EXPECT_EQ(base64Decode("Zg=="), "f");
  EXPECT_EQ(base64Decode("Zm8="), "fo");
  EXPECT_EQ(base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64Decode("//79AA=="), std::string("\xff\xfe\xfd\x00", 4));
}

TEST(Base64, RoundTripsAllByteValuesAndLongInputsAcrossChunks) {
  std::string bytes;
  for (int i = 0; i < 3 * 1024 * 1024 + 2; ++i)
    bytes += static_cast<char>((i * 7 + i / 256) & 0xFF);
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{256}, bytes.size()}) {
    std::string part = bytes.substr(0, len);
    std::string text = base64Encode(part);
    EXPECT_EQ(text.size(), (len + 2) / 3 * 4);
    auto back = base64Decode(text);
    ASSERT_TRUE(back.has_value()) << len;
    EXPECT_EQ(*back, part) << len;
  }
}

TEST(Base64, RejectsMissingPaddingAndMisplacedPadding) {
  EXPECT_FALSE(base64Decode("Zg"));
  EXPECT_FALSE(base64Decode("Zm8"));
  EXPECT_FALSE(base64Decode("Z"));
  EXPECT_FALSE(base64Decode("Zg="));
  EXPECT_FALSE(base64Decode("===="));
  EXPECT_FALSE(base64Decode("Z==="));
  EXPECT_FALSE(base64Decode("Zg=a"));
  EXPECT_FALSE(base64Decode("Zg==Zm8="));
}

TEST(Base64, RejectsCharactersOutsideTheAlphabet) {
  EXPECT_FALSE(base64Decode(" Zg="));
  EXPECT_FALSE(base64Decode("Zg==\n"));
  EXPECT_FALSE(base64Decode("Zm9v\nYmFy"));
  EXPECT_FALSE(base64Decode("-_-_"));  // base64url
  EXPECT_FALSE(base64Decode(std::string("Zm\0v", 4)));
  EXPECT_FALSE(base64Decode("Zm9\xff"));
}

TEST(Base64, RejectsNonzeroUnusedBits) {
  EXPECT_FALSE(base64Decode("Zh=="));  // 'h' carries bits past the one byte
  EXPECT_FALSE(base64Decode("Zm9="));
  EXPECT_TRUE(base64Decode("Zm8="));
}

}  // namespace
}  // namespace partyd
