#include "base/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace partyd::metrics {

void Histogram::observeNanos(std::int64_t ns) {
  if (ns < 0) ns = 0;
  const double s = static_cast<double>(ns) / 1e9;
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  ++buckets_[i];
  ++count_;
  sumNanos_ += static_cast<std::uint64_t>(ns);
}

void Histogram::add(const Histogram& other) {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sumNanos_ += other.sumNanos_;
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  // The shortest text that reads back as the same double (0.00025, not 0.00025000000000000001).
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

void TextWriter::family(std::string_view name, Type type, std::string_view help) {
  static constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram", "untyped"};
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  // HELP text escapes backslash and newline.
  for (char c : help) {
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += kTypes[static_cast<int>(type)];
  out_ += '\n';
}

void TextWriter::labels(const Labels& labels, std::string_view extraName,
                        std::string_view extraValue) {
  if (labels.empty() && extraName.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += name;
    out_ += "=\"";
    out_ += escapeLabelValue(value);
    out_ += '"';
  }
  if (!extraName.empty()) {
    if (!first) out_ += ',';
    out_ += extraName;
    out_ += "=\"";
    out_ += extraValue;
    out_ += '"';
  }
  out_ += '}';
}

void TextWriter::sample(std::string_view name, const Labels& l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += formatValue(value);
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, const Labels& l, std::uint64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void TextWriter::histogram(std::string_view name, const Labels& l, const Histogram& h) {
  std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
    cumulative += h.buckets()[i];
    out_ += bucket;
    labels(l, "le", formatValue(Histogram::kBounds[i]));
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  out_ += bucket;
  labels(l, "le", "+Inf");
  out_ += ' ';
  out_ += std::to_string(h.count());
  out_ += '\n';
  sample(std::string(name) + "_sum", l, h.sumSeconds());
  sample(std::string(name) + "_count", l, h.count());
}

}  // namespace partyd::metrics
