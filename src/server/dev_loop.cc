#include "server/dev_loop.h"

#include <signal.h>

#include <chrono>
#include <cstdio>

#include "base/log.h"
#include "project/asset_builder.h"
#include "project/bundler.h"
#include "project/config.h"
#include "server/observe.h"
#include "server/server.h"

namespace partyd::server {

namespace fs = std::filesystem;

namespace {

// Polls the modification times of the project's own files (not node_modules).
class Watcher {
 public:
  explicit Watcher(std::vector<fs::path> files) { reset(std::move(files)); }
  void reset(std::vector<fs::path> files) {
    files_ = std::move(files);
    stamps_.clear();
    for (const auto& f : files_) stamps_.push_back(stamp(f));
  }
  bool changed() {
    bool any = false;
    for (std::size_t i = 0; i < files_.size(); ++i) {
      auto now = stamp(files_[i]);
      if (now != stamps_[i]) {
        stamps_[i] = now;
        any = true;
      }
    }
    return any;
  }

 private:
  static fs::file_time_type stamp(const fs::path& f) {
    std::error_code ec;
    auto t = fs::last_write_time(f, ec);
    return ec ? fs::file_time_type::min() : t;
  }
  std::vector<fs::path> files_;
  std::vector<fs::file_time_type> stamps_;
};

std::vector<fs::path> watchList(const project::Config& config, const project::Bundle& bundle) {
  std::vector<fs::path> out;
  if (!config.configFile.empty()) out.push_back(config.configFile);
  for (const auto& f : config.watchFiles) out.push_back(f);
  for (const auto& f : bundle.inputs) {
    if (f.string().find("/node_modules/") == std::string::npos) out.push_back(f);
  }
  return out;
}

}  // namespace

int runDev(const DevOptions& f) {
  // --geoip and --trusted-proxy: checked first, so that a bad one fails before any build.
  auto geo = ClientGeo::open(f);
  if (!geo) {
    std::fprintf(stderr, "partyd: %s\n", geo.error().message.c_str());
    return 1;
  }

  project::LoadOptions loadOptions;
  loadOptions.vars = f.vars;
  loadOptions.define = f.defines;
  auto config = project::loadConfig(fs::path(f.dir), loadOptions);
  if (!config) {
    std::fprintf(stderr, "partyd: %s\n", config.error().message.c_str());
    return 1;
  }
  log::setProject(config->name);
  unsigned short port = f.port.value_or(config->port ? static_cast<unsigned short>(*config->port)
                                                     : 1999);
  project::BundleOptions bundleOptions;
  bundleOptions.outDir = config->root / ".partykit" / "build";
  bundleOptions.host = "127.0.0.1:" + std::to_string(port);
  auto bundle = project::bundle(*config, bundleOptions);
  if (!bundle) {
    std::fprintf(stderr, "partyd: build failed:\n%s\n", bundle.error().message.c_str());
    return 1;
  }

  // serve.build: the static site's own scripts, built before serving, as partykit dev does.
  std::vector<fs::path> assetInputs;
  if (config->serve && config->serve->build) {
    auto assets = project::buildAssets(*config, bundleOptions.host);
    if (!assets) {
      std::fprintf(stderr, "partyd: serve.build failed:\n%s\n", assets.error().message.c_str());
      return 1;
    }
    assetInputs = assets->inputs;
  }

  server::ServerOptions options;
  options.address = f.address;
  options.port = port;
  options.threads = f.threads;
  options.syncFull = f.syncFull;
  if (!f.noPersist && !config->persistDisabled) {
    options.state = f.persist ? *f.persist
                              : (config->persist ? config->root / *config->persist
                                                 : config->root / ".partykit" / "state");
  }
  if (config->serve && !config->serve->path.empty()) {
    options.assets = http::StaticOptions{config->serve->path, config->serve->singlePageApp,
                                         config->serve->browserTTL};
  }
  options.crons = config->crons;
  options.trustedProxies = geo->trustedProxies;
  options.runtime.geoip = geo->geoip;
  options.runtime.userBundle = std::move(bundle->code);
  options.runtime.userBundleName = bundle->outFile.string();
  options.runtime.envJson = config->varsJson;
  options.runtime.partyNames.push_back("main");
  for (const auto& [name, path] : config->parties) options.runtime.partyNames.push_back(name);
  f.applyTo(options.host);
  options.runtime.heapLimitMb = f.heapLimitMb;

  // Block the stop signals before the shards start, so that only the main thread takes them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string where = options.state ? options.state->string() +
                                          (options.syncFull ? ", fsync per commit" : "")
                                    : std::string("in memory");
  server::Server server(std::move(options));
  if (auto r = server.start(); !r) {
    std::fprintf(stderr, "partyd: %s\n", r.error().message.c_str());
    return 1;
  }
  std::unique_ptr<AdminServer> admin;
  if (f.admin) {
    auto a = startDevAdmin(*f.admin, server.edges(), ObserveOptions{config->name, f.version});
    if (!a) {
      std::fprintf(stderr, "partyd: %s\n", a.error().message.c_str());
      return 1;
    }
    admin = std::move(*a);
    std::printf("[partyd:inf] Admin on http://127.0.0.1:%u\n", admin->port());
  }
  log::info("serving " + config->name + " (" + std::to_string(server.shardCount()) +
            " shards, storage " + where + ")");
  std::printf("[partyd:inf] Ready on http://%s:%u\n", f.address.c_str(), server.port());
  std::fflush(stdout);

  // Watch the project: on a change, rebuild and swap the new code in; a failed build leaves the
  // previous one serving.
  auto watched = [](const project::Config& c, const project::Bundle& b,
                    const std::vector<fs::path>& extra) {
    auto list = watchList(c, b);
    for (const auto& f : extra) {
      if (f.string().find("/node_modules/") == std::string::npos) list.push_back(f);
    }
    return list;
  };
  Watcher watcher(watched(*config, *bundle, assetInputs));
  for (;;) {
    timespec wait{0, 300'000'000};
    siginfo_t info;
    if (sigtimedwait(&stopSignals, &info, &wait) > 0) break;
    if (!f.watch || !watcher.changed()) continue;
    auto started = std::chrono::steady_clock::now();
    auto newConfig = project::loadConfig(fs::path(f.dir), loadOptions);
    if (!newConfig) {
      log::error("partykit.json changed and is broken; still serving the previous build:\n" +
                 newConfig.error().message);
      continue;
    }
    auto newBundle = project::bundle(*newConfig, bundleOptions);
    if (!newBundle) {
      log::error("build failed; still serving the previous build:\n" +
                 newBundle.error().message);
      continue;
    }
    if (newConfig->serve && newConfig->serve->build) {
      auto assets = project::buildAssets(*newConfig, bundleOptions.host);
      if (!assets) {
        log::error("serve.build failed:\n" + assets.error().message);
      } else {
        assetInputs = assets->inputs;
      }
    }
    watcher.reset(watched(*newConfig, *newBundle, assetInputs));
    std::vector<std::string> names{"main"};
    for (const auto& [name, path] : newConfig->parties) names.push_back(name);
    if (auto r = server.reload(newBundle->code, newBundle->outFile.string(), newConfig->varsJson,
                               names);
        !r) {
      log::error("the new build failed to load: " + r.error().message);
      continue;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    log::info("rebuilt and reloaded in " + std::to_string(ms) + " ms");
  }
  log::info("stopping");
  if (admin) admin->stop();  // before the shards it reads
  server.stop();
  return 0;
}

}  // namespace partyd::server
