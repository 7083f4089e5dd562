// The payload stamps of W3 and W7: what writeStamp/writeHex put in, readStamp/readHex get back,
// and frames that are not stamps are refused (a run must fail on them, not read garbage).
#include "stamp.h"

#include <gtest/gtest.h>

#include <string>

namespace partyd::bench {
namespace {

TEST(Stamp, RoundTripsTimeAndFields) {
  std::string payload(kStampBytes + 16, 'x');
  writeStamp(payload.data(), 0x0123456789abcdefull);
  writeHex(payload.data() + kStampBytes, 0xdeadbeef, 8);
  writeHex(payload.data() + kStampBytes + 8, 42, 8);
  EXPECT_EQ(payload, "m0123456789abcdefdeadbeef0000002a");
  uint64_t ns = 0, slot = 0, seq = 0;
  ASSERT_TRUE(readStamp(payload, ns));
  ASSERT_TRUE(readHex(payload, kStampBytes, 8, slot));
  ASSERT_TRUE(readHex(payload, kStampBytes + 8, 8, seq));
  EXPECT_EQ(ns, 0x0123456789abcdefull);
  EXPECT_EQ(slot, 0xdeadbeefu);
  EXPECT_EQ(seq, 42u);
}

TEST(Stamp, RefusesWhatIsNotAStamp) {
  uint64_t value = 7;
  EXPECT_FALSE(readStamp("hi", value));
  EXPECT_FALSE(readStamp("x0123456789abcdef", value));
  EXPECT_FALSE(readStamp("m0123456789abcdeF", value));  // upper case is not written, so not read
  EXPECT_FALSE(readHex("m0123", 1, 8, value));          // too short
  EXPECT_EQ(value, 7u);
}

}  // namespace
}  // namespace partyd::bench
