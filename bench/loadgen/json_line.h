// JsonLine builds one flat JSON object, printed as one line: the only output format of loadgen
// (bench/compare and bench/plot.py read it). Keys keep their insertion order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace partyd::bench {

class Histogram;

class JsonLine {
 public:
  JsonLine& add(std::string_view key, std::string_view value);
  JsonLine& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  JsonLine& add(std::string_view key, double value);
  JsonLine& add(std::string_view key, int64_t value);
  JsonLine& add(std::string_view key, uint64_t value) {
    return add(key, static_cast<int64_t>(value));
  }
  JsonLine& add(std::string_view key, int value) { return add(key, static_cast<int64_t>(value)); }
  JsonLine& add(std::string_view key, bool value);
  // addRaw inserts `json` (already valid JSON) as the value.
  JsonLine& addRaw(std::string_view key, std::string_view json);
  // addLatency adds count, p50/p90/p99/p99.9/max/mean in µs, and "cdf_us": [[pct, µs], ...].
  JsonLine& addLatency(const Histogram& histogram);

  std::string str() const { return body_ + "}"; }
  // print writes the line to stdout and flushes it.
  void print() const;

 private:
  void key(std::string_view key);
  std::string body_ = "{";
};

}  // namespace partyd::bench
