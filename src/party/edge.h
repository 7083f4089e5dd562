// Edge is a shard's front door: every HTTP request and WebSocket upgrade that a session reads
// enters here once and goes down from here. It routes party URLs, runs the worker hooks
// (onBeforeConnect, onBeforeRequest, the static onFetch and onCron) on the shard that accepted
// the connection, as PartyKit runs them at its edge, asks placement which shard owns the room and
// moves the connection there, and serves static assets. It also carries party-to-party fetch
// (a stub's fetch() from one room to another, on any shard).
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/route.h"
#include "http/session.h"
#include "http/static_files.h"
#include "net/client_address.h"
#include "net/sharded.h"
#include "party/room_host.h"
#include "party/user_code.h"

namespace partyd::party {

// partyd's own requests (a party stub's socket(), which goes out through a listener) carry this
// header with a secret: they skip the target's worker hooks, as PartyKit's in-process stubs do,
// and the header is removed before the room sees the request. The secret is made once per
// process, or (cluster mode) shared by every node of the cluster, since a stub's socket may
// reach the room through another node.
inline constexpr char kInternalHeader[] = "x-partyd-internal";
const std::string& internalToken();
// Replaces the secret; only before any project is loaded (the runtime copies it at start).
void setInternalToken(std::string token);

// What a worker hook decided about a request. For a WebSocket upgrade, a hook may also answer
// with a 101 Response whose webSocket is a party stub's (kRoute: the upgrade goes to that room,
// as the request the stub made) or the client end of a WebSocketPair (kPair: the client's socket
// is bridged to the pair's server end, in this shard's room "pair:<id>" of the party "").
struct EdgeResult {
  enum Action {
    kContinue = 0,
    kRespond = 1,
    kRewrite = 2,
    kUnhandled = 3,
    kRoute = 4,
    kPair = 5
  } action = kContinue;
  http::Response response;  // kRespond
  std::string url;          // kRewrite, kRoute: the new request's method, URL and headers (and body)
  std::string method;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> body;
  RoomKey target;           // kRoute
  std::uint64_t pair = 0;   // kPair
};

// Which worker hooks the project defines, so requests without one skip the edge entirely.
struct HookInfo {
  std::vector<std::string> beforeConnect, beforeRequest;  // parties with the hook
  bool fetch = false, socket = false, cron = false;
};

struct EdgeConfig {
  std::vector<std::string> partyNames;  // "main" first
  const http::StaticFiles* assets = nullptr;
  http::Limits httpLimits;
  std::vector<std::pair<std::string, std::string>> crons;  // name → expression
  // With `--geoip` or `--trusted-proxy`: every request gets the client's address (the peer's, or
  // X-Forwarded-For's from a trusted proxy) in cf-connecting-ip and x-real-ip, as Cloudflare's
  // edge gives them, overwriting the client's own; from an untrusted peer X-Forwarded-For is
  // replaced by the peer's address. Without either flag, the headers pass as sent (partykit dev).
  bool clientHeaders = false;
  net::TrustedProxies trustedProxies{};
  // Where the next request of a connection handed to another shard goes (partyd serve: back to
  // the router, which picks the project by Host again); unset: this project's Edge there.
  std::function<void(std::size_t shard, std::shared_ptr<http::Session>, http::Request&&)> rehome;
  // Cluster mode (partyd serve --cluster; docs/cluster.md). `placeRoom` is asked, on the accepting
  // shard, for every request to a room after the worker hooks: it calls `here` (on this shard's
  // loop) once this node owns the room, claimed and loaded, or keeps the request and forwards it
  // to the owner node. `fromPeer` says whether a request is one a peer node forwarded (it ran
  // the worker hooks and set the client's address there, so they are not run again). Unset: a
  // single node, where every room is here.
  using Here = std::function<void(std::shared_ptr<http::Session>, http::Request&&)>;
  std::function<void(const RoomKey&, std::shared_ptr<http::Session>, http::Request&&, Here)>
      placeRoom;
  std::function<bool(const http::Session&, const http::Request&)> fromPeer;
  // Cluster mode: a party stub's fetch() to a room, wherever in the cluster it lives. `reply`
  // may be called on any thread (it posts to the asking shard).
  std::function<void(const RoomKey&, InternalRequest, std::function<void(http::Response)> reply)>
      placeFetch;
};

class Edge {
 public:
  Edge(net::Sharded<Edge>& peers, std::size_t shard, boost::asio::io_context& io, RoomHost& host,
       UserCode& code, EdgeConfig config);

  // The session handler: every request of every connection of this shard.
  void onRequest(std::shared_ptr<http::Session> session, http::Request&& request);
  // Runs onCron for `name` (on its schedule, or for /__scheduled__); `done` gets its response,
  // or nothing when the project has no onCron.
  void runCron(const std::string& name, const std::string& expr, const http::Request& request,
               std::function<void(std::optional<http::Response>)> done);

  // After a (re)load of the code.
  void setHooks(HookInfo hooks) { hooks_ = std::move(hooks); }
  void setPartyNames(std::vector<std::string> names) { config_.partyNames = std::move(names); }
  const HookInfo& hooks() const { return hooks_; }
  bool hasParty(const std::string& name) const;
  const http::StaticFiles* assets() const { return config_.assets; }
  RoomHost& host() { return host_; }
  std::size_t shard() const { return shard_; }

  // ---- what user code calls (through the natives) ----
  // A worker hook decided; the waiting request goes on in a later loop pass.
  void edgeDone(std::uint64_t call, EdgeResult result);
  // The engine replaced its isolate: every worker hook still running answers 500 with `why`.
  void failPendingHooks(const std::string& why);
  // A party stub's fetch(): routed to the owning shard; the answer comes back to
  // UserCode::partyFetchDone on this shard.
  std::uint64_t partyFetch(const http::PartyRoute& route, InternalRequest request);

 private:
  void onPartyRequest(std::shared_ptr<http::Session> session, http::Request&& request,
                      const http::PartyRoute& route);
  void onOtherRequest(std::shared_ptr<http::Session> session, http::Request&& request);
  // A worker hook's answer to a WebSocket upgrade: refused, routed to a room (`key`, or the
  // stub's target), or bridged to a WebSocketPair. Without a key, kContinue is a 404.
  void upgradeDecided(std::shared_ptr<http::Session> session, http::Request&& request,
                      EdgeResult result, const RoomKey* key);
  void runHook(const char* kind, const std::string& party, const std::string& room,
               const http::Request& request, std::function<void(EdgeResult)> done,
               std::string_view extra = {});
  void routeToRoom(std::shared_ptr<http::Session> session, http::Request&& request,
                   const RoomKey& key);
  // After placement: to the owning shard of this node.
  void routeToShard(std::shared_ptr<http::Session> session, http::Request&& request,
                    const RoomKey& key);
  void handOff(std::size_t owner, std::shared_ptr<http::Session> session,
               http::Request&& request, const RoomKey& key);
  void forward(std::size_t owner, std::shared_ptr<http::Session> session,
               http::Request&& request, const RoomKey& key);
  void partyFetchAnswered(std::uint64_t call, http::Response response);
  http::Response notFound() const;

  net::Sharded<Edge>& peers_;
  std::size_t shard_;
  boost::asio::io_context& io_;
  RoomHost& host_;
  UserCode& code_;
  EdgeConfig config_;
  HookInfo hooks_;
  std::unordered_map<std::uint64_t, std::function<void(EdgeResult)>> pending_;
  std::uint64_t nextCall_ = 1;
  std::uint64_t nextFetch_ = 1;
};

}  // namespace partyd::party
