// loadgen: the native load generator of the partyd benchmarks (issue 5). One subcommand per
// workload; each prints one JSON line per result. See bench/README.md for the flags.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "flags.h"
#include "workloads.h"

namespace {

constexpr const char* kUsage = R"(usage: loadgen <workload> [--flag value ...]

workloads:
  echo       W1  --iterations 20000 --warmup 1000 --size 64 [--raw]
  activate   W2  --count 1000 --burst 100
  broadcast  W3  --rooms 10 --clients 10 --messages 200 --size 32 --batch 1
                 [--rate MSGS_PER_S_PER_ROOM --duration 5]   (open loop)
  idle       W4  --connections 1000 --rooms 1 --settle 2 --idle 10   (needs --server-pid)
  rooms      W5  --rooms 1000 --connections 8 --settle 2 [--hold]      (needs --server-pid)
  http       W6  --connections 16 --duration 5 --rooms 1,1000
  soak       W7  --rooms 1000 --clients 2 --churn 200 --rate 1000 --duration 180
                 --warmup 30 --sample 5 --size 64 --connect-concurrency 64
                 (bench/party-storage; needs --server-pid)

common flags:
  --host 127.0.0.1 --port 1999 --party main --prefix <fresh per run>
  --threads 1          client threads (one Asio loop each)
  --procs 1            soak: worker processes, each with its own loops and a share of the rooms,
                       rate and churn; their latency histograms are merged exactly
  --sources 1          spread connections over 127.0.0.1 .. 127.0.0.N
  --server-pid P[,P]   server process(es); their descendants count too (CPU, RSS)
  --timeout 60         a phase fails when nothing progresses for this many seconds
  --max-errors 100     http, rooms: failed requests tolerated (each is counted and retried);
                       soak: failed handshakes tolerated (each is counted and retried)
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace partyd::bench;
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  Flags flags;
  std::string error;
  if (!flags.parse(argc, argv, 2, error)) {
    std::fprintf(stderr, "loadgen: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  const std::string workload = argv[1];
  if (workload == "echo") return runEcho(flags);
  if (workload == "activate") return runActivate(flags);
  if (workload == "broadcast") return runBroadcast(flags);
  if (workload == "idle") return runIdle(flags);
  if (workload == "rooms") return runRooms(flags);
  if (workload == "http") return runHttp(flags);
  if (workload == "soak") return runSoak(flags);
  std::fprintf(stderr, "loadgen: unknown workload '%s'\n%s", workload.c_str(), kUsage);
  return 2;
}
