#include "server/server.h"

namespace partyd::server {

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  stop();
}

Result<void> Server::start() {
  pool_ = std::make_unique<ShardPool>(
      PoolOptions{options_.address, options_.port, options_.threads, options_.httpLimits});
  // The router reads project_, which exists before the listeners open.
  auto r = pool_->start(
      [this](std::size_t shard, std::shared_ptr<http::Session> session, http::Request&& request) {
        if (party::Edge* edge = project_ ? project_->edge(shard) : nullptr) {
          edge->onRequest(std::move(session), std::move(request));
        } else {
          http::Response r;
          r.status = 503;
          r.body = "partyd is starting or stopping\n";
          session->respond(std::move(r), false);
        }
      });
  if (r) {
    ProjectOptions po;
    po.state = options_.state;
    po.syncFull = options_.syncFull;
    po.runtime = options_.runtime;
    po.host = options_.host;
    po.assets = options_.assets;
    po.crons = options_.crons;
    po.trustedProxies = options_.trustedProxies;
    project_ = std::make_unique<ProjectHost>(*pool_, std::move(po));
    r = project_->start();
  }
  if (r) r = pool_->listen();
  if (!r) stop();
  return r;
}

Result<void> Server::reload(const std::string& bundle, const std::string& bundleName,
                            const std::string& envJson,
                            const std::vector<std::string>& partyNames) {
  return reload(party::CodeBundle{bundle, bundleName, envJson, partyNames});
}

Result<void> Server::reload(party::CodeBundle next) {
  if (!project_) return makeError("the server is not running");
  return project_->reload(std::move(next));
}

Result<void> Server::rollback() {
  if (!project_) return makeError("the server is not running");
  return project_->rollback();
}

bool Server::hasPrevious() const { return project_ && project_->hasPrevious(); }

void Server::stop() {
  if (!pool_) return;
  pool_->closeListeners();
  if (project_) project_->stop();
  pool_->stop();
  project_.reset();
  pool_.reset();
}

}  // namespace partyd::server
