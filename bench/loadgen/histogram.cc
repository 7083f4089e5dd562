#include "histogram.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace partyd::bench {

int Histogram::bucketOf(uint64_t ns) {
  if (ns < 128) return static_cast<int>(ns);
  int msb = 63 - __builtin_clzll(ns);
  int shift = msb - 6;  // (ns >> shift) is in [64, 127]
  return 128 + (shift - 1) * 64 + static_cast<int>((ns >> shift) - 64);
}

uint64_t Histogram::middleOf(int bucket) {
  if (bucket < 128) return static_cast<uint64_t>(bucket);
  int shift = (bucket - 128) / 64 + 1;
  uint64_t mantissa = static_cast<uint64_t>((bucket - 128) % 64 + 64);
  return (mantissa << shift) + (uint64_t{1} << (shift - 1));
}

void Histogram::record(uint64_t ns) {
  ++buckets_[bucketOf(ns)];
  ++count_;
  sum_ += ns;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::string Histogram::encode() const {
  std::string out = std::to_string(count_) + " " + std::to_string(sum_) + " " +
                    std::to_string(min_) + " " + std::to_string(max_);
  for (int i = 0; i < kBuckets; ++i) {
    if (buckets_[i] == 0) continue;
    out += " " + std::to_string(i) + ":" + std::to_string(buckets_[i]);
  }
  return out;
}

bool Histogram::decode(std::string_view text, Histogram& out) {
  out = Histogram{};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto number = [&](uint64_t& value, char stop) {
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc{} || (next != end && *next != stop && *next != ' ')) return false;
    p = next == end ? end : next + 1;
    return true;
  };
  if (!number(out.count_, ' ') || !number(out.sum_, ' ') || !number(out.min_, ' ') ||
      !number(out.max_, ' ')) {
    return false;
  }
  uint64_t counted = 0;
  while (p < end) {
    uint64_t bucket = 0, n = 0;
    if (!number(bucket, ':') || bucket >= kBuckets || p[-1] != ':' || !number(n, ' ')) {
      return false;
    }
    out.buckets_[bucket] += n;
    counted += n;
  }
  return counted == out.count_;
}

uint64_t Histogram::percentileNs(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(middleOf(i), min_, max_);
  }
  return max_;
}

}  // namespace partyd::bench
