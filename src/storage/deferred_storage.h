// DeferredStorage is a Storage whose backend opens only once a StorageGate opens: during a
// binary upgrade (server/takeover.h) the new process serves before the old one has closed its
// SQLite files, which it holds locked. A room that touches storage before then waits on its
// shard's thread (at most the wait given, then an error value), rather than failing at once.
// Stored alarms are read when the gate opens (RoomHost::loadAlarms), not at start.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/storage.h"

namespace partyd::storage {

// Shared by every DeferredStorage of a process; any thread.
class StorageGate {
 public:
  // Runs `before` (e.g. moving rooms between shard files) once, then lets every waiter open.
  void open();
  void addBeforeOpen(std::function<void()> before);
  bool isOpen() const;
  // Waits until open, at most timeoutMs; an error that says what it waited for on timeout.
  Result<void> wait(std::int64_t timeoutMs) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  bool open_ = false;
  std::vector<std::function<void()>> before_;
};

class DeferredStorage : public Storage {
 public:
  using Opener = std::function<Result<std::unique_ptr<Storage>>()>;
  DeferredStorage(std::shared_ptr<StorageGate> gate, Opener opener, std::int64_t waitMs)
      : gate_(std::move(gate)), opener_(std::move(opener)), waitMs_(waitMs) {}

  Result<std::optional<std::string>> get(const RoomKey& room, std::string_view key) override;
  Result<std::vector<Entry>> getMany(const RoomKey& room,
                                     const std::vector<std::string>& keys) override;
  Result<void> put(const RoomKey& room, std::string_view key, std::string_view value) override;
  Result<bool> del(const RoomKey& room, std::string_view key) override;
  Result<std::vector<Entry>> list(const RoomKey& room, const ListOptions& options) override;
  Result<void> deleteAll(const RoomKey& room) override;
  Result<std::optional<std::int64_t>> getAlarm(const RoomKey& room) override;
  Result<void> setAlarm(const RoomKey& room, std::int64_t timeMs) override;
  Result<void> deleteAlarm(const RoomKey& room) override;
  // Before the gate opens: none (RoomHost::loadAlarms reads them once it has).
  Result<std::vector<Alarm>> allAlarms() override;
  Result<void> commit() override;
  void rollback() override;
  bool dirty() const override;
  // Observation never waits: zero until open.
  Result<Usage> usage(const RoomKey& room) override;
  std::uint64_t bytesInUse() override;

 private:
  // Waits for the gate and opens the backend (once); the backend or why there is none.
  Result<Storage*> backend();
  // Calls `fn` on the backend, or answers why there is none.
  template <typename R, typename... Params, typename... Args>
  R forward(R (Storage::*fn)(Params...), Args&&... args) {
    auto b = backend();
    if (!b) return b.error();
    return ((*b)->*fn)(std::forward<Args>(args)...);
  }

  std::shared_ptr<StorageGate> gate_;
  Opener opener_;
  std::int64_t waitMs_;
  std::unique_ptr<Storage> inner_;
};

}  // namespace partyd::storage
