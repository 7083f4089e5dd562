// W6 http: keep-alive GETs to rooms' onRequest from --connections connections, each in a closed
// loop, for --duration seconds; one phase (and JSON line) per entry of --rooms (default "1,1000":
// one hot room, then requests spread round robin over 1000 rooms). Every room is touched once
// before the clock starts, so activation is not part of the figure (W2 measures that). Failed
// requests are counted ("errors", "warmup_errors") and retried, up to --max-errors.
#include <thread>

#include "http_driver.h"
#include "report.h"
#include "workloads.h"

namespace partyd::bench {

int runHttp(Flags& flags) {
  Target target = Target::fromFlags(flags);
  const size_t connections = static_cast<size_t>(flags.integer("connections", 16));
  const double duration_s = flags.number("duration", 5);
  const std::vector<int64_t> room_counts = flags.integers("rooms", {1, 1000});
  const int64_t max_errors = flags.integer("max-errors", 100);
  if (std::string unused = flags.unusedFlag(); !unused.empty()) {
    return fail("http", "hot", "unknown flag --" + unused);
  }
  for (int64_t rooms : room_counts) {
    const std::string phase = rooms == 1 ? "1 room" : std::to_string(rooms) + " rooms";
    std::vector<std::string> paths;
    for (int64_t r = 0; r < rooms; ++r) paths.push_back(target.roomPath("h" + std::to_string(r)));
    const uint64_t n = connections;

    uint64_t warmup_errors = 0;
    {
      Loops loops(target.threads);
      auto each_room_once = [&](size_t conn, uint64_t j) -> std::string {
        uint64_t room = conn + j * n;
        return room < paths.size() ? paths[room] : std::string();
      };
      HttpDriver touch(loops, target, connections, max_errors, each_room_once);
      touch.start();
      if (!touch.wait(target.timeout_s)) {
        return fail("http", phase, "warm-up: " + touch.firstError());
      }
      warmup_errors = touch.errors();
    }

    Loops loops(target.threads);
    auto round_robin = [&](size_t conn, uint64_t j) {
      return paths[(conn + j * n) % paths.size()];
    };
    HttpDriver driver(loops, target, connections, max_errors, round_robin);
    const uint64_t server_cpu_start = target.server.cpuNs();
    const uint64_t client_cpu_start = selfCpuNs();
    Clock::time_point start = Clock::now();
    driver.start();
    std::this_thread::sleep_for(std::chrono::duration<double>(duration_s));
    driver.stop();
    if (!driver.wait(target.timeout_s)) return fail("http", phase, driver.firstError());
    const double seconds = secondsSince(start, Clock::now());
    const uint64_t server_cpu_end = target.server.cpuNs();
    const uint64_t client_cpu_end = selfCpuNs();
    const uint64_t responses = driver.responses();

    JsonLine line = resultLine("http", phase, target);
    line.add("rooms", rooms).add("connections", static_cast<int64_t>(connections));
    line.add("requests", responses).add("errors", driver.errors());
    line.add("warmup_errors", warmup_errors).add("seconds", seconds);
    line.add("req_per_s", static_cast<double>(responses) / seconds);
    line.addLatency(driver.latency());
    if (!target.server.empty()) {
      line.add("server_cpu_us_per_req", static_cast<double>(server_cpu_end - server_cpu_start) /
                                            1000.0 / static_cast<double>(responses));
    }
    line.add("client_cpu_pct",
             100.0 * static_cast<double>(client_cpu_end - client_cpu_start) / 1e9 / seconds);
    line.print();
  }
  return 0;
}

}  // namespace partyd::bench
