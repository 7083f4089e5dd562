#include "api/runtime.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <malloc.h>

#include <chrono>
#include <cmath>

#include "api/crypto_natives.h"
#include "api/natives.h"
#include "api/node_natives.h"
#include "api/html_rewriter_natives.h"
#include "api/stream_natives.h"
#include "api/web_natives.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/client_address.h"

namespace partyd::api {

extern const char kRuntimeBundle[];
extern const std::size_t kRuntimeBundleSize;

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using js::str;

namespace {

std::string fullUrl(const http::Request& request) {
  auto host = request[bhttp::field::host];
  // https when the connection came through partyd's TLS (http::Session sets the header) or a
  // proxy in front says so.
  auto proto = request["x-forwarded-proto"];
  std::string url = proto == "https" ? "https://" : "http://";
  url += host.empty() ? std::string_view("localhost") : std::string_view(host.data(), host.size());
  url += std::string_view(request.target().data(), request.target().size());
  return url;
}

v8::Local<v8::Value> bodyValue(v8::Isolate* iso, std::string_view bytes) {
  if (bytes.empty()) return v8::Null(iso);
  auto ab = js::newArrayBuffer(iso, bytes);
  return v8::Uint8Array::New(ab, 0, ab->ByteLength());
}

v8::Local<v8::Value> num(v8::Isolate* iso, std::uint64_t v) {
  return v8::Number::New(iso, static_cast<double>(v));
}

v8::Local<v8::Value> u32(v8::Isolate* iso, std::uint32_t v) {
  return v8::Integer::NewFromUnsigned(iso, v);
}

}  // namespace

Runtime::Runtime(asio::io_context& io, RuntimeConfig config)
    : io_(io), config_(std::move(config)) {}

Runtime::~Runtime() {
  wsClient_.reset();
  httpClient_.reset();
  entryFns_.clear();
  fieldNames_.clear();
  entry_.Reset();
  engine_.reset();
}

// ---- start-up -------------------------------------------------------------------------------

Result<void> Runtime::start() {
  engine_ = std::make_unique<js::Engine>(
      js::Engine::Options{config_.heapLimitMb, /*shareThread=*/true});
  if (config_.onEngine) config_.onEngine(engine_.get());
  return initEngine();
}

Result<void> Runtime::initEngine() {
  js::Engine::Scope enter(*engine_);
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Object> native = v8::Object::New(iso);
  if (!installRuntimeNatives(*this, iso, ctx, native) || !installCryptoNatives(iso, ctx, native) ||
      !installWebNatives(iso, ctx, native) || !installHtmlRewriterNatives(iso, ctx, native) ||
      !installStreamNatives(iso, ctx, native) || !installNodeNatives(iso, ctx, native) ||
      ctx->Global()->Set(ctx, str(iso, "__partyd_native"), native).IsNothing()) {
    return makeError("the partyd runtime could not install its natives");
  }
  httpClient_ = std::make_unique<net::HttpClient>(io_);
  wsClient_ = std::make_unique<ws::WsClient>(io_);

  if (auto r = engine_->runScript(std::string_view(kRuntimeBundle, kRuntimeBundleSize),
                                  "partyd:runtime");
      !r) {
    return makeError("the partyd runtime failed to load: " + r.error().message);
  }
  v8::Local<v8::Value> entry;
  if (!ctx->Global()->Get(ctx, str(iso, "__partyd_entry")).ToLocal(&entry) || !entry->IsObject() ||
      ctx->Global()->Delete(ctx, str(iso, "__partyd_entry")).IsNothing()) {
    return makeError("the partyd runtime did not define its entry points");
  }
  entry_.Reset(iso, entry.As<v8::Object>());
  if (auto r = prepareCode(party::CodeBundle{config_.userBundle, config_.userBundleName,
                                             config_.envJson, config_.partyNames});
      !r) {
    return r;
  }
  commitCode();
  return {};
}

// A code update, step 1: the build's module is evaluated in the shard's context beside the one
// that serves, and the runtime checks it (each party's default export, which worker hooks exist)
// without switching to it: its parties wait as a candidate in party.js. Rooms alive keep the
// classes they were built from, so old and new code share the context (docs/design-notes.md).
// On an error the candidate is dropped and nothing else has changed.
Result<void> Runtime::prepareCode(const party::CodeBundle& next) {
  js::Engine::Scope enter(*engine_);
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Object> entry = entry_.Get(iso);
  abandonCode();
  auto fail = [&](std::string why) -> Result<void> {
    abandonCode();
    return makeError(std::move(why));
  };
  engine_->armDeadline(host_->config().handlerBudgetMs);
  // An ES module, as PartyKit's are (workerd modules): top-level await works.
  auto loaded = engine_->runModule(next.code, next.name);
  engine_->disarmDeadline();
  engine_->takeTerminated();
  if (!loaded) return fail("the party code threw while loading: " + loaded.error().message);
  {
    v8::TryCatch ignored(iso);
    iso->PerformMicrotaskCheckpoint();
  }

  v8::TryCatch tryCatch(iso);
  v8::Local<v8::Array> names = v8::Array::New(iso);
  for (uint32_t i = 0; i < next.partyNames.size(); ++i) {
    if (names->Set(ctx, i, str(iso, next.partyNames[i])).IsNothing()) {
      return fail(engine_->describeException(tryCatch));
    }
  }
  // entry.prepare(envJson, partyNames) takes the module's parties as the candidate and checks
  // each party's default export.
  v8::Local<v8::Function> prepareFn = entryFunction("prepare");
  v8::Local<v8::Value> args[] = {str(iso, next.envJson), names};
  v8::Local<v8::Value> problems;
  if (prepareFn.IsEmpty() || !prepareFn->Call(ctx, entry, 2, args).ToLocal(&problems)) {
    return fail(engine_->describeException(tryCatch));
  }
  std::string text = js::toUtf8(iso, problems);
  if (!text.empty()) return fail(text);

  // Which worker hooks the candidate defines, so requests without one skip the edge entirely.
  v8::Local<v8::Function> hookFn = entryFunction("hookInfo");
  v8::Local<v8::Value> hookArgs[] = {names};
  v8::Local<v8::Value> hookJson;
  if (hookFn.IsEmpty() || !hookFn->Call(ctx, entry, 1, hookArgs).ToLocal(&hookJson) ||
      !hookJson->IsString()) {
    return fail(engine_->describeException(tryCatch));
  }
  party::HookInfo hooks;
  v8::Local<v8::Value> parsed;
  if (v8::JSON::Parse(ctx, hookJson.As<v8::String>()).ToLocal(&parsed) && parsed->IsObject()) {
    auto flag = [&](v8::Local<v8::Object> o, const char* name) {
      v8::Local<v8::Value> v;
      return o->Get(ctx, str(iso, name)).ToLocal(&v) && v->IsTrue();
    };
    auto obj = parsed.As<v8::Object>();
    hooks.fetch = flag(obj, "fetch");
    hooks.socket = flag(obj, "socket");
    hooks.cron = flag(obj, "cron");
    v8::Local<v8::Value> partiesV;
    if (obj->Get(ctx, str(iso, "parties")).ToLocal(&partiesV) && partiesV->IsObject()) {
      for (const auto& name : next.partyNames) {
        v8::Local<v8::Value> p;
        if (!partiesV.As<v8::Object>()->Get(ctx, str(iso, name)).ToLocal(&p) || !p->IsObject()) {
          continue;
        }
        if (flag(p.As<v8::Object>(), "beforeConnect")) hooks.beforeConnect.push_back(name);
        if (flag(p.As<v8::Object>(), "beforeRequest")) hooks.beforeRequest.push_back(name);
      }
    }
  }
  candidate_ = next;
  candidateHooks_ = std::move(hooks);
  return {};
}

// Step 2: the candidate serves. Nothing here can fail: everything that could was done above.
void Runtime::commitCode() {
  if (!candidate_) return;
  js::Engine::Scope enter(*engine_);
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  if (v8::Local<v8::Function> commitFn = entryFunction("commit"); !commitFn.IsEmpty()) {
    v8::TryCatch tryCatch(iso);
    if (commitFn->Call(engine_->context(), entry_.Get(iso), 0, nullptr).IsEmpty()) {
      log::error("switching to the new code failed: " + engine_->describeException(tryCatch));
    }
  }
  config_.userBundle = std::move(candidate_->code);
  config_.userBundleName = std::move(candidate_->name);
  config_.envJson = std::move(candidate_->envJson);
  config_.partyNames = std::move(candidate_->partyNames);
  candidate_.reset();
  edge_->setPartyNames(config_.partyNames);
  edge_->setHooks(std::move(candidateHooks_));
  candidateHooks_ = {};
}

void Runtime::abandonCode() {
  candidate_.reset();
  candidateHooks_ = {};
  if (!engine_) return;
  js::Engine::Scope enter(*engine_);
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  if (v8::Local<v8::Function> abandonFn = entryFunction("abandon"); !abandonFn.IsEmpty()) {
    v8::TryCatch tryCatch(iso);
    if (abandonFn->Call(engine_->context(), entry_.Get(iso), 0, nullptr).IsEmpty()) {
      log::error("dropping a loaded build failed: " + engine_->describeException(tryCatch));
    }
  }
}

Result<void> Runtime::reload(std::string bundle, std::string bundleName, std::string envJson,
                             std::vector<std::string> partyNames) {
  return host_->updateCode(party::CodeBundle{std::move(bundle), std::move(bundleName),
                                             std::move(envJson), std::move(partyNames)});
}

void Runtime::replaceIsolate() {
  ++isolateReplacements_;
  log::error("the shard's JS heap stays over its limit after the room's reset, so the shard "
             "replaces its isolate (" + std::to_string(isolateReplacements_) +
             " times so far): every room restarts from storage; the sockets of hibernated rooms "
             "stay open, the others close with 1011");
  const std::string why = "the shard's JS heap was full; its rooms restart";
  host_->resetForNewEngine(why, 1011, 500);
  edge_->failPendingHooks(why);
  // What refers to the old isolate's JS: timers, outgoing fetches and WebSockets (their
  // destructors cancel them silently), the entry points.
  for (auto& [id, timer] : timers_) timer->cancel();
  timers_.clear();
  outbound_.clear();
  httpClient_.reset();
  wsClient_.reset();
  entryFns_.clear();
  fieldNames_.clear();
  entry_.Reset();
  runDepth_ = 0;
  engine_->replaceIsolate();
  if (auto r = initEngine(); !r) {
    // The same code loaded before; a failure now leaves the shard without code: every event
    // gets the room's start-up error.
    log::error("the new isolate could not load the project: " + r.error().message);
  }
}

void Runtime::stop() {
  stopped_ = true;
  for (auto& [id, timer] : timers_) timer->cancel();
}

// ---- runs -----------------------------------------------------------------------------------

v8::Local<v8::Function> Runtime::entryFunction(const char* name) {
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

// Runs can nest (a run's native that delivers to another room at once): the budget belongs to
// the outermost one, and a stop unwinds every level before it is taken, by the outermost. Each
// run enters this runtime's isolate (several share a shard in partyd serve); endRun leaves it.
void Runtime::beginRun(std::int64_t budgetMs) {
  engine_->isolate()->Enter();
  if (runDepth_++ == 0) engine_->armDeadline(budgetMs);
}

bool Runtime::endRun() {
  v8::Isolate* iso = engine_->isolate();
  {
    v8::TryCatch tryCatch(iso);
    iso->PerformMicrotaskCheckpoint();
  }
  if (--runDepth_ > 0) {
    iso->Exit();
    return false;
  }
  engine_->disarmDeadline();
  js::Engine::Stop stop = engine_->takeStop();
  if (stop == js::Engine::Stop::kMemory) memoryStop_ = true;
  lastStop_ = stop;
  iso->Exit();
  return stop != js::Engine::Stop::kNone;
}

std::string Runtime::stopReason(std::int64_t budgetMs) {
  if (lastStop_ == js::Engine::Stop::kMemory) {
    return "a handler filled the JS heap (its limit is " +
           std::to_string(engine_->heapLimitBytes() >> 20) + " MB per shard) and was stopped";
  }
  return party::UserCode::stopReason(budgetMs);
}

// After a run stopped at the heap limit, its room's object is gone: a full collection frees what
// it held. A heap still near the limit (the garbage is held by module state, shared by every
// room of the shard) means the isolate cannot go on: it is replaced.
void Runtime::afterRoomReset() {
  if (!memoryStop_ || stopped_) return;
  memoryStop_ = false;
  bool full;
  {
    js::Engine::Scope enter(*engine_);
    engine_->isolate()->LowMemoryNotification();
    const std::size_t used = engine_->usedHeapBytes();
    const std::size_t limit = engine_->heapLimitBytes();
    log::warn("after the stopped room's reset the shard's JS heap holds " +
              std::to_string(used >> 20) + " MB of its " + std::to_string(limit >> 20) + " MB");
    full = used > limit / 10 * 8;
  }
  // Outside the old isolate's scope: replacing disposes of it.
  if (full) replaceIsolate();
}

// A stopped run leaves the AsyncLocalStorage context it was in as the current one.
void Runtime::afterTimeout() {
  js::Engine::Scope enter(*engine_);
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  if (v8::Local<v8::Function> reset = entryFunction("asyncContextReset"); !reset.IsEmpty()) {
    v8::TryCatch tryCatch(iso);
    if (reset->Call(engine_->context(), entry_.Get(iso), 0, nullptr).IsEmpty()) {
      log::error("resetting the async context after a stopped handler failed: " +
                 engine_->describeException(tryCatch));
    }
  }
}

// V8's own tasks for this thread: GC steps and the memory reducer, and a few that run user code.
void Runtime::runTasks() {
  js::Engine::Scope enter(*engine_);
  v8::HandleScope scope(engine_->isolate());
  engine_->runPendingTasks();
}

void Runtime::releaseMemory() {
  js::Engine::Scope enter(*engine_);
  engine_->isolate()->LowMemoryNotification();
  malloc_trim(0);
}

void Runtime::callEntry(const char* name, int argc, v8::Local<v8::Value>* argv) {
  v8::Isolate* iso = engine_->isolate();
  v8::Local<v8::Function> fn = entryFunction(name);
  if (fn.IsEmpty()) return;
  v8::TryCatch tryCatch(iso);
  if (fn->Call(engine_->context(), entry_.Get(iso), argc, argv).IsEmpty() &&
      !tryCatch.HasTerminated()) {
    log(3, engine_->describeException(tryCatch));
  }
}

void Runtime::runEntry(const char* name, int argc, v8::Local<v8::Value>* argv) {
  host_->turn().run(0, [&] { callEntry(name, argc, argv); });
}

// ---- events ---------------------------------------------------------------------------------

void Runtime::createRoom(const party::Room& room, std::optional<party::RestoredSockets> restore) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Value> restoreValue = v8::Undefined(iso);
  if (restore) {
    v8::Local<v8::Array> list = v8::Array::New(iso);
    uint32_t i = 0;
    for (auto& [conn, stash] : *restore) {
      v8::Local<v8::Value> meta;
      if (!engine_->deserialize(stash).ToLocal(&meta)) continue;
      v8::Local<v8::Value> pair[] = {num(iso, conn), meta};
      if (list->Set(ctx, i++, v8::Array::New(iso, pair, 2)).IsNothing()) break;
    }
    restoreValue = list;
  }
  v8::Local<v8::Value> args[] = {u32(iso, room.handle), str(iso, room.key.party),
                                 str(iso, room.key.room), restoreValue};
  callEntry("createRoom", 4, args);
}

void Runtime::dropRoom(std::uint32_t room) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {u32(iso, room)};
  callEntry("destroyRoom", 1, args);
  traceAlarmDone(room, false);  // an alarm the room did not finish
}

void Runtime::connect(const party::Room& room, std::uint64_t conn, std::string_view id,
                      const http::Request& request) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {u32(iso, room.handle), num(iso, conn), str(iso, id),
                                 str(iso, fullUrl(request)), headerBlock(request),
                                 str(iso, geo(request))};
  callEntry("connect", 6, args);
}

void Runtime::message(const party::Room& room, std::uint64_t conn, ws::Opcode op,
                      std::string_view payload) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> data;
  if (op == ws::Opcode::kText) {
    v8::Local<v8::String> text;
    if (!v8::String::NewFromUtf8(iso, payload.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(payload.size()))
             .ToLocal(&text)) {
      log(3, "a text message too large for a JS string was dropped");
      return;
    }
    data = text;
  } else {
    data = js::newArrayBuffer(iso, payload);
  }
  v8::Local<v8::Value> args[] = {u32(iso, room.handle), num(iso, conn), data};
  callEntry("message", 3, args);
}

void Runtime::close(const party::Room& room, std::uint64_t conn, std::uint16_t code,
                    std::string_view reason, bool clean) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {u32(iso, room.handle), num(iso, conn), u32(iso, code),
                                 str(iso, reason), v8::Boolean::New(iso, clean)};
  callEntry("close", 5, args);
}

// A socket's headers as one string, "name\0value\0name\0value" (names lower-cased): party
// code reads them only if it reads ctx.request, which most onConnect never do, so the pairs are
// made then (party.js). One string here instead of an array and a string per header:
// headerArray was 5% of the CPU of a new room (W2). A NUL cannot arrive in a header (the parser
// answers 400 to one), but should one ever get here, the pairs are made as before.
v8::Local<v8::Value> Runtime::headerBlock(const http::Request& request) {
  std::string block;
  block.reserve(512);
  for (const auto& field : request) {
    std::string_view name(field.name_string().data(), field.name_string().size());
    std::string_view value(field.value().data(), field.value().size());
    if (name.find('\0') != std::string_view::npos || value.find('\0') != std::string_view::npos) {
      return headerArray(request);
    }
    if (!block.empty()) block += '\0';
    for (char c : name) block += asciiLower(c);
    block += '\0';
    block.append(value);
  }
  return str(engine_->isolate(), block);
}

v8::Local<v8::Array> Runtime::headerArray(const http::Request& request) {
  // Arrays made whole from their elements: a Set per element goes through V8's slow API path.
  // Names are lower-cased (as Headers keeps them) and internalized, so V8 compares them by
  // pointer; a name Beast knows is made once per isolate, the rest on each request.
  v8::Isolate* iso = engine_->isolate();
  std::vector<v8::Local<v8::Value>> pairs;
  pairs.reserve(16);
  std::string name;
  for (const auto& field : request) {
    v8::Local<v8::String> key;
    const auto known = static_cast<std::size_t>(field.name());
    if (known != 0 && known < fieldNames_.size() && !fieldNames_[known].IsEmpty()) {
      key = fieldNames_[known].Get(iso);
    } else {
      name.assign(field.name_string().data(), field.name_string().size());
      for (char& c : name) c = asciiLower(c);
      if (!v8::String::NewFromUtf8(iso, name.data(), v8::NewStringType::kInternalized,
                                   static_cast<int>(name.size()))
               .ToLocal(&key)) {
        key = str(iso, name);
      } else if (known != 0) {
        if (fieldNames_.size() <= known) fieldNames_.resize(known + 1);
        fieldNames_[known].Set(iso, key);
      }
    }
    v8::Local<v8::Value> pair[] = {
        key, str(iso, std::string_view(field.value().data(), field.value().size()))};
    pairs.push_back(v8::Array::New(iso, pair, 2));
  }
  return v8::Array::New(iso, pairs.data(), pairs.size());
}

void Runtime::request(const party::Room& room, std::uint64_t req, const http::Request& request) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  std::string_view method(request.method_string().data(), request.method_string().size());
  v8::Local<v8::Value> args[] = {u32(iso, room.handle),       num(iso, req),
                                 str(iso, method),            str(iso, fullUrl(request)),
                                 headerArray(request),   bodyValue(iso, request.body()),
                                 str(iso, geo(request))};
  callEntry("request", 7, args);
}

// request.cf's geography (GeoIp::lookup's JSON) for the client address in cf-connecting-ip, which
// the edge sets when --geoip is given; "" (the placeholder) without --geoip or a known address.
// The last answer is kept: a request with a worker hook is looked up once when its room is on
// the hook's shard, and a client's next requests on the same shard are free.
const std::string& Runtime::geo(std::string_view clientIp) {
  static const std::string kNone;
  if (!config_.geoip || clientIp.empty()) return kNone;
  if (clientIp == lastGeoIp_) return lastGeo_;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(clientIp), ec);
  if (ec) return kNone;
  lastGeo_ = config_.geoip->lookup(net::unmapped(address));
  lastGeoIp_ = clientIp;
  return lastGeo_;
}

const std::string& Runtime::geo(const http::Request& request) {
  if (!config_.geoip) return geo(std::string_view());
  auto ip = request["cf-connecting-ip"];
  return geo(std::string_view(ip.data(), ip.size()));
}

// A party stub's fetch() carries request.cf only through the headers its caller passed on.
const std::string& Runtime::internalGeo(const party::InternalRequest& request) {
  if (config_.geoip) {
    for (const auto& [name, value] : request.headers) {
      if (boost::beast::iequals(name, "cf-connecting-ip")) return geo(value);
    }
  }
  return geo(std::string_view());
}

void Runtime::request(const party::Room& room, std::uint64_t req,
                      const party::InternalRequest& request) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {u32(iso, room.handle),
                                 num(iso, req),
                                 str(iso, request.method),
                                 str(iso, request.url),
                                 js::stringPairs(iso, request.headers),
                                 bodyValue(iso, request.body),
                                 str(iso, internalGeo(request))};
  callEntry("request", 7, args);
}

void Runtime::alarm(const party::Room& room, std::uint32_t retries) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {u32(iso, room.handle), u32(iso, retries)};
  if (config_.onTrace) {
    ScheduledTrace t;
    t.where = room.key.party + "/" + room.key.room;
    t.scheduledTimeMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    alarmTraces_[room.handle] = std::move(t);
  }
  callEntry("alarm", 2, args);
}

void Runtime::hibernate(const party::Room& room, party::HibernateMode mode) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Value> args[] = {u32(iso, room.handle), u32(iso, static_cast<std::uint32_t>(mode))};
  callEntry("hibernate", 2, args);
}

std::vector<party::PeekedSocket> Runtime::peekConnections(const party::Room& room) {
  std::vector<party::PeekedSocket> out;
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  v8::Local<v8::Context> ctx = engine_->context();
  v8::Local<v8::Function> fn = entryFunction("peekConnections");
  if (fn.IsEmpty()) return out;
  v8::TryCatch tryCatch(iso);
  v8::Local<v8::Value> args[] = {u32(iso, room.handle)};
  v8::Local<v8::Value> result;
  if (!fn->Call(ctx, entry_.Get(iso), 1, args).ToLocal(&result) || !result->IsArray()) return out;
  v8::Local<v8::Array> list = result.As<v8::Array>();
  // [handle, [id, uri, tags, state, attachment], handle, ...]
  for (uint32_t i = 0; i + 1 < list->Length(); i += 2) {
    v8::Local<v8::Value> handle, item;
    if (!list->Get(ctx, i).ToLocal(&handle) || !handle->IsNumber() ||
        !list->Get(ctx, i + 1).ToLocal(&item)) {
      break;
    }
    party::PeekedSocket socket;
    socket.conn = static_cast<std::uint64_t>(handle.As<v8::Number>()->Value());
    if (auto bytes = engine_->serialize(item)) {
      socket.bytes = std::move(*bytes);
    } else {
      socket.error = bytes.error().message;
    }
    out.push_back(std::move(socket));
  }
  return out;
}

void Runtime::edge(std::uint64_t call, const party::EdgeCall& hook) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  const http::Request& request = hook.request;
  std::string_view method(request.method_string().data(), request.method_string().size());
  if (config_.onTrace && std::string_view(hook.kind) == "cron") {
    ScheduledTrace t;
    t.cron = true;
    t.cronName = std::string(hook.room);
    t.cronExpr = std::string(hook.extra);
    t.scheduledTimeMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    cronTraces_[call] = std::move(t);
  }
  v8::Local<v8::Value> args[] = {num(iso, call),
                                 str(iso, hook.kind),
                                 str(iso, hook.party),
                                 str(iso, hook.room),
                                 str(iso, method),
                                 str(iso, fullUrl(request)),
                                 headerArray(request),
                                 bodyValue(iso, request.body()),
                                 str(iso, hook.extra),
                                 str(iso, geo(request))};
  callEntry("edge", 10, args);
}

void Runtime::partyFetchDone(std::uint64_t call, const http::Response& response) {
  v8::Isolate* iso = engine_->isolate();
  v8::HandleScope scope(iso);
  auto ab = js::newArrayBuffer(iso, response.body);
  v8::Local<v8::Value> args[] = {num(iso, call), u32(iso, response.status),
                                 js::stringPairs(iso, response.headers),
                                 v8::Uint8Array::New(ab, 0, ab->ByteLength())};
  callEntry("fetchDone", 4, args);
}

// ---- outgoing fetch and WebSockets ----------------------------------------------------------

std::uint64_t Runtime::startFetch(net::FetchRequest request) {
  std::uint64_t id = nextOutbound_++;
  std::uint64_t clientId =
      httpClient_->fetch(std::move(request), [this, id](Result<net::FetchResponse> r) {
        outbound_.erase(id);
        if (stopped_) return;
        js::Engine::Scope enter(*engine_);
        v8::Isolate* iso = engine_->isolate();
        v8::HandleScope scope(iso);
        if (!r) {
          v8::Local<v8::Value> args[] = {num(iso, id), str(iso, r.error().message)};
          runEntry("fetchRejected", 2, args);
          return;
        }
        auto ab = js::newArrayBuffer(iso, r->body);
        v8::Local<v8::Value> args[] = {num(iso, id),
                                       u32(iso, r->status),
                                       str(iso, r->statusText),
                                       js::stringPairs(iso, r->headers),
                                       v8::Uint8Array::New(ab, 0, ab->ByteLength()),
                                       str(iso, r->url),
                                       v8::Boolean::New(iso, r->redirected)};
        runEntry("fetchResolved", 7, args);
      });
  outbound_[id] = clientId;
  return id;
}

void Runtime::abortFetch(std::uint64_t id) {
  auto it = outbound_.find(id);
  if (it != outbound_.end()) httpClient_->abort(it->second);
}

void Runtime::deliverWsEvent(const char* name, int argc, v8::Local<v8::Value>* argv) {
  if (!stopped_) runEntry(name, argc, argv);
}

// ---- timers and logs ------------------------------------------------------------------------

void Runtime::setTimer(std::uint32_t id, double delayMs) {
  auto timer = std::make_unique<asio::steady_timer>(io_);
  double d = std::isfinite(delayMs) && delayMs > 0 ? delayMs : 0;
  timer->expires_after(std::chrono::microseconds(static_cast<std::int64_t>(d * 1000)));
  timer->async_wait([this, id](boost::system::error_code ec) {
    if (ec || stopped_) return;
    timers_.erase(id);
    js::Engine::Scope enter(*engine_);
    v8::Isolate* iso = engine_->isolate();
    v8::HandleScope scope(iso);
    v8::Local<v8::Value> args[] = {u32(iso, id)};
    runEntry("timer", 1, args);
  });
  timers_[id] = std::move(timer);
}

void Runtime::clearTimer(std::uint32_t id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  it->second->cancel();
  timers_.erase(it);
}

void Runtime::log(int level, std::string_view text) {
  std::string line;
  std::uint32_t current = host_->turn().room();
  if (party::Room* room = current ? host_->findRoom(current) : nullptr) {
    line += '[';
    line += room->key.party;
    line += '/';
    line += room->key.room;
    line += "] ";
  }
  ScheduledTrace* trace = nullptr;
  if (auto it = current ? alarmTraces_.find(current) : alarmTraces_.end();
      it != alarmTraces_.end()) {
    trace = &it->second;
  } else if (!current && !cronTraces_.empty()) {
    trace = &cronTraces_.begin()->second;
  }
  if (trace) {
    trace->logs.emplace_back(level, std::string(text));
  } else if (config_.onLog) {
    config_.onLog(level, line.size() > 3 ? std::string_view(line).substr(1, line.size() - 3)
                                         : std::string_view(),
                  text);
  }
  line += text;
  switch (level) {
    case 0: log::debug(line); break;
    case 1: log::info(line); break;
    case 2: log::warn(line); break;
    default: log::error(line); break;
  }
}

void Runtime::traceAlarmDone(std::uint32_t room, bool ok) {
  auto it = alarmTraces_.find(room);
  if (it == alarmTraces_.end()) return;
  ScheduledTrace t = std::move(it->second);
  alarmTraces_.erase(it);
  t.ok = ok;
  if (config_.onTrace) config_.onTrace(std::move(t));
}

void Runtime::traceEdgeDone(std::uint64_t call, unsigned status) {
  auto it = cronTraces_.find(call);
  if (it == cronTraces_.end()) return;
  ScheduledTrace t = std::move(it->second);
  cronTraces_.erase(it);
  t.ok = status < 500;
  if (config_.onTrace) config_.onTrace(std::move(t));
}

}  // namespace partyd::api
