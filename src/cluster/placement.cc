#include "cluster/placement.h"

#include <cmath>
#include <cstring>

#include "cluster/ownership.h"

namespace partyd::cluster {

namespace {

constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr std::uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr std::uint64_t kP5 = 0x27D4EB2F165667C5ULL;

std::uint64_t rotl(std::uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

std::uint64_t read64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // little-endian on every host
  return v;
}

std::uint32_t read32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint64_t round(std::uint64_t acc, std::uint64_t input) {
  acc += input * kP2;
  acc = rotl(acc, 31);
  return acc * kP1;
}

std::uint64_t merge(std::uint64_t acc, std::uint64_t val) {
  acc ^= round(0, val);
  return acc * kP1 + kP4;
}

}  // namespace

std::uint64_t hash64(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned char* end = p + bytes.size();
  std::uint64_t h;
  if (bytes.size() >= 32) {
    std::uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    const unsigned char* limit = end - 32;
    do {
      v1 = round(v1, read64(p));
      v2 = round(v2, read64(p + 8));
      v3 = round(v3, read64(p + 16));
      v4 = round(v4, read64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = kP5;
  }
  h += bytes.size();
  while (p + 8 <= end) {
    h ^= round(0, read64(p));
    h = rotl(h, 27) * kP1 + kP4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= static_cast<std::uint64_t>(read32(p)) * kP1;
    h = rotl(h, 23) * kP2 + kP3;
    p += 4;
  }
  while (p < end) {
    h ^= (*p) * kP5;
    h = rotl(h, 11) * kP1;
    ++p;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

double hrwScore(const NodeInfo& node, std::string_view key) {
  std::string buf;
  buf.reserve(node.id.size() + 1 + key.size());
  buf.append(node.id).push_back('\n');
  buf.append(key);
  // The top 53 bits, centred in their interval: u in (0, 1), never 0 or 1.
  double u = (static_cast<double>(hash64(buf) >> 11) + 0.5) / 9007199254740992.0;
  double w = node.weight > 0 ? node.weight : 1.0;
  return -w / std::log(u);
}

const NodeInfo* hrw(const std::vector<NodeInfo>& nodes, std::string_view key,
                    std::string_view region) {
  bool restrict = false;
  if (!region.empty()) {
    for (const NodeInfo& n : nodes) {
      if (n.region == region) {
        restrict = true;
        break;
      }
    }
  }
  const NodeInfo* best = nullptr;
  double bestScore = 0;
  for (const NodeInfo& n : nodes) {
    if (restrict && n.region != region) continue;
    double s = hrwScore(n, key);
    if (!best || s > bestScore || (s == bestScore && n.id < best->id)) {
      best = &n;
      bestScore = s;
    }
  }
  return best;
}

std::string placementKey(std::string_view project, std::string_view party, std::string_view room) {
  return encodeComponent(project) + "/" + encodeComponent(party) + "/" + encodeComponent(room);
}

}  // namespace partyd::cluster
