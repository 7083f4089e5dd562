#include "cli/cli.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "cli/verbs.h"
#include "server/dev_loop.h"
#include "server/serve.h"

#ifndef PARTYD_VERSION
#define PARTYD_VERSION "0.0.0"
#endif

namespace partyd::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(partyd: run PartyKit projects on your own machines

usage:
  partyd dev [options] [DIR]   serve the project in DIR (default: .) on port 1999
  partyd serve [options] [DIR] host deployed projects (and DIR, built once, if given)
  partyd deploy|list|info|delete|rollback|env|tail [options]
                               deploy to and manage a `partyd serve` (see below)
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
  --cpu-limit MS          stop a handler (one synchronous run: time awaiting I/O does not
                          count) after this long and reset its room; the other rooms of
                          its shard wait at most this long (default: 2000; alias:
                          --handler-timeout). See docs/limits.md for every limit.
  --heap-limit MB         JS heap per shard; a room that fills it is stopped (default: 1024)
  --max-room-connections N         more WebSockets to one room close with 1013 (10000)
  --max-messages-per-second N      per WebSocket; a faster client is closed with 1008 (off)
  --max-pending-bytes N   bytes queued to one slow client before it is closed with 1008
                          (default: 33554432)
  --max-room-storage N    bytes of storage per room; a write past it throws (off)
  --hibernate-after MS    a room with options.hibernate drops its object after this
                          long without events; its sockets stay open (default: 10000)
  --geoip FILE            fill request.cf from a MaxMind-format database (GeoIP2/GeoLite2
                          City or Country; repeat for an ASN database) by the client address
  --trusted-proxy CIDR    a proxy in front of partyd (repeatable, IPv4 or IPv6): from it, the
                          client address is X-Forwarded-For's right-most untrusted entry
  -v, --var KEY=VALUE     add to room.env (overrides partykit.json and .env)
  -d, --define KEY=VALUE  add an esbuild define
  --admin ADDR            serve /metrics (Prometheus) and the room inspector on ADDR
                          (PORT or HOST:PORT; the host defaults to 127.0.0.1)
  --log-format text|json  text (default): one partykit-dev-like line per event; json: one
                          JSON object per line (time, level, project, party, room, event,
                          status, duration, message)
  --verbose               debug logging
  --quiet                 only warnings and errors (no line per request)

options for serve (and --port, --address, --threads, --sync, --verbose, --quiet, --geoip,
--trusted-proxy and the room limits --idle-timeout, --cpu-limit/--handler-timeout (default 30000
for serve), --heap-limit, --max-room-connections, --max-messages-per-second, --max-pending-bytes,
--max-room-storage and --hibernate-after, as for dev, applied to every project):
  --data DIR              every project's code, assets, env and storage (default: ./partyd-data)
  --admin ADDR:PORT       the deploy API, for `partykit deploy` with PARTYKIT_API_BASE
  --admin-token TOKEN     the token it needs (GITHUB_TOKEN for the partykit CLI)
  --admin-token-file FILE the same, read from FILE (safer: not in `ps`)
  --domain DOMAIN         NAME.TEAM.DOMAIN (and PREVIEW.NAME.TEAM.DOMAIN) reach a project
  --default-project T/N   the project for any other Host (default: the only one deployed)
  --max-upload MB         the largest deploy or asset upload (default: 64)
  --tls-cert FILE         serve HTTPS/WSS with this PEM certificate (a chain: the certificate,
                          then its intermediates); --admin too unless it is on loopback.
                          SIGHUP reads the files again
  --tls-key FILE          its PEM private key (unencrypted)
  --drain-timeout SEC     at SIGTERM/SIGINT: how long open WebSockets (closed with 1001 once
                          their events finish) and requests in flight get (default: 10)
  --takeover              replace the partyd serve that listens on the upgrade socket without
                          refusing a connection: take its listening sockets, load the projects,
                          then let it drain (WebSockets close with 1012) and open storage once
                          it has closed it. SIGUSR2 to a running serve does this with its own
                          binary path and flags (a binary upgrade in one command)
  --upgrade-socket PATH   the Unix control socket every serve listens on for a takeover
                          (default: DATA/partyd.sock)

cluster mode (docs/cluster.md): many nodes, one live instance per room
  --cluster etcd=URL[,URL...]  join the cluster whose etcd members are at URL (http://HOST:PORT)
  --storage postgres://...     room storage in PostgreSQL (a libpq URL), shared by every node
  --advertise HOST:PORT        where other nodes reach this one (its client port; required)
  --region NAME                this node's region: a new room goes to a node of the region
                               that received its first request (default: none)
  --lease-ttl SECONDS          the node's etcd lease (default: 10): a dead node's rooms return
                               on other nodes after about this long
  --cluster-name NAME          the cluster's key prefix in etcd (default: partyd)
)";

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

int fail(const std::string& msg) {
  std::fprintf(stderr, "partyd: %s\n", msg.c_str());
  return 2;
}

// The room limits, shared by dev and serve. Returns false when `a` is not a limit flag; else
// true with *error set when its value is wrong.
template <typename Value>
bool parseLimitFlag(std::string_view a, Value value, server::RoomLimits* f, std::string* error) {
  std::string_view v;
  auto bad = [&](std::string msg) {
    *error = std::move(msg);
    return true;
  };
  if (a == "--idle-timeout") {
    if (!value(&v) || !parseNumber(v, &f->idleTimeoutSec)) {
      return bad("--idle-timeout needs a number of seconds");
    }
  } else if (a == "--hibernate-after") {
    if (!value(&v) || !parseNumber(v, &f->hibernateAfterMs)) {
      return bad("--hibernate-after needs a number of milliseconds");
    }
  } else if (a == "--handler-timeout" || a == "--cpu-limit") {
    if (!value(&v) || !parseNumber(v, &f->handlerTimeoutMs) || f->handlerTimeoutMs < 1) {
      return bad(std::string(a) + " needs a number of milliseconds");
    }
  } else if (a == "--heap-limit") {
    if (!value(&v) || !parseNumber(v, &f->heapLimitMb) || f->heapLimitMb < 16) {
      return bad("--heap-limit needs a number of megabytes, at least 16");
    }
  } else if (a == "--max-room-connections") {
    if (!value(&v) || !parseNumber(v, &f->maxRoomConnections)) {
      return bad("--max-room-connections needs a number (0: no limit)");
    }
  } else if (a == "--max-messages-per-second") {
    std::size_t n = 0;
    if (!value(&v) || !parseNumber(v, &n)) {
      return bad("--max-messages-per-second needs a number (0: no limit)");
    }
    f->maxMessagesPerSecond = static_cast<double>(n);
  } else if (a == "--max-pending-bytes") {
    if (!value(&v) || !parseNumber(v, &f->maxQueuedBytes) || f->maxQueuedBytes < 1024) {
      return bad("--max-pending-bytes needs a number of bytes, at least 1024");
    }
  } else if (a == "--max-room-storage") {
    if (!value(&v) || !parseNumber(v, &f->maxRoomStorageBytes)) {
      return bad("--max-room-storage needs a number of bytes (0: no limit)");
    }
  } else {
    return false;
  }
  return true;
}

// --geoip and --trusted-proxy, shared by dev and serve, as parseLimitFlag is.
template <typename Value>
bool parseClientGeoFlag(std::string_view a, Value value, server::ClientGeoFlags* f,
                        std::string* error) {
  std::string_view v;
  if (a == "--geoip") {
    if (!value(&v) || v.empty()) {
      *error = "--geoip needs a MaxMind database file";
    } else {
      f->geoip.emplace_back(v);
    }
  } else if (a == "--trusted-proxy") {
    if (!value(&v) || v.empty()) {
      *error = "--trusted-proxy needs an address or CIDR range";
    } else {
      f->trustedProxies.emplace_back(v);
    }
  } else {
    return false;
  }
  return true;
}

int runDev(const std::vector<std::string_view>& args) {
  server::DevOptions f;
  bool dirSet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](std::string_view* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string_view v;
    if (std::string error;
        parseLimitFlag(a, value, &f, &error) || parseClientGeoFlag(a, value, &f, &error)) {
      if (!error.empty()) return fail(error);
    } else if (a == "-p" || a == "--port") {
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
    } else if (a == "-v" || a == "--var" || a == "-d" || a == "--define") {
      std::pair<std::string, std::string> kv;
      if (!value(&v) || !splitKv(v, &kv)) return fail(std::string(a) + " needs KEY=VALUE");
      (a == "-v" || a == "--var" ? f.vars : f.defines).push_back(std::move(kv));
    } else if (a == "--admin") {
      if (!value(&v) || v.empty()) return fail("--admin needs PORT or HOST:PORT");
      f.admin = std::string(v);
    } else if (a == "--log-format") {
      if (!value(&v) || (v != "text" && v != "json")) return fail("--log-format needs text or json");
      log::setFormat(v == "json" ? log::Format::kJson : log::Format::kText);
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

  f.version = PARTYD_VERSION;
  return server::runDev(f);
}

int runServe(const std::vector<std::string_view>& args) {
  server::ServeOptions f;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](std::string_view* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string_view v;
    if (std::string error;
        parseLimitFlag(a, value, &f, &error) || parseClientGeoFlag(a, value, &f, &error)) {
      if (!error.empty()) return fail(error);
    } else if (a == "-p" || a == "--port") {
      if (!value(&v) || !parseNumber(v, &f.port)) return fail("--port needs a number 0-65535");
    } else if (a == "--address") {
      if (!value(&v)) return fail("--address needs an address");
      f.address = v;
    } else if (a == "--threads") {
      if (!value(&v) || !parseNumber(v, &f.threads) || f.threads > 256) {
        return fail("--threads needs a number from 1 to 256");
      }
    } else if (a == "--data") {
      if (!value(&v)) return fail("--data needs a folder");
      f.data = fs::path(v);
    } else if (a == "--admin") {
      if (!value(&v)) return fail("--admin needs ADDR:PORT");
      f.admin = std::string(v);
    } else if (a == "--admin-token") {
      if (!value(&v) || v.empty()) return fail("--admin-token needs a token");
      f.adminToken = std::string(v);
    } else if (a == "--admin-token-file") {
      if (!value(&v)) return fail("--admin-token-file needs a file");
      std::FILE* file = std::fopen(std::string(v).c_str(), "rb");
      if (!file) return fail("cannot read " + std::string(v));
      std::string token;
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) token.append(buf, n);
      std::fclose(file);
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                                token.back() == ' ')) {
        token.pop_back();
      }
      if (token.empty()) return fail(std::string(v) + " holds no token");
      f.adminToken = std::move(token);
    } else if (a == "--domain") {
      if (!value(&v)) return fail("--domain needs a domain");
      f.domain = v;
    } else if (a == "--default-project") {
      if (!value(&v) || v.find('/') == std::string_view::npos) {
        return fail("--default-project needs TEAM/NAME");
      }
      f.defaultProject = v;
    } else if (a == "--max-upload") {
      std::uint64_t mb;
      if (!value(&v) || !parseNumber(v, &mb) || mb == 0 || mb > 4096) {
        return fail("--max-upload needs a number of megabytes (1-4096)");
      }
      f.maxUploadBytes = mb * 1024 * 1024;
    } else if (a == "--sync") {
      if (!value(&v) || (v != "normal" && v != "full")) return fail("--sync needs normal or full");
      f.syncFull = v == "full";
    } else if (a == "--verbose") {
      log::setLevel(log::Level::kDebug);
    } else if (a == "--quiet") {
      log::setLevel(log::Level::kWarn);
    } else if (a == "--cluster") {
      if (!value(&v) || v.substr(0, 5) != "etcd=" || v.size() == 5) {
        return fail("--cluster needs etcd=URL[,URL...]");
      }
      std::string_view urls = v.substr(5);
      while (!urls.empty()) {
        std::size_t comma = urls.find(',');
        std::string_view url = urls.substr(0, comma);
        if (url.substr(0, 7) != "http://") {
          return fail("--cluster: " + std::string(url) + " is not an http:// URL (etcd's "
                      "client URL, e.g. http://127.0.0.1:2379)");
        }
        f.cluster.etcd.emplace_back(url);
        urls = comma == std::string_view::npos ? std::string_view() : urls.substr(comma + 1);
      }
    } else if (a == "--storage") {
      if (!value(&v) || (v.substr(0, 11) != "postgres://" && v.substr(0, 13) != "postgresql://")) {
        return fail("--storage needs a postgres:// URL");
      }
      f.cluster.postgres = v;
    } else if (a == "--advertise") {
      if (!value(&v) || v.rfind(':') == std::string_view::npos) {
        return fail("--advertise needs HOST:PORT");
      }
      f.cluster.advertise = v;
    } else if (a == "--region") {
      if (!value(&v)) return fail("--region needs a name");
      f.cluster.region = v;
    } else if (a == "--lease-ttl") {
      std::int64_t s = 0;
      if (!value(&v) || !parseNumber(v, &s) || s < 1 || s > 600) {
        return fail("--lease-ttl needs a number of seconds (1-600)");
      }
      f.cluster.leaseTtlMs = s * 1000;
    } else if (a == "--cluster-name") {
      if (!value(&v) || v.empty() || v.find('/') != std::string_view::npos) {
        return fail("--cluster-name needs a name without /");
      }
      f.cluster.name = v;
    } else if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else if (a == "--tls-cert" || a == "--tls-key") {
      if (!value(&v) || v.empty()) return fail(std::string(a) + " needs a PEM file");
      (a == "--tls-cert" ? f.tlsCert : f.tlsKey) = std::string(v);
    } else if (a == "--takeover") {
      f.takeover = true;
    } else if (a == "--upgrade-socket") {
      if (!value(&v) || v.empty()) return fail("--upgrade-socket needs a path");
      f.upgradeSocket = std::string(v);
    } else if (a == "--drain-timeout") {
      double sec = 0;
      if (!value(&v) || !parseNumber(v, &sec) || sec < 0 || sec > 3600) {
        return fail("--drain-timeout needs a number of seconds (0-3600)");
      }
      f.drainTimeoutMs = static_cast<std::int64_t>(sec * 1000);
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option " + std::string(a) + "\n\n" + kUsage);
    } else if (!f.dir) {
      f.dir = std::string(a);
    } else {
      return fail("more than one project directory given");
    }
  }
  f.version = PARTYD_VERSION;
  if (!f.cluster.etcd.empty() || !f.cluster.postgres.empty() || !f.cluster.advertise.empty()) {
    if (f.cluster.etcd.empty() || f.cluster.postgres.empty() || f.cluster.advertise.empty()) {
      return fail(
          "cluster mode needs all of --cluster etcd=URL, --storage postgres://... and "
          "--advertise HOST:PORT");
    }
    if (f.takeover) {
      return fail(
          "--takeover does not work with --cluster: a cluster node is upgraded by leaving "
          "the cluster (SIGTERM: its rooms move to other nodes) and starting the new "
          "binary, which joins again");
    }
  }
  return server::runServe(f);
}

}  // namespace

int run(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    std::fputs(kDeployVerbsUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "-V" || args[0] == "version") {
    std::printf("partyd %s\n", PARTYD_VERSION);
    return 0;
  }
  if (args[0] == "dev") return runDev({args.begin() + 1, args.end()});
  if (args[0] == "serve") return runServe({args.begin() + 1, args.end()});
  if (isDeployVerb(args[0])) return runDeployVerb(args[0], {args.begin() + 1, args.end()});
  return fail("unknown command '" + std::string(args[0]) + "'\n\n" + kUsage);
}

}  // namespace partyd::cli
