#include "party/edge.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>

#include <unistd.h>

#include "base/log.h"
#include "base/random.h"
#include "party/placement.h"

namespace partyd::party {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {
std::string& tokenStorage() {
  static std::string token = randomUuid();
  return token;
}
}  // namespace

const std::string& internalToken() { return tokenStorage(); }

void setInternalToken(std::string token) { tokenStorage() = std::move(token); }

namespace {

bool isUpgrade(const http::Request& req) {
  auto up = req[bhttp::field::upgrade];
  return boost::beast::iequals(std::string_view(up.data(), up.size()), "websocket");
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Applies a Request returned by onBeforeConnect/onBeforeRequest: its headers (and body) replace
// the original's; its URL, if it parses, becomes the target and host the room sees.
void applyRewrite(http::Request& req, EdgeResult& r) {
  // A WebSocket upgrade stays one: the socket is the client's, so its handshake headers carry
  // over unless the new Request sets them (PartyKit accepts `new Request(url, {headers})` from
  // onBeforeConnect, which has none of them).
  std::vector<std::pair<bhttp::field, std::string>> handshake;
  if (isUpgrade(req)) {
    for (bhttp::field f : {bhttp::field::upgrade, bhttp::field::connection,
                           bhttp::field::sec_websocket_key, bhttp::field::sec_websocket_version,
                           bhttp::field::sec_websocket_extensions,
                           bhttp::field::sec_websocket_protocol}) {
      if (auto it = req.find(f); it != req.end()) handshake.emplace_back(f, it->value());
    }
  }
  for (auto it = req.begin(); it != req.end();) it = req.erase(it);
  for (auto& [k, v] : r.headers) req.insert(k, v);
  for (auto& [f, v] : handshake) {
    if (req.find(f) == req.end()) req.set(f, v);
  }
  if (!r.method.empty() && !isUpgrade(req)) req.method_string(r.method);
  if (r.body) {
    req.body() = std::move(*r.body);
    req.prepare_payload();
  }
  std::string_view url = r.url;
  std::size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    std::string_view rest = url.substr(scheme + 3);
    std::size_t slash = rest.find('/');
    std::string_view host = rest.substr(0, slash);
    std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
    req.set(bhttp::field::host, host);
    req.target(target);
  }
}

// See EdgeConfig::clientHeaders.
void setClientAddress(const http::Session& session, http::Request& req,
                      const net::TrustedProxies& trusted) {
  auto peer = net::unmapped(session.remote().address());
  std::string client;
  if (trusted.contains(peer)) {
    std::vector<std::string_view> forwarded;
    for (const auto& field : req) {  // every X-Forwarded-For field, in the order they came
      if (boost::beast::iequals(field.name_string(), "x-forwarded-for")) {
        forwarded.emplace_back(field.value().data(), field.value().size());
      }
    }
    client = net::clientAddress(peer, forwarded, trusted).to_string();
  } else {
    client = peer.to_string();
    req.set("x-forwarded-for", client);
  }
  req.set("cf-connecting-ip", client);
  req.set("x-real-ip", client);
}

}  // namespace

Edge::Edge(net::Sharded<Edge>& peers, std::size_t shard, asio::io_context& io, RoomHost& host,
           UserCode& code, EdgeConfig config)
    : peers_(peers), shard_(shard), io_(io), host_(host), code_(code), config_(std::move(config)) {}

bool Edge::hasParty(const std::string& name) const { return contains(config_.partyNames, name); }

http::Response Edge::notFound() const {
  return config_.assets ? config_.assets->notFound() : http::textResponse(404, "Not found");
}

// ---- the way in -----------------------------------------------------------------------------

void Edge::onRequest(std::shared_ptr<http::Session> session, http::Request&& req) {
  const bool peer = config_.fromPeer && config_.fromPeer(*session, req);
  if (config_.clientHeaders && !peer) setClientAddress(*session, req, config_.trustedProxies);
  std::string_view target(req.target().data(), req.target().size());
  auto route = http::routeParty(target);
  // Responses count under their party (under "" when the path names none this project has).
  session->countResponses(
      host_.partyStats(route && hasParty(route->party) ? route->party : std::string()).http.data());
  if (!route) return onOtherRequest(std::move(session), std::move(req));
  if (peer && hasParty(route->party)) {
    return routeToRoom(std::move(session), std::move(req), RoomKey{route->party, route->room});
  }
  onPartyRequest(std::move(session), std::move(req), *route);
}

void Edge::onPartyRequest(std::shared_ptr<http::Session> session, http::Request&& req,
                          const http::PartyRoute& route) {
  if (!hasParty(route.party)) {
    session->respond(http::textResponse(404, "Party " + route.party + " not found"));
    return;
  }
  const bool upgrade = isUpgrade(req);
  bool internal = false;
  if (auto it = req.find(kInternalHeader); it != req.end()) {
    internal = it->value() == internalToken();
    req.erase(it);
  }
  RoomKey key{route.party, route.room};
  if (internal || !contains(upgrade ? hooks_.beforeConnect : hooks_.beforeRequest, route.party)) {
    return routeToRoom(std::move(session), std::move(req), key);
  }
  // The worker hook runs here, on the shard that accepted the connection, as at PartyKit's edge.
  auto request = std::make_shared<http::Request>(std::move(req));
  runHook(upgrade ? "connect" : "request", route.party, route.room, *request,
          [this, session, request, key, upgrade](EdgeResult result) {
            if (upgrade) return upgradeDecided(session, std::move(*request), std::move(result), &key);
            if (result.action == EdgeResult::kRespond) {
              session->respond(std::move(result.response));
              return;
            }
            if (result.action == EdgeResult::kRewrite) applyRewrite(*request, result);
            routeToRoom(session, std::move(*request), key);
          });
}

void Edge::upgradeDecided(std::shared_ptr<http::Session> session, http::Request&& req,
                          EdgeResult result, const RoomKey* key) {
  switch (result.action) {
    case EdgeResult::kRespond:
      session->respond(std::move(result.response), false);
      return;
    case EdgeResult::kRoute:
      // The room sees the request the stub made (its URL, no `_pk`: a fresh connection id).
      applyRewrite(req, result);
      routeToRoom(std::move(session), std::move(req), result.target);
      return;
    case EdgeResult::kPair:
      // The pair's server end lives in this shard's JS: the bridge room stays here.
      host_.upgrade(std::move(session), std::move(req),
                    RoomKey{"", "pair:" + std::to_string(result.pair)});
      return;
    case EdgeResult::kRewrite:
      applyRewrite(req, result);
      [[fallthrough]];
    default:
      if (key) {
        routeToRoom(std::move(session), std::move(req), *key);
      } else {
        session->respond(notFound(), false);
      }
  }
}

void Edge::onOtherRequest(std::shared_ptr<http::Session> session, http::Request&& req) {
  if (isUpgrade(req)) {
    if (hooks_.socket) {
      // Each such socket gets a room of its own under the party "", on the shard that took it.
      host_.upgrade(std::move(session), std::move(req), RoomKey{"", randomUuid()});
      return;
    }
    if (!hooks_.fetch) {
      session->respond(notFound(), false);
      return;
    }
    // As on PartyKit, the static onFetch gets the upgrade; it may return a room's fetch() of
    // it (a 101), or a WebSocketPair's client end.
    auto request = std::make_shared<http::Request>(std::move(req));
    runHook("fetch", "main", "", *request, [this, session, request](EdgeResult r) {
      upgradeDecided(session, std::move(*request), std::move(r), nullptr);
    });
    return;
  }
  if (config_.assets) {
    if (auto hit = config_.assets->serve(req)) {
      session->respond(std::move(*hit));
      return;
    }
  }
  std::string_view target(req.target().data(), req.target().size());
  if (http::pathOf(target) == "/__scheduled__" && hooks_.cron) {
    std::string name = http::queryParam(target, "cron").value_or("");
    std::string expr;
    for (const auto& [n, e] : config_.crons) {
      if (n == name) expr = e;
    }
    // PartyKit runs onCron even for a name it does not know, with the every-minute expression.
    if (expr.empty()) expr = "* * * * *";
    runCron(name, expr, req, [this, session](std::optional<http::Response> r) {
      session->respond(r ? std::move(*r) : notFound());
    });
    return;
  }
  if (hooks_.fetch) {
    runHook("fetch", "main", "", req, [this, session](EdgeResult r) {
      session->respond(r.action == EdgeResult::kRespond ? std::move(r.response) : notFound());
    });
    return;
  }
  session->respond(notFound());
}

void Edge::runCron(const std::string& name, const std::string& expr, const http::Request& request,
                   std::function<void(std::optional<http::Response>)> done) {
  if (!hooks_.cron) {
    done(std::nullopt);
    return;
  }
  runHook("cron", "main", name, request,
          [done = std::move(done)](EdgeResult r) {
            if (r.action == EdgeResult::kRespond) {
              done(std::move(r.response));
            } else {
              done(std::nullopt);
            }
          },
          expr);
}

// ---- worker hooks ---------------------------------------------------------------------------

void Edge::runHook(const char* kind, const std::string& party, const std::string& room,
                   const http::Request& request, std::function<void(EdgeResult)> done,
                   std::string_view extra) {
  std::uint64_t call = nextCall_++;
  pending_.emplace(call, std::move(done));
  EdgeCall hook{kind, party, room, request, extra};
  host_.turn().run(0, [&] { code_.edge(call, hook); });
}

void Edge::edgeDone(std::uint64_t call, EdgeResult result) {
  auto it = pending_.find(call);
  if (it == pending_.end()) return;
  auto done = std::move(it->second);
  pending_.erase(it);
  // Never go on inside the run that decided: routing may call into user code again.
  asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

void Edge::failPendingHooks(const std::string& why) {
  std::vector<std::uint64_t> calls;
  for (const auto& [call, done] : pending_) calls.push_back(call);
  for (std::uint64_t call : calls) {
    EdgeResult r;
    r.action = EdgeResult::kRespond;
    r.response = http::textResponse(500, why);
    edgeDone(call, std::move(r));
  }
}

// ---- to the room ----------------------------------------------------------------------------

void Edge::routeToRoom(std::shared_ptr<http::Session> session, http::Request&& req,
                       const RoomKey& key) {
  if (!config_.placeRoom) return routeToShard(std::move(session), std::move(req), key);
  // The answer may come after this project was replaced or removed: find its Edge again.
  net::Sharded<Edge>* peers = &peers_;
  std::size_t shard = shard_;
  config_.placeRoom(key, std::move(session), std::move(req),
                    [peers, shard, key](std::shared_ptr<http::Session> s, http::Request&& r) {
                      if (Edge* edge = peers->local(shard)) {
                        edge->routeToShard(std::move(s), std::move(r), key);
                      } else {
                        s->respond(http::textResponse(404, "this project is no longer deployed\n"));
                      }
                    });
}

void Edge::routeToShard(std::shared_ptr<http::Session> session, http::Request&& req,
                        const RoomKey& key) {
  std::size_t owner = shardOf(key, peers_.count());
  session->countResponses(host_.partyStats(key.party).http.data());
  if (owner != shard_) {
    // A connection's first request takes it to the room's shard, where its next requests (most
    // often to the same room) are at home. A kept-alive connection that has been answered here
    // stays: its request goes over and the response comes back, with no move per request.
    if (session->answered() && !isUpgrade(req)) {
      forward(owner, std::move(session), std::move(req), key);
    } else {
      handOff(owner, std::move(session), std::move(req), key);
    }
    return;
  }
  if (isUpgrade(req)) {
    host_.upgrade(std::move(session), std::move(req), key);
  } else {
    host_.request(std::move(session), std::move(req), key);
  }
}

// Moves a connection to the shard that owns its room: the socket's descriptor, the bytes read
// past the request, and the request itself travel by message; nothing is shared.
void Edge::handOff(std::size_t owner, std::shared_ptr<http::Session> session,
                   http::Request&& req, const RoomKey& key) {
  std::string leftover = session->takeLeftover();
  http::Session::ResponseHook hook = session->takeResponseHook();
  const int fd = session->takeDescriptor();
  if (fd < 0) {
    log::warn("could not move a connection between shards: its socket is gone");
    return;
  }
  auto request = std::make_shared<http::Request>(std::move(req));
  peers_.invokeOn(owner, [fd, leftover = std::move(leftover), request, key,
                          hook = std::move(hook)](Edge& target) mutable {
    // The next request of this connection finds the shard's Edge again: partyd serve may have
    // replaced or removed the project since (its Sharded table outlives it).
    net::Sharded<Edge>* peers = &target.peers_;
    std::size_t shard = target.shard_;
    auto s = std::make_shared<http::Session>(
        target.io_, fd, std::move(leftover), target.config_.httpLimits,
        [peers, shard, rehome = target.config_.rehome](std::shared_ptr<http::Session> sess,
                                                       http::Request&& r) {
          if (rehome) {
            rehome(shard, std::move(sess), std::move(r));
          } else if (Edge* edge = peers->local(shard)) {
            edge->onRequest(std::move(sess), std::move(r));
          } else {
            http::Response gone;
            gone.status = 404;
            gone.body = "this project is no longer deployed\n";
            sess->respond(std::move(gone));
          }
        });
    s->noteRequest(*request);
    s->onResponse(std::move(hook));
    target.routeToShard(std::move(s), std::move(*request), key);
  });
}

namespace {
// A session that waits on another shard's answer is touched, and let go of, only on its own
// shard: if the answer is never given (the other shard stopped first), the reference still goes
// home to be dropped there.
struct AwayFromHome {
  AwayFromHome(std::shared_ptr<http::Session> s, asio::io_context& home)
      : session(std::move(s)), home(home) {}
  ~AwayFromHome() {
    if (session) asio::post(home, [last = std::move(session)] {});
  }
  std::shared_ptr<http::Session> session;
  asio::io_context& home;
};
}  // namespace

// Runs the request in the room on `owner` and answers it from here: the connection stays.
void Edge::forward(std::size_t owner, std::shared_ptr<http::Session> session,
                   http::Request&& req, const RoomKey& key) {
  auto away = std::make_shared<AwayFromHome>(std::move(session), io_);
  auto request = std::make_shared<http::Request>(std::move(req));
  peers_.invokeOn(owner, [away, request, key](Edge& target) mutable {
    target.host_.request(std::move(*request), key, [away](http::Response response) {
      if (!away->session) return;
      asio::post(away->home, [session = std::move(away->session),
                              response = std::move(response)]() mutable {
        session->respond(std::move(response));
      });
    });
  });
}

// ---- party-to-party fetch -------------------------------------------------------------------

std::uint64_t Edge::partyFetch(const http::PartyRoute& route, InternalRequest request) {
  std::uint64_t call = nextFetch_++;
  std::size_t origin = shard_;
  RoomKey key{route.party, route.room};
  std::size_t owner = shardOf(key, peers_.count());
  auto reply = [&peers = peers_, origin, call](http::Response response) {
    // Answered on a later pass of the asking shard, like any I/O completion.
    peers.invokeOn(origin, [call, response = std::move(response)](Edge& edge) mutable {
      edge.partyFetchAnswered(call, std::move(response));
    });
  };
  if (config_.placeFetch) {
    if (!hasParty(key.party)) {
      reply(http::textResponse(404, "Party " + key.party + " not found"));
    } else {
      config_.placeFetch(key, std::move(request), std::move(reply));
    }
    return call;
  }
  peers_.invokeOn(owner, [key, request = std::move(request), reply](Edge& edge) mutable {
    if (!edge.hasParty(key.party)) {
      reply(http::textResponse(404, "Party " + key.party + " not found"));
      return;
    }
    edge.host_.request(key, std::move(request), reply);
  });
  return call;
}

void Edge::partyFetchAnswered(std::uint64_t call, http::Response response) {
  host_.turn().run(0, [&] { code_.partyFetchDone(call, response); });
}

}  // namespace partyd::party
