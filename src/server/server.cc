#include "server/server.h"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <chrono>
#include <future>

#include <sched.h>
#include <unistd.h>

#include "base/log.h"
#include "base/random.h"
#include "http/route.h"
#include "project/cron.h"
#include "storage/shard_files.h"
#include "storage/sqlite_storage.h"

namespace partyd::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

struct Server::ShardState {
  net::Shard* shard = nullptr;
  std::unique_ptr<api::ShardRuntime> runtime;
  std::shared_ptr<net::Listener> listener;
  std::atomic<js::Engine*> engine{nullptr};
};

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() { stop(); }

namespace {

bool isUpgrade(const http::Request& req) {
  auto up = req[bhttp::field::upgrade];
  return boost::beast::iequals(std::string_view(up.data(), up.size()), "websocket");
}

http::Response text(unsigned status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "text/plain;charset=UTF-8");
  r.body = std::move(body);
  return r;
}

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
  for (std::size_t i = 0; i < n; ++i) {
    ShardState& st = *states_[i];
    std::promise<Result<void>> ready;
    auto done = ready.get_future();
    // std::function needs a copyable target, so the store travels in a shared_ptr.
    auto store = std::make_shared<std::unique_ptr<storage::Storage>>(std::move(stores[i]));
    shards_[i]->start(
        [this, &st, &ready, &port, store]() mutable {
          api::RuntimeConfig rc = options_.runtime;
          rc.assets = assets_.get();
          st.runtime = std::make_unique<api::ShardRuntime>(*st.shard, std::move(*store),
                                                           std::move(rc));
          st.runtime->setPeers([this](std::size_t index,
                                      std::function<void(api::ShardRuntime&)> fn) {
            ShardState& peer = *states_[index];
            peer.shard->post([&peer, fn = std::move(fn)] {
              if (peer.runtime) fn(*peer.runtime);
            });
          });
          if (auto r = st.runtime->start(); !r) {
            ready.set_value(r);
            return;
          }
          st.engine.store(st.runtime->engine());
          auto listener = net::Listener::open(
              st.shard->io(), options_.address, port, [this, &st](tcp::socket socket) {
                auto session = std::make_shared<http::Session>(
                    std::move(socket), std::string(), options_.httpLimits,
                    [this, &st](std::shared_ptr<http::Session> s, http::Request&& req) {
                      onRequest(st, std::move(s), std::move(req));
                    });
                session->start();
              });
          if (!listener) {
            ready.set_value(listener.error());
            return;
          }
          st.listener = *listener;
          port = st.listener->port();
          st.listener->start();
          ready.set_value(Result<void>());
        },
        [&st] {
          if (st.runtime) st.runtime->stop();
          st.engine.store(nullptr);
          st.runtime.reset();
        });
    Result<void> r = done.get();
    if (!r) {
      stop();
      return r;
    }
  }
  port_ = port;
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

// Crons run on shard 0, through the main party's onCron, on their schedules (UTC).
void Server::armCrons() {
  ShardState& st = *states_[0];
  if (!st.runtime || !st.runtime->hooks().cron) return;
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
      s0.runtime->runEdge("cron", "main", name, req,
                          [name](api::EdgeResult r) {
                            log::info("cron " + name + ": " +
                                      (r.action == api::EdgeResult::kRespond
                                           ? std::to_string(r.response.status)
                                           : std::string("no onCron")));
                          },
                          expr);
    }
    armCrons();
  });
}

Result<void> Server::reload(const std::string& bundle, const std::string& bundleName,
                            const std::string& envJson,
                            const std::vector<std::string>& partyNames) {
  std::vector<std::future<Result<void>>> results;
  for (auto& st : states_) {
    auto promise = std::make_shared<std::promise<Result<void>>>();
    results.push_back(promise->get_future());
    ShardState* state = st.get();
    st->shard->post([state, promise, bundle, bundleName, envJson, partyNames] {
      if (!state->runtime) {
        promise->set_value(makeError("shard is not running"));
        return;
      }
      promise->set_value(state->runtime->reload(bundle, bundleName, envJson, partyNames));
    });
  }
  Result<void> out;
  for (auto& f : results) {
    Result<void> r = f.get();
    if (!r && out.ok()) out = r;
  }
  return out;
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
}

void Server::watchdog() {
  while (running_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::int64_t now = js::monotonicMs();
    for (auto& st : states_) {
      if (js::Engine* e = st->engine.load()) e->checkDeadline(now);
    }
  }
}

// ---- routing --------------------------------------------------------------------------------

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Applies a Request returned by onBeforeConnect/onBeforeRequest: its headers (and body) replace
// the original's; its URL, if it parses, becomes the target and host the room sees.
void applyRewrite(http::Request& req, api::EdgeResult& r) {
  // A WebSocket upgrade stays one: the socket is the client's, so its handshake headers carry
  // over unless the new Request sets them (PartyKit accepts `new Request(url, {headers})` from
  // onBeforeConnect, which has none of them).
  std::vector<std::pair<bhttp::field, std::string>> handshake;
  if (isUpgrade(req)) {
    for (bhttp::field f : {bhttp::field::upgrade, bhttp::field::connection,
                           bhttp::field::sec_websocket_key, bhttp::field::sec_websocket_version,
                           bhttp::field::sec_websocket_extensions,
                           bhttp::field::sec_websocket_protocol}) {
      if (auto it = req.find(f); it != req.end()) handshake.emplace_back(f, it->value());
    }
  }
  for (auto it = req.begin(); it != req.end();) it = req.erase(it);
  for (auto& [k, v] : r.headers) req.insert(k, v);
  for (auto& [f, v] : handshake) {
    if (req.find(f) == req.end()) req.set(f, v);
  }
  if (!r.method.empty() && !isUpgrade(req)) req.method_string(r.method);
  if (r.body) {
    req.body() = std::move(*r.body);
    req.prepare_payload();
  }
  std::string_view url = r.url;
  std::size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    std::string_view rest = url.substr(scheme + 3);
    std::size_t slash = rest.find('/');
    std::string_view host = rest.substr(0, slash);
    std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
    req.set(bhttp::field::host, host);
    req.target(target);
  }
}

}  // namespace

http::Response Server::notFound() const {
  return assets_ ? assets_->notFound() : text(404, "Not found");
}

void Server::onRequest(ShardState& st, std::shared_ptr<http::Session> session,
                       http::Request&& req) {
  std::string_view target(req.target().data(), req.target().size());
  auto route = http::routeParty(target);
  if (!route) return onOtherRequest(st, std::move(session), std::move(req));
  if (!st.runtime->hasParty(route->party)) {
    session->respond(text(404, "Party " + route->party + " not found"));
    return;
  }
  bool upgrade = isUpgrade(req);
  bool internal = false;
  if (auto it = req.find(api::kInternalHeader); it != req.end()) {
    internal = it->value() == api::internalToken();
    req.erase(it);
  }
  const api::HookInfo& hooks = st.runtime->hooks();
  if (internal ||
      !contains(upgrade ? hooks.beforeConnect : hooks.beforeRequest, route->party)) {
    return routeToRoom(st, std::move(session), std::move(req), *route);
  }
  // The worker hook runs here, on the shard that accepted the connection, as at PartyKit's edge.
  auto request = std::make_shared<http::Request>(std::move(req));
  auto r = *route;
  st.runtime->runEdge(upgrade ? "connect" : "request", r.party, r.room, *request,
                      [this, &st, session, request, r, upgrade](api::EdgeResult result) {
                        if (result.action == api::EdgeResult::kRespond) {
                          session->respond(std::move(result.response), !upgrade);
                          return;
                        }
                        if (result.action == api::EdgeResult::kRewrite) {
                          applyRewrite(*request, result);
                        }
                        routeToRoom(st, session, std::move(*request), r);
                      });
}

void Server::onOtherRequest(ShardState& st, std::shared_ptr<http::Session> session,
                            http::Request&& req) {
  const api::HookInfo& hooks = st.runtime->hooks();
  if (isUpgrade(req)) {
    if (!hooks.socket) {
      session->respond(notFound(), false);
      return;
    }
    // Each such socket gets a room of its own under the party "", on the shard that took it.
    st.runtime->handleUpgrade(std::move(session), std::move(req),
                              http::PartyRoute{"", randomUuid()});
    return;
  }
  if (assets_) {
    if (auto hit = assets_->serve(req)) {
      session->respond(std::move(*hit));
      return;
    }
  }
  std::string_view target(req.target().data(), req.target().size());
  if (http::pathOf(target) == "/__scheduled__" && hooks.cron) {
    std::string name = http::queryParam(target, "cron").value_or("");
    std::string expr;
    for (const auto& [n, e] : options_.crons) {
      if (n == name) expr = e;
    }
    // PartyKit runs onCron even for a name it does not know, with the every-minute expression.
    if (expr.empty()) expr = "* * * * *";
    st.runtime->runEdge("cron", "main", name, req,
                        [this, session](api::EdgeResult r) {
                          session->respond(r.action == api::EdgeResult::kRespond
                                               ? std::move(r.response)
                                               : notFound());
                        },
                        expr);
    return;
  }
  if (hooks.fetch) {
    st.runtime->runEdge("fetch", "main", "", req, [this, session](api::EdgeResult r) {
      session->respond(r.action == api::EdgeResult::kRespond ? std::move(r.response) : notFound());
    });
    return;
  }
  session->respond(notFound());
}

void Server::routeToRoom(ShardState& st, std::shared_ptr<http::Session> session,
                         http::Request&& req, const http::PartyRoute& route) {
  std::size_t owner = storage::shardOf(storage::roomHash(route.party, route.room), shards_.size());
  if (owner != st.shard->index()) {
    handOff(owner, std::move(session), std::move(req), route);
    return;
  }
  if (isUpgrade(req)) {
    st.runtime->handleUpgrade(std::move(session), std::move(req), route);
  } else {
    st.runtime->handleRequest(std::move(session), std::move(req), route);
  }
}

// Moves a connection to the shard that owns its room: the socket's descriptor, the bytes read
// past the request, and the request itself travel by message; nothing is shared.
void Server::handOff(std::size_t owner, std::shared_ptr<http::Session> session,
                     http::Request&& req, const http::PartyRoute& route) {
  std::string leftover = session->takeLeftover();
  tcp::socket socket = session->takeSocket();
  boost::system::error_code ec;
  tcp::endpoint local = socket.local_endpoint(ec);
  int fd = socket.release(ec);
  if (ec) {
    log::warn("could not move a connection between shards: " + ec.message());
    return;
  }
  auto request = std::make_shared<http::Request>(std::move(req));
  ShardState& target = *states_[owner];
  target.shard->post([this, &target, fd, local, leftover = std::move(leftover), request, route] {
    tcp::socket moved(target.shard->io());
    boost::system::error_code ec2;
    moved.assign(local.protocol(), fd, ec2);
    if (ec2) {
      ::close(fd);
      return;
    }
    auto s = std::make_shared<http::Session>(
        std::move(moved), std::move(leftover), options_.httpLimits,
        [this, &target](std::shared_ptr<http::Session> sess, http::Request&& r) {
          onRequest(target, std::move(sess), std::move(r));
        });
    s->noteRequest(*request);
    routeToRoom(target, std::move(s), std::move(*request), route);
  });
}

}  // namespace partyd::server
