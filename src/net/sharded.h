// Sharded<T> holds one T per shard, the way seastar's sharded<T> does: each instance lives on its
// shard's thread and is reached from another shard only by invokeOn(shard, fn), which posts `fn`
// to that shard's loop. Nothing is shared but the table of pointers, written once per shard when
// its instance starts and cleared when it stops.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "net/shard.h"

namespace partyd::net {

template <typename T>
class Sharded {
 public:
  explicit Sharded(std::vector<Shard*> shards)
      : shards_(std::move(shards)), instances_(new std::atomic<T*>[shards_.size()]) {
    for (std::size_t i = 0; i < shards_.size(); ++i) instances_[i].store(nullptr);
  }
  Sharded(const Sharded&) = delete;
  Sharded& operator=(const Sharded&) = delete;

  std::size_t count() const { return shards_.size(); }
  Shard& shard(std::size_t index) const { return *shards_[index]; }

  // On shard `index`'s thread: its instance is `t` from now on (nullptr when it stops).
  void set(std::size_t index, T* t) { instances_[index].store(t, std::memory_order_release); }
  // The instance of the calling shard; only valid on that shard's thread.
  T* local(std::size_t index) const { return instances_[index].load(std::memory_order_acquire); }

  // Runs fn(T&) on shard `index`'s loop, later, never inside this call. Dropped if that shard's
  // instance has stopped by then.
  template <typename F>
  void invokeOn(std::size_t index, F&& fn) {
    shards_[index]->post([this, index, fn = std::forward<F>(fn)]() mutable {
      if (T* t = instances_[index].load(std::memory_order_acquire)) fn(*t);
    });
  }

 private:
  std::vector<Shard*> shards_;
  std::unique_ptr<std::atomic<T*>[]> instances_;
};

}  // namespace partyd::net
