// The loadgen workloads (issue 5: W1–W7), one per subcommand. Each reads its flags, runs, prints
// one JSON line per result on stdout and returns the process exit code: 0, or 1 when the run
// failed a check (then the JSON line has "error" and nothing else in it may be trusted).
#pragma once

#include "flags.h"

namespace partyd::bench {

int runEcho(Flags& flags);       // W1: closed-loop round trips of one frame on one socket
int runActivate(Flags& flags);   // W2: new rooms in sequence and in bursts; connect → first frame
int runBroadcast(Flags& flags);  // W3: R rooms × C clients, back to back or open loop
int runIdle(Flags& flags);       // W4: N idle sockets; server RSS per connection and idle CPU
int runRooms(Flags& flags);      // W5: R rooms holding 1 KB of state; server RSS per room
int runHttp(Flags& flags);       // W6: keep-alive GETs to one room's onRequest, then to many
int runSoak(Flags& flags);       // W7: put-then-broadcast chat under connection churn, for minutes

}  // namespace partyd::bench
