#include "server/cluster_node.h"

#include <boost/asio/post.hpp>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "base/clock.h"
#include "base/log.h"
#include "base/random.h"
#include "cluster/etcd.h"
#include "cluster/metrics.h"
#include "cluster/membership.h"
#include "cluster/ownership.h"
#include "cluster/placement.h"
#include "net/http_client.h"
#include "party/placement.h"
#include "storage/postgres_storage.h"

namespace partyd::server {

namespace asio = boost::asio;

// One project as the node sees it: its shards' storage (set as each opens, before the shard
// runs) and its Edge table (for reaching a shard's RoomHost from the node's thread).
struct ClusterNode::Project {
  std::string name;
  std::vector<storage::PostgresStorage*> stores;
  std::weak_ptr<net::Sharded<party::Edge>> edges;
};

struct ClusterNode::Decision {
  enum Kind { kHere, kForward, kNotOwner, kUnavailable } kind = kUnavailable;
  std::string host;
  std::uint16_t port = 0;
  std::int64_t epoch = 0;
  std::string why;
  std::string region;  // kForward: the region the room was placed by, for the owner to record

  static Decision here(std::int64_t epoch) { return {kHere, {}, 0, epoch, {}, {}}; }
  static Decision notOwner(std::int64_t epoch) { return {kNotOwner, {}, 0, epoch, {}, {}}; }
  static Decision unavailable(std::string why) {
    return {kUnavailable, {}, 0, 0, std::move(why), {}};
  }
};

// One request (a client's, or a party stub's fetch) waiting for the node to say where its room
// lives. `then` gets the answer on the node's thread.
struct ClusterNode::Ask {
  std::shared_ptr<Project> project;
  party::RoomKey key;
  bool hop = false;    // a peer forwarded it: claim rather than forward again
  bool retry = false;  // the owner it was forwarded to said 421 once already
  // The region placement prefers: the room's home region (once `placed`), else this node's. For
  // a hop, the one the forwarding node placed it by. A claim records it as the room's home.
  bool placed = false;
  std::string region;
  std::function<void(Decision)> then;
};

struct ClusterNode::RoomState {
  bool owned = false;
  std::int64_t epoch = 0;
  std::vector<std::shared_ptr<Ask>> waiting;  // while it is being claimed
};

namespace {

using http::textResponse;

std::string roomId(const std::string& project, const party::RoomKey& key) {
  std::string id;
  id.reserve(project.size() + key.party.size() + key.room.size() + 2);
  id.append(project).push_back('\n');
  id.append(key.party).push_back('\n');
  id.append(key.room);
  return id;
}

bool splitHostPort(const std::string& s, std::string* host, std::uint16_t* port) {
  std::size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = s.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  unsigned p = 0;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + static_cast<unsigned>(c - '0');
    if (p > 65535) return false;
  }
  *port = static_cast<std::uint16_t>(p);
  return *port != 0;
}

}  // namespace

ClusterNode::ClusterNode(ShardPool& pool, ClusterOptions options)
    : pool_(pool), options_(std::move(options)) {}

ClusterNode::~ClusterNode() { stop(); }

Result<void> ClusterNode::start() {
  if (!splitHostPort(options_.advertise, &advertiseHost_, &advertisePort_)) {
    return makeError("--advertise needs HOST:PORT, got " + options_.advertise);
  }
  cluster::EtcdOptions eo;
  eo.endpoints = options_.etcd;
  eo.sourceAddress = options_.sourceAddress;
  auto etcd = cluster::Etcd::create(io_, eo);
  if (!etcd) return etcd.error();
  etcd_ = std::move(*etcd);
  fetcher_ = std::make_unique<net::HttpClient>(io_);

  cluster::MembershipOptions mo;
  mo.clusterName = options_.name;
  mo.addr = options_.advertise;
  mo.region = options_.region;
  mo.ttl = std::chrono::seconds((options_.leaseTtlMs + 999) / 1000);
  membership_ = std::make_unique<cluster::Membership>(*etcd_, mo, &counters_);
  nodeId_ = membership_->nodeId();
  ownership_ = std::make_unique<cluster::Ownership>(*etcd_, *membership_, &counters_);
  membership_->onFenced = [this] { fenced("this node could not renew its etcd lease in time"); };
  membership_->onRejoined = [this] {
    log::info("cluster: rejoined as " + nodeId_);
    healthy_ = true;
  };
  membership_->onNodesChanged = [this] { refreshPeers(); };

  auto joined = std::make_shared<std::promise<Result<void>>>();
  auto result = joined->get_future();
  asio::post(io_, [this, joined] {
    membership_->start([this, joined](Result<void> r) {
      if (!r) return joined->set_value(std::move(r));
      ownership_->start();
      healthy_ = true;
      refreshPeers();
      // The secret of partyd's own requests is the cluster's: a party stub's socket() may reach
      // its room through another node (the first node to join makes it; it has no lease).
      std::string mine = randomUuid();
      etcd_->createIfAbsent(
          "/partyd/" + options_.name + "/internal-token", mine, 0,
          [joined, mine](Result<cluster::CreateResult> t) {
            if (!t) return joined->set_value(makeError("reading the cluster's secret: " +
                                                       t.error().message));
            party::setInternalToken(t->won || !t->current ? mine : t->current->value);
            joined->set_value(Result<void>{});
          });
    });
  });
  thread_ = std::thread([this] {
    auto work = asio::make_work_guard(io_);
    io_.run();
  });
  if (result.wait_for(std::chrono::milliseconds(options_.leaseTtlMs + 5000)) !=
      std::future_status::ready) {
    stop();
    return makeError("cluster: could not join through etcd at " + options_.etcd.front() +
                     " (no answer)");
  }
  auto r = result.get();
  if (!r) {
    stop();
    return makeError("cluster: could not join through etcd: " + r.error().message);
  }
  serving_ = true;
  sweeper_ = std::thread([this] { alarmSweepLoop(); });
  log::info("cluster: joined " + options_.name + " as node " + nodeId_ + " (" +
            options_.advertise + (options_.region.empty() ? "" : ", region " + options_.region) +
            ")");
  return {};
}

void ClusterNode::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(sweepMutex_);
    sweepStop_ = true;
  }
  sweepWake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  // Leave: drop the rooms here and revoke the lease, so other nodes take them over at once.
  std::promise<void> left;
  asio::post(io_, [this, &left] {
    healthy_ = false;
    for (auto& [name, project] : projects_) {
      if (auto edges = project->edges.lock()) {
        for (std::size_t i = 0; i < edges->count(); ++i) {
          edges->invokeOn(i, [](party::Edge& edge) {
            (void)edge.host().disownAll("this node is leaving the cluster");
          });
        }
      }
    }
    rooms_.clear();
    ownership_->stop();
    membership_->stop([&left] { left.set_value(); });
  });
  (void)left.get_future().wait_for(std::chrono::seconds(3));
  asio::post(io_, [this] {
    fetcher_.reset();
    ownership_.reset();
    membership_.reset();
    etcd_.reset();
    io_.stop();
  });
  thread_.join();
}

void ClusterNode::forget(const std::string& project) {
  asio::post(io_, [this, project] {
    ownership_->forgetProject(project, [project](Result<std::int64_t> r) {
      if (!r) {
        log::warn("cluster: the home regions of deleted project " + project +
                  " stay in etcd: " + r.error().message);
      }
    });
  });
}

void ClusterNode::configure(const std::string& name, ProjectOptions& po) {
  auto project = std::make_shared<Project>();
  project->name = name;
  project->stores.resize(pool_.size(), nullptr);
  asio::post(io_, [this, project] { projects_[project->name] = project; });
  storage::PostgresOptions pgo;
  pgo.conninfo = options_.postgres;
  pgo.project = name;
  pgo.nodeId = nodeId_;
  pgo.fencedCounter = fencedWrites_;
  po.state.reset();
  po.openStorage = [project, pgo](std::size_t shard, asio::io_context& io)
      -> Result<std::unique_ptr<storage::Storage>> {
    auto s = storage::PostgresStorage::open(io, pgo);
    if (!s) return makeError("PostgreSQL storage: " + s.error().message);
    project->stores[shard] = s->get();
    return std::unique_ptr<storage::Storage>(std::move(*s));
  };
  po.configureShard = [this, project](std::size_t shard,
                                      std::weak_ptr<net::Sharded<party::Edge>> edges,
                                      party::EdgeConfig& ec, party::HostConfig& hc) {
    project->edges = edges;
    ec.placeRoom = [this, project, shard](const party::RoomKey& key,
                                          std::shared_ptr<http::Session> session,
                                          http::Request&& request, party::EdgeConfig::Here here) {
      place(project, key, shard, std::move(session), std::move(request), std::move(here), false);
    };
    ec.placeFetch = [this, project](const party::RoomKey& key, party::InternalRequest request,
                                    std::function<void(http::Response)> reply) {
      placeFetch(project, key, std::move(request), std::move(reply));
    };
    ec.fromPeer = [this](const http::Session& session, const http::Request& request) {
      return http::isHop(request) && isPeer(session.remote().address());
    };
    hc.roomGone = [this, project, shard](const party::RoomKey& key) {
      if (storage::PostgresStorage* store = project->stores[shard]) store->release(key);
      asio::post(io_, [this, name = project->name, key] { released(name, key); });
    };
  };
}

// ---- a request for a room ----------------------------------------------------------------------

void ClusterNode::place(const std::shared_ptr<Project>& project, const party::RoomKey& key,
                        std::size_t shard, std::shared_ptr<http::Session> session,
                        http::Request&& request, party::EdgeConfig::Here here, bool retry) {
  auto ask = std::make_shared<Ask>();
  ask->project = project;
  ask->key = key;
  ask->hop = http::isHop(request) && isPeer(session->remote().address());
  if (ask->hop) {
    ask->region = http::homeRegion(request);
    if (ask->region.empty()) ask->region = options_.region;
  } else {
    http::stripHopHeaders(request);
  }
  ask->retry = retry;
  auto client = std::make_shared<Client>(Client{shard, std::move(session), std::move(request),
                                                std::move(here)});
  ask->then = [this, client, project, key, retry](Decision d) {
    act(*client, project, key, retry, std::move(d));
  };
  asio::post(io_, [this, ask] { resolve(ask); });
}

// A party stub's fetch(): to the owning shard here, or over HTTP to the owner node.
void ClusterNode::placeFetch(const std::shared_ptr<Project>& project, const party::RoomKey& key,
                             party::InternalRequest request,
                             std::function<void(http::Response)> reply) {
  auto ask = std::make_shared<Ask>();
  ask->project = project;
  ask->key = key;
  auto req = std::make_shared<party::InternalRequest>(std::move(request));
  ask->then = [this, project, key, req, reply = std::move(reply)](Decision d) mutable {
    switch (d.kind) {
      case Decision::kHere: {
        auto edges = project->edges.lock();
        if (!edges) return reply(textResponse(404, "this project is no longer deployed\n"));
        std::size_t owner = party::shardOf(key, edges->count());
        edges->invokeOn(owner, [key, req, reply](party::Edge& edge) {
          edge.host().request(key, std::move(*req), reply);
        });
        return;
      }
      case Decision::kForward: {
        net::FetchRequest fr;
        fr.method = req->method;
        // The stub's URL names this node's own host; the path is what matters to the owner.
        std::string path = req->url;
        if (auto scheme = path.find("://"); scheme != std::string::npos) {
          auto slash = path.find('/', scheme + 3);
          path = slash == std::string::npos ? "/" : path.substr(slash);
        }
        fr.url = "http://" + d.host + ":" + std::to_string(d.port) + path;
        fr.headers = req->headers;
        fr.headers.emplace_back(std::string(http::kHopHeader), "1");
        fr.headers.emplace_back(std::string(http::kEpochSeenHeader), std::to_string(d.epoch));
        if (!d.region.empty()) {
          fr.headers.emplace_back(std::string(http::kHomeRegionHeader), d.region);
        }
        fr.body = std::move(req->body);
        fr.redirect = net::FetchRequest::Redirect::kManual;
        fr.sourceAddress = options_.sourceAddress;
        fr.timeout = std::chrono::milliseconds(30'000);
        ++forwardedHttp_;
        fetcher_->fetch(std::move(fr), [reply](Result<net::FetchResponse> r) {
          if (!r) return reply(textResponse(502, "the room's owner node did not answer: " +
                                                    r.error().message + "\n"));
          http::Response out;
          out.status = r->status;
          out.headers = std::move(r->headers);
          out.body = std::move(r->body);
          reply(std::move(out));
        });
        return;
      }
      case Decision::kNotOwner:
      case Decision::kUnavailable:
        return reply(textResponse(503, d.why.empty() ? "the room's owner changed; retry\n"
                                                     : d.why + "\n"));
    }
  };
  asio::post(io_, [this, ask] { resolve(ask); });
}

void ClusterNode::resolve(std::shared_ptr<Ask> ask) {
  auto answer = [ask](Decision d) { ask->then(std::move(d)); };
  if (!healthy_) {
    return answer(Decision::unavailable(
        "this partyd node has lost its cluster lease and serves no rooms until it rejoins; "
        "connect through another node or retry shortly"));
  }
  const std::string id = roomId(ask->project->name, ask->key);
  auto it = rooms_.find(id);
  if (it != rooms_.end()) {
    if (it->second.owned) return answer(Decision::here(it->second.epoch));
    it->second.waiting.push_back(ask);  // being claimed
    return;
  }
  const cluster::RoomRef name{ask->project->name, ask->key.party, ask->key.room};
  if (!ask->retry) {
    if (auto owner = ownership_->lookup(name); owner && owner->node != nodeId_) {
      if (ask->hop) return answer(Decision::notOwner(owner->epoch));
      Decision d{Decision::kForward, {}, 0, owner->epoch, {}, ask->region};
      if (!splitHostPort(owner->addr, &d.host, &d.port)) {
        return answer(Decision::unavailable("bad owner address " + owner->addr));
      }
      return answer(std::move(d));
    }
  }
  if (!ask->hop) {
    // No owner: place the room by rendezvous hashing, in its home region when it has one (a
    // room that failed over stays in its region), else in this node's (its first request's).
    if (!ask->placed) return placeByHome(ask, name);
    auto nodes = membership_->live();
    const cluster::NodeInfo* winner = cluster::hrw(
        nodes, cluster::placementKey(ask->project->name, ask->key.party, ask->key.room),
        ask->region);
    if (winner && winner->id != nodeId_) {
      Decision d{Decision::kForward, {}, 0, 0, {}, ask->region};
      if (!splitHostPort(winner->addr, &d.host, &d.port)) {
        return answer(Decision::unavailable("bad node address " + winner->addr));
      }
      return answer(std::move(d));
    }
  }
  // This node claims it: etcd first (the claim's revision is the epoch), then PostgreSQL.
  RoomState& st = rooms_[id];
  st.waiting.push_back(ask);
  ownership_->claim(name, ask->region, [this, id, ask](Result<cluster::ClaimResult> claim) {
    if (!claim) {
      return finish(id, Decision::unavailable("cluster: claiming the room failed: " +
                                              claim.error().message));
    }
    if (claim->won || claim->owner.node == nodeId_) return claimed(id, claim->epoch);
    Decision d{Decision::kForward, {}, 0, claim->epoch, {}, ask->region};
    if (!splitHostPort(claim->owner.addr, &d.host, &d.port)) {
      return finish(id, Decision::unavailable("bad owner address"));
    }
    finish(id, d);
  });
}

// Reads the room's home region (cached, or one etcd range), then resolves the ask again: by
// then another ask may be claiming the room, or an owner may have appeared. In a cluster whose
// nodes name no region, there is nothing to read.
void ClusterNode::placeByHome(std::shared_ptr<Ask> ask, const cluster::RoomRef& name) {
  ask->placed = true;
  ask->region = options_.region;
  auto nodes = membership_->live();
  bool regions = std::any_of(nodes.begin(), nodes.end(),
                             [](const cluster::NodeInfo& n) { return !n.region.empty(); });
  if (!regions) return resolve(std::move(ask));
  ownership_->homeRegion(name, [this, ask](Result<std::string> home) {
    if (!home) {
      log::warn("cluster: reading a room's home region failed (placing it by this node's): " +
                home.error().message);
    } else if (!home->empty()) {
      ask->region = std::move(*home);
    }
    resolve(ask);
  });
}

// Won in etcd: raise the fence in PostgreSQL and load the room, on the shard that will run it.
void ClusterNode::claimed(const std::string& id, std::int64_t epoch) {
  auto it = rooms_.find(id);
  if (it == rooms_.end() || it->second.waiting.empty()) return;
  std::shared_ptr<Ask> first = it->second.waiting.front();
  auto edges = first->project->edges.lock();
  if (!edges) return finish(id, Decision::unavailable("the project was removed"));
  std::size_t owner = party::shardOf(first->key, edges->count());
  party::RoomKey key = first->key;
  std::string region = first->region.empty() ? options_.region : first->region;
  std::weak_ptr<net::Sharded<party::Edge>> table = first->project->edges;
  std::shared_ptr<Project> project = first->project;
  edges->invokeOn(owner, [this, id, key, epoch, region, table, owner, project](party::Edge&) {
    // The Edge is alive on this shard, so its RoomHost and the storage it owns are too.
    storage::PostgresStorage* store = project->stores[owner];
    auto report = [this, id, epoch](Result<void> r) {
      asio::post(io_, [this, id, epoch, r = std::move(r)] {
        auto it = rooms_.find(id);
        if (it == rooms_.end()) return;
        if (!r) {
          log::error("cluster: loading a claimed room from PostgreSQL failed: " +
                     r.error().message);
          finish(id, Decision::unavailable("the room's storage could not be loaded: " +
                                           r.error().message));
          return;
        }
        it->second.owned = true;
        it->second.epoch = epoch;
        finish(id, Decision::here(epoch));
      });
    };
    if (!store) return report(makeError("the project's storage is not PostgreSQL"));
    store->acquire(key, epoch, region, [key, table, owner, report](Result<void> r) {
      // The project may have been stopped meanwhile: find this shard's Edge again.
      auto edges = table.lock();
      party::Edge* here = edges ? edges->local(owner) : nullptr;
      if (r && !here) r = makeError("the project was removed");
      if (r) here->host().adopt(key);
      report(std::move(r));
    });
  });
}

void ClusterNode::finish(const std::string& id, const Decision& decision) {
  auto it = rooms_.find(id);
  if (it == rooms_.end()) return;
  auto waiting = std::move(it->second.waiting);
  it->second.waiting.clear();
  if (!it->second.owned) rooms_.erase(it);
  for (auto& ask : waiting) {
    Decision d = decision;
    if (d.kind == Decision::kForward && ask->hop) d.kind = Decision::kNotOwner;
    ask->then(d);
  }
}

// Back on the accepting shard, where the session lives.
void ClusterNode::act(Client& c, const std::shared_ptr<Project>& project,
                      const party::RoomKey& key, bool retried, Decision decision) {
  std::size_t shard = c.shard;
  pool_.shard(shard).post([this, client = std::move(c), project, key, retried,
                           decision = std::move(decision)]() mutable {
    switch (decision.kind) {
      case Decision::kHere:
        http::stripHopHeaders(client.request);
        client.here(std::move(client.session), std::move(client.request));
        return;
      case Decision::kNotOwner:
        ++notOwner_;
        client.session->respond(http::notOwnerResponse());
        return;
      case Decision::kUnavailable:
        client.session->respond(textResponse(503, decision.why + "\n"), false);
        return;
      case Decision::kForward:
        break;
    }
    http::ForwardOptions fo;
    fo.sourceAddress = options_.sourceAddress;
    fo.epochSeen = decision.epoch;
    fo.homeRegion = decision.region;
    const bool upgrade = client.request.find("upgrade") != client.request.end();
    auto session = client.session;
    auto here = std::move(client.here);
    std::size_t shard = client.shard;
    http::forward(pool_.shard(shard).io(), session, std::move(client.request),
                  http::ForwardTarget{decision.host, decision.port}, fo,
                  [this, project, key, shard, session, here = std::move(here), retried,
                   upgrade](http::ForwardResult r) mutable {
                    using K = http::ForwardResult::Kind;
                    if (r.kind == K::kForwarded) {
                      ++(upgrade ? forwardedWs_ : forwardedHttp_);
                    } else if (r.kind == K::kNotOwner && !retried && r.request) {
                      // Its ownership changed since this node looked: ask again, once.
                      ++notOwner_;
                      place(project, key, shard, session, std::move(*r.request), std::move(here),
                            true);
                    } else if (r.kind == K::kNotOwner || r.kind == K::kHopRefused) {
                      session->respond(textResponse(
                          503, "the room's owner changed while the request was forwarded; "
                               "retry\n"));
                    } else {
                      ++forwardFailed_;
                    }
                  });
  });
}

// ---- rooms leaving --------------------------------------------------------------------------------

void ClusterNode::released(const std::string& project, const party::RoomKey& key) {
  const std::string id = roomId(project, key);
  auto it = rooms_.find(id);
  if (it == rooms_.end() || !it->second.owned || !it->second.waiting.empty()) return;
  std::int64_t epoch = it->second.epoch;
  rooms_.erase(it);
  (void)epoch;  // Ownership deletes the key only if it is still the one this node created
  ownership_->release(cluster::RoomRef{project, key.party, key.room}, [](Result<bool> r) {
    if (!r) log::warn("cluster: releasing a room in etcd failed: " + r.error().message);
  });
}

void ClusterNode::fenced(const std::string& why) {
  if (!healthy_.exchange(false)) return;
  log::error("cluster: " + why + "; every room of this node is dropped (clients reconnect "
             "through any node)");
  for (auto& [name, project] : projects_) {
    auto edges = project->edges.lock();
    if (!edges) continue;
    for (std::size_t i = 0; i < edges->count(); ++i) {
      edges->invokeOn(i, [project, i, why](party::Edge& edge) {
        auto keys = edge.host().disownAll(why);
        if (storage::PostgresStorage* store = project->stores[i]) {
          for (const auto& key : keys) store->release(key);
        }
      });
    }
  }
  for (auto& [id, st] : rooms_) {
    for (auto& ask : st.waiting) {
      ask->then(Decision::unavailable("this node lost its cluster lease; retry"));
    }
  }
  rooms_.clear();
}

// ---- alarms of rooms nobody owns ------------------------------------------------------------------

void ClusterNode::alarmSweepLoop() {
  PGconn* conn = nullptr;
  const auto period = std::chrono::milliseconds(std::max<std::int64_t>(options_.leaseTtlMs, 2000));
  std::unique_lock lock(sweepMutex_);
  while (!sweepWake_.wait_for(lock, period, [this] { return sweepStop_; })) {
    lock.unlock();
    if (conn && PQstatus(conn) != CONNECTION_OK) {
      PQfinish(conn);
      conn = nullptr;
    }
    if (!conn) {
      std::string info = options_.postgres;
      info += info.find('?') == std::string::npos ? "?" : "&";
      info += "connect_timeout=3&application_name=" + nodeId_ + "-alarms&options=-c%20statement_timeout%3D5000";
      conn = PQconnectdb(info.c_str());
      if (PQstatus(conn) != CONNECTION_OK) {
        log::warn(std::string("cluster: the alarm sweep cannot reach PostgreSQL: ") +
                  PQerrorMessage(conn));
        PQfinish(conn);
        conn = nullptr;
      }
    }
    if (conn) {
      // Due within two sweeps: a room is claimed (and its alarm armed) before its time.
      std::int64_t horizon = wallMs() + 2 * period.count();
      std::string h = std::to_string(horizon);
      const char* params[] = {h.c_str()};
      PGresult* res = PQexecParams(conn,
                                   "SELECT project, party, room FROM room_alarm "
                                   "WHERE at_ms <= $1::bigint ORDER BY at_ms LIMIT 1000",
                                   1, nullptr, params, nullptr, nullptr, 0);
      if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(res); ++i) {
          std::string project = PQgetvalue(res, i, 0);
          party::RoomKey key{PQgetvalue(res, i, 1), PQgetvalue(res, i, 2)};
          asio::post(io_, [this, project = std::move(project), key = std::move(key)] {
            claimForAlarm(project, key);
          });
        }
      } else if (const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                 !state || std::string_view(state) != "42P01") {
        // 42P01: no room_alarm table yet (no room stored anything): nothing to do.
        log::warn(std::string("cluster: the alarm sweep failed: ") + PQerrorMessage(conn));
      }
      PQclear(res);
    }
    lock.lock();
  }
  if (conn) PQfinish(conn);
}

void ClusterNode::claimForAlarm(const std::string& projectName, const party::RoomKey& key) {
  if (!healthy_) return;
  auto p = projects_.find(projectName);
  if (p == projects_.end()) return;  // not deployed here (yet)
  const std::string id = roomId(projectName, key);
  if (rooms_.count(id)) return;  // owned or being claimed here
  const cluster::RoomRef name{projectName, key.party, key.room};
  if (ownership_->lookup(name)) return;  // owned elsewhere: its owner fires it
  // Every node that sees the alarm places the room the same way (its home region first); only
  // the winner claims it, and the others' asks end as a forward, which is dropped.
  auto ask = std::make_shared<Ask>();
  ask->project = p->second;
  ask->key = key;
  ask->then = [key](Decision d) {
    if (d.kind != Decision::kHere && d.kind != Decision::kForward) {
      log::warn("cluster: could not take over " + key.party + "/" + key.room +
                " for its alarm: " + d.why);
    }
  };
  resolve(ask);
}

// ---- peers ----------------------------------------------------------------------------------------

void ClusterNode::refreshPeers() {
  std::unordered_set<std::string> addrs;
  for (const auto& node : membership_->live()) {
    std::string host;
    std::uint16_t port = 0;
    if (node.id != nodeId_ && splitHostPort(node.addr, &host, &port)) addrs.insert(host);
  }
  std::lock_guard lock(peersMutex_);
  peerAddresses_ = std::move(addrs);
}

bool ClusterNode::isPeer(const asio::ip::address& address) const {
  std::string a = address.is_v4() || !address.to_v6().is_v4_mapped()
                      ? address.to_string()
                      : asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  std::lock_guard lock(peersMutex_);
  return peerAddresses_.count(a) > 0;
}

void ClusterNode::writeMetrics(metrics::TextWriter& out) const {
  using Type = metrics::TextWriter::Type;
  cluster::writeMetrics(out, counters_);
  out.family("partyd_cluster_forwarded_total", Type::kCounter,
             "Requests forwarded to the owner node, by kind.");
  out.sample("partyd_cluster_forwarded_total", {{"kind", "http"}}, forwardedHttp_.load());
  out.sample("partyd_cluster_forwarded_total", {{"kind", "ws"}}, forwardedWs_.load());
  out.family("partyd_cluster_forward_failures_total", Type::kCounter,
             "Forwarded requests that got 502/504 (owner unreachable or silent).");
  out.sample("partyd_cluster_forward_failures_total", {}, forwardFailed_.load());
  out.family("partyd_cluster_not_owner_total", Type::kCounter,
             "421 answers: a room's owner changed.");
  out.sample("partyd_cluster_not_owner_total", {}, notOwner_.load());
  out.family("partyd_cluster_healthy", Type::kGauge,
             "1 while this node holds its lease and serves rooms.");
  out.sample("partyd_cluster_healthy", {}, std::uint64_t{healthy_ ? 1u : 0u});
  out.family("partyd_fenced_writes_rejected_total", Type::kCounter,
             "Storage writes of this node refused by a room's fence: another node owned the room.");
  out.sample("partyd_fenced_writes_rejected_total", {}, fencedWrites_->load());
}

}  // namespace partyd::server
