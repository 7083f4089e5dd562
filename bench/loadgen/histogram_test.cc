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

TEST(Histogram, EmptyGivesZeros) {
  Histogram h;
  EXPECT_EQ(h.percentileNs(50), 0u);
  EXPECT_EQ(h.minNs(), 0u);
}

}  // namespace
}  // namespace partyd::bench
