// Stamps in message payloads, shared by the workloads that time a message from send to receipt
// (W3 broadcast, W7 soak): "m" + 16 lowercase hex digits of the steady clock in ns, then whatever
// fields the workload appends as fixed-width hex. Hex keeps the frame text, so every server
// (and its logs) handles it as an ordinary string message.
#pragma once

#include <cstdint>
#include <string_view>

#include "target.h"

namespace partyd::bench {

constexpr size_t kStampBytes = 17;

// nowNs returns `t` as nanoseconds of the steady clock.
uint64_t nowNs(Clock::time_point t);

// writeHex writes `value` as `digits` lowercase hex digits at `out`.
void writeHex(char* out, uint64_t value, int digits);
// readHex parses `digits` hex digits of `text` at `offset`; false if short or not hex.
bool readHex(std::string_view text, size_t offset, int digits, uint64_t& value);

// writeStamp puts "m" and 16 hex digits of `ns` at the start of `out` (kStampBytes bytes).
void writeStamp(char* out, uint64_t ns);
bool readStamp(std::string_view payload, uint64_t& ns);

}  // namespace partyd::bench
