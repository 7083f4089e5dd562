// Ownership is who hosts which room, in etcd: the key /partyd/<c>/rooms/<project>/<party>/<room>
// (each part percent-encoded as encodeURIComponent does) = {"node","addr"}, attached to the
// owner's node lease, so a dead node loses all its rooms at once. A claim is a txn that creates
// the key only if absent; its revision is the room's fencing epoch. A release deletes the key only
// if it is still the one this node created. A list-and-watch of the rooms prefix keeps a cache of
// every owner for lookups and tells when an owner's key goes (onOwnerGone).
// A room's home region (the region it was placed in when first claimed) is kept apart, in
// /partyd/<c>/home/<project>/<party>/<room>, with no lease: it outlives its owners, so a room
// that fails over is placed in its home region again (docs/cluster.md, "Placement").
// Runs on the io_context of its Etcd; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cluster/etcd.h"
#include "cluster/membership.h"
#include "cluster/metrics.h"

namespace partyd::cluster {

struct RoomRef {
  std::string project;
  std::string party;
  std::string room;
  auto operator<=>(const RoomRef&) const = default;
};

struct Owner {
  std::string node;        // node id
  std::string addr;        // its advertised host:port
  std::int64_t epoch = 0;  // the create_revision of the owner key
  std::int64_t lease = 0;
};

struct ClaimResult {
  bool won = false;
  std::int64_t epoch = 0;  // = owner.epoch
  Owner owner;             // this node when won
};

// encodeURIComponent: every byte but A–Z a–z 0–9 - _ . ! ~ * ' ( ) as %XX (upper-case hex).
std::string encodeComponent(std::string_view s);
// The inverse; nothing when a % is not followed by two hex digits.
std::optional<std::string> decodeComponent(std::string_view s);

class Ownership {
 public:
  Ownership(Etcd& etcd, Membership& membership, Counters* counters = nullptr);
  ~Ownership();
  Ownership(const Ownership&) = delete;
  Ownership& operator=(const Ownership&) = delete;

  // Starts the rooms watch (the cache). Claims work before it is filled.
  void start();
  void stop();

  // Claims the room for this node: won with the fencing epoch, or lost with the current owner.
  // A claim that wins also records `homeRegion` (when not empty) as the room's home, in the same
  // transaction. Fails (an error, no claim sent) while the membership is not healthy.
  void claim(const RoomRef& room, std::string homeRegion,
             std::function<void(Result<ClaimResult>)> done);
  // The room's home region: "" when it has none (never claimed with a region). Answered from a
  // bounded cache when it can be (a home changes only when a claim wins, which needs the room to
  // have no owner), else with one range.
  void homeRegion(const RoomRef& room, std::function<void(Result<std::string>)> done);
  // Deletes the room's key if it is still this node's claim; true if it deleted it. Forgets the
  // claim either way.
  void release(const RoomRef& room, std::function<void(Result<bool>)> done);
  // Drops every claim of this node from its books, with no etcd call (after a self-fence: the old
  // lease takes the keys with it).
  void forgetAll();

  // The owner in the watch cache (may lag etcd by the watch's delay).
  std::optional<Owner> lookup(const RoomRef& room) const;
  // The owner as etcd has it now (one range), refreshing the cache.
  void lookupFresh(const RoomRef& room, std::function<void(Result<std::optional<Owner>>)> done);
  // The epoch this node holds for the room, if it won a claim on it and has not released it.
  std::optional<std::int64_t> heldEpoch(const RoomRef& room) const;
  std::size_t cachedCount() const { return cache_.size(); }
  bool watching() const;

  // Called when an owner key is deleted (expiry of its lease, a release, a revoke), with the owner
  // it had. Also called for keys that vanished across a re-list.
  std::function<void(const RoomRef&, const Owner&)> onOwnerGone;

  std::string roomKey(const RoomRef& room) const;
  std::optional<RoomRef> parseRoomKey(std::string_view key) const;
  std::string roomsPrefix() const;
  std::string homeKey(const RoomRef& room) const;
  // The prefix of every home key of `project`'s rooms.
  std::string homePrefix(const std::string& project) const;

  // A project was deleted: its rooms' home regions go (from etcd and the cache), so that a new
  // project of the same name starts without them. `done` gets the number of keys deleted.
  void forgetProject(const std::string& project, std::function<void(Result<std::int64_t>)> done);

 private:
  void claimOnce(const RoomRef& room, std::string homeRegion, bool retried,
                 std::function<void(Result<ClaimResult>)> done);
  void rememberHome(const RoomRef& room, std::string region);
  std::optional<Owner> ownerOf(const KeyValue& kv) const;
  void onSnapshot(const RangeResult& r);
  void onEvents(const std::vector<WatchEvent>& events);

  Etcd& etcd_;
  Membership& membership_;
  Counters* counters_;
  std::unique_ptr<Watch> watch_;
  std::map<RoomRef, Owner> cache_;
  std::map<RoomRef, std::int64_t> held_;  // claims this node won: room → epoch
  std::map<RoomRef, std::string> homes_;  // home regions seen (bounded: cleared when full)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace partyd::cluster
