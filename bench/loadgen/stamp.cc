#include "stamp.h"

namespace partyd::bench {

uint64_t nowNs(Clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

void writeHex(char* out, uint64_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kHex[value & 15];
    value >>= 4;
  }
}

bool readHex(std::string_view text, size_t offset, int digits, uint64_t& value) {
  if (text.size() < offset + static_cast<size_t>(digits)) return false;
  uint64_t result = 0;
  for (int i = 0; i < digits; ++i) {
    char c = text[offset + i];
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return false;
    }
    result = (result << 4) | digit;
  }
  value = result;
  return true;
}

void writeStamp(char* out, uint64_t ns) {
  out[0] = 'm';
  writeHex(out + 1, ns, 16);
}

bool readStamp(std::string_view payload, uint64_t& ns) {
  return !payload.empty() && payload[0] == 'm' && readHex(payload, 1, 16, ns);
}

}  // namespace partyd::bench
