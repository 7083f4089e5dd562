#include "storage/deferred_storage.h"

#include <chrono>

namespace partyd::storage {

// ---- StorageGate ----------------------------------------------------------------------------

void StorageGate::addBeforeOpen(std::function<void()> before) {
  std::unique_lock lock(mutex_);
  if (open_) {
    lock.unlock();
    before();
    return;
  }
  before_.push_back(std::move(before));
}

void StorageGate::open() {
  std::vector<std::function<void()>> before;
  {
    std::lock_guard lock(mutex_);
    if (open_) return;
    before.swap(before_);
  }
  for (auto& fn : before) fn();
  {
    std::lock_guard lock(mutex_);
    open_ = true;
  }
  cv_.notify_all();
}

bool StorageGate::isOpen() const {
  std::lock_guard lock(mutex_);
  return open_;
}

Result<void> StorageGate::wait(std::int64_t timeoutMs) const {
  std::unique_lock lock(mutex_);
  if (cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs), [this] { return open_; })) {
    return {};
  }
  return makeError("storage is not open yet: the partyd being replaced has not closed it within " +
                   std::to_string(timeoutMs) + " ms");
}

// ---- DeferredStorage ------------------------------------------------------------------------

Result<Storage*> DeferredStorage::backend() {
  if (inner_) return inner_.get();
  if (auto r = gate_->wait(waitMs_); !r) return r.error();
  auto opened = opener_();
  if (!opened) return opened.error();
  inner_ = std::move(*opened);
  return inner_.get();
}

Result<std::optional<std::string>> DeferredStorage::get(const RoomKey& room, std::string_view key) {
  return forward(&Storage::get, room, key);
}

Result<std::vector<Entry>> DeferredStorage::getMany(const RoomKey& room,
                                                    const std::vector<std::string>& keys) {
  return forward(&Storage::getMany, room, keys);
}

Result<void> DeferredStorage::put(const RoomKey& room, std::string_view key,
                                  std::string_view value) {
  return forward(&Storage::put, room, key, value);
}

Result<bool> DeferredStorage::del(const RoomKey& room, std::string_view key) {
  return forward(&Storage::del, room, key);
}

Result<std::vector<Entry>> DeferredStorage::list(const RoomKey& room, const ListOptions& options) {
  return forward(&Storage::list, room, options);
}

Result<void> DeferredStorage::deleteAll(const RoomKey& room) {
  return forward(&Storage::deleteAll, room);
}

Result<std::optional<std::int64_t>> DeferredStorage::getAlarm(const RoomKey& room) {
  return forward(&Storage::getAlarm, room);
}

Result<void> DeferredStorage::setAlarm(const RoomKey& room, std::int64_t timeMs) {
  return forward(&Storage::setAlarm, room, timeMs);
}

Result<void> DeferredStorage::deleteAlarm(const RoomKey& room) {
  return forward(&Storage::deleteAlarm, room);
}

Result<std::vector<Alarm>> DeferredStorage::allAlarms() {
  if (!inner_ && !gate_->isOpen()) return std::vector<Alarm>{};
  return forward(&Storage::allAlarms);
}

// Nothing can have been written before the backend opened.
Result<void> DeferredStorage::commit() {
  return inner_ ? inner_->commit() : Result<void>();
}

void DeferredStorage::rollback() {
  if (inner_) inner_->rollback();
}

bool DeferredStorage::dirty() const {
  return inner_ && inner_->dirty();
}

Result<Storage::Usage> DeferredStorage::usage(const RoomKey& room) {
  if (!inner_) return Usage{};
  return inner_->usage(room);
}

std::uint64_t DeferredStorage::bytesInUse() {
  return inner_ ? inner_->bytesInUse() : 0;
}

}  // namespace partyd::storage
