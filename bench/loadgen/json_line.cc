#include "json_line.h"

#include <cmath>
#include <cstdio>

#include "histogram.h"

namespace partyd::bench {

namespace {

void appendEscaped(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string formatNumber(double value) {
  if (!std::isfinite(value)) return "null";
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", value);
  std::string out(text);
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

}  // namespace

void JsonLine::key(std::string_view key) {
  if (body_.size() > 1) body_ += ',';
  appendEscaped(body_, key);
  body_ += ':';
}

JsonLine& JsonLine::add(std::string_view k, std::string_view value) {
  key(k);
  appendEscaped(body_, value);
  return *this;
}

JsonLine& JsonLine::add(std::string_view k, double value) {
  key(k);
  body_ += formatNumber(value);
  return *this;
}

JsonLine& JsonLine::add(std::string_view k, int64_t value) {
  key(k);
  body_ += std::to_string(value);
  return *this;
}

JsonLine& JsonLine::add(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}

JsonLine& JsonLine::addRaw(std::string_view k, std::string_view json) {
  key(k);
  body_ += json;
  return *this;
}

JsonLine& JsonLine::addLatency(const Histogram& h) {
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  add("samples", h.count());
  add("p50_us", us(h.percentileNs(50)));
  add("p90_us", us(h.percentileNs(90)));
  add("p99_us", us(h.percentileNs(99)));
  add("p999_us", us(h.percentileNs(99.9)));
  add("max_us", us(h.maxNs()));
  add("mean_us", h.meanNs() / 1000.0);
  static constexpr double kPoints[] = {0,  1,  5,  10, 20, 30,   40,   50,    60,    70,
                                       80, 90, 95, 98, 99, 99.5, 99.9, 99.95, 99.99, 100};
  std::string cdf = "[";
  for (double p : kPoints) {
    if (cdf.size() > 1) cdf += ',';
    cdf += "[" + formatNumber(p) + "," + formatNumber(us(p == 0 ? h.minNs() : h.percentileNs(p))) +
           "]";
  }
  cdf += "]";
  return addRaw("cdf_us", cdf);
}

void JsonLine::print() const {
  std::string line = str();
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace partyd::bench
