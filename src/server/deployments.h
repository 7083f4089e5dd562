// Deployments is `partyd serve`'s table of projects: each deployed bundle with its assets, vars
// and storage under the data folder, running as a ProjectHost on the shared ShardPool, found by
// the Host header of each request. It does what the deploy API asks (deploy, delete, env, the
// asset uploads) atomically: a new bundle is loaded and evaluated before anything switches, a
// refused one changes nothing. At start it loads what the data folder holds, so deploys survive a
// restart of partyd.
//
// The data folder:
//   DATA/projects/TEAM/NAME/env.json            `partykit env` values (mode 0600)
//   DATA/projects/TEAM/NAME/deploys/@|PREVIEW/  bundle.js, meta.json, assets.json (the uploaded
//                                               manifest), blobs/ (uploaded assets), site/ (the
//                                               deployed assets by path), state/ (room storage),
//                                               previous/ (the deploy before: bundle, meta, site)
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "http/session.h"
#include "party/room_host.h"
#include "server/client_geo.h"
#include "server/host_routing.h"
#include "server/multipart.h"
#include "server/observe.h"
#include "server/project_host.h"
#include "server/shard_pool.h"
#include "server/tail.h"

namespace partyd::server {

struct DeploymentsOptions {
  std::filesystem::path data;
  std::string domain;          // --domain: NAME.TEAM.DOMAIN reaches a project
  std::string defaultProject;  // --default-project TEAM/NAME
  bool syncFull = false;
  party::HostConfig host;       // the limits of `dev`, for every project
  std::size_t heapLimitMb = 0;  // --heap-limit, per shard of each project
  ClientGeo clientGeo;          // --geoip and --trusted-proxy, for every project
  // Cluster mode: the PostgreSQL URL of the admin op log (server/replication.h), which makes
  // deploys and env changes made on any node reach every node. Empty: one node alone.
  std::string replicateUrl;
  // Cluster mode: gives a project's options PostgreSQL storage and the cluster's hooks, before
  // it starts (ClusterNode::configure). Not applied to a deploy's trial load.
  std::function<void(const std::string& project, ProjectOptions&)> configureProject;
  // Cluster mode: a project was deleted (ClusterNode::forget).
  std::function<void(const std::string& project)> forgetProject;
};

class Replicator;

// An answer for the admin API: a status and a JSON body.
struct ApiAnswer {
  unsigned status = 200;
  std::string json;
  static ApiAnswer error(unsigned status, std::string_view message);
};

// What both halves of Deployments (deployments.cc, deploy_api.cc) read files and JSON with.
std::optional<std::string> readFile(const std::filesystem::path& p);
// The JSON value of `text`, or nothing when it is not JSON.
std::optional<boost::json::value> parseJson(std::string_view text);

class Deployments {
 public:
  Deployments(ShardPool& pool, boost::asio::io_context& adminIo, DeploymentsOptions options);
  ~Deployments();

  // Starts every deploy found under the data folder (one that fails is logged and skipped).
  void loadAll();
  // Runs a local folder's build as project `id` (partyd serve DIR); not kept in the data folder.
  Result<void> addLocal(const ProjectId& id, ProjectOptions options);
  void stopAll();
  // The projects running now (TEAM/NAME, or TEAM/NAME/PREVIEW) with their Edge tables, for the
  // admin listener's /metrics and inspector, which reach each shard's Edge through invokeOn,
  // and for the SIGTERM drain (drain.cc), which runs on each shard's thread.
  std::vector<ObservedProject> observed() const;
  // Closes every project's tail WebSockets with 1001 (drain.cc: the SIGTERM drain).
  void closeTails();

  // The shard router: finds the project by Host and hands the request to its Edge.
  void route(std::size_t shard, std::shared_ptr<http::Session> session, http::Request&& request);

  // ---- the deploy API (on the admin thread) ----
  ApiAnswer deploy(const ProjectId& id, const std::vector<FormPart>& form);
  ApiAnswer info(const ProjectId& id);
  ApiAnswer list(const std::string& team);
  ApiAnswer remove(const ProjectId& id);
  // Back to the deploy before the current one (kept in the deploy's previous/ folder, so it
  // survives a restart); a second rollback returns to where the first began. 409 without one.
  ApiAnswer rollback(const ProjectId& id);
  ApiAnswer assetsManifest(const ProjectId& id);
  ApiAnswer putAsset(const ProjectId& id, const std::string& name, const std::string& bytes);
  ApiAnswer saveAssetsManifest(const ProjectId& id, const std::string& json);
  ApiAnswer envGet(const ProjectId& id, bool keysOnly);
  ApiAnswer envPush(const ProjectId& id, const std::string& json);
  ApiAnswer envSet(const ProjectId& id, const std::string& key, const std::string& value);
  ApiAnswer envRemove(const ProjectId& id, const std::optional<std::string>& key);
  ApiAnswer tailCreate(const ProjectId& id, const std::string& adminBase,
                       const std::string& filterJson);
  // Replaces the project's env with `json` (an object of strings): how a peer's env change lands.
  ApiAnswer envReplace(const ProjectId& id, const std::string& json);
  ApiAnswer tailDelete(const ProjectId& id, const std::string& tailId);
  void tailAttach(const std::string& key, const std::string& tailId, const std::string& secret,
                  std::shared_ptr<http::Session> session, http::Request&& request);

  // The op log that the state-changing routes go through in a cluster; null on one node alone.
  Replicator* replicator() const { return replicator_.get(); }

  // The directory of a deploy, and of its project.
  std::filesystem::path projectDir(const ProjectId& id) const;
  std::filesystem::path deployDir(const ProjectId& id) const;

 private:
  struct Entry {
    ProjectId id;
    std::string domain;
    std::filesystem::path dir;
    std::string meta;  // meta.json
    std::shared_ptr<TailHub> hub;
    std::unique_ptr<ProjectHost> host;
    bool local = false;
  };
  Result<ProjectOptions> optionsFor(const ProjectId& id, const std::filesystem::path& dir,
                                    const std::string& metaJson,
                                    std::shared_ptr<TailHub> hub) const;
  Result<std::string> envJsonFor(const ProjectId& id, const std::string& deployVarsJson) const;
  Result<void> startEntry(const ProjectId& id, const std::filesystem::path& dir,
                          std::shared_ptr<TailHub> hub = nullptr);
  std::shared_ptr<Entry> find(const ProjectId& id) const;
  // Moves a running project to the files now in its deploy folder (meta `metaJson`): a code swap
  // when only the code changed (to the host's previous build when `rollback` and it has one),
  // else a restart of the project.
  Result<void> switchRunning(const std::shared_ptr<Entry>& existing, const std::string& metaJson,
                             bool rollback);
  std::vector<RouteEntry> routeTable() const;  // under mutex_

  ShardPool& pool_;
  boost::asio::io_context& adminIo_;
  DeploymentsOptions options_;
  mutable std::shared_mutex mutex_;  // the table; shards read it per request
  std::vector<std::shared_ptr<Entry>> entries_;
  std::vector<RouteEntry> routes_;  // parallel to entries_
  std::mutex deployMutex_;          // one deploy, delete or env change at a time
  std::vector<std::shared_ptr<net::Sharded<party::Edge>>> retired_;
  std::unique_ptr<ShardPool> scratch_;      // one shard, no listener: where a deploy is tried first
  std::unique_ptr<Replicator> replicator_;  // started by loadAll() when replicateUrl is set
};

class AdminServer;
// The deploy API's routes (DEPLOY-API.md) on `admin`, answered by `deployments`.
void addDeployRoutes(AdminServer& admin, Deployments& deployments);

// A CLI-built bundle (an ES module that exports the main party as default and the others by
// name) rewritten so that it hands them to the runtime as partyd's own bundles do. partyd's own
// bundles pass unchanged. An error when the module exports nothing.
Result<std::string> adaptBundle(std::string code, const std::vector<std::string>& parties);

}  // namespace partyd::server
