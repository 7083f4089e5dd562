#include "base/metrics.h"

#include <gtest/gtest.h>

namespace partyd::metrics {
namespace {

TEST(Histogram, BucketsCountAndSum) {
  Histogram h;
  h.observeNanos(10'000);          // 10 µs: the first bucket (<= 50 µs)
  h.observeNanos(1'000'000);       // 1 ms: le=0.001 exactly
  h.observeNanos(60'000'000'000);  // 60 s: above every bound
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.buckets()[0], 1u);
  EXPECT_EQ(h.buckets()[4], 1u);
  EXPECT_EQ(h.buckets().back(), 1u);
  EXPECT_NEAR(h.sumSeconds(), 60.00101, 1e-9);

  Histogram other;
  other.observeNanos(1'000'000);
  h.add(other);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.buckets()[4], 2u);
}

TEST(Histogram, NegativeDurationsCountAsZero) {
  Histogram h;
  h.observeNanos(-5);
  EXPECT_EQ(h.buckets()[0], 1u);
  EXPECT_EQ(h.sumSeconds(), 0);
}

TEST(TextWriter, WritesFamiliesSamplesAndEscapedLabels) {
  TextWriter w;
  w.family("partyd_messages_received_total", TextWriter::Type::kCounter,
           "Messages received.\nSecond line with a \\ backslash");
  w.sample("partyd_messages_received_total", {{"project", "p"}, {"party", "a\"b\\c\nd"}},
           std::uint64_t{42});
  w.family("partyd_up", TextWriter::Type::kGauge, "Up.");
  w.sample("partyd_up", {}, 1.0);
  w.sample("partyd_up", {{"x", "y"}}, 0.25);
  EXPECT_EQ(w.text(),
            "# HELP partyd_messages_received_total Messages received.\\nSecond line with a "
            "\\\\ backslash\n"
            "# TYPE partyd_messages_received_total counter\n"
            "partyd_messages_received_total{project=\"p\",party=\"a\\\"b\\\\c\\nd\"} 42\n"
            "# HELP partyd_up Up.\n"
            "# TYPE partyd_up gauge\n"
            "partyd_up 1\n"
            "partyd_up{x=\"y\"} 0.25\n");
}

TEST(TextWriter, HistogramIsCumulativeWithInfSumAndCount) {
  Histogram h;
  h.observeNanos(200'000);    // 0.2 ms: le=0.00025
  h.observeNanos(2'000'000);  // 2 ms: le=0.0025
  TextWriter w;
  w.family("partyd_x_seconds", TextWriter::Type::kHistogram, "X.");
  w.histogram("partyd_x_seconds", {{"project", "p"}}, h);
  const std::string& t = w.text();
  EXPECT_NE(t.find("partyd_x_seconds_bucket{project=\"p\",le=\"0.0001\"} 0\n"), std::string::npos);
  EXPECT_NE(t.find("partyd_x_seconds_bucket{project=\"p\",le=\"0.00025\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("partyd_x_seconds_bucket{project=\"p\",le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("partyd_x_seconds_bucket{project=\"p\",le=\"0.0025\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("partyd_x_seconds_bucket{project=\"p\",le=\"30\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("partyd_x_seconds_bucket{project=\"p\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("partyd_x_seconds_sum{project=\"p\"} 0.0022\n"), std::string::npos);
  EXPECT_NE(t.find("partyd_x_seconds_count{project=\"p\"} 2\n"), std::string::npos);
}

TEST(FormatValue, ShortestText) {
  EXPECT_EQ(formatValue(0.00005), "5e-05");
  EXPECT_EQ(formatValue(3), "3");
  EXPECT_EQ(formatValue(1.5), "1.5");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
}

}  // namespace
}  // namespace partyd::metrics
