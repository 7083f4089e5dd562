#include "cluster/membership.h"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "base/clock.h"
#include "base/log.h"
#include "base/random.h"

namespace partyd::cluster {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

// ---- the node record --------------------------------------------------------------------------

std::string nodeRecordJson(const NodeInfo& node) {
  json::object o;
  o["id"] = node.id;
  o["addr"] = node.addr;
  o["region"] = node.region;
  o["started"] = node.started;
  if (node.weight != 1.0) o["weight"] = node.weight;
  return json::serialize(o);
}

std::optional<NodeInfo> parseNodeRecord(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  auto str = [&](std::string_view k) -> std::optional<std::string> {
    auto it = o.find(k);
    if (it == o.end()) return std::string();
    if (!it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
  };
  NodeInfo n;
  auto id = str("id"), addr = str("addr"), region = str("region");
  if (!id || !addr || !region || id->empty()) return std::nullopt;
  n.id = std::move(*id);
  n.addr = std::move(*addr);
  n.region = std::move(*region);
  if (auto it = o.find("started"); it != o.end() && it->value().is_number())
    n.started = it->value().to_number<std::int64_t>(ec);
  if (auto it = o.find("weight"); it != o.end() && it->value().is_number()) {
    double w = it->value().to_number<double>(ec);
    if (!ec && w > 0 && w < 1e9) n.weight = w;
  }
  return n;
}

std::string Membership::nodesPrefix(std::string_view cluster) {
  return "/partyd/" + std::string(cluster) + "/nodes/";
}

// ---- lifecycle --------------------------------------------------------------------------------

Membership::Membership(Etcd& etcd, MembershipOptions options, Counters* counters)
    : etcd_(etcd),
      options_(std::move(options)),
      counters_(counters),
      nodeId_(randomUuid()),
      keepAliveTimer_(etcd.io()),
      fenceTimer_(etcd.io()),
      rejoinTimer_(etcd.io()) {
  if (options_.ttl.count() < 1) options_.ttl = std::chrono::seconds(1);
  milliseconds t = options_.ttl;
  if (options_.margin.count() <= 0 || options_.margin >= t) options_.margin = t / 5;
  self_.id = nodeId_;
  self_.addr = options_.addr;
  self_.region = options_.region;
  self_.weight = options_.weight;
}

Membership::~Membership() {
  *alive_ = false;
  running_ = false;
}

void Membership::start(std::function<void(Result<void>)> ready) {
  running_ = true;
  std::weak_ptr<bool> alive = alive_;
  WatchHandlers h;
  h.onSnapshot = [this, alive](const RangeResult& r) {
    if (!alive.expired()) onSnapshot(r);
  };
  h.onEvents = [this, alive](const std::vector<WatchEvent>& e) {
    if (!alive.expired()) onEvents(e);
  };
  h.onDisconnected = [](const Error& e) { log::warn("cluster: nodes watch: " + e.message); };
  watch_ = etcd_.watch(nodesPrefix(options_.clusterName), Etcd::Range::kPrefix, std::move(h));
  join([this, alive, ready = std::move(ready)](Result<void> r) {
    if (alive.expired()) return;
    if (!r) {
      running_ = false;
      watch_.reset();
    }
    if (ready) ready(std::move(r));
  });
}

void Membership::stop(std::function<void()> done) {
  running_ = false;
  healthy_ = false;
  keepAliveTimer_.cancel();
  fenceTimer_.cancel();
  rejoinTimer_.cancel();
  watch_.reset();
  std::int64_t lease = leaseId_;
  leaseId_ = 0;
  if (lease == 0) {
    if (done) asio::post(etcd_.io(), std::move(done));
    return;
  }
  etcd_.leaseRevoke(lease, [alive = std::weak_ptr<bool>(alive_), done](Result<void>) {
    if (done && !alive.expired()) done();
  });
}

// Grants a lease and puts the record on it: a new membership epoch.
void Membership::join(std::function<void(Result<void>)> done) {
  joining_ = true;
  std::int64_t sent = monotonicMs();
  std::weak_ptr<bool> alive = alive_;
  etcd_.leaseGrant(options_.ttl.count(), [this, alive, sent, done](Result<LeaseGrant> g) {
    if (alive.expired()) return;
    if (!g || !running_) {
      joining_ = false;
      if (g) etcd_.leaseRevoke(g->id, [](Result<void>) {});
      done(g ? makeError("cluster: membership stopped") : g.error());
      return;
    }
    std::int64_t lease = g->id;
    self_.started = wallMs();
    etcd_.put(nodesPrefix(options_.clusterName) + nodeId_, nodeRecordJson(self_), lease,
              [this, alive, sent, lease, done](Result<std::int64_t> p) {
                if (alive.expired()) return;
                joining_ = false;
                // Too late to be safe: the lease may be about to run out already.
                bool stale =
                    monotonicMs() >= sent + options_.ttl.count() * 1000 - options_.margin.count();
                if (!p || stale || !running_) {
                  etcd_.leaseRevoke(lease, [](Result<void>) {});
                  done(!p ? p.error()
                          : makeError(stale ? "cluster: joining took longer than the lease TTL"
                                            : "cluster: membership stopped"));
                  return;
                }
                leaseId_ = lease;
                lastAckSentMs_ = sent;
                ++epoch_;
                healthy_ = true;
                armFence();
                scheduleKeepAlive(milliseconds(options_.ttl) / 3);
                log::info("cluster: node " + nodeId_ + " joined (lease " +
                          std::to_string(leaseId_) + ", epoch " + std::to_string(epoch_) + ")");
                done(Result<void>());
              });
  });
}

// ---- keepalive and the self-fence -------------------------------------------------------------

std::int64_t Membership::fenceAtMs() const {
  return lastAckSentMs_ + options_.ttl.count() * 1000 - options_.margin.count();
}

void Membership::scheduleKeepAlive(milliseconds after) {
  keepAliveTimer_.expires_after(after);
  keepAliveTimer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired() || !running_ || !healthy_) return;
        keepAlive();
        scheduleKeepAlive(milliseconds(options_.ttl) / 3);
      });
}

void Membership::keepAlive() {
  if (paused_) return;
  // Several may be in flight when etcd is slow: each ack moves t_sent to its own send time.
  std::int64_t sent = monotonicMs();
  std::int64_t lease = leaseId_;
  etcd_.leaseKeepAlive(
      lease, [this, alive = std::weak_ptr<bool>(alive_), sent, lease](Result<std::int64_t> ttl) {
        if (alive.expired() || !running_ || !healthy_ || lease != leaseId_) return;
        if (!ttl) {
          log::warn("cluster: keepalive of lease " + std::to_string(lease) + ": " +
                    ttl.error().message);
          return;  // the fence timer decides
        }
        if (*ttl <= 0) {
          fence("the lease is gone");
          return;
        }
        if (sent > lastAckSentMs_) {
          lastAckSentMs_ = sent;
          armFence();
        }
      });
}

void Membership::armFence() {
  fenceTimer_.expires_at(SteadyTime(milliseconds(fenceAtMs())));
  fenceTimer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_), epoch = epoch_](boost::system::error_code ec) {
        if (ec || alive.expired() || epoch != epoch_) return;
        // A later ack may have moved the deadline while this wait was already due.
        if (monotonicMs() < fenceAtMs()) return;
        fence("no keepalive acknowledged in time");
      });
}

void Membership::fence(const char* why) {
  if (!healthy_) return;
  healthy_ = false;
  keepAliveTimer_.cancel();
  fenceTimer_.cancel();
  if (counters_) counters_->selfFences.fetch_add(1, std::memory_order_relaxed);
  log::warn("cluster: node " + nodeId_ + " fenced itself (" + why +
            "): the last acknowledged keepalive was sent " +
            std::to_string(monotonicMs() - lastAckSentMs_) + " ms ago");
  std::weak_ptr<bool> alive = alive_;
  if (onFenced) onFenced();
  if (alive.expired() || !running_) return;
  scheduleRejoin(milliseconds(0));
}

void Membership::scheduleRejoin(milliseconds after) {
  rejoinTimer_.expires_after(after);
  rejoinTimer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired() || !running_ || healthy_ || joining_) return;
        if (paused_) {
          scheduleRejoin(milliseconds(options_.ttl) / 3);
          return;
        }
        // The old lease's keys (this node's rooms) go at once instead of at its expiry.
        std::int64_t old = leaseId_;
        auto rejoin = [this, alive] {
          if (alive.expired() || !running_) return;
          join([this, alive](Result<void> r) {
            if (alive.expired()) return;
            if (!r) {
              log::warn("cluster: rejoin failed: " + r.error().message);
              scheduleRejoin(milliseconds(options_.ttl) / 3);
              return;
            }
            if (onRejoined) onRejoined();
          });
        };
        if (old == 0) return rejoin();
        leaseId_ = 0;
        etcd_.leaseRevoke(old, [rejoin](Result<void>) { rejoin(); });
      });
}

void Membership::setPausedForTesting(bool paused) {
  paused_ = paused;
}

// ---- the live set -----------------------------------------------------------------------------

void Membership::onSnapshot(const RangeResult& r) {
  nodes_.clear();
  for (const KeyValue& kv : r.kvs) {
    if (auto n = parseNodeRecord(kv.value)) nodes_[kv.key] = std::move(*n);
  }
  publishLive();
}

void Membership::onEvents(const std::vector<WatchEvent>& events) {
  for (const WatchEvent& e : events) {
    if (e.type == WatchEvent::Type::kDelete) {
      nodes_.erase(e.kv.key);
    } else if (auto n = parseNodeRecord(e.kv.value)) {
      nodes_[e.kv.key] = std::move(*n);
    } else {
      nodes_.erase(e.kv.key);
    }
  }
  publishLive();
}

void Membership::publishLive() {
  std::vector<NodeInfo> live;
  for (const auto& [key, n] : nodes_) live.push_back(n);
  std::sort(live.begin(), live.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return a.id < b.id; });
  auto same = [](const NodeInfo& a, const NodeInfo& b) {
    return a.id == b.id && a.addr == b.addr && a.region == b.region && a.started == b.started &&
           a.weight == b.weight;
  };
  bool changed =
      live.size() != live_.size() || !std::equal(live.begin(), live.end(), live_.begin(), same);
  live_ = std::move(live);
  if (changed && onNodesChanged) onNodesChanged();
}

}  // namespace partyd::cluster
