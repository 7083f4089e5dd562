#include "histogram.h"

#include <gtest/gtest.h>

namespace partyd::bench {
namespace {

TEST(Histogram, PercentilesStayWithinTheBucketPrecision) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 µs .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    double exact = p * 1000.0 * 1000.0;
    EXPECT_NEAR(static_cast<double>(h.percentileNs(p)), exact, exact * 0.016) << "p" << p;
  }
  EXPECT_EQ(h.percentileNs(100), 100000u * 1000);
  EXPECT_EQ(h.minNs(), 1000u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v : {3, 3, 7, 100}) h.record(v);
  EXPECT_EQ(h.percentileNs(50), 3u);
  EXPECT_EQ(h.percentileNs(75), 7u);
  EXPECT_EQ(h.maxNs(), 100u);
}

TEST(Histogram, MergeAddsCounts) {
  Histogram a, b;
  a.record(10);
  b.record(1'000'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.minNs(), 10u);
  EXPECT_EQ(a.maxNs(), 1'000'000u);
}

// loadgen --procs: each worker process encodes its histogram, the parent decodes and merges them.
// The merge must be exact: bucket by bucket the same as recording every value in one histogram.
TEST(Histogram, MergeOfDecodedWorkersEqualsOneHistogram) {
  Histogram whole, a, b, c;
  uint64_t x = 12345;
  for (int i = 0; i < 30000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t ns = (x >> 20) % 50'000'000;  // 0 .. 50 ms
    whole.record(ns);
    (i % 3 == 0 ? a : i % 3 == 1 ? b : c).record(ns);
  }
  Histogram merged;
  for (const Histogram* part : {&a, &b, &c}) {
    Histogram decoded;
    ASSERT_TRUE(Histogram::decode(part->encode(), decoded));
    EXPECT_EQ(decoded, *part);
    merged.merge(decoded);
  }
  EXPECT_EQ(merged, whole);
  for (double p : {50.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(merged.percentileNs(p), whole.percentileNs(p)) << "p" << p;
  }
}

TEST(Histogram, EmptyRoundTripsAndMergesAsNothing) {
  Histogram empty, decoded, h;
  ASSERT_TRUE(Histogram::decode(empty.encode(), decoded));
  EXPECT_EQ(decoded, empty);
  h.record(500);
  Histogram before = h;
  h.merge(decoded);
  EXPECT_EQ(h, before);
}

TEST(Histogram, DecodeRejectsMalformedText) {
  Histogram out;
  EXPECT_FALSE(Histogram::decode("", out));
  EXPECT_FALSE(Histogram::decode("1 2 3", out));
  EXPECT_FALSE(Histogram::decode("1 5 5 5 999999:1", out));  // no such bucket
  EXPECT_FALSE(Histogram::decode("2 10 5 5 5:1", out));      // counts do not add up
  EXPECT_FALSE(Histogram::decode("1 5 5 5 5:x", out));
}

TEST(Histogram, EmptyGivesZeros) {
  Histogram h;
  EXPECT_EQ(h.percentileNs(50), 0u);
  EXPECT_EQ(h.minNs(), 0u);
}

}  // namespace
}  // namespace partyd::bench
