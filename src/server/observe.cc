#include "server/observe.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include "base/log.h"
#include "base/metrics.h"
#include "party/metrics.h"
#include "party/placement.h"
#include "server/clone_text.h"

namespace partyd::server {

namespace bhttp = boost::beast::http;

namespace {

constexpr auto kShardWait = std::chrono::seconds(5);

// Runs fn(Edge&) on every shard's loop and gathers the answers (a shard that has stopped, or does
// not answer in time, gives none).
template <typename T, typename F>
std::vector<T> onEachShard(net::Sharded<party::Edge>& shards, F fn) {
  std::vector<std::future<T>> futures;
  for (std::size_t i = 0; i < shards.count(); ++i) {
    auto promise = std::make_shared<std::promise<T>>();
    futures.push_back(promise->get_future());
    shards.invokeOn(i, [promise, fn](party::Edge& edge) { promise->set_value(fn(edge)); });
  }
  std::vector<T> out;
  for (auto& f : futures) {
    try {
      if (f.wait_for(kShardWait) == std::future_status::ready) out.push_back(f.get());
    } catch (const std::future_error&) {
      // the shard stopped before it ran fn
    }
  }
  return out;
}

// Runs fn(Edge&) on one shard's loop and waits for its answer.
template <typename T, typename F>
std::optional<T> onShard(net::Sharded<party::Edge>& shards, std::size_t index, F fn) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  shards.invokeOn(index, [promise, fn](party::Edge& edge) { promise->set_value(fn(edge)); });
  try {
    if (future.wait_for(kShardWait) == std::future_status::ready) return future.get();
  } catch (const std::future_error&) {
  }
  return std::nullopt;
}

void addText(AdminRequest& r, unsigned status, std::string_view type, std::string body) {
  http::Response res;
  res.status = status;
  res.headers.emplace_back("content-type", std::string(type));
  res.headers.emplace_back("cache-control", "no-store");
  res.body = std::move(body);
  r.respond(std::move(res));
}

std::int64_t nowMono() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* stateName(const party::Socket& socket) {
  if (socket.pending()) return "connecting";
  switch (socket.conn->state()) {
    case ws::Connection::State::kPending:
      return "connecting";
    case ws::Connection::State::kOpen:
      return "open";
    case ws::Connection::State::kClosing:
      return "closing";
    default:
      return "closed";
  }
}

// One room as the rooms list shows it (on its shard's thread).
std::string roomJson(party::RoomHost& host, party::Room& room, std::size_t shard) {
  std::int64_t now = host.clock().monotonicMs();
  std::size_t open = 0, pending = 0;
  for (const auto& [h, s] : room.sockets) ++(s.pending() ? pending : open);
  std::string j = "{\"party\":" + log::jsonQuoted(room.key.party) + ",\"room\":" + log::jsonQuoted(room.key.room) +
                  ",\"shard\":" + std::to_string(shard) +
                  ",\"connections\":" + std::to_string(open) +
                  ",\"connecting\":" + std::to_string(pending) +
                  ",\"messagesIn\":" + std::to_string(room.messagesIn) +
                  ",\"messagesOut\":" + std::to_string(room.messagesOut) +
                  ",\"hibernated\":" + (room.hibernated ? "true" : "false") +
                  ",\"busy\":" + std::to_string(room.busy) +
                  ",\"idleMs\":" + std::to_string(now - room.lastActiveMs) +
                  ",\"ageMs\":" + std::to_string(now - room.createdMs);
  auto usage = host.storage().usage(room.key);
  if (usage) {
    j += ",\"storageKeys\":" + std::to_string(usage->keys) +
         ",\"storageBytes\":" + std::to_string(usage->bytes);
  }
  auto alarm = host.nextAlarm(room.key);
  j += ",\"nextAlarm\":" + (alarm ? std::to_string(*alarm) : std::string("null"));
  j += "}";
  return j;
}

void metricsRoute(AdminRequest& r, net::Sharded<party::Edge>& shards,
                  const ObserveOptions& options) {
  auto copies = onEachShard<party::ShardMetrics>(
      shards, [](party::Edge& edge) { return edge.host().metrics(); });
  party::ShardMetrics total;
  for (const auto& c : copies) total.add(c);
  metrics::TextWriter w;
  w.family("partyd_build_info", metrics::TextWriter::Type::kGauge,
           "Always 1; its labels name the partyd version and the project served.");
  w.sample("partyd_build_info", {{"version", options.version}, {"project", options.project}},
           std::uint64_t{1});
  w.family("partyd_shards", metrics::TextWriter::Type::kGauge,
           "Shards (threads with an event loop each) serving, and those that answered this "
           "scrape.");
  w.sample("partyd_shards", {{"project", options.project}, {"state", "configured"}},
           static_cast<std::uint64_t>(shards.count()));
  w.sample("partyd_shards", {{"project", options.project}, {"state", "answered"}},
           static_cast<std::uint64_t>(copies.size()));
  party::writeMetrics(total, options.project, w);
  addText(r, 200, metrics::TextWriter::kContentType, w.take());
}

void roomsRoute(AdminRequest& r, net::Sharded<party::Edge>& shards, const ObserveOptions& options) {
  auto lists = onEachShard<std::string>(shards, [](party::Edge& edge) {
    std::string out;
    edge.host().forEachRoom([&](party::Room& room) {
      if (!out.empty()) out += ',';
      out += roomJson(edge.host(), room, edge.shard());
    });
    return out;
  });
  std::string body = "{\"project\":" + log::jsonQuoted(options.project) +
                     ",\"now\":" + std::to_string(nowMono()) + ",\"rooms\":[";
  bool first = true;
  for (const auto& l : lists) {
    if (l.empty()) continue;
    if (!first) body += ',';
    body += l;
    first = false;
  }
  body += "]}";
  r.respondJson(200, std::move(body));
}

party::RoomKey keyOf(AdminRequest& r) {
  return {r.params["party"], r.params["room"]};
}

void roomRoute(AdminRequest& r, net::Sharded<party::Edge>& shards) {
  party::RoomKey key = keyOf(r);
  if (shards.count() == 0) return r.fail(503, "no shard is running");
  std::size_t owner = party::shardOf(key, shards.count());
  auto json = onShard<std::string>(shards, owner, [key](party::Edge& edge) -> std::string {
    party::RoomHost& host = edge.host();
    party::Room* room = host.findRoom(key);
    if (!room) return "";
    std::int64_t now = host.clock().monotonicMs();
    std::string j = "{\"summary\":" + roomJson(host, *room, edge.shard()) + ",\"connections\":[";
    bool first = true;
    for (const auto& [handle, socket] : room->sockets) {
      if (!first) j += ',';
      first = false;
      j += "{\"handle\":" + std::to_string(handle) + ",\"id\":" + log::jsonQuoted(socket.id) +
           ",\"state\":" + log::jsonQuoted(stateName(socket)) +
           ",\"ageMs\":" + std::to_string(now - socket.openedMs) +
           ",\"queuedBytes\":" + std::to_string(socket.conn->queuedBytes());
      // A hibernated room's sockets keep their id, tags, state and attachment in the stash.
      if (!socket.stash.empty()) j += ",\"stash\":" + log::jsonQuoted(cloneToText(socket.stash));
      j += '}';
    }
    j += "],\"log\":[";
    first = true;
    for (const auto& line : room->recentLog) {
      if (!first) j += ',';
      first = false;
      j += log::jsonQuoted(line);
    }
    j += "]}";
    return j;
  });
  if (!json) return r.fail(503, "the room's shard did not answer");
  if (json->empty()) return r.fail(404, "no such room is live");
  r.respondJson(200, std::move(*json));
}

constexpr std::size_t kValueText = 2000;  // characters of a value shown in a listing

void storageRoute(AdminRequest& r, net::Sharded<party::Edge>& shards) {
  party::RoomKey key = keyOf(r);
  storage::ListOptions list;
  if (auto after = r.query("after"); after && !after->empty()) list.startAfter = *after;
  if (auto prefix = r.query("prefix"); prefix && !prefix->empty()) list.prefix = *prefix;
  std::uint32_t limit = 50;
  if (auto l = r.query("limit")) {
    try {
      limit = static_cast<std::uint32_t>(std::clamp(std::stoul(*l), 1ul, 1000ul));
    } catch (...) {
      return r.fail(400, "limit must be a number from 1 to 1000");
    }
  }
  list.limit = limit + 1;
  if (shards.count() == 0) return r.fail(503, "no shard is running");
  std::size_t owner = party::shardOf(key, shards.count());
  auto json = onShard<std::string>(shards, owner, [key, list, limit](party::Edge& edge) {
    auto entries = edge.host().storage().list(key, list);
    if (!entries) return "{\"error\":" + log::jsonQuoted(entries.error().message) + "}";
    std::string j = "{\"entries\":[";
    std::size_t n = std::min<std::size_t>(entries->size(), limit);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& [k, v] = (*entries)[i];
      std::string text = cloneToText(v);
      if (i) j += ',';
      j += "{\"key\":" + log::jsonQuoted(k) + ",\"bytes\":" + std::to_string(v.size()) +
           ",\"textLength\":" + std::to_string(text.size()) +
           ",\"value\":" + log::jsonQuoted(text.size() > kValueText ? text.substr(0, kValueText) : text) +
           ",\"truncated\":" + (text.size() > kValueText ? "true" : "false") + "}";
    }
    j += "],\"more\":" + std::string(entries->size() > limit ? "true" : "false");
    if (entries->size() > limit) j += ",\"next\":" + log::jsonQuoted((*entries)[limit - 1].first);
    j += "}";
    return j;
  });
  if (!json) return r.fail(503, "the room's shard did not answer");
  if (json->starts_with("{\"error\"")) return r.respondJson(500, std::move(*json));
  r.respondJson(200, std::move(*json));
}

// One page of one value's text: ?key=K&offset=N&length=M.
void valueRoute(AdminRequest& r, net::Sharded<party::Edge>& shards) {
  party::RoomKey key = keyOf(r);
  auto k = r.query("key");
  if (!k) return r.fail(400, "key is required");
  std::size_t offset = 0, length = 16 * 1024;
  try {
    if (auto o = r.query("offset")) offset = std::stoul(*o);
    if (auto l = r.query("length")) length = std::clamp(std::stoul(*l), 1ul, 1ul << 20);
  } catch (...) {
    return r.fail(400, "offset and length must be numbers");
  }
  if (shards.count() == 0) return r.fail(503, "no shard is running");
  std::size_t owner = party::shardOf(key, shards.count());
  std::string name = *k;
  auto json = onShard<std::string>(shards, owner, [key, name, offset, length](party::Edge& edge) {
    auto v = edge.host().storage().get(key, name);
    if (!v) return "{\"error\":" + log::jsonQuoted(v.error().message) + "}";
    if (!*v) return std::string();
    std::string text = cloneToText(**v);
    std::size_t from = std::min(offset, text.size());
    return "{\"key\":" + log::jsonQuoted(name) + ",\"offset\":" + std::to_string(from) +
           ",\"textLength\":" + std::to_string(text.size()) +
           ",\"text\":" + log::jsonQuoted(text.substr(from, length)) + "}";
  });
  if (!json) return r.fail(503, "the room's shard did not answer");
  if (json->empty()) return r.fail(404, "no such key");
  if (json->starts_with("{\"error\"")) return r.respondJson(500, std::move(*json));
  r.respondJson(200, std::move(*json));
}

}  // namespace

void addObservabilityRoutes(AdminServer& admin, net::Sharded<party::Edge>& shards,
                            ObserveOptions options) {
  auto opts = std::make_shared<ObserveOptions>(std::move(options));
  log::keepRoomLines(true);  // the inspector shows each room's recent lines
  net::Sharded<party::Edge>* s = &shards;
  admin.route(bhttp::verb::get, "/metrics",
              [s, opts](AdminRequest& r) { metricsRoute(r, *s, *opts); });
  admin.route(bhttp::verb::get, "/api/rooms",
              [s, opts](AdminRequest& r) { roomsRoute(r, *s, *opts); });
  admin.route(bhttp::verb::get, "/api/rooms/:party/:room",
              [s](AdminRequest& r) { roomRoute(r, *s); });
  admin.route(bhttp::verb::get, "/api/rooms/:party/:room/storage",
              [s](AdminRequest& r) { storageRoute(r, *s); });
  admin.route(bhttp::verb::get, "/api/rooms/:party/:room/value",
              [s](AdminRequest& r) { valueRoute(r, *s); });
  admin.route(bhttp::verb::get, "/",
              [](AdminRequest& r) { addText(r, 200, "text/html; charset=utf-8", kInspectorHtml); });
  admin.route(
      bhttp::verb::get, "/login",
      [](AdminRequest& r) { addText(r, 200, "text/html; charset=utf-8", kLoginHtml); },
      AdminServer::Access::kPublic);
}

Result<std::unique_ptr<AdminServer>> startDevAdmin(const std::string& addr,
                                                   net::Sharded<party::Edge>& shards,
                                                   ObserveOptions options) {
  AdminOptions admin;
  std::string_view portText = addr;
  if (auto colon = addr.rfind(':'); colon != std::string::npos) {
    admin.address = addr.substr(0, colon);
    if (admin.address.size() >= 2 && admin.address.front() == '[') {
      admin.address = admin.address.substr(1, admin.address.size() - 2);
    }
    portText = std::string_view(addr).substr(colon + 1);
  }
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(std::string(portText), &used);
    if (used != portText.size() || port > 65535) throw std::out_of_range("port");
  } catch (...) {
    return makeError("--admin needs PORT or HOST:PORT, not '" + addr + "'");
  }
  if (admin.address.empty()) admin.address = "127.0.0.1";
  admin.port = static_cast<unsigned short>(port);
  auto server = std::make_unique<AdminServer>(admin);
  addObservabilityRoutes(*server, shards, std::move(options));
  if (auto r = server->start(); !r) return makeError("--admin " + addr + ": " + r.error().message);
  return server;
}

}  // namespace partyd::server
