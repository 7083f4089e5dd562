#include "server/project_host.h"

#include <boost/beast/http/field.hpp>
#include <chrono>
#include <future>

#include "base/log.h"
#include "project/cron.h"
#include "storage/shard_files.h"
#include "storage/sqlite_storage.h"

namespace partyd::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

struct ProjectHost::ShardState {
  std::size_t index = 0;
  net::Shard* shard = nullptr;
  std::unique_ptr<api::Runtime> runtime;
  std::unique_ptr<party::RoomHost> host;
  std::unique_ptr<party::Edge> edge;
};

ProjectHost::ProjectHost(ShardPool& pool, ProjectOptions options)
    : pool_(pool),
      options_(std::move(options)),
      edges_(std::make_shared<net::Sharded<party::Edge>>(pool.shards())) {}

ProjectHost::~ProjectHost() {
  stop();
}

Result<void> ProjectHost::start() {
  PARTYD_CHECK(pool_.size() > 0, "a project starts on a running pool");
  for (const auto& [name, expr] : options_.crons) {
    if (auto c = project::CronSchedule::parse(expr); !c) {
      return makeError("crons." + name + " in partykit.json: " + c.error().message);
    }
  }
  if (options_.assets) assets_ = std::make_unique<http::StaticFiles>(*options_.assets);
  std::size_t n = pool_.size();
  if (options_.state && !options_.openStorage) {
    std::error_code ec;
    std::filesystem::create_directories(*options_.state, ec);
    if (ec)
      return makeError("cannot create the state directory " + options_.state->string() + ": " +
                       ec.message());
    if (auto r = storage::rebalanceShards(*options_.state, n); !r) return r;
  }
  std::vector<std::unique_ptr<storage::Storage>> stores;
  for (std::size_t i = 0; i < n; ++i) {
    if (options_.openStorage) {
      auto s = options_.openStorage(i, pool_.shard(i).io());
      if (!s) return makeError(s.error().message);
      stores.push_back(std::move(*s));
    } else if (options_.state) {
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
  for (std::size_t i = 0; i < n; ++i) {
    states_.push_back(std::make_unique<ShardState>());
    states_.back()->index = i;
    states_.back()->shard = &pool_.shard(i);
  }
  started_ = true;
  auto r = pool_.onEach(
      [this, &stores](std::size_t i) { return startShard(*states_[i], std::move(stores[i])); });
  if (!r) {
    stop();
    return r;
  }
  current_ = party::CodeBundle{options_.runtime.userBundle, options_.runtime.userBundleName,
                               options_.runtime.envJson, options_.runtime.partyNames};
  if (!options_.crons.empty()) pool_.shard(0).post([this] { armCrons(); });
  return {};
}

// On the shard's thread: its Runtime, RoomHost and Edge.
Result<void> ProjectHost::startShard(ShardState& st, std::unique_ptr<storage::Storage> store) {
  asio::io_context& io = st.shard->io();
  api::RuntimeConfig rc = options_.runtime;
  rc.onEngine = [pool = &pool_](js::Engine* e) { pool->watch(e); };
  party::EdgeConfig ec;
  ec.partyNames = rc.partyNames;
  ec.assets = assets_.get();
  ec.httpLimits = pool_.options().httpLimits;
  ec.crons = options_.crons;
  ec.rehome = [pool = &pool_](std::size_t shard, std::shared_ptr<http::Session> s,
                              http::Request&& r) { pool->route(shard, std::move(s), std::move(r)); };
  ec.clientHeaders = rc.geoip != nullptr || !options_.trustedProxies.empty();
  ec.trustedProxies = options_.trustedProxies;
  party::HostConfig hc = options_.host;
  if (options_.configureShard) options_.configureShard(st.index, edges_, ec, hc);
  st.runtime = std::make_unique<api::Runtime>(io, std::move(rc));
  st.host = std::make_unique<party::RoomHost>(io, std::move(store), *st.runtime, std::move(hc));
  st.edge =
      std::make_unique<party::Edge>(*edges_, st.index, io, *st.host, *st.runtime, std::move(ec));
  st.runtime->attach(*st.host, *st.edge);
  if (auto r = st.runtime->start(); !r) return r;
  if (auto r = st.host->start(); !r) return r;
  edges_->set(st.index, st.edge.get());
  return {};
}

void ProjectHost::stopShard(ShardState& st) {
  edges_->set(st.index, nullptr);
  if (st.host) st.host->stop();
  if (st.runtime) {
    if (st.runtime->engine()) pool_.unwatch(st.runtime->engine());
    st.runtime->stop();
  }
  st.edge.reset();
  st.host.reset();
  st.runtime.reset();
}

void ProjectHost::stop() {
  if (!started_) return;
  started_ = false;
  *alive_ = false;
  (void)pool_.onEach([this](std::size_t i) -> Result<void> {
    if (i == 0) cronTimer_.reset();
    if (i < states_.size()) stopShard(*states_[i]);
    return {};
  });
  states_.clear();
}

// Crons run on shard 0, through the main party's onCron, on their schedules (UTC).
void ProjectHost::armCrons() {
  if (states_.empty()) return;
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
  cronTimer_->async_wait([this, alive = alive_, due](boost::system::error_code ec) {
    if (ec || !*alive || states_.empty()) return;
    ShardState& s0 = *states_[0];
    for (const auto& [name, expr] : due) {
      http::Request req{bhttp::verb::get, "/__scheduled__?cron=" + name, 11};
      req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(pool_.port()));
      if (!s0.edge) return;
      s0.edge->runCron(name, expr, req, [name](std::optional<http::Response> r) {
        log::info("cron " + name + ": " + (r ? std::to_string(r->status) : "no onCron"));
      });
    }
    armCrons();
  });
}

Result<void> ProjectHost::reload(const std::string& bundle, const std::string& bundleName,
                                 const std::string& envJson,
                                 const std::vector<std::string>& partyNames) {
  return reload(party::CodeBundle{bundle, bundleName, envJson, partyNames});
}

Result<void> ProjectHost::reload(party::CodeBundle next) {
  std::lock_guard<std::mutex> lock(swapMutex_);
  return swapLocked(std::move(next));
}

Result<void> ProjectHost::swapLocked(party::CodeBundle next) {
  if (states_.empty()) return makeError("the project is not running");
  // Runs `fn(host)` on every shard's thread; the first error, if any.
  auto onEveryHost = [this](auto fn) {
    Result<void> out;
    (void)pool_.onEach([&](std::size_t i) -> Result<void> {
      ShardState& st = *states_[i];
      Result<void> r = st.host ? fn(*st.host) : Result<void>(makeError("shard is not running"));
      if (!r && out) out = r;
      return {};
    });
    return out;
  };
  auto prepared = onEveryHost([&next](party::RoomHost& host) { return host.prepareUpdate(next); });
  if (!prepared) {
    (void)onEveryHost([](party::RoomHost& host) -> Result<void> {
      host.abandonUpdate();
      return {};
    });
    return prepared;
  }
  auto committed = onEveryHost([](party::RoomHost& host) -> Result<void> {
    host.commitUpdate();
    return {};
  });
  previous_ = std::move(current_);
  current_ = std::move(next);
  return committed;
}

Result<void> ProjectHost::rollback() {
  std::lock_guard<std::mutex> lock(swapMutex_);
  if (!previous_) return makeError("there is no previous version to roll back to");
  party::CodeBundle target = *previous_;
  return swapLocked(std::move(target));
}

bool ProjectHost::hasPrevious() const {
  std::lock_guard<std::mutex> lock(swapMutex_);
  return previous_.has_value();
}

}  // namespace partyd::server
