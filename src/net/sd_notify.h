// systemd's readiness protocol without libsystemd: one datagram ("READY=1", "STOPPING=1",
// "RELOADING=1", "STATUS=...") to the Unix socket named by $NOTIFY_SOCKET (a path, or an
// abstract name written with a leading '@'). Without $NOTIFY_SOCKET it does nothing, so a
// `Type=notify` unit and a plain terminal run the same binary.
#pragma once

#include <string>

namespace partyd::net {

// Sends `state`; false (and nothing else) when there is no socket or the send failed.
bool sdNotify(const std::string& state);

}  // namespace partyd::net
