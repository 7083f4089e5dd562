// W2 activate: how fast a server brings up rooms that did not exist. Three phases, one JSON line
// each, all timed from the start of connect() to the arrival of "hi" (which the bench party sends
// from onConnect, so the room has been created and has run its first handler):
//   sequential: --count new rooms, one after the other;
//   burst:      --count new rooms, --burst at a time, each wave once the last one is done;
//   existing:   the rooms of the sequential phase again (they are live: a second connection).
// With --server-pid, each line also has server_cpu_us_per_activation: the server tree's CPU time
// over the phase / count (for "existing", per connection to a live room). It is what the issue's
// "< 100 µs of server time" is about, and it includes whatever else the server does meanwhile
// (its timers, its log line per connection).
#include "fleet.h"
#include "report.h"
#include "workloads.h"

namespace partyd::bench {

int runActivate(Flags& flags) {
  Target target = Target::fromFlags(flags);
  const size_t count = static_cast<size_t>(flags.integer("count", 1000));
  const int burst = static_cast<int>(flags.integer("burst", 100));
  if (std::string unused = flags.unusedFlag(); !unused.empty()) {
    return fail("activate", "sequential", "unknown flag --" + unused);
  }
  // Activation is measured from one client thread: more would only add contention for the CPU.
  target.threads = 1;
  Loops loops(1);
  std::vector<std::unique_ptr<Fleet>> fleets;  // kept open until the end, like real clients

  struct Phase {
    const char* name;
    std::string room_letter;
    int concurrency;
    bool waves;
  };
  const Phase phases[] = {
      {"sequential", "s", 1, false},
      {"burst", "b", burst, true},
      {"existing", "s", 1, false},
  };
  for (const Phase& phase : phases) {
    Fleet::Options options;
    options.count = count;
    std::string letter = phase.room_letter;
    options.path = [&target, letter](size_t i) {
      return target.roomPath(letter + std::to_string(i));
    };
    options.concurrency = phase.concurrency;
    options.waves = phase.waves;
    options.read_buffer = 1024;
    fleets.push_back(std::make_unique<Fleet>(loops, target, options));
    Fleet& fleet = *fleets.back();
    const uint64_t server_cpu_start = target.server.cpuNs();
    Clock::time_point start = Clock::now();
    fleet.start();
    if (!fleet.waitReady(target.timeout_s)) return fail("activate", phase.name, fleet.firstError());
    double seconds = secondsSince(start, Clock::now());
    const uint64_t server_cpu_end = target.server.cpuNs();
    JsonLine line = resultLine("activate", phase.name, target);
    line.add("count", static_cast<int64_t>(count));
    if (phase.waves) line.add("burst", burst);
    line.add("seconds", seconds).add("per_s", static_cast<double>(count) / seconds);
    line.addLatency(fleet.connectLatency());
    if (!target.server.empty()) {
      line.add("server_cpu_us_per_activation",
               static_cast<double>(server_cpu_end - server_cpu_start) / 1000.0 /
                   static_cast<double>(count));
    }
    line.print();
  }
  loops.stop();
  return 0;
}

}  // namespace partyd::bench
