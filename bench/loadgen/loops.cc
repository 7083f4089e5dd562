#include "loops.h"

#include <boost/asio/post.hpp>

namespace partyd::bench {

Loops::Loops(int threads) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] { contexts_[i]->run(); });
  }
}

Loops::~Loops() {
  stop();
}

void Loops::post(int i, std::function<void()> fn) {
  asio::post(at(i), std::move(fn));
}

void Loops::stop() {
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  guards_.clear();
}

}  // namespace partyd::bench
