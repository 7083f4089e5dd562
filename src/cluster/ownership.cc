#include "cluster/ownership.h"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "base/log.h"

namespace partyd::cluster {

namespace asio = boost::asio;
namespace json = boost::json;

// ---- key encoding -----------------------------------------------------------------------------

std::string encodeComponent(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' ||
                c == '(' || c == ')';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> decodeComponent(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string Ownership::roomsPrefix() const {
  return "/partyd/" + membership_.clusterName() + "/rooms/";
}

std::string Ownership::roomKey(const RoomRef& r) const {
  return roomsPrefix() + encodeComponent(r.project) + "/" + encodeComponent(r.party) + "/" +
         encodeComponent(r.room);
}

std::string Ownership::homePrefix(const std::string& project) const {
  return "/partyd/" + membership_.clusterName() + "/home/" + encodeComponent(project) + "/";
}

std::string Ownership::homeKey(const RoomRef& r) const {
  return homePrefix(r.project) + encodeComponent(r.party) + "/" + encodeComponent(r.room);
}

std::optional<RoomRef> Ownership::parseRoomKey(std::string_view key) const {
  std::string prefix = roomsPrefix();
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  key.remove_prefix(prefix.size());
  std::size_t a = key.find('/');
  if (a == std::string_view::npos) return std::nullopt;
  std::size_t b = key.find('/', a + 1);
  if (b == std::string_view::npos || key.find('/', b + 1) != std::string_view::npos)
    return std::nullopt;
  auto project = decodeComponent(key.substr(0, a));
  auto party = decodeComponent(key.substr(a + 1, b - a - 1));
  auto room = decodeComponent(key.substr(b + 1));
  if (!project || !party || !room) return std::nullopt;
  return RoomRef{std::move(*project), std::move(*party), std::move(*room)};
}

std::optional<Owner> Ownership::ownerOf(const KeyValue& kv) const {
  Owner o;
  o.epoch = kv.createRevision;
  o.lease = kv.lease;
  boost::system::error_code ec;
  json::value v = json::parse(kv.value, ec);
  if (ec || !v.is_object()) return o;  // an owner we cannot name: still an owner
  const json::object& obj = v.as_object();
  if (auto it = obj.find("node"); it != obj.end() && it->value().is_string())
    o.node = std::string(it->value().as_string());
  if (auto it = obj.find("addr"); it != obj.end() && it->value().is_string())
    o.addr = std::string(it->value().as_string());
  return o;
}

// ---- lifecycle --------------------------------------------------------------------------------

Ownership::Ownership(Etcd& etcd, Membership& membership, Counters* counters)
    : etcd_(etcd), membership_(membership), counters_(counters) {}

Ownership::~Ownership() {
  *alive_ = false;
}

void Ownership::start() {
  std::weak_ptr<bool> alive = alive_;
  WatchHandlers h;
  h.onSnapshot = [this, alive](const RangeResult& r) {
    if (!alive.expired()) onSnapshot(r);
  };
  h.onEvents = [this, alive](const std::vector<WatchEvent>& e) {
    if (!alive.expired()) onEvents(e);
  };
  h.onDisconnected = [](const Error& e) { log::warn("cluster: rooms watch: " + e.message); };
  watch_ = etcd_.watch(roomsPrefix(), Etcd::Range::kPrefix, std::move(h));
}

void Ownership::stop() {
  watch_.reset();
}

bool Ownership::watching() const {
  return watch_ && watch_->connected();
}

// ---- claim and release ------------------------------------------------------------------------

void Ownership::claim(const RoomRef& room, std::string homeRegion,
                      std::function<void(Result<ClaimResult>)> done) {
  if (!membership_.healthy() || membership_.leaseId() == 0) {
    asio::post(etcd_.io(), [done = std::move(done)] {
      done(makeError(
          "cluster: cannot claim a room: this node is not serving (its etcd lease is not kept "
          "alive: not joined yet, or self-fenced)"));
    });
    return;
  }
  claimOnce(room, std::move(homeRegion), false, std::move(done));
}

void Ownership::claimOnce(const RoomRef& room, std::string homeRegion, bool retried,
                          std::function<void(Result<ClaimResult>)> done) {
  std::int64_t lease = membership_.leaseId();
  std::string key = roomKey(room);
  json::object v;
  v["node"] = membership_.nodeId();
  v["addr"] = membership_.self().addr;
  std::weak_ptr<bool> alive = alive_;
  std::optional<Etcd::Put> home;
  if (!homeRegion.empty()) home = Etcd::Put{homeKey(room), homeRegion};
  etcd_.createIfAbsent(
      key, json::serialize(v), lease,
      [this, alive, room, homeRegion, retried, lease, key, done](Result<CreateResult> r) {
        if (alive.expired()) return;
        if (!r) return done(r.error());
        const std::string& me = membership_.nodeId();
        std::optional<Owner> current = r->current ? ownerOf(*r->current) : std::nullopt;
        std::int64_t wonEpoch = 0;
        if (r->won) {
          wonEpoch = r->revision;
        } else if (current && current->node == me && current->lease == lease) {
          wonEpoch = current->epoch;  // an earlier try of this claim went through
        }
        if (wonEpoch != 0) {
          if (!membership_.healthy() || membership_.leaseId() != lease) {
            etcd_.deleteIfCreated(key, wonEpoch, [](Result<bool>) {});
            return done(makeError("cluster: this node fenced itself while claiming the room"));
          }
          Owner self{me, membership_.self().addr, wonEpoch, lease};
          if (r->won && !homeRegion.empty()) rememberHome(room, homeRegion);
          held_[room] = wonEpoch;
          cache_[room] = self;
          if (counters_) counters_->claimsWon.fetch_add(1, std::memory_order_relaxed);
          return done(ClaimResult{true, wonEpoch, std::move(self)});
        }
        if (!current || (current->node == me && !retried)) {
          // Gone between compare and read (cannot happen in one txn, but cheap to handle), or a
          // claim of this node from an older membership epoch (a lease that is being revoked or
          // expiring): that instance was fenced, so its key may go.
          if (retried) return done(makeError("cluster: the room's owner key keeps changing"));
          auto again = [this, alive, room, homeRegion, done] {
            if (!alive.expired()) claimOnce(room, homeRegion, true, done);
          };
          if (!current) return again();
          etcd_.deleteIfCreated(key, current->epoch, [again](const Result<bool>&) { again(); });
          return;
        }
        cache_[room] = *current;
        if (counters_) counters_->claimsLost.fetch_add(1, std::memory_order_relaxed);
        done(ClaimResult{false, current->epoch, std::move(*current)});
      },
      std::move(home));
}

void Ownership::homeRegion(const RoomRef& room, std::function<void(Result<std::string>)> done) {
  if (auto it = homes_.find(room); it != homes_.end()) {
    asio::post(etcd_.io(), [region = it->second, done = std::move(done)] { done(region); });
    return;
  }
  etcd_.range(homeKey(room), Etcd::Range::kKey,
              [this, alive = std::weak_ptr<bool>(alive_), room, done](Result<RangeResult> r) {
                if (alive.expired()) return;
                if (!r) return done(r.error());
                if (r->kvs.empty()) return done(std::string());
                rememberHome(room, r->kvs.front().value);
                done(r->kvs.front().value);
              });
}

void Ownership::forgetProject(const std::string& project,
                              std::function<void(Result<std::int64_t>)> done) {
  std::erase_if(homes_, [&](const auto& kv) { return kv.first.project == project; });
  etcd_.del(homePrefix(project), Etcd::Range::kPrefix,
            [alive = std::weak_ptr<bool>(alive_), done = std::move(done)](Result<std::int64_t> r) {
              if (!alive.expired()) done(std::move(r));
            });
}

void Ownership::rememberHome(const RoomRef& room, std::string region) {
  constexpr std::size_t kMaxHomes = 65536;
  if (homes_.size() >= kMaxHomes) homes_.clear();
  homes_[room] = std::move(region);
}

void Ownership::release(const RoomRef& room, std::function<void(Result<bool>)> done) {
  std::int64_t epoch = 0;
  if (auto it = held_.find(room); it != held_.end()) {
    epoch = it->second;
    held_.erase(it);
  } else if (auto c = cache_.find(room);
             c != cache_.end() && c->second.node == membership_.nodeId()) {
    epoch = c->second.epoch;
  }
  if (epoch == 0) {
    asio::post(etcd_.io(), [done = std::move(done)] { done(false); });
    return;
  }
  etcd_.deleteIfCreated(
      roomKey(room), epoch,
      [alive = std::weak_ptr<bool>(alive_), done = std::move(done)](Result<bool> r) {
        if (!alive.expired()) done(std::move(r));
      });
}

void Ownership::forgetAll() {
  held_.clear();
}

std::optional<Owner> Ownership::lookup(const RoomRef& room) const {
  auto it = cache_.find(room);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::int64_t> Ownership::heldEpoch(const RoomRef& room) const {
  auto it = held_.find(room);
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

void Ownership::lookupFresh(const RoomRef& room,
                            std::function<void(Result<std::optional<Owner>>)> done) {
  etcd_.range(roomKey(room), Etcd::Range::kKey,
              [this, alive = std::weak_ptr<bool>(alive_), room, done](Result<RangeResult> r) {
                if (alive.expired()) return;
                if (!r) return done(r.error());
                if (r->kvs.empty()) {
                  cache_.erase(room);
                  return done(std::optional<Owner>());
                }
                std::optional<Owner> o = ownerOf(r->kvs.front());
                cache_[room] = *o;
                done(std::move(o));
              });
}

// ---- the cache --------------------------------------------------------------------------------

void Ownership::onSnapshot(const RangeResult& r) {
  std::map<RoomRef, Owner> fresh;
  for (const KeyValue& kv : r.kvs) {
    auto room = parseRoomKey(kv.key);
    if (!room) continue;
    if (auto o = ownerOf(kv)) fresh[*room] = std::move(*o);
  }
  std::vector<std::pair<RoomRef, Owner>> gone;
  for (const auto& [room, owner] : cache_) {
    auto it = fresh.find(room);
    if (it == fresh.end() || it->second.epoch != owner.epoch) gone.emplace_back(room, owner);
  }
  cache_ = std::move(fresh);
  for (const auto& [room, owner] : gone) {
    if (auto h = held_.find(room); h != held_.end() && h->second == owner.epoch) held_.erase(h);
    if (onOwnerGone) onOwnerGone(room, owner);
  }
}

void Ownership::onEvents(const std::vector<WatchEvent>& events) {
  std::weak_ptr<bool> alive = alive_;
  for (const WatchEvent& e : events) {
    auto room = parseRoomKey(e.kv.key);
    if (!room) continue;
    if (e.type == WatchEvent::Type::kPut) {
      if (auto o = ownerOf(e.kv)) cache_[*room] = std::move(*o);
      continue;
    }
    Owner owner;
    auto it = cache_.find(*room);
    if (e.prevKv) {
      owner = ownerOf(*e.prevKv).value_or(Owner{});
    } else if (it != cache_.end()) {
      owner = it->second;
    }
    if (it != cache_.end()) cache_.erase(it);
    if (auto h = held_.find(*room); h != held_.end() && h->second == owner.epoch) held_.erase(h);
    if (onOwnerGone) onOwnerGone(*room, owner);
    if (alive.expired()) return;
  }
}

}  // namespace partyd::cluster
