// Shard is one thread with its own Asio io_context. partyd runs one shard per core; each owns
// its rooms, its V8 isolate and its storage, and shards talk only by posting to each other's loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <functional>
#include <thread>

namespace partyd::net {

class Shard {
 public:
  Shard(std::size_t index, std::size_t count) : index_(index), count_(count) {}
  ~Shard() { join(); }
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  std::size_t index() const { return index_; }
  std::size_t count() const { return count_; }
  boost::asio::io_context& io() { return io_; }

  // Starts the thread: runs `init` on it, then the loop until stop().
  void start(std::function<void()> init, std::function<void()> fini);
  void stop() { io_.stop(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  template <typename F>
  void post(F&& fn) {
    boost::asio::post(io_, std::forward<F>(fn));
  }

  // The shard whose thread is running, or nullptr off-shard.
  static Shard* current();

 private:
  std::size_t index_;
  std::size_t count_;
  boost::asio::io_context io_{1};
  std::thread thread_;
};

}  // namespace partyd::net
