#include "server/observe.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
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

using Table = std::shared_ptr<net::Sharded<party::Edge>>;

// Posts fn(Edge&) to every shard's loop of `table`; the futures of its answers.
template <typename T, typename F>
std::vector<std::future<T>> postEachShard(const Table& table, F fn) {
  std::vector<std::future<T>> futures;
  for (std::size_t i = 0; i < table->count(); ++i) {
    auto promise = std::make_shared<std::promise<T>>();
    futures.push_back(promise->get_future());
    // The lambda holds the table, so that it outlives the post even when this stops waiting.
    table->invokeOn(i, [promise, fn, table](party::Edge& edge) { promise->set_value(fn(edge)); });
  }
  return futures;
}

// The answers that came (a shard that has stopped, or does not answer by `until`, gives none).
template <typename T>
std::vector<T> gather(std::vector<std::future<T>>& futures,
                      std::chrono::steady_clock::time_point until) {
  std::vector<T> out;
  for (auto& f : futures) {
    try {
      if (f.wait_until(until) == std::future_status::ready) out.push_back(f.get());
    } catch (const std::future_error&) {
      // the shard stopped before it ran fn
    }
  }
  return out;
}

// Runs fn(Edge&) on every shard of every project, all at once, and gathers the answers.
template <typename T, typename F>
std::vector<std::vector<T>> onEveryShard(const std::vector<ObservedProject>& projects, F fn) {
  std::vector<std::vector<std::future<T>>> posted;
  for (const auto& p : projects) posted.push_back(postEachShard<T>(p.edges, fn));
  auto until = std::chrono::steady_clock::now() + kShardWait;
  std::vector<std::vector<T>> out;
  for (auto& futures : posted) out.push_back(gather(futures, until));
  return out;
}

// Runs fn(Edge&) on one shard's loop and waits for its answer.
template <typename T, typename F>
std::optional<T> onShard(const Table& table, std::size_t index, F fn) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  table->invokeOn(index,
                  [promise, fn, table](party::Edge& edge) { promise->set_value(fn(edge)); });
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

void metricsRoute(AdminRequest& r, const ProjectSource& source, const std::string& version,
                  const NodeMetrics& node) {
  std::vector<ObservedProject> projects = source();
  auto copies = onEveryShard<party::ShardMetrics>(
      projects, [](party::Edge& edge) { return edge.host().metrics(); });
  std::vector<party::ProjectMetrics> totals(projects.size());
  for (std::size_t i = 0; i < projects.size(); ++i) {
    totals[i].project = projects[i].name;
    for (const auto& c : copies[i]) totals[i].metrics.add(c);
  }
  metrics::TextWriter w;
  w.family("partyd_build_info", metrics::TextWriter::Type::kGauge,
           "Always 1; its labels name the partyd version and the project served.");
  for (const auto& p : projects) {
    w.sample("partyd_build_info", {{"version", version}, {"project", p.name}}, std::uint64_t{1});
  }
  w.family("partyd_shards", metrics::TextWriter::Type::kGauge,
           "Shards (threads with an event loop each) serving, and those that answered this "
           "scrape.");
  for (std::size_t i = 0; i < projects.size(); ++i) {
    w.sample("partyd_shards", {{"project", projects[i].name}, {"state", "configured"}},
             static_cast<std::uint64_t>(projects[i].edges->count()));
    w.sample("partyd_shards", {{"project", projects[i].name}, {"state", "answered"}},
             static_cast<std::uint64_t>(copies[i].size()));
  }
  party::writeMetrics(totals, w);
  if (node) node(w);
  addText(r, 200, metrics::TextWriter::kContentType, w.take());
}

void roomsRoute(AdminRequest& r, const ProjectSource& source) {
  std::vector<ObservedProject> projects = source();
  auto lists = onEveryShard<std::vector<std::string>>(projects, [](party::Edge& edge) {
    std::vector<std::string> out;
    edge.host().forEachRoom(
        [&](party::Room& room) { out.push_back(roomJson(edge.host(), room, edge.shard())); });
    return out;
  });
  std::string names;
  for (const auto& p : projects) names += (names.empty() ? "" : ",") + log::jsonQuoted(p.name);
  // "project": the first one's name, for a client of one project (partyd dev).
  std::string body = "{\"project\":" +
                     (projects.empty() ? std::string("null") : log::jsonQuoted(projects[0].name)) +
                     ",\"projects\":[" + names + "],\"now\":" + std::to_string(nowMono()) +
                     ",\"rooms\":[";
  bool first = true;
  for (std::size_t i = 0; i < projects.size(); ++i) {
    std::string tag = "{\"project\":" + log::jsonQuoted(projects[i].name) + ",";
    for (const auto& shard : lists[i]) {
      for (const auto& room : shard) {
        if (!first) body += ',';
        first = false;
        body += tag;
        body.append(room, 1);  // the room's object, its project first
      }
    }
  }
  body += "]}";
  r.respondJson(200, std::move(body));
}

// The project a room request names (?project=NAME), or the only one; null after answering.
std::optional<ObservedProject> projectOf(AdminRequest& r, const ProjectSource& source) {
  std::vector<ObservedProject> projects = source();
  auto wanted = r.query("project");
  if (!wanted || wanted->empty()) {
    if (projects.size() == 1) return projects[0];
    r.fail(projects.empty() ? 404 : 400,
           projects.empty() ? "no project is running"
                            : "several projects run here: name one with ?project=NAME");
    return std::nullopt;
  }
  for (auto& p : projects) {
    if (p.name == *wanted) return p;
  }
  r.fail(404, "no project " + *wanted + " is running");
  return std::nullopt;
}

party::RoomKey keyOf(AdminRequest& r) {
  return {r.params["party"], r.params["room"]};
}

constexpr std::size_t kItemText = 1000;  // characters of a connection's tags, state or attachment

// `text` cut to at most `max` bytes, at a UTF-8 character's start.
std::string_view cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

// {"text": ..., "length": N, "truncated": bool}: one item of a connection, cut to kItemText.
std::string itemJson(std::string_view text) {
  std::string_view shown = cut(text, kItemText);
  return "{\"text\":" + log::jsonQuoted(shown) + ",\"length\":" + std::to_string(text.size()) +
         ",\"truncated\":" + (shown.size() < text.size() ? "true" : "false") + "}";
}

// The tags, state and attachment of one connection, from its serialized [id, uri, tags, state,
// attachment] (a live object's, or a hibernated socket's stash, whose tags are null when they
// are only the id).
std::string connectionData(const std::string& id, std::string_view bytes, const char* source) {
  auto items = cloneArrayToTexts(bytes);
  if (!items || items->size() < 5) {
    return ",\"source\":" + log::jsonQuoted(source) +
           ",\"error\":\"its serialized form could not be read\"";
  }
  std::string tags = (*items)[2] == "null" ? "[" + log::jsonQuoted(id) + "]" : (*items)[2];
  return ",\"source\":" + log::jsonQuoted(source) + ",\"tags\":" + itemJson(tags) +
         ",\"stateValue\":" + itemJson((*items)[3]) + ",\"attachment\":" + itemJson((*items)[4]);
}

void roomRoute(AdminRequest& r, const ProjectSource& source) {
  party::RoomKey key = keyOf(r);
  auto project = projectOf(r, source);
  if (!project) return;
  const Table& shards = project->edges;
  if (shards->count() == 0) return r.fail(503, "no shard is running");
  std::size_t owner = party::shardOf(key, shards->count());
  auto json = onShard<std::string>(shards, owner, [key](party::Edge& edge) -> std::string {
    party::RoomHost& host = edge.host();
    party::Room* room = host.findRoom(key);
    if (!room) return "";
    std::int64_t now = host.clock().monotonicMs();
    // A live object's connections are read from it (as one run of no handler); a hibernated
    // room's from the stash each socket keeps, without waking it.
    std::map<std::uint64_t, party::PeekedSocket> live;
    for (auto& p : host.peekConnections(*room)) live.emplace(p.conn, std::move(p));
    room = host.findRoom(key);  // a runaway getter may have reset it
    if (!room) return "";
    std::string j = "{\"summary\":" + roomJson(host, *room, edge.shard()) + ",\"connections\":[";
    bool first = true;
    for (const auto& [handle, socket] : room->sockets) {
      if (!first) j += ',';
      first = false;
      j += "{\"handle\":" + std::to_string(handle) + ",\"id\":" + log::jsonQuoted(socket.id) +
           ",\"state\":" + log::jsonQuoted(stateName(socket)) +
           ",\"ageMs\":" + std::to_string(now - socket.openedMs) +
           ",\"queuedBytes\":" + std::to_string(socket.conn->queuedBytes());
      if (!socket.stash.empty()) {
        j += ",\"stash\":" + log::jsonQuoted(cloneToText(socket.stash));
        j += connectionData(socket.id, socket.stash, "stash");
      } else if (auto it = live.find(handle); it != live.end()) {
        if (!it->second.error.empty()) {
          j += ",\"source\":\"object\",\"error\":" + log::jsonQuoted(it->second.error);
        } else {
          j += connectionData(socket.id, it->second.bytes, "object");
        }
      }
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

void storageRoute(AdminRequest& r, const ProjectSource& source) {
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
  auto project = projectOf(r, source);
  if (!project) return;
  const Table& shards = project->edges;
  if (shards->count() == 0) return r.fail(503, "no shard is running");
  std::size_t owner = party::shardOf(key, shards->count());
  auto json = onShard<std::string>(shards, owner, [key, list, limit](party::Edge& edge) {
    auto entries = edge.host().storage().list(key, list);
    if (!entries) return "{\"error\":" + log::jsonQuoted(entries.error().message) + "}";
    std::string j = "{\"entries\":[";
    std::size_t n = std::min<std::size_t>(entries->size(), limit);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& [k, v] = (*entries)[i];
      std::string text = cloneToText(v);
      std::string_view shown = cut(text, kValueText);
      if (i) j += ',';
      j += "{\"key\":" + log::jsonQuoted(k) + ",\"bytes\":" + std::to_string(v.size()) +
           ",\"textLength\":" + std::to_string(text.size()) +
           ",\"value\":" + log::jsonQuoted(shown) +
           ",\"truncated\":" + (shown.size() < text.size() ? "true" : "false") + "}";
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
void valueRoute(AdminRequest& r, const ProjectSource& source) {
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
  auto project = projectOf(r, source);
  if (!project) return;
  const Table& shards = project->edges;
  if (shards->count() == 0) return r.fail(503, "no shard is running");
  std::size_t owner = party::shardOf(key, shards->count());
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

void addObservabilityRoutes(AdminServer& admin, ProjectSource projects, std::string version,
                            NodeMetrics node) {
  auto source = std::make_shared<ProjectSource>(std::move(projects));
  auto v = std::make_shared<std::string>(std::move(version));
  auto n = std::make_shared<NodeMetrics>(std::move(node));
  log::keepRoomLines(true);  // the inspector shows each room's recent lines
  admin.route(bhttp::verb::get, "/metrics",
              [source, v, n](AdminRequest& r) { metricsRoute(r, *source, *v, *n); });
  admin.route(bhttp::verb::get, "/api/rooms",
              [source](AdminRequest& r) { roomsRoute(r, *source); });
  admin.route(bhttp::verb::get, "/api/rooms/:party/:room",
              [source](AdminRequest& r) { roomRoute(r, *source); });
  admin.route(bhttp::verb::get, "/api/rooms/:party/:room/storage",
              [source](AdminRequest& r) { storageRoute(r, *source); });
  admin.route(bhttp::verb::get, "/api/rooms/:party/:room/value",
              [source](AdminRequest& r) { valueRoute(r, *source); });
  admin.route(bhttp::verb::get, "/",
              [](AdminRequest& r) { addText(r, 200, "text/html; charset=utf-8", kInspectorHtml); });
  admin.route(
      bhttp::verb::get, "/login",
      [](AdminRequest& r) { addText(r, 200, "text/html; charset=utf-8", kLoginHtml); },
      AdminServer::Access::kPublic);
}

void addObservabilityRoutes(AdminServer& admin, net::Sharded<party::Edge>& shards,
                            ObserveOptions options) {
  // The table is the caller's: a shared_ptr that does not own it.
  Table table(std::shared_ptr<void>(), &shards);
  std::vector<ObservedProject> one{{std::move(options.project), table}};
  addObservabilityRoutes(
      admin, [one] { return one; }, std::move(options.version));
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
