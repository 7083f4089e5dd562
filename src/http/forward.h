// forward() carries one client request that arrived on this node to the node that owns its room
// (cluster mode, issue 12; /work/shared/CLUSTER.md §3 "Forwarding vs redirect: forward", relay
// phase 1). It connects to the owner's client port from a given source address, sends the request
// with `x-partyd-hop: 1`, `x-partyd-epoch-seen: N` (and the room's home region as
// `x-partyd-home-region`, when it has one), and brings the owner's answer back:
//   - a plain request: the owner's response (body read in full, up to a limit) goes to the client
//     through Session::respond, so the client's keep-alive connection goes on with its next
//     request;
//   - a WebSocket upgrade: after the owner's 101 the client's socket is taken from the session and
//     bytes are copied both ways, frames unparsed, 16 KiB and one read in flight each way, until
//     both sides have closed (a half-close is passed on as a shutdown of the other side; an error
//     on either side closes both).
// It owns the outgoing socket and, after a 101, the client's; it knows nothing of rooms, etcd or
// who owns what (cluster/ decides the target). Single-threaded: call it on the io_context that
// runs the session (the shard's), and `done` runs there too, never from inside forward().
//
// Trust: the hop headers are what stop a request from going round the cluster. A node must treat
// the `x-partyd-` hop headers as valid only on a connection whose peer address is a
// live cluster node (the caller checks that); from anyone else it strips them (stripHopHeaders)
// before deciding, so a client can neither make a node skip forwarding nor stop it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/session.h"

namespace partyd::http {

inline constexpr std::string_view kHopHeader = "x-partyd-hop";
inline constexpr std::string_view kEpochSeenHeader = "x-partyd-epoch-seen";
inline constexpr std::string_view kHomeRegionHeader = "x-partyd-home-region";

// True when the request carries x-partyd-hop (whatever its value): it was forwarded once already
// (if its peer is a cluster node) and must not be forwarded again.
bool isHop(const Request& request);
// The x-partyd-epoch-seen value, when present and a decimal int64.
std::optional<std::int64_t> epochSeen(const Request& request);
// The x-partyd-home-region value ("" when absent): the region the forwarding node placed the
// room in, which the owner records as its home if it claims the room.
std::string homeRegion(const Request& request);
// Removes the three hop headers: for a request whose peer is not a cluster node.
void stripHopHeaders(Request& request);
// The 421 a node gives a hop request for a room it does not own (text/plain, a one-line reason).
Response notOwnerResponse();

// Where the owner listens: its advertised client address. `host` is an IP address or a name
// (resolved; the first address is used).
struct ForwardTarget {
  std::string host;
  std::uint16_t port = 0;
};

// Counters of one shard, touched only on its thread; the owner of the struct exports them
// (partyd_cluster_forwarded_total{kind="http"} is `http`, {kind="ws"} is `ws`).
struct ForwardCounters {
  std::uint64_t http = 0;         // plain requests whose owner's response went to the client
  std::uint64_t ws = 0;           // upgrades the owner accepted with 101 (relays started)
  std::uint64_t notOwner = 0;     // 421 answers from the target (nothing sent to the client)
  std::uint64_t failed = 0;       // 502/504 sent to the client instead of the owner's answer
  std::uint64_t relayErrors = 0;  // relays ended by a socket error rather than by both closing
  std::uint64_t bytesToOwner = 0, bytesToClient = 0;  // relayed bytes after a 101
  std::uint64_t relaysOpen = 0;                       // gauge: relays running now
};

struct ForwardOptions {
  // The outgoing socket binds to this address (port 0) before connecting; empty: any.
  std::string sourceAddress;
  // Sent as x-partyd-epoch-seen: the room's fencing epoch as this node last saw it (0: none).
  std::int64_t epochSeen = 0;
  // Sent as x-partyd-home-region when not empty.
  std::string homeRegion;
  std::chrono::milliseconds connectTimeout{3000};
  // From the request's first byte sent to the response's last byte read (a 101 ends it).
  std::chrono::milliseconds responseTimeout{30000};
  // A larger response body is refused: the client gets 502 (bodies are not streamed).
  std::uint64_t maxResponseBytes = 32 * 1024 * 1024;
  // After one side of a relay has closed, the other gets this long to close too.
  std::chrono::milliseconds halfCloseTimeout{10000};
  // The session's peer address is appended to X-Forwarded-For, so an owner that trusts cluster
  // peers as proxies (--trusted-proxy) sees the real client address.
  bool appendForwardedFor = true;
  ForwardCounters* counters = nullptr;  // or none; it must outlive the forward (and its relay)
};

struct ForwardResult {
  enum class Kind {
    // The owner's answer went to the client: its response, or its 101 and then the relay, which
    // has ended when `done` runs (`error` says why, if it was cut by a socket error).
    kForwarded,
    // The owner answered 421: it does not own the room. Nothing was written to the client;
    // `request` is given back and the session waits: retry once elsewhere, or answer it.
    kNotOwner,
    // The request already carried x-partyd-hop. Nothing was done or written; `request` is given
    // back and the caller answers it (with notOwnerResponse(), usually).
    kHopRefused,
    // The owner could not be reached or did not answer in time, or answered something unusable:
    // the client got `status` (502, or 504 on the response timeout) with `error` as the body.
    kFailed,
  };
  Kind kind = Kind::kFailed;
  unsigned status = 0;  // what the client got (101 for a relay), or 421, or 0 for kHopRefused
  std::string error;    // a one-line reason, for kFailed, kNotOwner and a cut relay
  // With kNotOwner and kHopRefused: the request as the client sent it, and its session.
  std::optional<Request> request;
  std::shared_ptr<Session> session;
};

// Forwards `request` (already read by `session`, which is waiting for its answer) to `target`.
// `done` is called exactly once, on `io`, after the answer went out (or the relay ended), unless
// the io_context is destroyed first (its handlers, and so the sockets, go with it).
void forward(boost::asio::io_context& io, std::shared_ptr<Session> session, Request&& request,
             const ForwardTarget& target, ForwardOptions options,
             std::function<void(ForwardResult)> done);

}  // namespace partyd::http
