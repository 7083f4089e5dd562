#include "server/serve.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "base/clock.h"
#include "base/log.h"
#include "http/session.h"
#include "net/sd_notify.h"
#include "net/tls_server.h"
#include "project/asset_builder.h"
#include "project/bundler.h"
#include "project/config.h"
#include "server/admin.h"
#include "server/cluster_node.h"
#include "server/deployments.h"
#include "server/drain.h"
#include "server/observe.h"
#include "server/takeover.h"
#include "storage/deferred_storage.h"
#include "storage/shard_files.h"
#include "storage/sqlite_storage.h"

namespace partyd::server {

namespace fs = std::filesystem;

namespace {

// "127.0.0.1:9999", ":9999", "9999" or "[::1]:9999".
bool splitAddress(const std::string& s, std::string* host, unsigned short* port) {
  std::size_t colon = s.rfind(':');
  std::string h = colon == std::string::npos ? "127.0.0.1" : s.substr(0, colon);
  std::string p = colon == std::string::npos ? s : s.substr(colon + 1);
  if (h.empty()) h = "127.0.0.1";
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  try {
    std::size_t used = 0;
    unsigned long v = std::stoul(p, &used);
    if (used != p.size() || v > 65535) return false;
    *port = static_cast<unsigned short>(v);
  } catch (...) {
    return false;
  }
  *host = h;
  return true;
}

bool loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

// partyd serve DIR: the folder's build, as dev makes it, as one project.
Result<std::pair<ProjectId, ProjectOptions>> localProject(const ServeOptions& f,
                                                          const party::HostConfig& host,
                                                          const ClientGeo& geo) {
  auto config = project::loadConfig(fs::path(*f.dir), {});
  if (!config) return config.error();
  project::BundleOptions bundleOptions;
  bundleOptions.outDir = config->root / ".partykit" / "build";
  bundleOptions.host = "127.0.0.1:" + std::to_string(f.port);
  auto bundle = project::bundle(*config, bundleOptions);
  if (!bundle) return makeError("build failed:\n" + bundle.error().message);
  if (config->serve && config->serve->build) {
    if (auto a = project::buildAssets(*config, bundleOptions.host); !a) {
      return makeError("serve.build failed:\n" + a.error().message);
    }
  }
  ProjectOptions po;
  po.name = config->name;
  po.syncFull = f.syncFull;
  po.host = host;
  po.runtime.heapLimitMb = f.heapLimitMb;
  if (config->serve && !config->serve->path.empty()) {
    po.assets = http::StaticOptions{config->serve->path, config->serve->singlePageApp,
                                    config->serve->browserTTL};
  }
  po.crons = config->crons;
  geo.applyTo(po);
  po.runtime.userBundle = std::move(bundle->code);
  po.runtime.userBundleName = bundle->outFile.string();
  po.runtime.envJson = config->varsJson;
  po.runtime.partyNames.push_back("main");
  for (const auto& [name, path] : config->parties) po.runtime.partyNames.push_back(name);
  std::string name = config->name.empty() ? "project" : config->name;
  for (char& c : name) {
    if (!validName(std::string(1, c))) c = '-';
  }
  name = name.substr(0, 64);
  // Its storage lives under --data too, as every project's does.
  if (!config->persistDisabled) po.state = f.data / "local" / name / "state";
  return std::make_pair(ProjectId{"local", name, ""}, std::move(po));
}

}  // namespace

namespace {

// After SIGINT/SIGTERM: stop accepting, close each room's WebSockets with 1001 once it has
// nothing in flight, and stop the projects (which commits their storage) when none is left or
// the drain timeout is up. A second signal cuts the drain short. Returns the exit status.
//
// For a takeover (`takeover` draining) the same, except: the listeners stay open in the new
// process (only this one stops accepting), sockets close with 1012, every HTTP response says
// `Connection: close` and the drain waits, briefly, for those connections to end, systemd hears
// no STOPPING=1 (the service goes on), and once storage is closed the new process hears DONE.
int drainAndStop(const ServeOptions& f, ShardPool& pool, AdminServer& admin,
                 Deployments& deployments, const sigset_t& stopSignals, ClusterNode* cluster,
                 TakeoverServer* takeover) {
  bool handover = takeover && takeover->draining();
  // Idle keep-alive connections: how long a takeover's drain waits for them to end, at most.
  constexpr std::int64_t kSessionGraceMs = 1'000;
  std::int64_t start = monotonicMs();
  std::int64_t deadline = start + f.drainTimeoutMs;
  if (handover) {
    http::Session::closeAfterResponses();
    log::info(
        "takeover: draining; open WebSockets close with 1012 once their rooms' events "
        "finish (at most " +
        std::to_string(f.drainTimeoutMs) + " ms)");
  } else {
    net::sdNotify("STOPPING=1");
    log::info(
        "draining: no new connections; open WebSockets close with 1001 once their rooms' "
        "events finish (at most " +
        std::to_string(f.drainTimeoutMs) + " ms)");
  }
  pool.closeListeners();
  // The admin listener stops accepting too; its open connections (the tail WebSockets, closed
  // here with 1001) stay until the projects stop, so their close frames go out.
  admin.closeListeners();
  deployments.closeTails();
  bool cut = false;
  for (;;) {
    bool force = monotonicMs() >= deadline;
    DrainLeft left = drainPass(pool, deployments, force, handover ? kTakeoverClose : DrainClose{});
    bool sessionsLeft = handover && http::Session::liveCount() > 0 &&
                        monotonicMs() < std::min(deadline, start + kSessionGraceMs);
    if (left.done() && !sessionsLeft) break;
    if (force) {
      log::warn("drain timeout: closed " + std::to_string(left.sockets) + " WebSockets of " +
                std::to_string(left.busy) + " rooms with events in flight");
      break;
    }
    timespec wait{0, 20'000'000};
    siginfo_t info;
    if (sigtimedwait(&stopSignals, &info, &wait) > 0) {
      log::warn("second stop signal: stopping now");
      cut = true;
      break;
    }
  }
  // The close frames (and the last responses) are queued on their sockets: let them go out.
  if (!cut) {
    std::int64_t pause = std::clamp<std::int64_t>(deadline - monotonicMs(), 50, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause));
  }
  admin.stop();
  deployments.stopAll();  // commits every room's storage
  if (handover) {
    takeover->sendDone();
    log::info("takeover: storage closed, the new process took over after " +
              std::to_string(monotonicMs() - start) + " ms of drain");
  }
  // Cluster mode: leave (the lease is revoked), so other nodes take this node's rooms at once
  // rather than after the lease's TTL.
  if (cluster) cluster->stop();
  pool.stop();
  log::info("stopped");
  return 0;
}

// ---- the new process of a takeover ----------------------------------------------------------

// Every project's SQLite storage opens only once the old process has closed it (the gate opens
// at its DONE); shard files are rebalanced then, if the shard count changed.
void deferStorage(DeploymentsOptions& dopts, ShardPool& pool,
                  std::shared_ptr<storage::StorageGate> gate, std::int64_t waitMs) {
  dopts.configureProject = [gate, &pool, waitMs](const std::string&, ProjectOptions& po) {
    if (!po.state || po.openStorage || gate->isOpen()) return;
    fs::path state = *po.state;
    bool full = po.syncFull;
    gate->addBeforeOpen([state, n = pool.size()] {
      std::error_code ec;
      fs::create_directories(state, ec);
      if (auto r = storage::rebalanceShards(state, n); !r) {
        log::error("takeover: " + state.string() + ": " + r.error().message);
      }
    });
    po.openStorage = [gate, state, full, waitMs](
                         std::size_t shard,
                         boost::asio::io_context&) -> Result<std::unique_ptr<storage::Storage>> {
      auto open = [state, full, shard]() -> Result<std::unique_ptr<storage::Storage>> {
        storage::SqliteOptions sqlite;
        if (full) sqlite.durability = storage::Durability::kFull;
        auto s = storage::SqliteStorage::open(storage::shardFile(state, shard), sqlite);
        if (!s) return s.error();
        return std::unique_ptr<storage::Storage>(std::move(*s));
      };
      return std::unique_ptr<storage::Storage>(
          std::make_unique<storage::DeferredStorage>(gate, std::move(open), waitMs));
    };
  };
}

// After the gate opened: every project's stored alarms, on every shard.
void loadAlarms(ShardPool& pool, Deployments& deployments) {
  std::vector<ObservedProject> projects = deployments.observed();
  (void)pool.onEach([&](std::size_t i) -> Result<void> {
    for (const auto& project : projects) {
      party::Edge* edge = project.edges->local(i);
      if (!edge) continue;
      if (auto r = edge->host().loadAlarms(); !r) {
        log::error("takeover: " + project.name + ": " + r.error().message);
      }
    }
    return {};
  });
}

}  // namespace

int runServe(const ServeOptions& f) {
  if (f.takeover && !f.cluster.etcd.empty()) {
    std::fprintf(stderr, "partyd: --takeover does not work with --cluster\n");
    return 2;
  }
  party::HostConfig hostConfig;
  f.applyTo(hostConfig);

  std::shared_ptr<net::TlsCertificate> tls;
  if (f.tlsCert.has_value() != f.tlsKey.has_value()) {
    std::fprintf(stderr, "partyd: --tls-cert and --tls-key go together\n");
    return 2;
  }
  if (f.tlsCert) {
    auto loaded = net::TlsCertificate::load({*f.tlsCert, *f.tlsKey});
    if (!loaded) {
      std::fprintf(stderr, "partyd: %s\n", loaded.error().message.c_str());
      return 1;
    }
    tls = *loaded;
    log::info("TLS certificate: " + tls->describe());
  }
  // --geoip and --trusted-proxy: checked before any build, and shared by every project.
  auto geo = ClientGeo::open(f);
  if (!geo) {
    std::fprintf(stderr, "partyd: %s\n", geo.error().message.c_str());
    return 1;
  }
  std::optional<std::pair<ProjectId, ProjectOptions>> local;
  if (f.dir) {
    auto p = localProject(f, hostConfig, *geo);
    if (!p) {
      std::fprintf(stderr, "partyd: %s\n", p.error().message.c_str());
      return 1;
    }
    local = std::move(*p);
  }

  AdminOptions adminOptions;
  if (f.admin) {
    if (!splitAddress(*f.admin, &adminOptions.address, &adminOptions.port)) {
      std::fprintf(stderr, "partyd: --admin needs ADDR:PORT, got %s\n", f.admin->c_str());
      return 2;
    }
    adminOptions.token = f.adminToken;
    if (!adminOptions.token && !loopback(adminOptions.address)) {
      std::fprintf(stderr, "partyd: --admin on %s needs --admin-token or --admin-token-file\n",
                   adminOptions.address.c_str());
      return 2;
    }
    adminOptions.limits.maxBodyBytes = f.maxUploadBytes;
    adminOptions.limits.jsonErrors = true;
    // TLS on the admin API too, unless it is on loopback: there the traffic never leaves the
    // machine, and the certificate (for the public name) would not match 127.0.0.1.
    if (tls && !loopback(adminOptions.address)) adminOptions.tls = tls;
  }
  AdminServer admin(adminOptions);

  std::error_code ec;
  fs::create_directories(f.data / "projects", ec);
  if (ec) {
    std::fprintf(stderr, "partyd: cannot create the data folder %s: %s\n", f.data.c_str(),
                 ec.message().c_str());
    return 1;
  }

  // The takeover's control socket. A new process takes the running one's listeners first (the
  // projects' code is built above): if that fails, nothing has changed for the running one.
  std::string upgradePath = f.upgradeSocket.value_or((f.data / "partyd.sock").string());
  std::optional<TakeoverClient> takeoverClient;
  if (f.takeover) {
    auto c = TakeoverClient::connect(upgradePath, 10'000);
    if (!c) {
      std::fprintf(stderr, "partyd: --takeover: %s\n", c.error().message.c_str());
      return 1;
    }
    takeoverClient = std::move(*c);
    log::info("takeover: got " + std::to_string(takeoverClient->fds.publicFds.size()) +
              " public and " + std::to_string(takeoverClient->fds.adminFds.size()) +
              " admin listeners from pid " + std::to_string(takeoverClient->oldPid));
  }

  // Blocked before any thread starts, so that every thread inherits the mask and only the
  // main thread takes them (sigwaitinfo below). SIGUSR1 is the takeover thread's "drain now",
  // SIGUSR2 starts a takeover, SIGCHLD says that the process it started ended.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  sigset_t signals = stopSignals;
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  sigaddset(&signals, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  pthread_t mainThread = pthread_self();

  ShardPool pool(PoolOptions{f.address, f.port, f.threads, {}});
  pool.setTls(tls);
  std::shared_ptr<storage::StorageGate> storageGate;
  if (takeoverClient) {
    pool.inherit(std::move(takeoverClient->fds.publicFds));
    if (f.admin) {
      admin.inherit(std::move(takeoverClient->fds.adminFds));
    } else {
      for (int fd : takeoverClient->fds.adminFds) ::close(fd);
      if (!takeoverClient->fds.adminFds.empty()) {
        log::warn("takeover: the old process had an admin listener and this one has no --admin");
      }
    }
  }
  DeploymentsOptions dopts{f.data, f.domain, f.defaultProject, f.syncFull, hostConfig,
                           f.heapLimitMb, *geo, {}, {}, {}};
  std::unique_ptr<ClusterNode> cluster;
  if (!f.cluster.etcd.empty()) {
    ClusterOptions co = f.cluster;
    if (co.sourceAddress.empty() && f.address != "0.0.0.0" && f.address != "::") {
      co.sourceAddress = f.address;
    }
    cluster = std::make_unique<ClusterNode>(pool, std::move(co));
    dopts.configureProject = [node = cluster.get()](const std::string& project,
                                                     ProjectOptions& po) {
      node->configure(project, po);
    };
    dopts.forgetProject = [node = cluster.get()](const std::string& project) {
      node->forget(project);
    };
    // Deploys and env changes made on any node reach every node through PostgreSQL.
    dopts.replicateUrl = f.cluster.postgres;
  }
  if (takeoverClient) {
    // Rooms that need storage before the old process closed it wait on their shard: at most
    // its drain, plus a margin for its storage to close (under serve's CPU limit of 30 s).
    storageGate = std::make_shared<storage::StorageGate>();
    deferStorage(dopts, pool, storageGate, f.drainTimeoutMs + 15'000);
  }
  if (local && dopts.defaultProject.empty()) dopts.defaultProject = local->first.key();
  Deployments deployments(pool, admin.io(), dopts);
  auto started = pool.start(
      [&deployments](std::size_t shard, std::shared_ptr<http::Session> s, http::Request&& r) {
        deployments.route(shard, std::move(s), std::move(r));
      });
  if (!started) {
    std::fprintf(stderr, "partyd: %s\n", started.error().message.c_str());
    return 1;
  }
  if (cluster) {
    if (auto r = cluster->start(); !r) {
      std::fprintf(stderr, "partyd: %s\n", r.error().message.c_str());
      pool.stop();
      return 1;
    }
  }
  deployments.loadAll();
  if (local) {
    if (auto r = deployments.addLocal(local->first, std::move(local->second)); !r) {
      std::fprintf(stderr, "partyd: %s\n", r.error().message.c_str());
      deployments.stopAll();
      pool.stop();
      return 1;
    }
  }
  if (f.admin) {
    addDeployRoutes(admin, deployments);
    NodeMetrics nodeMetrics;
    if (cluster) {
      nodeMetrics = [node = cluster.get()](metrics::TextWriter& w) { node->writeMetrics(w); };
    }
    addObservabilityRoutes(
        admin, [&deployments] { return deployments.observed(); }, f.version,
        std::move(nodeMetrics));
    if (auto r = admin.start(); !r) {
      std::fprintf(stderr, "partyd: %s\n", r.error().message.c_str());
      deployments.stopAll();
      pool.stop();
      return 1;
    }
  }
  if (takeoverClient) {
    // Every project is loaded: the old process may drain. From here on this process serves,
    // whatever happens to the old one.
    if (auto r = takeoverClient->requestDrain(); !r) {
      std::fprintf(stderr, "partyd: --takeover: the running partyd left: %s\n",
                   r.error().message.c_str());
      admin.stop();
      deployments.stopAll();
      pool.stop();
      return 1;
    }
    // systemd: this process is the service's main one now (NotifyAccess=all lets a child say so).
    net::sdNotify("MAINPID=" + std::to_string(::getpid()));
  }
  if (auto r = pool.listen(); !r) {
    std::fprintf(stderr, "partyd: %s\n", r.error().message.c_str());
    admin.stop();
    deployments.stopAll();
    pool.stop();
    return 1;
  }
  if (takeoverClient) {
    std::int64_t waitMs = f.drainTimeoutMs + 10'000;
    if (auto r = takeoverClient->waitDone(waitMs); r) {
      log::info("takeover: pid " + std::to_string(takeoverClient->oldPid) +
                " closed its storage; opening it here");
    } else {
      log::error("takeover: no DONE from pid " + std::to_string(takeoverClient->oldPid) + " (" +
                 r.error().message + "); opening storage anyway");
    }
    storageGate->open();
    loadAlarms(pool, deployments);
    takeoverClient.reset();
  }
  // Every serve listens for the next takeover. Without the socket it serves anyway.
  std::unique_ptr<TakeoverServer> takeover;
  {
    auto t = TakeoverServer::listen(upgradePath, TakeoverFds{pool.listenFds(), admin.listenFds()},
                                    [mainThread] { pthread_kill(mainThread, SIGUSR1); });
    if (t) {
      takeover = std::move(*t);
    } else {
      log::warn("binary upgrades (--takeover, SIGUSR2) are off: " + t.error().message);
    }
  }
  log::info("serving from " + f.data.string() + " (" + std::to_string(pool.size()) + " shards)");
  if (f.admin) {
    std::printf("[partyd:inf] Admin API on %s://%s:%u\n", adminOptions.tls ? "https" : "http",
                adminOptions.address.c_str(), admin.port());
  }
  std::printf("[partyd:inf] Ready on %s://%s:%u\n", tls ? "https" : "http", f.address.c_str(),
              pool.port());
  std::fflush(stdout);
  net::sdNotify("READY=1");

  pid_t child = 0;  // the takeover SIGUSR2 started
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&signals, &info);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (sig == SIGUSR1 && takeover && takeover->draining()) break;
    if (sig == SIGUSR2) {
      if (!takeover) {
        log::warn("SIGUSR2: no upgrade socket, so no takeover");
      } else if (child) {
        log::warn("SIGUSR2: a takeover (pid " + std::to_string(child) + ") is under way");
      } else if (auto pid = spawnTakeover(); pid) {
        child = *pid;
        log::info("SIGUSR2: started pid " + std::to_string(child) + " to take over");
      } else {
        log::error("SIGUSR2: " + pid.error().message);
      }
      continue;
    }
    if (sig == SIGCHLD) {
      int status = 0;
      if (child && ::waitpid(child, &status, WNOHANG) == child) {
        log::error("the takeover process " + std::to_string(child) + " exited (" +
                   (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status))) +
                   ") before taking over; still serving");
        child = 0;
      }
      continue;
    }
    if (sig != SIGHUP) continue;
    if (!tls) {
      log::info("SIGHUP: no TLS certificate to reload");
      continue;
    }
    // New connections get the new certificate; open ones keep theirs.
    net::sdNotify("RELOADING=1");
    if (auto r = tls->reload(); r) {
      log::info("SIGHUP: reloaded the TLS certificate: " + tls->describe());
    } else {
      log::error("SIGHUP: kept the old TLS certificate: " + r.error().message);
    }
    net::sdNotify("READY=1");
  }
  return drainAndStop(f, pool, admin, deployments, stopSignals, cluster.get(), takeover.get());
}

}  // namespace partyd::server
