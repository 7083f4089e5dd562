#include "api/shard_runtime.h"

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <openssl/sha.h>

#include <malloc.h>

#include <chrono>
#include <cmath>

#include "base/log.h"
#include "api/crypto_natives.h"
#include "api/stream_natives.h"
#include "api/node_natives.h"
#include "base/random.h"
#include "storage/shard_files.h"
#include "ws/handshake.h"

namespace partyd::api {

const std::string& internalToken() {
  static const std::string token = randomUuid();
  return token;
}

extern const char kRuntimeBundle[];
extern const std::size_t kRuntimeBundleSize;

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using js::str;

namespace {

std::int64_t wallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A Durable Object id is 64 hex characters, stable per (party, room).
std::string internalId(const party::RoomKey& key) {
  std::string input = key.party + '\0' + key.room;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string fullUrl(const http::Request& request) {
  auto host = request[bhttp::field::host];
  std::string url = "http://";
  url += host.empty() ? std::string_view("localhost") : std::string_view(host.data(), host.size());
  url += std::string_view(request.target().data(), request.target().size());
  return url;
}

v8::Local<v8::Array> headerArray(v8::Isolate* iso, const http::Request& request) {
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::Array> out = v8::Array::New(iso);
  uint32_t i = 0;
  for (const auto& field : request) {
    v8::Local<v8::Value> pair[] = {
        str(iso, std::string_view(field.name_string().data(), field.name_string().size())),
        str(iso, std::string_view(field.value().data(), field.value().size()))};
    (void)out->Set(ctx, i++, v8::Array::New(iso, pair, 2));
  }
  return out;
}

http::Response textResponse(unsigned status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "text/plain;charset=UTF-8");
  r.body = std::move(body);
  return r;
}

}  // namespace

ShardRuntime::ShardRuntime(net::Shard& shard, std::unique_ptr<storage::Storage> storage,
                           RuntimeConfig config)
    : shard_(shard),
      storage_(std::move(storage)),
      config_(std::move(config)),
      sweepTimer_(shard.io()),
      alarmTimer_(shard.io()) {}

ShardRuntime::~ShardRuntime() {
  log::flushHeld();
  log::holdLines(nullptr);
  wsClient_.reset();
  httpClient_.reset();
  entryFns_.clear();
  entry_.Reset();
  engine_.reset();
}

// ---- start-up -------------------------------------------------------------------------------

Result<void> ShardRuntime::start() {
  // This shard's info lines (one per request and connection) go out once per loop pass.
  log::holdLines([this] { scheduleLogFlush(); });
  engine_ = std::make_unique<js::Engine>(js::Engine::Options{config_.heapLimitMb});
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Object> native = v8::Object::New(iso);
  installNatives(native);
  installCryptoNatives(iso, ctx, native);
  installStreamNatives(iso, ctx, native);
  installNodeNatives(iso, ctx, native);
  httpClient_ = std::make_unique<net::HttpClient>(shard_.io());
  wsClient_ = std::make_unique<ws::WsClient>(shard_.io());
  (void)ctx->Global()->Set(ctx, str(iso, "__partyd_native"), native);

  if (auto r = engine_->runScript(std::string_view(kRuntimeBundle, kRuntimeBundleSize),
                                  "partyd:runtime");
      !r) {
    return makeError("the partyd runtime failed to load: " + r.error().message);
  }
  v8::Local<v8::Value> entry;
  if (!ctx->Global()->Get(ctx, str(iso, "__partyd_entry")).ToLocal(&entry) || !entry->IsObject()) {
    return makeError("the partyd runtime did not define its entry points");
  }
  (void)ctx->Global()->Delete(ctx, str(iso, "__partyd_entry"));
  entry_.Reset(iso, entry.As<v8::Object>());

  if (auto r = loadUserCode(); !r) return r;

  // Alarms stored by an earlier run fire even though their rooms are not live yet.
  auto alarms = storage_->allAlarms();
  if (!alarms) return makeError("reading stored alarms: " + alarms.error().message);
  for (const auto& alarm : *alarms) rooms_.scheduleAlarm(alarm.room, alarm.timeMs);
  armAlarmTimer();
  armSweep();
  return {};
}

// Runs the project's bundle and lets the runtime check it: each party's default export, and
// which worker hooks exist. Used at start-up and again by reload().
Result<void> ShardRuntime::loadUserCode() {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Object> entry = entry_.Get(iso);
  engine_->armDeadline(config_.handlerBudgetMs);
  auto loaded = engine_->runScript(config_.userBundle, config_.userBundleName);
  engine_->disarmDeadline();
  engine_->takeTerminated();
  if (!loaded) return makeError("the party code threw while loading: " + loaded.error().message);
  iso->PerformMicrotaskCheckpoint();

  // entry.init(envJson, partyNames) checks each party's default export.
  v8::Local<v8::Value> initFn;
  (void)entry->Get(ctx, str(iso, "init")).ToLocal(&initFn);
  v8::Local<v8::Array> names = v8::Array::New(iso);
  for (uint32_t i = 0; i < config_.partyNames.size(); ++i) {
    (void)names->Set(ctx, i, str(iso, config_.partyNames[i]));
  }
  v8::Local<v8::Value> args[] = {str(iso, config_.envJson), names};
  v8::TryCatch tryCatch(iso);
  v8::Local<v8::Value> problems;
  if (!initFn.As<v8::Function>()->Call(ctx, entry, 2, args).ToLocal(&problems)) {
    return makeError(engine_->describeException(tryCatch));
  }
  std::string text = js::toUtf8(iso, problems);
  if (!text.empty()) return makeError(text);

  // Which worker hooks the project defines, so requests without one skip the edge entirely.
  v8::Local<v8::Value> hookFn;
  (void)entry->Get(ctx, str(iso, "hookInfo")).ToLocal(&hookFn);
  v8::Local<v8::Value> hookArgs[] = {names};
  v8::Local<v8::Value> hookJson;
  if (!hookFn.As<v8::Function>()->Call(ctx, entry, 1, hookArgs).ToLocal(&hookJson)) {
    return makeError(engine_->describeException(tryCatch));
  }
  v8::Local<v8::Value> parsed;
  if (v8::JSON::Parse(ctx, hookJson.As<v8::String>()).ToLocal(&parsed) && parsed->IsObject()) {
    auto obj = parsed.As<v8::Object>();
    auto flag = [&](v8::Local<v8::Object> o, const char* name) {
      v8::Local<v8::Value> v;
      return o->Get(ctx, str(iso, name)).ToLocal(&v) && v->IsTrue();
    };
    hooks_.fetch = flag(obj, "fetch");
    hooks_.socket = flag(obj, "socket");
    hooks_.cron = flag(obj, "cron");
    v8::Local<v8::Value> partiesV;
    if (obj->Get(ctx, str(iso, "parties")).ToLocal(&partiesV) && partiesV->IsObject()) {
      for (const auto& name : config_.partyNames) {
        v8::Local<v8::Value> p;
        if (!partiesV.As<v8::Object>()->Get(ctx, str(iso, name)).ToLocal(&p) || !p->IsObject()) {
          continue;
        }
        if (flag(p.As<v8::Object>(), "beforeConnect")) hooks_.beforeConnect.push_back(name);
        if (flag(p.As<v8::Object>(), "beforeRequest")) hooks_.beforeRequest.push_back(name);
      }
    }
  }

  return {};
}

Result<void> ShardRuntime::reload(std::string bundle, std::string bundleName, std::string envJson,
                                  std::vector<std::string> partyNames) {
  // Every live room goes: its sockets get 1012 (partysocket reconnects), its requests 503.
  std::vector<std::uint32_t> handles;
  rooms_.forEach([&](party::Room& room) { handles.push_back(room.handle); });
  for (std::uint32_t h : handles) {
    resetRoom(h, "the server is restarting with new code", 1012, 503);
    rooms_.erase(h);
  }
  commitAndFlush();
  config_.userBundle = std::move(bundle);
  config_.userBundleName = std::move(bundleName);
  config_.envJson = std::move(envJson);
  config_.partyNames = std::move(partyNames);
  hooks_ = HookInfo{};
  return loadUserCode();
}

void ShardRuntime::stop() {
  stopped_ = true;
  sweepTimer_.cancel();
  alarmTimer_.cancel();
  commitAndFlush();
  for (auto& [id, timer] : timers_) timer->cancel();
  if (storage_ && storage_->dirty()) (void)storage_->commit();
}

bool ShardRuntime::hasParty(const std::string& name) const {
  for (const auto& p : config_.partyNames)
    if (p == name) return true;
  return false;
}

// ---- turns ----------------------------------------------------------------------------------

v8::Local<v8::Function> ShardRuntime::entryFunction(const char* name) {
  v8::Isolate* iso = engine_->isolate();
  auto it = entryFns_.find(name);
  if (it != entryFns_.end()) return it->second.Get(iso);
  v8::Local<v8::Value> fn;
  if (!entry_.Get(iso)->Get(engine_->context(), str(iso, name)).ToLocal(&fn) || !fn->IsFunction()) {
    return {};
  }
  entryFns_[name].Reset(iso, fn.As<v8::Function>());
  return fn.As<v8::Function>();
}

void ShardRuntime::callEntry(const char* name, std::uint32_t room, int argc,
                             v8::Local<v8::Value>* argv) {
  v8::Isolate* iso = engine_->isolate();
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Function> fn = entryFunction(name);
  if (fn.IsEmpty()) return;
  currentRoom_ = room;
  ++depth_;
  ++events_;
  engine_->armDeadline(config_.handlerBudgetMs);
  {
    v8::TryCatch tryCatch(iso);
    if (fn->Call(ctx, entry_.Get(iso), argc, argv).IsEmpty()) {
      log(3, engine_->describeException(tryCatch));
    }
  }
  {
    v8::TryCatch tryCatch(iso);
    iso->PerformMicrotaskCheckpoint();
  }
  engine_->disarmDeadline();
  if (engine_->takeTerminated()) {
    std::string why = "a handler ran longer than " + std::to_string(config_.handlerBudgetMs) +
                      " ms and was stopped";
    log(3, why + (room ? "; the room is reset" : ""));
    // A stopped run leaves the AsyncLocalStorage context it was in as the current one.
    if (v8::Local<v8::Function> reset = entryFunction("asyncContextReset"); !reset.IsEmpty()) {
      v8::TryCatch tryCatch(iso);
      (void)reset->Call(ctx, entry_.Get(iso), 0, nullptr);
    }
    // Its JS state may be half updated: drop the object, as a Durable Object is reset.
    if (room) asio::post(shard_.io(), [this, room, why] { resetRoom(room, why); });
  }
  --depth_;
  if (depth_ == 0) endTurn();
}

// The end of a turn does not write at once: the commit and the writes happen once for every turn
// that ran in this pass of the event loop, so a burst of messages costs one commit and one
// writev per socket. Nothing leaves before the commit (the output gate).
void ShardRuntime::endTurn() {
  if (readBatch_ > 0) {
    outputHeld_ = true;  // onWsReadBatch decides at the end of the read
    return;
  }
  if (flushPosted_) return;
  flushPosted_ = true;
  asio::post(shard_.io(), [this] {
    flushPosted_ = false;
    commitAndFlush();
  });
}

// The messages of one socket read ran. Their output usually waits for the end of the loop pass,
// so that a pass's turns share one commit and each socket gets one write. When that output is
// frames for a single socket only (an echo, a reply to the sender), and nothing else waits,
// nothing would be shared: it is written now, which saves the loop a second epoll_wait (W1).
void ShardRuntime::onWsReadBatch(bool begin) {
  if (begin) {
    ++readBatch_;
    return;
  }
  if (--readBatch_ > 0 || !outputHeld_) return;
  outputHeld_ = false;
  if (!flushPosted_ && outbox_.empty() && !storage_->dirty() && flushQueue_.size() <= 1) {
    flushQueue_.flushAll();
    return;
  }
  endTurn();
}

// Held log lines are written at the end of commitAndFlush when one is under way (its responses
// log), and otherwise by a posted flush.
void ShardRuntime::scheduleLogFlush() {
  if (logFlushPosted_ || flushing_) return;
  logFlushPosted_ = true;
  asio::post(shard_.io(), [this] {
    logFlushPosted_ = false;
    log::flushHeld();
  });
}

void ShardRuntime::commitAndFlush() {
  flushing_ = true;
  if (storage_->dirty()) {
    if (auto r = storage_->commit(); !r) {
      log::error("storage commit failed, this turn's writes are lost: " + r.error().message);
      storage_->rollback();
    }
  }
  auto outbox = std::move(outbox_);
  outbox_.clear();
  for (auto& [pending, response] : outbox) {
    if (pending.session) {
      pending.session->respond(std::move(response));
    } else if (pending.reply) {
      pending.reply(std::move(response));
    }
  }
  flushQueue_.flushAll();
  runV8Tasks();
  flushing_ = false;
  log::flushHeld();
}

// V8's own tasks for this thread: GC steps and the memory reducer, and a few that run user code
// (FinalizationRegistry callbacks), which get the handler budget like any other JS.
void ShardRuntime::runV8Tasks() {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  engine_->armDeadline(config_.handlerBudgetMs);
  engine_->runPendingTasks();
  {
    v8::TryCatch tryCatch(iso);
    iso->PerformMicrotaskCheckpoint();
  }
  engine_->disarmDeadline();
  if (engine_->takeTerminated()) {
    log(3, "a V8 task running user code (a FinalizationRegistry callback?) ran longer than " +
               std::to_string(config_.handlerBudgetMs) + " ms and was stopped");
  }
  if (!flushPosted_ && (!flushQueue_.empty() || !outbox_.empty() || storage_->dirty())) endTurn();
}

// ---- rooms ----------------------------------------------------------------------------------

party::Room& ShardRuntime::activate(const party::RoomKey& key) {
  auto [room, created] = rooms_.getOrCreate(key, js::monotonicMs());
  if (created) {
    v8::Isolate* iso = engine_->isolate();
    v8::HandleScope scope(iso);
    v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, room->handle),
                                   str(iso, key.party), str(iso, key.room),
                                   str(iso, internalId(key)), v8::Undefined(iso)};
    room->hibernate = createJsRoom(*room, 5, args);
  } else if (room->hibernated) {
    wake(*room);
  }
  return *room;
}

bool ShardRuntime::createJsRoom(party::Room& room, int argc, v8::Local<v8::Value>* argv) {
  createdHibernating_ = false;
  callEntry("createRoom", room.handle, argc, argv);
  return createdHibernating_;
}

void ShardRuntime::wake(party::Room& room) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Array> restore = v8::Array::New(iso);
  uint32_t i = 0;
  for (auto& [handle, conn] : room.connections) {
    ConnEntry* entry = findConn(handle);
    if (!entry) continue;
    v8::Local<v8::Value> meta;
    if (entry->stash.empty() || !engine_->deserialize(entry->stash).ToLocal(&meta)) continue;
    entry->stash.clear();
    entry->stash.shrink_to_fit();
    v8::Local<v8::Value> pair[] = {v8::Number::New(iso, static_cast<double>(handle)), meta};
    (void)restore->Set(ctx, i++, v8::Array::New(iso, pair, 2));
  }
  room.hibernated = false;
  rooms_.touch(room, js::monotonicMs());
  v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, room.handle),
                                 str(iso, room.key.party), str(iso, room.key.room),
                                 str(iso, internalId(room.key)), restore};
  room.hibernate = createJsRoom(room, 5, args);
}

std::size_t ShardRuntime::hibernateQuiet() {
  auto quiet = rooms_.hibernationCandidates(js::monotonicMs(), config_.hibernateAfterMs);
  if (quiet.empty()) return 0;
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  for (std::uint32_t handle : quiet) {
    // JS stashes each socket's id, uri, tags and state here, then confirms with roomHibernated;
    // a room with queued events or an open blockConcurrencyWhile stays awake.
    v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, handle)};
    callEntry("hibernate", handle, 1, args);
  }
  return quiet.size();
}

void ShardRuntime::stashConnection(std::uint64_t handle, std::string bytes) {
  if (ConnEntry* entry = findConn(handle)) {
    entry->stash = std::move(bytes);
    entry->conn->trim();
  }
}

void ShardRuntime::roomHibernated(std::uint32_t handle) {
  if (party::Room* room = rooms_.byHandle(handle)) room->hibernated = true;
}

void ShardRuntime::handleRequest(std::shared_ptr<http::Session> session, http::Request&& request,
                                 const http::PartyRoute& route) {
  v8::HandleScope scope(engine_->isolate());
  party::Room& room = activate({route.party, route.room});
  std::string method(request.method_string());
  deliverRequest(room, PendingRequest{room.handle, std::move(session), nullptr}, method,
                 fullUrl(request), headerArray(engine_->isolate(), request), request.body());
}

void ShardRuntime::handleInternal(const http::PartyRoute& route, InternalRequest request,
                                  std::function<void(http::Response)> reply) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  if (!hasParty(route.party)) {
    reply(textResponse(404, "Party " + route.party + " not found"));
    return;
  }
  party::Room& room = activate({route.party, route.room});
  v8::Local<v8::Array> headers = js::stringPairs(iso, request.headers);
  deliverRequest(room, PendingRequest{room.handle, nullptr, std::move(reply)}, request.method,
                 request.url, headers, request.body);
}

void ShardRuntime::deliverRequest(party::Room& room, PendingRequest pending,
                                  const std::string& method, const std::string& url,
                                  v8::Local<v8::Array> headers, const std::string& bodyBytes) {
  v8::Isolate* iso = engine_->isolate();
  room.busy++;
  std::uint64_t handle = nextRequest_++;
  std::uint32_t roomHandle = room.handle;
  requests_.emplace(handle, std::move(pending));
  v8::Local<v8::Value> body = v8::Null(iso);
  if (!bodyBytes.empty()) {
    auto ab = js::newArrayBuffer(iso, bodyBytes);
    body = v8::Uint8Array::New(ab, 0, ab->ByteLength());
  }
  v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, roomHandle),
                                 v8::Number::New(iso, static_cast<double>(handle)),
                                 str(iso, method),
                                 str(iso, url),
                                 headers,
                                 body};
  callEntry("request", roomHandle, 6, args);
}

// ---- the edge: worker hooks and party stubs -------------------------------------------------

void ShardRuntime::runEdge(const char* kind, const std::string& party, const std::string& room,
                           const http::Request& request, std::function<void(EdgeResult)> done,
                           std::string_view extra) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  std::uint64_t handle = nextEdge_++;
  edges_.emplace(handle, std::move(done));
  v8::Local<v8::Value> body = v8::Null(iso);
  if (!request.body().empty()) {
    auto ab = js::newArrayBuffer(iso, request.body());
    body = v8::Uint8Array::New(ab, 0, ab->ByteLength());
  }
  std::string method(request.method_string());
  v8::Local<v8::Value> args[] = {v8::Number::New(iso, static_cast<double>(handle)),
                                 str(iso, kind),
                                 str(iso, party),
                                 str(iso, room),
                                 str(iso, method),
                                 str(iso, fullUrl(request)),
                                 headerArray(iso, request),
                                 body,
                                 str(iso, extra)};
  callEntry("edge", 0, 9, args);
}

void ShardRuntime::edgeDone(std::uint64_t handle, EdgeResult result) {
  auto it = edges_.find(handle);
  if (it == edges_.end()) return;
  auto done = std::move(it->second);
  edges_.erase(it);
  // Never continue inside the JS call that decided: routing may call into JS again.
  asio::post(shard_.io(), [done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

std::uint64_t ShardRuntime::partyFetch(const http::PartyRoute& route, InternalRequest request) {
  std::uint64_t handle = nextFetch_++;
  std::size_t origin = shard_.index();
  std::size_t owner = storage::shardOf(storage::roomHash(route.party, route.room), shard_.count());
  auto reply = [this, origin, handle](http::Response response) {
    if (origin == shard_.index() || !postToShard_) {
      // Same shard: answer on a later turn, like any I/O completion.
      asio::post(shard_.io(), [this, handle, response = std::move(response)]() mutable {
        fetchAnswered(handle, std::move(response));
      });
      return;
    }
    postToShard_(origin, [handle, response = std::move(response)](ShardRuntime& rt) mutable {
      rt.fetchAnswered(handle, std::move(response));
    });
  };
  if (owner == shard_.index() || !postToShard_) {
    asio::post(shard_.io(), [this, route, request = std::move(request), reply]() mutable {
      handleInternal(route, std::move(request), reply);
    });
  } else {
    postToShard_(owner, [route, request = std::move(request), reply](ShardRuntime& rt) mutable {
      rt.handleInternal(route, std::move(request), reply);
    });
  }
  return handle;
}

void ShardRuntime::fetchAnswered(std::uint64_t handle, http::Response response) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Array> headers = js::stringPairs(iso, response.headers);
  auto ab = js::newArrayBuffer(iso, response.body);
  v8::Local<v8::Value> args[] = {v8::Number::New(iso, static_cast<double>(handle)),
                                 v8::Integer::NewFromUnsigned(iso, response.status), headers,
                                 v8::Uint8Array::New(ab, 0, ab->ByteLength())};
  callEntry("fetchDone", 0, 4, args);
}

void ShardRuntime::handleUpgrade(std::shared_ptr<http::Session> session, http::Request&& request,
                                 const http::PartyRoute& route) {
  auto key = request[bhttp::field::sec_websocket_key];
  std::string_view keyView(key.data(), key.size());
  auto version = request[bhttp::field::sec_websocket_version];
  if (!ws::isValidClientKey(keyView) || std::string_view(version.data(), version.size()) != "13") {
    http::Response r = textResponse(400, "Bad WebSocket upgrade: need Sec-WebSocket-Key and "
                                         "Sec-WebSocket-Version: 13\n");
    if (std::string_view(version.data(), version.size()) != "13") {
      r.status = 426;
      r.headers.emplace_back("sec-websocket-version", "13");
    }
    session->respond(std::move(r), false);
    return;
  }
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  party::Room& room = activate({route.party, route.room});
  std::string leftover = session->takeLeftover();
  auto conn = std::make_shared<ws::Connection>(session->takeSocket(), std::move(leftover),
                                               config_.wsLimits, &flushQueue_);
  std::uint64_t handle = nextConn_++;
  conn->setOwner(this, handle);
  room.connections.emplace(handle, conn);
  room.busy++;
  conns_.emplace(handle, ConnEntry{room.handle, conn});
  pendingAccepts_.emplace(handle, ws::acceptKey(keyView));

  std::string target(request.target());
  std::string id = http::queryParam(target, "_pk").value_or("");
  if (id.empty()) id = randomUuid();
  v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, room.handle),
                                 v8::Number::New(iso, static_cast<double>(handle)),
                                 str(iso, id), str(iso, fullUrl(request)),
                                 headerArray(iso, request)};
  callEntry("connect", room.handle, 5, args);
}

ShardRuntime::ConnEntry* ShardRuntime::findConn(std::uint64_t handle) {
  auto it = conns_.find(handle);
  return it == conns_.end() ? nullptr : &it->second;
}

void ShardRuntime::accept(std::uint64_t handle, std::uint16_t closeCode, std::string_view reason) {
  ConnEntry* entry = findConn(handle);
  auto pending = pendingAccepts_.find(handle);
  if (!entry || pending == pendingAccepts_.end()) return;
  if (party::Room* room = rooms_.byHandle(entry->room); room && room->busy > 0) room->busy--;
  entry->conn->open(ws::buildSwitchingProtocols(pending->second, ""));
  pendingAccepts_.erase(pending);
  if (log::enabled(log::Level::kInfo)) {
    if (party::Room* room = rooms_.byHandle(entry->room)) {
      log::info("WS /parties/" + room->key.party + "/" + room->key.room + " 101" +
                (closeCode ? " then close " + std::to_string(closeCode) : std::string()));
    }
  }
  if (closeCode != 0) entry->conn->close(closeCode, reason);
}

void ShardRuntime::respond(std::uint64_t handle, http::Response response) {
  auto it = requests_.find(handle);
  if (it == requests_.end()) return;
  if (party::Room* room = rooms_.byHandle(it->second.room)) {
    if (room->busy > 0) room->busy--;
    rooms_.touch(*room, js::monotonicMs());
  }
  outbox_.emplace_back(std::move(it->second), std::move(response));
  requests_.erase(it);
  if (depth_ == 0) endTurn();
}

void ShardRuntime::onWsMessage(std::uint64_t tag, ws::Opcode op, std::string_view payload) {
  ConnEntry* entry = findConn(tag);
  if (!entry) return;
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  if (party::Room* room = rooms_.byHandle(entry->room)) {
    rooms_.touch(*room, js::monotonicMs());
    if (room->hibernated) {
      wake(*room);
      entry = findConn(tag);
      if (!entry) return;
    }
  }
  v8::Local<v8::Value> data;
  if (op == ws::Opcode::kText) {
    data = v8::String::NewFromUtf8(iso, payload.data(), v8::NewStringType::kNormal,
                                   static_cast<int>(payload.size()))
               .ToLocalChecked();
  } else {
    data = js::newArrayBuffer(iso, payload);
  }
  v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, entry->room),
                                 v8::Number::New(iso, static_cast<double>(tag)), data};
  callEntry("message", entry->room, 3, args);
}

void ShardRuntime::onWsClosed(std::uint64_t tag, std::uint16_t code, std::string_view reason,
                              bool clean) {
  if (depth_ > 0) {
    // A close that happens while JS runs (a send that overflowed the queue) is delivered later.
    asio::post(shard_.io(), [this, tag, code, reason = std::string(reason), clean] {
      onWsClosed(tag, code, reason, clean);
    });
    return;
  }
  auto it = conns_.find(tag);
  if (it == conns_.end()) return;
  std::uint32_t roomHandle = it->second.room;
  party::Room* room = rooms_.byHandle(roomHandle);
  if (room && room->hibernated && !stopped_) {
    wake(*room);  // onClose runs on a live object, as after any other wake
    it = conns_.find(tag);
    if (it == conns_.end()) return;
  }
  bool wasPending = pendingAccepts_.erase(tag) > 0;
  conns_.erase(it);
  if (!room) return;
  room->connections.erase(tag);
  if (wasPending && room->busy > 0) room->busy--;
  rooms_.touch(*room, js::monotonicMs());
  if (stopped_) return;
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, roomHandle),
                                 v8::Number::New(iso, static_cast<double>(tag)),
                                 v8::Integer::NewFromUnsigned(iso, code), str(iso, reason),
                                 v8::Boolean::New(iso, clean)};
  callEntry("close", roomHandle, 5, args);
}

void ShardRuntime::resetRoom(std::uint32_t handle, const std::string& why, std::uint16_t closeCode,
                             unsigned status) {
  party::Room* room = rooms_.byHandle(handle);
  if (!room || stopped_) return;
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->second.room == handle) {
      outbox_.emplace_back(std::move(it->second), textResponse(status, why));
      it = requests_.erase(it);
    } else {
      ++it;
    }
  }
  auto sockets = std::move(room->connections);
  room->connections.clear();
  for (auto& [h, conn] : sockets) {
    auto it = conns_.find(h);
    bool pending = pendingAccepts_.erase(h) > 0;
    if (it != conns_.end()) conns_.erase(it);
    conn->setOwner(nullptr, 0);
    if (pending) {
      conn->reject("HTTP/1.1 " + std::to_string(status) + " Error\r\ncontent-type: text/plain\r\n"
                   "content-length: " + std::to_string(why.size()) + "\r\nconnection: close\r\n\r\n" +
                   why);
    } else {
      conn->close(closeCode, why);
    }
  }
  room->busy = 0;
  room->firingAlarm.reset();
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, handle)};
  callEntry("destroyRoom", 0, 1, args);
  // The next event builds a new object (constructor and onStart), as after hibernation.
  room->hibernated = true;
}

// ---- eviction -------------------------------------------------------------------------------

void ShardRuntime::armSweep() {
  auto period = std::chrono::milliseconds(std::max<std::int64_t>(
      50, std::min({std::int64_t{1000}, config_.idleTimeoutMs / 2,
                    config_.hibernateAfterMs / 2})));
  sweepTimer_.expires_after(period);
  sweepTimer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    if (evictIdle() + hibernateQuiet() > 0) memoryToRelease_ = true;
    releaseMemoryIfQuiet();
    runV8Tasks();
    armSweep();
  });
}

// Rooms that left (evicted or hibernated) leave garbage in V8's heap and holes in malloc's, and
// neither gives pages back to the system on its own soon. Once the shard has had no event for a
// whole sweep period, a full collection and malloc_trim return them: the point of hibernation is
// that idle sockets cost little memory (issue 4, W4). Under load this never runs; V8's own GC does.
void ShardRuntime::releaseMemoryIfQuiet() {
  const bool quiet = events_ == eventsAtLastSweep_;
  eventsAtLastSweep_ = events_;
  if (!memoryToRelease_ || !quiet) return;
  // A full collection costs milliseconds on a big heap: at most one per kMinGap, however often
  // rooms leave a mostly idle shard.
  constexpr std::int64_t kMinGapMs = 10'000;
  const std::int64_t now = js::monotonicMs();
  if (lastReleaseMs_ != 0 && now - lastReleaseMs_ < kMinGapMs) return;
  lastReleaseMs_ = now;
  memoryToRelease_ = false;
  engine_->isolate()->LowMemoryNotification();
  malloc_trim(0);
}

std::size_t ShardRuntime::evictIdle() {
  auto idle = rooms_.idleRooms(js::monotonicMs(), config_.idleTimeoutMs);
  if (idle.empty()) return 0;
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  for (std::uint32_t handle : idle) {
    v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, handle)};
    callEntry("destroyRoom", 0, 1, args);
    rooms_.erase(handle);
  }
  return idle.size();
}

// ---- alarms ---------------------------------------------------------------------------------

void ShardRuntime::setAlarm(party::Room& room, std::int64_t timeMs) {
  rooms_.scheduleAlarm(room.key, timeMs);
  armAlarmTimer();
}

void ShardRuntime::deleteAlarm(party::Room& room) {
  rooms_.cancelAlarm(room.key);
  armAlarmTimer();
}

void ShardRuntime::armAlarmTimer() {
  auto next = rooms_.nextAlarmTime();
  alarmTimer_.cancel();
  if (!next || stopped_) return;
  std::int64_t delay = std::max<std::int64_t>(0, *next - wallMs());
  alarmTimer_.expires_after(std::chrono::milliseconds(delay));
  alarmTimer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    onAlarmTimer();
  });
}

void ShardRuntime::onAlarmTimer() {
  auto due = rooms_.takeDueAlarms(wallMs());
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  for (auto& [key, time] : due) {
    party::Room& room = activate(key);
    room.firingAlarm = time;
    room.busy++;
    v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, room.handle),
                                   v8::Integer::NewFromUnsigned(iso, room.alarmRetries)};
    callEntry("alarm", room.handle, 2, args);
  }
  armAlarmTimer();
}

void ShardRuntime::alarmDone(std::uint32_t handle, bool ok) {
  party::Room* room = rooms_.byHandle(handle);
  if (!room || !room->firingAlarm) return;
  if (room->busy > 0) room->busy--;
  rooms_.touch(*room, js::monotonicMs());
  std::int64_t fired = *room->firingAlarm;
  room->firingAlarm.reset();
  auto stored = storage_->getAlarm(room->key);
  bool replaced = stored.ok() && stored->has_value() && **stored != fired;
  if (ok || room->alarmRetries >= 6) {
    if (!ok) log::error("onAlarm of " + room->key.party + "/" + room->key.room +
                        " failed 7 times; the alarm is dropped");
    room->alarmRetries = 0;
    if (!replaced && stored.ok() && stored->has_value()) {
      (void)storage_->deleteAlarm(room->key);
    }
    return;
  }
  if (replaced) {
    room->alarmRetries = 0;
    return;
  }
  // At least once, as in Durable Objects: retry with exponential backoff from 2 s.
  std::int64_t backoff = 2000LL << room->alarmRetries;
  room->alarmRetries++;
  rooms_.scheduleAlarm(room->key, wallMs() + backoff);
  armAlarmTimer();
}

// ---- fetch ----------------------------------------------------------------------------------

std::uint64_t ShardRuntime::startFetch(net::FetchRequest request) {
  std::uint64_t id = nextOutbound_++;
  std::uint64_t clientId =
      httpClient_->fetch(std::move(request), [this, id](Result<net::FetchResponse> r) {
        outbound_.erase(id);
        if (stopped_) return;
        v8::Isolate* iso = engine_->isolate();
        v8::HandleScope scope(iso);
                if (!r) {
          v8::Local<v8::Value> args[] = {v8::Number::New(iso, static_cast<double>(id)),
                                         str(iso, r.error().message)};
          callEntry("fetchRejected", 0, 2, args);
          return;
        }
        v8::Local<v8::Array> headers = js::stringPairs(iso, r->headers);
        auto ab = js::newArrayBuffer(iso, r->body);
        v8::Local<v8::Value> args[] = {v8::Number::New(iso, static_cast<double>(id)),
                                       v8::Integer::NewFromUnsigned(iso, r->status),
                                       str(iso, r->statusText),
                                       headers,
                                       v8::Uint8Array::New(ab, 0, ab->ByteLength()),
                                       str(iso, r->url),
                                       v8::Boolean::New(iso, r->redirected)};
        callEntry("fetchResolved", 0, 7, args);
      });
  outbound_[id] = clientId;
  return id;
}

void ShardRuntime::abortFetch(std::uint64_t id) {
  auto it = outbound_.find(id);
  if (it != outbound_.end()) httpClient_->abort(it->second);
}

// ---- timers and logs ------------------------------------------------------------------------

void ShardRuntime::setTimer(std::uint32_t id, double delayMs) {
  auto timer = std::make_unique<asio::steady_timer>(shard_.io());
  double d = std::isfinite(delayMs) && delayMs > 0 ? delayMs : 0;
  timer->expires_after(std::chrono::microseconds(static_cast<std::int64_t>(d * 1000)));
  timer->async_wait([this, id](boost::system::error_code ec) {
    if (ec || stopped_) return;
    timers_.erase(id);
    v8::Isolate* iso = engine_->isolate();
    v8::HandleScope scope(iso);
    v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(iso, id)};
    callEntry("timer", 0, 1, args);
  });
  timers_[id] = std::move(timer);
}

void ShardRuntime::clearTimer(std::uint32_t id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  it->second->cancel();
  timers_.erase(it);
}

void ShardRuntime::log(int level, std::string_view text) {
  std::string line;
  if (party::Room* room = currentRoom_ ? rooms_.byHandle(currentRoom_) : nullptr) {
    line += '[';
    line += room->key.party;
    line += '/';
    line += room->key.room;
    line += "] ";
  }
  line += text;
  switch (level) {
    case 0: log::debug(line); break;
    case 1: log::info(line); break;
    case 2: log::warn(line); break;
    default: log::error(line); break;
  }
}

}  // namespace partyd::api
