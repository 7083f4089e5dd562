// The counters of cluster mode that this layer owns, as plain numbers the composition root exports
// on /metrics. They are written on the cluster thread and read by a scrape on another, hence
// relaxed atomics (not a data path: a claim or a fence at most).
#pragma once

#include <atomic>
#include <cstdint>

#include "base/metrics.h"

namespace partyd::cluster {

struct Counters {
  std::atomic<std::uint64_t> claimsWon{0};   // partyd_cluster_claims_total{result="won"}
  std::atomic<std::uint64_t> claimsLost{0};  // partyd_cluster_claims_total{result="lost"}
  std::atomic<std::uint64_t> selfFences{0};  // partyd_cluster_self_fence_total
};

// Writes partyd_cluster_claims_total and partyd_cluster_self_fence_total.
void writeMetrics(metrics::TextWriter& out, const Counters& counters);

}  // namespace partyd::cluster
