// Loops runs one Asio io_context per thread (the load generator's --threads). Connections are
// given to one loop and stay there, so a connection's state is touched by one thread only; the
// main thread orchestrates through post() and atomics.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace partyd::bench {

namespace asio = boost::asio;

class Loops {
 public:
  explicit Loops(int threads);
  ~Loops();
  Loops(const Loops&) = delete;
  Loops& operator=(const Loops&) = delete;

  int size() const { return static_cast<int>(contexts_.size()); }
  asio::io_context& at(int i) { return *contexts_[i % contexts_.size()]; }
  void post(int i, std::function<void()> fn);
  // stop ends every loop and joins its thread; pending handlers are dropped.
  void stop();

 private:
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace partyd::bench
