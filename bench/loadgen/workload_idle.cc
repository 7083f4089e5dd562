// W4 idle: open --connections WebSockets spread over --rooms rooms (round robin), wait until
// every one has its "hi" and --settle seconds more, then report the server's RSS growth per
// connection and the CPU it burns while all of them sit idle for --idle seconds. Needs
// --server-pid. Read buffers are small, so that the client can hold many sockets. With
// bench/party-hibernate, --settle must outlast the server's hibernation delay; rss_ready_kib
// (read when the last "hi" arrives) against rss_kib shows what hibernation gave back.
#include <thread>

#include "fleet.h"
#include "report.h"
#include "workloads.h"

namespace partyd::bench {

int runIdle(Flags& flags) {
  Target target = Target::fromFlags(flags);
  const size_t connections = static_cast<size_t>(flags.integer("connections", 1000));
  const int64_t rooms = flags.integer("rooms", 1);
  const double settle_s = flags.number("settle", 2);
  const double idle_s = flags.number("idle", 10);
  const int concurrency = static_cast<int>(flags.integer("connect-concurrency", 256));
  const std::string phase = std::to_string(connections) + "/" + std::to_string(rooms);
  if (std::string unused = flags.unusedFlag(); !unused.empty()) {
    return fail("idle", phase, "unknown flag --" + unused);
  }
  if (target.server.empty()) return fail("idle", phase, "--server-pid is required");

  const uint64_t rss_base = target.server.rssKiB();
  const uint64_t client_rss_base = selfRssKiB();
  Loops loops(target.threads);
  Fleet::Options options;
  options.count = connections;
  options.path = [&target, rooms](size_t i) {
    return target.roomPath("i" + std::to_string(static_cast<int64_t>(i) % rooms));
  };
  options.read_buffer = 256;
  options.concurrency = concurrency;
  Fleet fleet(loops, target, options);
  Clock::time_point start = Clock::now();
  fleet.start();
  if (!fleet.waitReady(target.timeout_s)) return fail("idle", phase, fleet.firstError());
  const double connect_s = secondsSince(start, Clock::now());
  const uint64_t rss_ready = target.server.rssKiB();
  std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));

  const uint64_t rss = target.server.rssKiB();
  const uint64_t cpu_start = target.server.cpuNs();
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
  const uint64_t cpu_end = target.server.cpuNs();
  if (fleet.failed() > 0) return fail("idle", phase, "while idle: " + fleet.firstError());

  JsonLine line = resultLine("idle", phase, target);
  line.add("connections", static_cast<int64_t>(connections)).add("rooms", rooms);
  line.add("connect_s", connect_s);
  line.add("connect_per_s", static_cast<double>(connections) / connect_s);
  line.add("settle_s", settle_s);
  line.add("rss_base_kib", rss_base).add("rss_ready_kib", rss_ready).add("rss_kib", rss);
  line.add("kib_per_conn", (static_cast<double>(rss) - static_cast<double>(rss_base)) /
                               static_cast<double>(connections));
  line.add("kib_per_conn_ready", (static_cast<double>(rss_ready) - static_cast<double>(rss_base)) /
                                     static_cast<double>(connections));
  line.add("idle_s", idle_s);
  line.add("idle_cpu_pct", 100.0 * static_cast<double>(cpu_end - cpu_start) / 1e9 / idle_s);
  line.add("client_kib_per_conn", (static_cast<double>(selfRssKiB()) - client_rss_base) /
                                      static_cast<double>(connections));
  line.addLatency(fleet.connectLatency());
  line.print();
  loops.stop();
  return 0;
}

}  // namespace partyd::bench
