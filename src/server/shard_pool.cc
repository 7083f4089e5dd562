#include "server/shard_pool.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <utility>

#include "base/clock.h"

namespace partyd::server {

using boost::asio::ip::tcp;

namespace {

// One shard per core that this process may run on: `taskset`, cgroup cpusets and container CPU
// sets shrink it, and more shards than cores only take turns on them (a socket hand-off between
// two shards on one core costs two context switches).
std::size_t usableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<std::size_t>(CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

ShardPool::ShardPool(PoolOptions options) : options_(std::move(options)) {}

ShardPool::~ShardPool() {
  stop();
}

Result<void> ShardPool::start(Router router) {
  router_ = std::move(router);
  std::size_t n = options_.threads ? options_.threads : usableCores();
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<net::Shard>(i, n));
    std::promise<void> ready;
    auto done = ready.get_future();
    shards_.back()->start([&ready] { ready.set_value(); }, [] {});
    done.get();
  }
  running_ = true;
  watchdog_ = std::thread([this] { watchdog(); });
  return {};
}

http::Session::Handler ShardPool::handlerFor(std::size_t i) {
  return [this, i](std::shared_ptr<http::Session> s, http::Request&& req) {
    router_(i, std::move(s), std::move(req));
  };
}

void ShardPool::serve(std::size_t i, net::Socket socket) {
  auto session = std::make_shared<http::Session>(std::move(socket), std::string(),
                                                 options_.httpLimits, handlerFor(i));
  session->start();
}

void ShardPool::serve(std::size_t i, net::Accepted accepted) {
  auto session = std::make_shared<http::Session>(shards_[i]->io(), accepted.fd, std::string(),
                                                 options_.httpLimits, handlerFor(i),
                                                 accepted.peer);
  session->start();
}

Result<void> ShardPool::listen() {
  if (tls_) {
    // TLS threads accept and shake hands; each plaintext end goes to a shard, in turn.
    tlsFront_ = std::make_unique<net::TlsFront>(
        tls_, shards_.size(), [this](std::size_t thread, int fd) {
          std::size_t i = thread % shards_.size();
          shards_[i]->post([this, i, fd] {
            net::Socket socket(shards_[i]->io());
            boost::system::error_code ec;
            socket.assign(tcp::v6(), fd, ec);
            if (ec) {
              ::close(fd);
              return;
            }
            serve(i, std::move(socket));
          });
        });
    auto r = tlsFront_->listen(options_.address, options_.port, std::exchange(inherited_, {}));
    if (!r) return r;
    port_ = tlsFront_->port();
    listenFds_ = tlsFront_->listenFds();
    return {};
  }
  unsigned short port = options_.port;
  std::vector<std::vector<int>> spread = net::spreadFds(std::exchange(inherited_, {}), size());
  std::vector<std::pair<std::size_t, std::shared_ptr<net::Listener>>> opened;
  Result<void> out = onEach([this, &port, &spread, &opened](std::size_t i) -> Result<void> {
    auto onAccept = [this, i](net::Accepted accepted) { serve(i, std::move(accepted)); };
    for (int fd : spread[i]) {
      auto listener = net::Listener::adopt(shards_[i]->io(), fd, onAccept);
      if (!listener) return listener.error();
      opened.emplace_back(i, *listener);
      port = (*listener)->port();
    }
    if (spread[i].empty()) {
      auto listener = net::Listener::open(shards_[i]->io(), options_.address, port, onAccept);
      if (!listener) return listener.error();
      opened.emplace_back(i, *listener);
      port = (*listener)->port();
    }
    return {};
  });
  for (auto& [i, l] : opened) {
    listenFds_.push_back(l->nativeHandle());
    if (out) shards_[i]->post([l = l] { l->start(); });
  }
  listeners_ = std::move(opened);
  if (out) port_ = port;
  return out;
}

std::vector<int> ShardPool::listenFds() const {
  return listenFds_;
}

Result<void> ShardPool::onEach(const std::function<Result<void>(std::size_t)>& fn) {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    std::promise<Result<void>> result;
    auto done = result.get_future();
    shards_[i]->post([&result, &fn, i] { result.set_value(fn(i)); });
    Result<void> r = done.get();
    if (!r) return r;
  }
  return {};
}

std::vector<net::Shard*> ShardPool::shards() const {
  std::vector<net::Shard*> out;
  for (const auto& s : shards_) out.push_back(s.get());
  return out;
}

void ShardPool::watch(js::Engine* engine) {
  std::lock_guard lock(enginesMutex_);
  engines_.insert(engine);
}

void ShardPool::unwatch(js::Engine* engine) {
  std::lock_guard lock(enginesMutex_);
  engines_.erase(engine);
}

void ShardPool::closeListeners() {
  if (tlsFront_) tlsFront_->closeListeners();
  for (auto& [i, l] : listeners_) shards_[i]->post([l = l] { l->close(); });
  listeners_.clear();
  listenFds_.clear();
}

void ShardPool::stop() {
  running_ = false;
  closeListeners();
  // The TLS threads first: a pipe's last bytes may still be posted to a shard.
  if (tlsFront_) tlsFront_->stop();
  for (auto& s : shards_) s->stop();
  for (auto& s : shards_) s->join();
  if (watchdog_.joinable()) watchdog_.join();
  listeners_.clear();
  shards_.clear();
}

void ShardPool::watchdog() {
  while (running_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::int64_t now = monotonicMs();
    std::lock_guard lock(enginesMutex_);
    for (js::Engine* e : engines_) e->checkDeadline(now);
  }
}

}  // namespace partyd::server
