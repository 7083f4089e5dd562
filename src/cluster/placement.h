// Placement of a new activation: weighted rendezvous (highest random weight) hashing over the live
// nodes. Every node computes the same answer from the same live set without talking; the etcd
// claim settles the races when live sets differ. The owner record, not this, is the truth: HRW only
// says where a room that has no owner should go.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "cluster/membership.h"

namespace partyd::cluster {

// A stable 64-bit hash (the same on every build and machine, unlike std::hash): xxHash64, seed 0.
std::uint64_t hash64(std::string_view bytes);

// The HRW score of `node` for `key`: −weight / ln(u), u = hash64(node.id ‖ '\n' ‖ key) mapped into
// (0, 1).
double hrwScore(const NodeInfo& node, std::string_view key);

// The node with the highest score for `key` among `nodes`, restricted to those in `region` when
// `region` is given and some live node is in it; nullptr when `nodes` is empty. Ties (never in
// practice) go to the smaller id.
const NodeInfo* hrw(const std::vector<NodeInfo>& nodes, std::string_view key,
                    std::string_view region = {});

// The HRW key of a room: project, party and room, percent-encoded, joined by '/'.
std::string placementKey(std::string_view project, std::string_view party, std::string_view room);

}  // namespace partyd::cluster
