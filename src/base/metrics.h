// Metrics for partyd in the Prometheus text exposition format (version 0.0.4). The figures are
// plain integers owned by each shard's objects and touched only on that shard's thread: no
// atomics, no locks on the data path. A scrape asks every shard for a copy (posted to its loop),
// adds the copies up and writes them with TextWriter.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace partyd::metrics {

// A histogram with fixed bucket bounds, in seconds: from 50 µs to 30 s, the range of a handler
// run, a turn's commit and a storage commit.
class Histogram {
 public:
  static constexpr std::array<double, 18> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};

  // Records one observation of `ns` nanoseconds.
  void observeNanos(std::int64_t ns);
  void add(const Histogram& other);

  // Observations per bucket (not cumulative); the last is above every bound (+Inf).
  const std::array<std::uint64_t, kBounds.size() + 1>& buckets() const { return buckets_; }
  std::uint64_t count() const { return count_; }
  double sumSeconds() const { return static_cast<double>(sumNanos_) / 1e9; }

 private:
  std::array<std::uint64_t, kBounds.size() + 1> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sumNanos_ = 0;
};

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// Writes metric families. Each family's samples must follow its family() call, before the next
// family: the exposition format wants a family's lines together.
class TextWriter {
 public:
  enum class Type { kCounter, kGauge, kHistogram, kUntyped };

  // The # HELP and # TYPE lines of metric `name`.
  void family(std::string_view name, Type type, std::string_view help);
  // One sample line: name{labels} value.
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, const Labels& labels, std::uint64_t value);
  // A histogram's _bucket (cumulative, with le), _sum and _count lines.
  void histogram(std::string_view name, const Labels& labels, const Histogram& h);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  // The content type of what this writes.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  void labels(const Labels& labels, std::string_view extraName = {},
              std::string_view extraValue = {});
  std::string out_;
};

// A label value escaped for the exposition format (backslash, double quote, newline).
std::string escapeLabelValue(std::string_view value);
// A number as the exposition format writes it (integers without a fraction, +Inf, NaN).
std::string formatValue(double value);

}  // namespace partyd::metrics
