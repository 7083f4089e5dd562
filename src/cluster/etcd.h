// Etcd is partyd's client of etcd 3.4's v3 JSON gateway (/v3/kv, /v3/lease, /v3/watch), over
// Boost.Beast HTTP/1.1 keep-alive POSTs: no gRPC. It owns its sockets (a small pool of idle
// keep-alive connections, bound to an optional source address) and fails over to the next endpoint
// of its list when one refuses or drops a connection. Keys and values are bytes (base64 on the
// wire); int64 fields arrive as JSON strings and are parsed here. It knows nothing of rooms or
// nodes: Membership and Ownership give keys their meaning.
// Not thread-safe: call it only on the thread that runs its io_context. Every callback runs on that
// io_context, never inside the call that started it, and never after the Etcd (or Watch) is gone.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace partyd::cluster {

struct EtcdOptions {
  std::vector<std::string> endpoints;       // "http://host:port" (IPv6 as http://[::1]:2379)
  std::string sourceAddress;                // if set, every outgoing socket binds to this IP first
  std::chrono::milliseconds timeout{2000};  // per call: connect, write and read together
};

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t createRevision = 0;
  std::int64_t modRevision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

struct RangeResult {
  std::int64_t revision = 0;  // the store's revision when the range was read
  std::vector<KeyValue> kvs;
};

// The answer of createIfAbsent: won, with `revision` = the txn's header.revision (which is the new
// key's create_revision: the fencing epoch); or lost, with the key as it is now (`current`; empty
// only if it vanished between the compare and the read, which a txn rules out).
struct CreateResult {
  bool won = false;
  std::int64_t revision = 0;
  std::optional<KeyValue> current;
};

struct LeaseGrant {
  std::int64_t id = 0;
  std::int64_t ttlSeconds = 0;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;                     // for a delete: the key and its mod_revision only
  std::optional<KeyValue> prevKv;  // the value before this event (asked for with prev_kv)
};

// What a Watch reports. onSnapshot comes first (the initial range) and again after every re-list
// (the watch's start revision was compacted): it replaces everything known under the watched
// range. onEvents follow in revision order with nothing missed or repeated between two snapshots.
// onDisconnected tells that the stream dropped and is being re-established (from the last
// delivered revision + 1); the state is still right, only possibly stale until it is back.
struct WatchHandlers {
  std::function<void(const RangeResult&)> onSnapshot;
  std::function<void(const std::vector<WatchEvent>&)> onEvents;
  std::function<void(const Error&)> onDisconnected;
};

class Etcd;

// A running list-and-watch of one key or one prefix. Destroying it stops it; no handler runs after.
class Watch {
 public:
  struct Impl;
  explicit Watch(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // The revision of the last snapshot or event delivered.
  std::int64_t revision() const;
  // True while the stream is established (after its create response, until it drops).
  bool connected() const;
  // Drops the stream now and re-establishes it (for when the caller has reason to distrust it).
  void reconnect();

 private:
  std::shared_ptr<Impl> impl_;
};

class Etcd {
 public:
  // Checks the endpoints ("http://host:port" only; https is not supported) and the source address.
  static Result<std::unique_ptr<Etcd>> create(boost::asio::io_context& io, EtcdOptions options);
  // Closes every connection; callbacks of calls in flight are dropped, never called.
  ~Etcd();
  Etcd(const Etcd&) = delete;
  Etcd& operator=(const Etcd&) = delete;

  template <typename T>
  using Callback = std::function<void(Result<T>)>;

  // Errors are messages such as "etcd: connection refused (http://127.0.0.1:2379)",
  // "etcd: timed out after 2000 ms" or "etcd: etcdserver: requested lease not found".

  // Puts key=value (on `lease` when non-zero); the result is the new store revision.
  void put(std::string key, std::string value, std::int64_t lease, Callback<std::int64_t> done);
  // The key alone, or (prefix) every key that starts with `key`.
  enum class Range { kKey, kPrefix };
  void range(std::string key, Range kind, Callback<RangeResult> done);
  // Deletes the key (or prefix); the result is the number deleted.
  void del(std::string key, Range kind, Callback<std::int64_t> done);
  // txn: if create_revision(key) == 0 then put(key, value, lease) [and put(also), leaseless]
  // else range(key).
  struct Put {
    std::string key, value;
  };
  void createIfAbsent(std::string key, std::string value, std::int64_t lease,
                      Callback<CreateResult> done, std::optional<Put> also = std::nullopt);
  // txn: if create_revision(key) == createRevision then delete(key). True if it deleted, false if
  // the key is gone or belongs to a newer creation (someone else's).
  void deleteIfCreated(std::string key, std::int64_t createRevision, Callback<bool> done);

  void leaseGrant(std::int64_t ttlSeconds, Callback<LeaseGrant> done);
  // One keepalive (a unary POST); the result is the TTL granted, 0 when the lease no longer exists.
  void leaseKeepAlive(std::int64_t id, Callback<std::int64_t> done);
  // Revokes the lease: every key attached to it is deleted.
  void leaseRevoke(std::int64_t id, Callback<void> done);
  // Lets the store drop history before `revision` (tests use it to force a watch to re-list).
  void compact(std::int64_t revision, Callback<void> done);

  // Lists `key` (or the prefix), then watches it from the list's revision + 1, with prev_kv.
  std::unique_ptr<Watch> watch(std::string key, Range kind, WatchHandlers handlers);

  boost::asio::io_context& io() const;
  const EtcdOptions& options() const;
  // The endpoint currently tried first (index into options().endpoints).
  std::size_t currentEndpoint() const;

  struct Impl;

 private:
  explicit Etcd(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// The end of a prefix range: `prefix` with its last byte below 0xff incremented (what etcd calls
// range_end); "\0" when every byte is 0xff (to the end of the keyspace).
std::string prefixEnd(std::string_view prefix);

}  // namespace partyd::cluster
