// The natives behind the JS runtime (src/api/js): what `native.*` means in index.js, party.js,
// storage.js and web/. Each one validates its arguments and throws a JS error itself; no C++
// exception crosses into V8. Storage limits and messages follow Durable Objects.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "api/shard_runtime.h"
#include "base/random.h"
#include "js/engine.h"
#include "ws/utf8.h"

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Local;
using v8::Value;

namespace {

constexpr std::size_t kMaxKeyBytes = 2048;
constexpr std::size_t kMaxValueBytes = 128 * 1024;
constexpr std::size_t kMaxKeysPerCall = 128;

ShardRuntime* self(const FunctionCallbackInfo<Value>& info) {
  return static_cast<ShardRuntime*>(info.Data().As<v8::External>()->Value());
}

void throwType(v8::Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::TypeError(str(iso, msg)));
}
void throwError(v8::Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::Error(str(iso, msg)));
}
void throwRange(v8::Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::RangeError(str(iso, msg)));
}

std::uint64_t handleArg(const FunctionCallbackInfo<Value>& info, int i) {
  if (info.Length() <= i || !info[i]->IsNumber()) return 0;
  return static_cast<std::uint64_t>(info[i].As<v8::Number>()->Value());
}

// Room of a storage call (argument 0), or null with a JS error thrown.
party::Room* roomArg(const FunctionCallbackInfo<Value>& info) {
  party::Room* room = self(info)->findRoom(static_cast<std::uint32_t>(handleArg(info, 0)));
  if (!room) throwError(info.GetIsolate(), "this room is no longer active (it was evicted)");
  return room;
}

bool keyArg(v8::Isolate* iso, Local<Value> v, std::string* out) {
  if (!v->IsString()) {
    throwType(iso, "Keys must be strings.");
    return false;
  }
  *out = js::toUtf8(iso, v);
  if (out->size() > kMaxKeyBytes) {
    throwRange(iso, "Keys cannot be larger than 2048 bytes. A key of size " +
                        std::to_string(out->size()) + " was provided.");
    return false;
  }
  return true;
}

bool keysArg(v8::Isolate* iso, Local<Value> v, std::vector<std::string>* out) {
  if (!v->IsArray()) {
    throwType(iso, "Expected an array of keys.");
    return false;
  }
  auto arr = v.As<v8::Array>();
  if (arr->Length() > kMaxKeysPerCall) {
    throwRange(iso, "Maximum number of key value pairs is 128. " +
                        std::to_string(arr->Length()) + " pairs were provided.");
    return false;
  }
  Local<v8::Context> ctx = iso->GetCurrentContext();
  for (uint32_t i = 0; i < arr->Length(); ++i) {
    std::string key;
    Local<Value> item;
    if (!arr->Get(ctx, i).ToLocal(&item) || !keyArg(iso, item, &key)) return false;
    out->push_back(std::move(key));
  }
  return true;
}

bool valueArg(ShardRuntime* rt, v8::Isolate* iso, Local<Value> v, std::string* out) {
  if (v->IsUndefined()) {
    throwType(iso, "put() called with undefined value.");
    return false;
  }
  auto bytes = rt->engine()->serialize(v);
  if (!bytes) {
    iso->ThrowException(v8::Exception::Error(str(iso, bytes.error().message)));
    return false;
  }
  if (bytes->size() > kMaxValueBytes) {
    throwRange(iso, "Values cannot be larger than 131072 bytes. A value of size " +
                        std::to_string(bytes->size()) + " was provided.");
    return false;
  }
  *out = std::move(*bytes);
  return true;
}

Local<Value> decode(ShardRuntime* rt, v8::Isolate* iso, const std::string& bytes) {
  Local<Value> v;
  if (!rt->engine()->deserialize(bytes).ToLocal(&v)) {
    throwError(iso, "a stored value could not be read back (corrupt or from an incompatible V8)");
    return {};
  }
  return v;
}

template <typename T>
bool check(v8::Isolate* iso, const Result<T>& r) {
  if (r.ok()) return true;
  throwError(iso, "storage error: " + r.error().message);
  return false;
}

Local<v8::Array> entriesToJs(ShardRuntime* rt, v8::Isolate* iso,
                             const std::vector<storage::Entry>& entries) {
  Local<v8::Context> ctx = iso->GetCurrentContext();
  Local<v8::Array> out = v8::Array::New(iso, static_cast<int>(entries.size()));
  for (uint32_t i = 0; i < entries.size(); ++i) {
    Local<Value> value = decode(rt, iso, entries[i].second);
    if (value.IsEmpty()) return {};
    Local<Value> pair[] = {str(iso, entries[i].first), value};
    (void)out->Set(ctx, i, v8::Array::New(iso, pair, 2));
  }
  return out;
}

// The frame for a send or broadcast: text for strings, binary for buffers.
bool frameArg(v8::Isolate* iso, Local<Value> v, ws::Frame* out) {
  if (v->IsString()) {
    std::string text = js::toUtf8(iso, v);
    *out = ws::makeFrame(ws::Opcode::kText, text);
    return true;
  }
  std::string_view bytes;
  if (js::bufferBytes(v, &bytes)) {
    *out = ws::makeFrame(ws::Opcode::kBinary, bytes);
    return true;
  }
  throwType(iso, "send() takes a string, an ArrayBuffer or an ArrayBufferView");
  return false;
}

// ---- the natives ----------------------------------------------------------------------------

void nAccept(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  auto code = static_cast<std::uint16_t>(handleArg(info, 1));
  self(info)->accept(handleArg(info, 0), code, js::toUtf8(iso, info[2]));
}

std::vector<std::pair<std::string, std::string>> headerPairs(v8::Isolate* iso, Local<Value> v) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!v->IsArray()) return out;
  Local<v8::Context> ctx = iso->GetCurrentContext();
  auto arr = v.As<v8::Array>();
  for (uint32_t i = 0; i < arr->Length(); ++i) {
    Local<Value> pair, k, val;
    if (!arr->Get(ctx, i).ToLocal(&pair) || !pair->IsArray()) continue;
    if (!pair.As<v8::Array>()->Get(ctx, 0).ToLocal(&k)) continue;
    if (!pair.As<v8::Array>()->Get(ctx, 1).ToLocal(&val)) continue;
    out.emplace_back(js::toUtf8(iso, k), js::toUtf8(iso, val));
  }
  return out;
}

std::string bodyBytes(v8::Isolate* iso, Local<Value> v) {
  std::string_view bytes;
  if (v->IsString()) return js::toUtf8(iso, v);
  if (js::bufferBytes(v, &bytes)) return std::string(bytes);
  return {};
}

void nRespond(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  http::Response r;
  r.status = static_cast<unsigned>(handleArg(info, 1));
  r.headers = headerPairs(iso, info[2]);
  r.body = bodyBytes(iso, info[3]);
  self(info)->respond(handleArg(info, 0), std::move(r));
}

void nSend(const FunctionCallbackInfo<Value>& info) {
  auto* entry = self(info)->findConn(handleArg(info, 0));
  ws::Frame frame;
  if (!frameArg(info.GetIsolate(), info[1], &frame) || !entry) return;
  entry->conn->send(frame);
}

void nBroadcast(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  party::Room* room = self(info)->findRoom(static_cast<std::uint32_t>(handleArg(info, 0)));
  ws::Frame frame;
  if (!frameArg(iso, info[1], &frame) || !room) return;
  std::vector<std::uint64_t> exclude;
  if (info[2]->IsArray()) {
    auto arr = info[2].As<v8::Array>();
    Local<v8::Context> ctx = iso->GetCurrentContext();
    for (uint32_t i = 0; i < arr->Length(); ++i) {
      Local<Value> v;
      if (arr->Get(ctx, i).ToLocal(&v) && v->IsNumber()) {
        exclude.push_back(static_cast<std::uint64_t>(v.As<v8::Number>()->Value()));
      }
    }
  }
  // One encoding, shared by every socket of the room.
  for (auto& [handle, conn] : room->connections) {
    if (!exclude.empty() && std::find(exclude.begin(), exclude.end(), handle) != exclude.end()) {
      continue;
    }
    conn->send(frame);
  }
}

void nClose(const FunctionCallbackInfo<Value>& info) {
  auto* entry = self(info)->findConn(handleArg(info, 0));
  if (!entry) return;
  entry->conn->close(static_cast<std::uint16_t>(handleArg(info, 1)),
                     js::toUtf8(info.GetIsolate(), info[2]));
}

void nAlarmDone(const FunctionCallbackInfo<Value>& info) {
  self(info)->alarmDone(static_cast<std::uint32_t>(handleArg(info, 0)), info[1]->IsTrue());
}

void nGet(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  std::string key;
  if (!room || !keyArg(iso, info[1], &key)) return;
  auto r = rt->storage().get(room->key, key);
  if (!check(iso, r)) return;
  if (!r->has_value()) return;  // undefined
  Local<Value> v = decode(rt, iso, **r);
  if (!v.IsEmpty()) info.GetReturnValue().Set(v);
}

void nGetMany(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  std::vector<std::string> keys;
  if (!room || !keysArg(iso, info[1], &keys)) return;
  auto r = rt->storage().getMany(room->key, keys);
  if (!check(iso, r)) return;
  Local<v8::Array> out = entriesToJs(rt, iso, *r);
  if (!out.IsEmpty()) info.GetReturnValue().Set(out);
}

void nPut(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  std::string key, value;
  if (!room || !keyArg(iso, info[1], &key) || !valueArg(rt, iso, info[2], &value)) return;
  check(iso, rt->storage().put(room->key, key, value));
}

void nPutMany(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  if (!info[1]->IsArray()) return throwType(iso, "put() takes an object of entries");
  Local<v8::Context> ctx = iso->GetCurrentContext();
  auto arr = info[1].As<v8::Array>();
  // Validate everything first, so a bad entry writes nothing.
  std::vector<std::pair<std::string, std::string>> entries;
  for (uint32_t i = 0; i < arr->Length(); ++i) {
    Local<Value> pair, k, v;
    if (!arr->Get(ctx, i).ToLocal(&pair) || !pair->IsArray()) return;
    if (!pair.As<v8::Array>()->Get(ctx, 0).ToLocal(&k)) return;
    if (!pair.As<v8::Array>()->Get(ctx, 1).ToLocal(&v)) return;
    std::string key, value;
    if (!keyArg(iso, k, &key) || !valueArg(rt, iso, v, &value)) return;
    entries.emplace_back(std::move(key), std::move(value));
  }
  for (auto& [key, value] : entries) {
    if (!check(iso, rt->storage().put(room->key, key, value))) return;
  }
}

void nDelete(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  std::string key;
  if (!room || !keyArg(iso, info[1], &key)) return;
  auto r = rt->storage().del(room->key, key);
  if (check(iso, r)) info.GetReturnValue().Set(*r);
}

void nDeleteMany(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  std::vector<std::string> keys;
  if (!room || !keysArg(iso, info[1], &keys)) return;
  int count = 0;
  for (const auto& key : keys) {
    auto r = rt->storage().del(room->key, key);
    if (!check(iso, r)) return;
    if (*r) ++count;
  }
  info.GetReturnValue().Set(count);
}

void nList(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  storage::ListOptions o;
  auto opt = [&](int i, std::optional<std::string>* out) {
    if (info[i]->IsUndefined() || info[i]->IsNull()) return true;
    std::string s;
    if (!keyArg(iso, info[i], &s)) return false;
    *out = std::move(s);
    return true;
  };
  if (!opt(1, &o.start) || !opt(2, &o.startAfter) || !opt(3, &o.end) || !opt(4, &o.prefix)) return;
  o.reverse = info[5]->IsTrue();
  double limit = info[6]->IsNumber() ? info[6].As<v8::Number>()->Value() : 0;
  if (limit > 0) o.limit = static_cast<std::uint32_t>(std::min(limit, 4294967295.0));
  auto r = rt->storage().list(room->key, o);
  if (!check(iso, r)) return;
  Local<v8::Array> out = entriesToJs(rt, iso, *r);
  if (!out.IsEmpty()) info.GetReturnValue().Set(out);
}

void nDeleteAll(const FunctionCallbackInfo<Value>& info) {
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  if (room) check(info.GetIsolate(), rt->storage().deleteAll(room->key));
}

void nGetAlarm(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  auto r = rt->storage().getAlarm(room->key);
  if (!check(iso, r)) return;
  if (r->has_value()) {
    info.GetReturnValue().Set(v8::Number::New(iso, static_cast<double>(**r)));
  } else {
    info.GetReturnValue().SetNull();
  }
}

void nSetAlarm(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  auto time = static_cast<std::int64_t>(info[1].As<v8::Number>()->Value());
  if (check(iso, rt->storage().setAlarm(room->key, time))) rt->setAlarm(*room, time);
}

void nDeleteAlarm(const FunctionCallbackInfo<Value>& info) {
  ShardRuntime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  if (check(info.GetIsolate(), rt->storage().deleteAlarm(room->key))) rt->deleteAlarm(*room);
}

// ---- web platform natives -------------------------------------------------------------------

void nUtf8Encode(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Local<v8::String> s;
  if (!info[0]->ToString(iso->GetCurrentContext()).ToLocal(&s)) return;
  int len = s->Utf8Length(iso);
  auto ab = v8::ArrayBuffer::New(iso, static_cast<std::size_t>(len));
  s->WriteUtf8(iso, static_cast<char*>(ab->Data()), len, nullptr,
               v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  info.GetReturnValue().Set(v8::Uint8Array::New(ab, 0, static_cast<std::size_t>(len)));
}

void nUtf8EncodeInto(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Local<v8::String> s;
  if (!info[0]->ToString(iso->GetCurrentContext()).ToLocal(&s)) return;
  if (!info[1]->IsUint8Array()) return throwType(iso, "encodeInto() needs a Uint8Array");
  auto view = info[1].As<v8::Uint8Array>();
  char* dst = static_cast<char*>(view->Buffer()->Data()) + view->ByteOffset();
  int read = 0;
  int written = s->WriteUtf8(iso, dst, static_cast<int>(view->ByteLength()), &read,
                             v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  Local<Value> pair[] = {v8::Integer::New(iso, read), v8::Integer::New(iso, written)};
  info.GetReturnValue().Set(v8::Array::New(iso, pair, 2));
}

void nUtf8Decode(const FunctionCallbackInfo<Value>& info);  // in text_natives below

void nSerialize(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  auto bytes = self(info)->engine()->serialize(info[0]);
  if (!bytes) {
    Local<Value> err = v8::Exception::Error(str(iso, bytes.error().message));
    (void)err.As<v8::Object>()->Set(iso->GetCurrentContext(), str(iso, "name"),
                                    str(iso, "DataCloneError"));
    iso->ThrowException(err);
    return;
  }
  info.GetReturnValue().Set(js::newArrayBuffer(iso, *bytes));
}

void nDeserialize(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  std::string_view bytes;
  if (!js::bufferBytes(info[0], &bytes)) return throwType(iso, "deserialize() needs a buffer");
  Local<Value> v;
  if (self(info)->engine()->deserialize(bytes).ToLocal(&v)) info.GetReturnValue().Set(v);
}

void nRandomFill(const FunctionCallbackInfo<Value>& info) {
  std::string_view bytes;
  if (!js::bufferBytes(info[0], &bytes)) return throwType(info.GetIsolate(), "expected a buffer");
  randomBytes(const_cast<char*>(bytes.data()), bytes.size());
}

void nRandomUUID(const FunctionCallbackInfo<Value>& info) {
  info.GetReturnValue().Set(str(info.GetIsolate(), randomUuid()));
}

void nNow(const FunctionCallbackInfo<Value>& info) {
  static const auto kStart = std::chrono::steady_clock::now();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - kStart)
                  .count();
  info.GetReturnValue().Set(ms);
}

void nLog(const FunctionCallbackInfo<Value>& info) {
  self(info)->log(static_cast<int>(handleArg(info, 0)), js::toUtf8(info.GetIsolate(), info[1]));
}

void nSetTimer(const FunctionCallbackInfo<Value>& info) {
  double delay = info[1]->IsNumber() ? info[1].As<v8::Number>()->Value() : 0;
  self(info)->setTimer(static_cast<std::uint32_t>(handleArg(info, 0)), delay);
}

void nClearTimer(const FunctionCallbackInfo<Value>& info) {
  self(info)->clearTimer(static_cast<std::uint32_t>(handleArg(info, 0)));
}

void nQueueMicrotask(const FunctionCallbackInfo<Value>& info) {
  if (!info[0]->IsFunction()) return throwType(info.GetIsolate(), "queueMicrotask needs a function");
  info.GetIsolate()->EnqueueMicrotask(info[0].As<v8::Function>());
}

// edgeDone(handle, action, statusOrUrl, headers, body, method)
void nEdgeDone(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  EdgeResult r;
  r.action = static_cast<EdgeResult::Action>(handleArg(info, 1));
  if (r.action == EdgeResult::kRespond) {
    r.response.status = static_cast<unsigned>(handleArg(info, 2));
    r.response.headers = headerPairs(iso, info[3]);
    r.response.body = bodyBytes(iso, info[4]);
  } else if (r.action == EdgeResult::kRewrite) {
    r.url = js::toUtf8(iso, info[2]);
    r.headers = headerPairs(iso, info[3]);
    if (!info[4]->IsNull() && !info[4]->IsUndefined()) r.body = bodyBytes(iso, info[4]);
    if (info[5]->IsString()) r.method = js::toUtf8(iso, info[5]);
  }
  self(info)->edgeDone(handleArg(info, 0), std::move(r));
}

// partyFetch(party, room, method, url, headers, body) -> handle
void nPartyFetch(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  http::PartyRoute route{js::toUtf8(iso, info[0]), js::toUtf8(iso, info[1])};
  InternalRequest req;
  req.method = js::toUtf8(iso, info[2]);
  req.url = js::toUtf8(iso, info[3]);
  req.headers = headerPairs(iso, info[4]);
  if (!info[5]->IsNull() && !info[5]->IsUndefined()) req.body = bodyBytes(iso, info[5]);
  std::uint64_t handle = self(info)->partyFetch(route, std::move(req));
  info.GetReturnValue().Set(v8::Number::New(iso, static_cast<double>(handle)));
}

// assetFetch(path) -> [status, headers, body] | null
void nAssetFetch(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  const http::StaticFiles* assets = self(info)->assets();
  info.GetReturnValue().SetNull();
  if (!assets) return;
  auto hit = assets->serveFile(js::toUtf8(iso, info[0]));
  if (!hit) return;
  Local<v8::Array> headers = js::stringPairs(iso, hit->headers);
  auto ab = js::newArrayBuffer(iso, hit->body);
  Local<Value> out[] = {v8::Integer::NewFromUnsigned(iso, hit->status), headers,
                        v8::Uint8Array::New(ab, 0, ab->ByteLength())};
  info.GetReturnValue().Set(v8::Array::New(iso, out, 3));
}

// fetch(method, url, headers, body, redirect) -> id
void nFetch(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  net::FetchRequest req;
  req.method = js::toUtf8(iso, info[0]);
  req.url = js::toUtf8(iso, info[1]);
  req.headers = headerPairs(iso, info[2]);
  if (!info[3]->IsNull() && !info[3]->IsUndefined()) req.body = bodyBytes(iso, info[3]);
  std::string redirect = js::toUtf8(iso, info[4]);
  if (redirect == "manual") req.redirect = net::FetchRequest::Redirect::kManual;
  if (redirect == "error") req.redirect = net::FetchRequest::Redirect::kError;
  std::uint64_t id = self(info)->startFetch(std::move(req));
  info.GetReturnValue().Set(v8::Number::New(iso, static_cast<double>(id)));
}

void nFetchAbort(const FunctionCallbackInfo<Value>& info) {
  self(info)->abortFetch(handleArg(info, 0));
}

// wsConnect(url, protocols, headers) -> id; events come back as entry.wsOpen/wsMessage/...
void nWsConnect(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ShardRuntime* rt = self(info);
  std::string url = js::toUtf8(iso, info[0]);
  std::vector<std::string> protocols;
  if (info[1]->IsArray()) {
    auto arr = info[1].As<v8::Array>();
    Local<v8::Context> ctx = iso->GetCurrentContext();
    for (uint32_t i = 0; i < arr->Length(); ++i) {
      Local<Value> v;
      if (arr->Get(ctx, i).ToLocal(&v)) protocols.push_back(js::toUtf8(iso, v));
    }
  }
  auto idBox = std::make_shared<std::uint64_t>(0);
  auto num = [iso](std::uint64_t v) { return v8::Number::New(iso, static_cast<double>(v)); };
  ws::WsClient::Events events;
  events.onOpen = [rt, idBox, num](std::string protocol) {
    v8::Isolate* i = rt->engine()->isolate();
    v8::HandleScope scope(i);
    Local<Value> args[] = {num(*idBox), str(i, protocol)};
    rt->deliverWsEvent("wsOpen", 2, args);
  };
  events.onMessage = [rt, idBox, num](bool binary, std::string data) {
    v8::Isolate* i = rt->engine()->isolate();
    v8::HandleScope scope(i);
    Local<Value> payload = binary ? Local<Value>(js::newArrayBuffer(i, data))
                                  : Local<Value>(str(i, data));
    Local<Value> args[] = {num(*idBox), v8::Boolean::New(i, binary), payload};
    rt->deliverWsEvent("wsMessage", 3, args);
  };
  events.onError = [rt, idBox, num](std::string message) {
    v8::Isolate* i = rt->engine()->isolate();
    v8::HandleScope scope(i);
    Local<Value> args[] = {num(*idBox), str(i, message)};
    rt->deliverWsEvent("wsError", 2, args);
  };
  events.onClose = [rt, idBox, num](std::uint16_t code, std::string reason, bool clean) {
    v8::Isolate* i = rt->engine()->isolate();
    v8::HandleScope scope(i);
    Local<Value> args[] = {num(*idBox), v8::Integer::NewFromUnsigned(i, code), str(i, reason),
                           v8::Boolean::New(i, clean)};
    rt->deliverWsEvent("wsClose", 4, args);
  };
  *idBox = rt->wsClient().connect(std::move(url), std::move(protocols), headerPairs(iso, info[2]),
                                  std::move(events));
  info.GetReturnValue().Set(num(*idBox));
}

void nWsSend(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  std::uint64_t id = handleArg(info, 0);
  if (info[1]->IsString()) {
    std::string text = js::toUtf8(iso, info[1]);
    self(info)->wsClient().send(id, false, text);
    return;
  }
  std::string_view bytes;
  if (js::bufferBytes(info[1], &bytes)) self(info)->wsClient().send(id, true, bytes);
}

void nWsClose(const FunctionCallbackInfo<Value>& info) {
  self(info)->wsClient().close(handleArg(info, 0), static_cast<std::uint16_t>(handleArg(info, 1)),
                               js::toUtf8(info.GetIsolate(), info[2]));
}

void nWsBufferedAmount(const FunctionCallbackInfo<Value>& info) {
  info.GetReturnValue().Set(
      v8::Number::New(info.GetIsolate(),
                      static_cast<double>(self(info)->wsClient().bufferedAmount(handleArg(info, 0)))));
}

void nStashConn(const FunctionCallbackInfo<Value>& info) {
  auto bytes = self(info)->engine()->serialize(info[1]);
  if (!bytes) return throwError(info.GetIsolate(), bytes.error().message);
  self(info)->stashConnection(handleArg(info, 0), std::move(*bytes));
}

void nRoomHibernated(const FunctionCallbackInfo<Value>& info) {
  self(info)->roomHibernated(static_cast<std::uint32_t>(handleArg(info, 0)));
}

void nMarkHibernating(const FunctionCallbackInfo<Value>& info) {
  self(info)->setCreatedHibernating(info[0]->IsTrue());
}

}  // namespace

void decodeUtf8Native(const FunctionCallbackInfo<Value>& info);

void ShardRuntime::installNatives(Local<v8::Object> target) {
  v8::Isolate* iso = engine_->isolate();
  Local<v8::Context> ctx = engine_->context();
  Local<v8::External> data = v8::External::New(iso, this);
  auto add = [&](const char* name, v8::FunctionCallback fn) {
    Local<v8::Function> f =
        v8::FunctionTemplate::New(iso, fn, data)->GetFunction(ctx).ToLocalChecked();
    (void)target->Set(ctx, str(iso, name), f);
  };
  add("accept", nAccept);
  add("respond", nRespond);
  add("send", nSend);
  add("broadcast", nBroadcast);
  add("close", nClose);
  add("alarmDone", nAlarmDone);
  add("sGet", nGet);
  add("sGetMany", nGetMany);
  add("sPut", nPut);
  add("sPutMany", nPutMany);
  add("sDelete", nDelete);
  add("sDeleteMany", nDeleteMany);
  add("sList", nList);
  add("sDeleteAll", nDeleteAll);
  add("sGetAlarm", nGetAlarm);
  add("sSetAlarm", nSetAlarm);
  add("sDeleteAlarm", nDeleteAlarm);
  add("utf8Encode", nUtf8Encode);
  add("utf8EncodeInto", nUtf8EncodeInto);
  add("utf8Decode", decodeUtf8Native);
  add("serialize", nSerialize);
  add("deserialize", nDeserialize);
  add("randomFill", nRandomFill);
  add("randomUUID", nRandomUUID);
  add("now", nNow);
  add("log", nLog);
  add("setTimer", nSetTimer);
  add("clearTimer", nClearTimer);
  add("queueMicrotask", nQueueMicrotask);
  add("edgeDone", nEdgeDone);
  add("partyFetch", nPartyFetch);
  add("assetFetch", nAssetFetch);
  add("stashConn", nStashConn);
  add("fetch", nFetch);
  add("wsConnect", nWsConnect);
  add("wsSend", nWsSend);
  add("wsClose", nWsClose);
  add("wsBufferedAmount", nWsBufferedAmount);
  add("fetchAbort", nFetchAbort);
  add("roomHibernated", nRoomHibernated);
  add("markHibernating", nMarkHibernating);
  (void)target->Set(ctx, str(iso, "internalToken"), str(iso, internalToken()));
}

// UTF-8 decoding with WHATWG semantics: `fatal` throws on invalid input, otherwise each invalid
// sequence becomes U+FFFD (V8's decoder does the replacement; validation is ws/'s validator).
void decodeUtf8Native(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  std::string_view bytes;
  if (!js::bufferBytes(info[0], &bytes)) return throwType(iso, "decode() needs a BufferSource");
  if (info[1]->IsTrue() && !ws::isValidUtf8(bytes)) {
    return throwType(iso, "The encoded data was not valid for encoding utf-8");
  }
  Local<v8::String> s;
  if (v8::String::NewFromUtf8(iso, bytes.data(), v8::NewStringType::kNormal,
                              static_cast<int>(bytes.size()))
          .ToLocal(&s)) {
    info.GetReturnValue().Set(s);
  }
}

}  // namespace partyd::api
