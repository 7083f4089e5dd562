#include "cluster/metrics.h"

namespace partyd::cluster {

void writeMetrics(metrics::TextWriter& out, const Counters& c) {
  using Type = metrics::TextWriter::Type;
  out.family("partyd_cluster_claims_total", Type::kCounter,
             "Room ownership claims in etcd, by outcome.");
  out.sample("partyd_cluster_claims_total", {{"result", "won"}},
             c.claimsWon.load(std::memory_order_relaxed));
  out.sample("partyd_cluster_claims_total", {{"result", "lost"}},
             c.claimsLost.load(std::memory_order_relaxed));
  out.family("partyd_cluster_self_fence_total", Type::kCounter,
             "Times this node stopped serving because its etcd lease could not be kept alive.");
  out.sample("partyd_cluster_self_fence_total", {}, c.selfFences.load(std::memory_order_relaxed));
}

}  // namespace partyd::cluster
