// W5 rooms: touch --rooms new rooms over HTTP with ?state=1 (each keeps a 1 KB state object, see
// bench/party), wait --settle seconds, and report the server's RSS growth per room. Needs
// --server-pid. A failed touch is counted ("errors") and retried, so every room gets its state.
#include <thread>

#include "http_driver.h"
#include "report.h"
#include "workloads.h"

namespace partyd::bench {

int runRooms(Flags& flags) {
  Target target = Target::fromFlags(flags);
  const size_t rooms = static_cast<size_t>(flags.integer("rooms", 1000));
  const size_t connections = static_cast<size_t>(flags.integer("connections", 8));
  const double settle_s = flags.number("settle", 2);
  const int64_t max_errors = flags.integer("max-errors", 100);
  const std::string phase = std::to_string(rooms);
  if (std::string unused = flags.unusedFlag(); !unused.empty()) {
    return fail("rooms", phase, "unknown flag --" + unused);
  }
  if (target.server.empty()) return fail("rooms", phase, "--server-pid is required");

  const uint64_t rss_base = target.server.rssKiB();
  Loops loops(target.threads);
  const uint64_t n = connections;
  HttpDriver driver(loops, target, connections, max_errors,
                    [&](size_t conn, uint64_t j) -> std::string {
                      uint64_t room = conn + j * n;
                      return room < rooms ? target.roomPath("w" + std::to_string(room)) + "?state=1"
                                          : std::string();
                    });
  Clock::time_point start = Clock::now();
  driver.start();
  if (!driver.wait(target.timeout_s)) return fail("rooms", phase, driver.firstError());
  const double seconds = secondsSince(start, Clock::now());
  std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));
  const uint64_t rss = target.server.rssKiB();

  JsonLine line = resultLine("rooms", phase, target);
  line.add("rooms", static_cast<int64_t>(rooms))
      .add("connections", static_cast<int64_t>(connections));
  line.add("errors", driver.errors())
      .add("touch_s", seconds)
      .add("touch_per_s", static_cast<double>(rooms) / seconds);
  line.add("rss_base_kib", rss_base).add("rss_kib", rss);
  line.add("kib_per_room",
           (static_cast<double>(rss) - static_cast<double>(rss_base)) / static_cast<double>(rooms));
  line.addLatency(driver.latency());
  line.print();
  return 0;
}

}  // namespace partyd::bench
