#include "server/server.h"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <chrono>
#include <future>

#include <sched.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/random.h"
#include "project/cron.h"
#include "storage/shard_files.h"
#include "storage/sqlite_storage.h"

namespace partyd::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

struct Server::ShardState {
  std::size_t index = 0;
  net::Shard* shard = nullptr;
  std::unique_ptr<api::Runtime> runtime;
  std::unique_ptr<party::RoomHost> host;
  std::unique_ptr<party::Edge> edge;
  std::shared_ptr<net::Listener> listener;
  std::atomic<js::Engine*> engine{nullptr};
};

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() { stop(); }

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

Result<void> Server::start() {
  if (options_.assets) assets_ = std::make_unique<http::StaticFiles>(*options_.assets);
  std::size_t n = options_.threads ? options_.threads : usableCores();

  if (options_.state) {
    std::error_code ec;
    std::filesystem::create_directories(*options_.state, ec);
    if (ec) return makeError("cannot create the state directory " + options_.state->string() +
                             ": " + ec.message());
    if (auto r = storage::rebalanceShards(*options_.state, n); !r) return r;
  }

  std::vector<std::unique_ptr<storage::Storage>> stores;
  for (std::size_t i = 0; i < n; ++i) {
    if (options_.state) {
      storage::SqliteOptions sqlite;
      if (options_.syncFull) sqlite.durability = storage::Durability::kFull;
      auto s = storage::SqliteStorage::open(storage::shardFile(*options_.state, i), sqlite);
      if (!s) return makeError(s.error().message);
      stores.push_back(std::move(*s));
    } else {
      auto s = storage::SqliteStorage::openInMemory();
      if (!s) return makeError(s.error().message);
      stores.push_back(std::move(*s));
    }
  }

  // Shard 0 binds first, so that --port 0 picks one port that the others then share.
  unsigned short port = options_.port;
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<net::Shard>(i, n));
    states_.push_back(std::make_unique<ShardState>());
    states_.back()->shard = shards_.back().get();
  }
  std::vector<net::Shard*> raw;
  for (auto& shard : shards_) raw.push_back(shard.get());
  edges_ = std::make_unique<net::Sharded<party::Edge>>(std::move(raw));
  for (std::size_t i = 0; i < n; ++i) {
    ShardState& st = *states_[i];
    st.index = i;
    std::promise<Result<void>> ready;
    auto done = ready.get_future();
    // std::function needs a copyable target, so the store travels in a shared_ptr.
    auto store = std::make_shared<std::unique_ptr<storage::Storage>>(std::move(stores[i]));
    shards_[i]->start(
        [this, &st, &ready, &port, store]() mutable {
          ready.set_value(startShard(st, std::move(*store), port));
        },
        [this, &st] { stopShard(st); });
    Result<void> r = done.get();
    if (!r) {
      stop();
      return r;
    }
  }
  port_ = port;
  current_ = party::CodeBundle{options_.runtime.userBundle, options_.runtime.userBundleName,
                               options_.runtime.envJson, options_.runtime.partyNames};
  running_ = true;
  watchdog_ = std::thread([this] { watchdog(); });
  if (!options_.crons.empty()) {
    for (const auto& [name, expr] : options_.crons) {
      if (auto c = project::CronSchedule::parse(expr); !c) {
        stop();
        return makeError("crons." + name + " in partykit.json: " + c.error().message);
      }
    }
    shards_[0]->post([this] { armCrons(); });
  }
  return {};
}

// On the shard's thread: its Runtime, RoomHost and Edge, then its listener.
Result<void> Server::startShard(ShardState& st, std::unique_ptr<storage::Storage> store,
                                unsigned short& port) {
  asio::io_context& io = st.shard->io();
  api::RuntimeConfig rc = options_.runtime;
  party::EdgeConfig ec{rc.partyNames, assets_.get(), options_.httpLimits, options_.crons};
  ec.clientHeaders = rc.geoip != nullptr || !options_.trustedProxies.empty();
  ec.trustedProxies = options_.trustedProxies;
  st.runtime = std::make_unique<api::Runtime>(io, std::move(rc));
  st.host = std::make_unique<party::RoomHost>(io, std::move(store), *st.runtime, options_.host);
  st.edge = std::make_unique<party::Edge>(*edges_, st.index, io, *st.host, *st.runtime,
                                          std::move(ec));
  st.runtime->attach(*st.host, *st.edge);
  if (auto r = st.runtime->start(); !r) return r;
  if (auto r = st.host->start(); !r) return r;
  st.engine.store(st.runtime->engine());
  edges_->set(st.index, st.edge.get());
  party::Edge* edge = st.edge.get();
  auto listener = net::Listener::open(io, options_.address, port, [this, edge](tcp::socket socket) {
    auto session = std::make_shared<http::Session>(
        std::move(socket), std::string(), options_.httpLimits,
        [edge](std::shared_ptr<http::Session> s, http::Request&& req) {
          edge->onRequest(std::move(s), std::move(req));
        });
    session->start();
  });
  if (!listener) return listener.error();
  st.listener = *listener;
  port = st.listener->port();
  st.listener->start();
  return {};
}

void Server::stopShard(ShardState& st) {
  if (edges_) edges_->set(st.index, nullptr);
  if (st.host) st.host->stop();
  if (st.runtime) st.runtime->stop();
  st.engine.store(nullptr);
  st.edge.reset();
  st.host.reset();
  st.runtime.reset();
}

// Crons run on shard 0, through the main party's onCron, on their schedules (UTC).
void Server::armCrons() {
  ShardState& st = *states_[0];
  if (!st.edge || !st.edge->hooks().cron) return;
  if (!cronTimer_) cronTimer_ = std::make_unique<asio::steady_timer>(st.shard->io());
  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::optional<std::int64_t> soonest;
  std::vector<std::pair<std::string, std::string>> due;
  for (const auto& [name, expr] : options_.crons) {
    auto schedule = project::CronSchedule::parse(expr);
    if (!schedule) continue;
    auto next = schedule->next(now);
    if (!next) continue;
    if (!soonest || *next < *soonest) {
      soonest = next;
      due.clear();
    }
    if (*next == *soonest) due.emplace_back(name, expr);
  }
  if (!soonest) return;
  cronTimer_->expires_after(std::chrono::seconds(*soonest - now));
  cronTimer_->async_wait([this, due](boost::system::error_code ec) {
    if (ec || !running_) return;
    ShardState& s0 = *states_[0];
    for (const auto& [name, expr] : due) {
      http::Request req{bhttp::verb::get, "/__scheduled__?cron=" + name, 11};
      req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port_));
      if (!s0.edge) return;
      s0.edge->runCron(name, expr, req, [name](std::optional<http::Response> r) {
        log::info("cron " + name + ": " + (r ? std::to_string(r->status) : "no onCron"));
      });
    }
    armCrons();
  });
}

Result<void> Server::reload(const std::string& bundle, const std::string& bundleName,
                            const std::string& envJson,
                            const std::vector<std::string>& partyNames) {
  return reload(party::CodeBundle{bundle, bundleName, envJson, partyNames});
}

namespace {

// Runs `fn(host)` on every running shard's thread and waits for all: the first error, if any.
template <typename States, typename F>
Result<void> onEveryShard(States& states, F fn) {
  std::vector<std::future<Result<void>>> results;
  for (auto& st : states) {
    auto promise = std::make_shared<std::promise<Result<void>>>();
    results.push_back(promise->get_future());
    auto* state = st.get();
    st->shard->post([state, promise, fn] {
      if (!state->host) {
        promise->set_value(makeError("shard is not running"));
        return;
      }
      promise->set_value(fn(*state->host));
    });
  }
  Result<void> out;
  for (auto& f : results) {
    Result<void> r = f.get();
    if (!r && out.ok()) out = r;
  }
  return out;
}

}  // namespace

// Two phases, so that a build that fails on any shard switches none: every shard evaluates it
// beside the old one (RoomHost::prepareUpdate), then every shard switches (commitUpdate).
Result<void> Server::reload(party::CodeBundle next) {
  std::lock_guard<std::mutex> lock(swapMutex_);
  return swapLocked(std::move(next));
}

Result<void> Server::swapLocked(party::CodeBundle next) {
  if (states_.empty()) return makeError("the server is not running");
  auto prepared =
      onEveryShard(states_, [next](party::RoomHost& host) { return host.prepareUpdate(next); });
  if (!prepared) {
    (void)onEveryShard(states_, [](party::RoomHost& host) -> Result<void> {
      host.abandonUpdate();
      return {};
    });
    return prepared;
  }
  auto committed = onEveryShard(states_, [](party::RoomHost& host) -> Result<void> {
    host.commitUpdate();
    return {};
  });
  previous_ = std::move(current_);
  current_ = std::move(next);
  return committed;
}

Result<void> Server::rollback() {
  std::lock_guard<std::mutex> lock(swapMutex_);
  if (!previous_) return makeError("there is no previous version to roll back to");
  party::CodeBundle target = *previous_;
  return swapLocked(std::move(target));
}

bool Server::hasPrevious() const {
  std::lock_guard<std::mutex> lock(swapMutex_);
  return previous_.has_value();
}

void Server::stop() {
  bool wasRunning = running_.exchange(false);
  if (cronTimer_ && !shards_.empty()) {
    auto* timer = cronTimer_.get();
    shards_[0]->post([timer] { timer->cancel(); });
  }
  for (auto& st : states_) {
    if (st->listener) {
      auto l = st->listener;
      st->shard->post([l] { l->close(); });
    }
  }
  for (auto& s : shards_) s->stop();
  for (auto& s : shards_) s->join();
  if (watchdog_.joinable()) watchdog_.join();
  (void)wasRunning;
  cronTimer_.reset();  // before the io_context it belongs to
  states_.clear();
  shards_.clear();
  edges_.reset();
}

void Server::watchdog() {
  while (running_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::int64_t now = monotonicMs();
    for (auto& st : states_) {
      if (js::Engine* e = st->engine.load()) e->checkDeadline(now);
    }
  }
}

}  // namespace partyd::server
