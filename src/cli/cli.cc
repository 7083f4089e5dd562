#include "cli/cli.h"

#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "project/asset_builder.h"
#include "project/bundler.h"
#include "project/config.h"
#include "server/server.h"

#ifndef PARTYD_VERSION
#define PARTYD_VERSION "0.0.0"
#endif

namespace partyd::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(partyd: run PartyKit projects on your own machines

usage:
  partyd dev [options] [DIR]   serve the project in DIR (default: .) on port 1999
  partyd --version             print the version

options for dev:
  -p, --port N            port to listen on (default: 1999, or "port" in partykit.json)
  --address ADDR          address to bind (default: 0.0.0.0)
  --threads N             shards (threads); default: one per usable core (taskset/cpuset aware)
  --persist PATH          keep room storage in PATH (default: DIR/.partykit/state)
  --no-persist            keep room storage in memory only
  --sync normal|full      normal (default): a write is acknowledged once it is in the
                          write-ahead log, safe if partyd is killed; full: also fsynced,
                          safe if the machine loses power (slower writes)
  --no-watch              do not rebuild when the project's files change
  --idle-timeout SEC      evict a room idle this long (default: 30)
  --handler-timeout MS    stop a handler that runs longer than this (default: 30000)
  --hibernate-after MS    a room with options.hibernate drops its object after this
                          long without events; its sockets stay open (default: 10000)
  -v, --var KEY=VALUE     add to room.env (overrides partykit.json and .env)
  -d, --define KEY=VALUE  add an esbuild define
  --verbose               debug logging
  --quiet                 only warnings and errors (no line per request)
)";

struct DevFlags {
  std::string dir = ".";
  std::optional<unsigned short> port;
  std::string address = "0.0.0.0";
  std::size_t threads = 0;
  std::optional<fs::path> persist;
  bool noPersist = false;
  bool syncFull = false;
  std::int64_t idleTimeoutSec = 30;
  std::int64_t handlerTimeoutMs = 30'000;
  std::int64_t hibernateAfterMs = 10'000;
  bool watch = true;
  std::vector<std::pair<std::string, std::string>> vars;
  std::vector<std::pair<std::string, std::string>> defines;
};

template <typename T>
bool parseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool splitKv(std::string_view s, std::pair<std::string, std::string>* out) {
  std::size_t eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  *out = {std::string(s.substr(0, eq)), std::string(s.substr(eq + 1))};
  return true;
}

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

int fail(const std::string& msg) {
  std::fprintf(stderr, "partyd: %s\n", msg.c_str());
  return 2;
}

int runDev(const std::vector<std::string_view>& args) {
  DevFlags f;
  bool dirSet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](std::string_view* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string_view v;
    if (a == "-p" || a == "--port") {
      unsigned short p;
      if (!value(&v) || !parseNumber(v, &p)) return fail("--port needs a number from 0 to 65535");
      f.port = p;
    } else if (a == "--address") {
      if (!value(&v)) return fail("--address needs an address");
      f.address = v;
    } else if (a == "--threads") {
      if (!value(&v) || !parseNumber(v, &f.threads) || f.threads > 256) {
        return fail("--threads needs a number from 1 to 256");
      }
    } else if (a == "--persist") {
      if (!value(&v)) return fail("--persist needs a path (or use --no-persist)");
      if (v == "false") {
        f.noPersist = true;
      } else {
        f.persist = fs::path(v);
      }
    } else if (a == "--sync") {
      if (!value(&v) || (v != "normal" && v != "full")) {
        return fail("--sync needs normal or full");
      }
      f.syncFull = v == "full";
    } else if (a == "--no-watch") {
      f.watch = false;
    } else if (a == "--no-persist") {
      f.noPersist = true;
    } else if (a == "--idle-timeout") {
      if (!value(&v) || !parseNumber(v, &f.idleTimeoutSec)) {
        return fail("--idle-timeout needs a number of seconds");
      }
    } else if (a == "--hibernate-after") {
      if (!value(&v) || !parseNumber(v, &f.hibernateAfterMs)) {
        return fail("--hibernate-after needs a number of milliseconds");
      }
    } else if (a == "--handler-timeout") {
      if (!value(&v) || !parseNumber(v, &f.handlerTimeoutMs)) {
        return fail("--handler-timeout needs a number of milliseconds");
      }
    } else if (a == "-v" || a == "--var" || a == "-d" || a == "--define") {
      std::pair<std::string, std::string> kv;
      if (!value(&v) || !splitKv(v, &kv)) return fail(std::string(a) + " needs KEY=VALUE");
      (a == "-v" || a == "--var" ? f.vars : f.defines).push_back(std::move(kv));
    } else if (a == "--verbose") {
      log::setLevel(log::Level::kDebug);
    } else if (a == "--quiet") {
      log::setLevel(log::Level::kWarn);
    } else if (a == "--no-hotkeys" || a == "--disable-request-cf-fetch") {
      // accepted for compatibility with `partykit dev` command lines
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option " + std::string(a) + "\n\n" + kUsage);
    } else if (!dirSet) {
      f.dir = a;
      dirSet = true;
    } else {
      return fail("more than one project directory given");
    }
  }

  project::LoadOptions loadOptions;
  loadOptions.vars = f.vars;
  loadOptions.define = f.defines;
  auto config = project::loadConfig(fs::path(f.dir), loadOptions);
  if (!config) {
    std::fprintf(stderr, "partyd: %s\n", config.error().message.c_str());
    return 1;
  }
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
  options.runtime.userBundle = std::move(bundle->code);
  options.runtime.userBundleName = bundle->outFile.string();
  options.runtime.envJson = config->varsJson;
  options.runtime.partyNames.push_back("main");
  for (const auto& [name, path] : config->parties) options.runtime.partyNames.push_back(name);
  options.runtime.idleTimeoutMs = f.idleTimeoutSec * 1000;
  options.runtime.handlerBudgetMs = f.handlerTimeoutMs;
  options.runtime.hibernateAfterMs = f.hibernateAfterMs;

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
  server.stop();
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "-V" || args[0] == "version") {
    std::printf("partyd %s\n", PARTYD_VERSION);
    return 0;
  }
  if (args[0] == "dev") return runDev({args.begin() + 1, args.end()});
  return fail("unknown command '" + std::string(args[0]) + "'\n\n" + kUsage);
}

}  // namespace partyd::cli
