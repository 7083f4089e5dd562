// W5 rooms: touch --rooms new rooms over HTTP with ?state=1 (each keeps a 1 KB state object, see
// bench/party), wait --settle seconds, and report the server's RSS growth per room. Needs
// --server-pid. A failed touch is counted ("errors") and retried, so every room gets its state.
// --hold then opens one WebSocket per room and keeps it for the rest of the run: only a room with
// a socket can hibernate (one without is evicted after the server's idle timeout), so this is how
// the hibernated rooms of bench/party-hibernate are measured; the growth then includes the socket.
// rss_ready_kib is read as soon as every room is touched (and held), before --settle: the drop
// from it to rss_kib is what the settling (hibernation, a GC) gave back.
#include <memory>
#include <thread>

#include "fleet.h"
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
  const bool hold = flags.has("hold");
  const int concurrency = static_cast<int>(flags.integer("connect-concurrency", 64));
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
  std::unique_ptr<Fleet> held;
  if (hold) {
    Fleet::Options options;
    options.count = rooms;
    options.path = [&target](size_t i) { return target.roomPath("w" + std::to_string(i)); };
    options.read_buffer = 256;
    options.concurrency = concurrency;
    held = std::make_unique<Fleet>(loops, target, options);
    held->start();
    if (!held->waitReady(target.timeout_s)) return fail("rooms", phase, held->firstError());
  }
  const uint64_t rss_ready = target.server.rssKiB();
  std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));
  const uint64_t rss = target.server.rssKiB();
  if (held && held->failed() > 0) return fail("rooms", phase, "while held: " + held->firstError());

  JsonLine line = resultLine("rooms", phase, target);
  line.add("rooms", static_cast<int64_t>(rooms))
      .add("connections", static_cast<int64_t>(connections));
  line.add("errors", driver.errors())
      .add("touch_s", seconds)
      .add("touch_per_s", static_cast<double>(rooms) / seconds);
  line.add("held", hold).add("settle_s", settle_s);
  line.add("rss_base_kib", rss_base).add("rss_ready_kib", rss_ready).add("rss_kib", rss);
  line.add("kib_per_room",
           (static_cast<double>(rss) - static_cast<double>(rss_base)) / static_cast<double>(rooms));
  line.add("kib_per_room_ready", (static_cast<double>(rss_ready) - static_cast<double>(rss_base)) /
                                     static_cast<double>(rooms));
  line.addLatency(driver.latency());
  line.print();
  return 0;
}

}  // namespace partyd::bench
