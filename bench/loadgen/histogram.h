// Histogram records latencies in nanoseconds in log-linear buckets (64 per power of two, so each
// value is kept within 1.6%), in the manner of HdrHistogram: fixed memory, O(1) record, mergeable
// across threads. One per thread; merge them at the end.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace partyd::bench {

class Histogram {
 public:
  void record(uint64_t ns);
  void merge(const Histogram& other);
  // encode writes the histogram as one line of text ("count sum min max" and then "bucket:n" for
  // each bucket that is not empty), so that a worker process can hand it to the parent (loadgen
  // --procs); decode reads it back exactly. decode returns false on malformed text.
  std::string encode() const;
  static bool decode(std::string_view text, Histogram& out);
  bool operator==(const Histogram& other) const = default;

  uint64_t count() const { return count_; }
  uint64_t minNs() const { return count_ ? min_ : 0; }
  uint64_t maxNs() const { return max_; }
  double meanNs() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }
  // percentileNs returns the value at rank ceil(p/100 · count), as the middle of its bucket.
  uint64_t percentileNs(double p) const;

 private:
  static constexpr int kBuckets = 128 + 57 * 64;
  static int bucketOf(uint64_t ns);
  static uint64_t middleOf(int bucket);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace partyd::bench
