#include "net/shard.h"

#include <boost/asio/executor_work_guard.hpp>

#include <pthread.h>

#include <string>

namespace partyd::net {
namespace {
thread_local Shard* tCurrent = nullptr;
}

Shard* Shard::current() { return tCurrent; }

void Shard::start(std::function<void()> init, std::function<void()> fini) {
  thread_ = std::thread([this, init = std::move(init), fini = std::move(fini)] {
    tCurrent = this;
    std::string name = "shard-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.c_str());
    auto guard = boost::asio::make_work_guard(io_);
    if (init) init();
    io_.run();
    if (fini) fini();
    tCurrent = nullptr;
  });
}

}  // namespace partyd::net
