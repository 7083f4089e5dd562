// The natives behind room.storage (src/api/js/storage.js): the Durable Object storage API over the
// shard's Storage, with its limits and messages (keys 2 KiB, values 128 KiB, 128 keys per call).
// Values are structured-cloned by the engine. Writes join the current turn's commit.
#include "api/natives.h"

#include <algorithm>

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Local;
using v8::Value;

namespace {

constexpr std::size_t kMaxKeyBytes = 2048;
constexpr std::size_t kMaxValueBytes = 128 * 1024;
constexpr std::size_t kMaxKeysPerCall = 128;

// Room of a storage call (argument 0), or null with a JS error thrown.
party::Room* roomArg(const FunctionCallbackInfo<Value>& info) {
  party::Room* room = self(info)->host().findRoom(static_cast<std::uint32_t>(handleArg(info, 0)));
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

bool valueArg(Runtime* rt, v8::Isolate* iso, Local<Value> v, std::string* out) {
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

Local<Value> decode(Runtime* rt, v8::Isolate* iso, const std::string& bytes) {
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

Local<v8::Array> entriesToJs(Runtime* rt, v8::Isolate* iso,
                             const std::vector<storage::Entry>& entries) {
  Local<v8::Context> ctx = iso->GetCurrentContext();
  Local<v8::Array> out = v8::Array::New(iso, static_cast<int>(entries.size()));
  for (uint32_t i = 0; i < entries.size(); ++i) {
    Local<Value> value = decode(rt, iso, entries[i].second);
    if (value.IsEmpty()) return {};
    Local<Value> pair[] = {str(iso, entries[i].first), value};
    if (out->Set(ctx, i, v8::Array::New(iso, pair, 2)).IsNothing()) return {};
  }
  return out;
}

// --max-room-storage: a write that would take the room past it throws a RangeError, and
// writes nothing.
bool fitsLimit(Runtime* rt, v8::Isolate* iso, party::Room& room,
               const std::vector<std::pair<std::string_view, std::size_t>>& writes) {
  std::string why;
  if (rt->host().storageFits(room, writes, &why)) return true;
  throwRange(iso, "Exceeded the room's storage limit: " + why);
  return false;
}

void nGet(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  std::string key;
  if (!room || !keyArg(iso, info[1], &key)) return;
  auto r = rt->host().storage().get(room->key, key);
  if (!check(iso, r)) return;
  if (!r->has_value()) return;  // undefined
  Local<Value> v = decode(rt, iso, **r);
  if (!v.IsEmpty()) info.GetReturnValue().Set(v);
}

void nGetMany(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  std::vector<std::string> keys;
  if (!room || !keysArg(iso, info[1], &keys)) return;
  auto r = rt->host().storage().getMany(room->key, keys);
  if (!check(iso, r)) return;
  Local<v8::Array> out = entriesToJs(rt, iso, *r);
  if (!out.IsEmpty()) info.GetReturnValue().Set(out);
}

void nPut(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  std::string key, value;
  if (!room || !keyArg(iso, info[1], &key) || !valueArg(rt, iso, info[2], &value)) return;
  if (!fitsLimit(rt, iso, *room, {{key, value.size()}})) return;
  check(iso, rt->host().storage().put(room->key, key, value));
}

void nPutMany(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
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
  std::vector<std::pair<std::string_view, std::size_t>> sizes;
  for (const auto& [key, value] : entries) sizes.emplace_back(key, value.size());
  if (!fitsLimit(rt, iso, *room, sizes)) return;
  for (auto& [key, value] : entries) {
    if (!check(iso, rt->host().storage().put(room->key, key, value))) return;
  }
}

void nDelete(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  std::string key;
  if (!room || !keyArg(iso, info[1], &key)) return;
  rt->host().storageDeleting(*room, key);
  auto r = rt->host().storage().del(room->key, key);
  if (check(iso, r)) info.GetReturnValue().Set(*r);
}

void nDeleteMany(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  std::vector<std::string> keys;
  if (!room || !keysArg(iso, info[1], &keys)) return;
  int count = 0;
  for (const auto& key : keys) {
    rt->host().storageDeleting(*room, key);
    auto r = rt->host().storage().del(room->key, key);
    if (!check(iso, r)) return;
    if (*r) ++count;
  }
  info.GetReturnValue().Set(count);
}

void nList(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
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
  auto r = rt->host().storage().list(room->key, o);
  if (!check(iso, r)) return;
  Local<v8::Array> out = entriesToJs(rt, iso, *r);
  if (!out.IsEmpty()) info.GetReturnValue().Set(out);
}

void nDeleteAll(const FunctionCallbackInfo<Value>& info) {
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  if (room && check(info.GetIsolate(), rt->host().storage().deleteAll(room->key))) {
    rt->host().storageCleared(*room);
  }
}

void nGetAlarm(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  auto r = rt->host().storage().getAlarm(room->key);
  if (!check(iso, r)) return;
  if (r->has_value()) {
    info.GetReturnValue().Set(v8::Number::New(iso, static_cast<double>(**r)));
  } else {
    info.GetReturnValue().SetNull();
  }
}

void nSetAlarm(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  auto time = static_cast<std::int64_t>(info[1].As<v8::Number>()->Value());
  if (check(iso, rt->host().storage().setAlarm(room->key, time))) rt->host().setAlarm(*room, time);
}

void nDeleteAlarm(const FunctionCallbackInfo<Value>& info) {
  Runtime* rt = self(info);
  party::Room* room = roomArg(info);
  if (!room) return;
  if (check(info.GetIsolate(), rt->host().storage().deleteAlarm(room->key))) rt->host().deleteAlarm(*room);
}

}  // namespace

bool installStorageNatives(Runtime& runtime, v8::Local<v8::Context> ctx, v8::Local<v8::Object> target) {
  return js::addFunctions(ctx, target,
                         {
                             {"sGet", nGet},
                             {"sGetMany", nGetMany},
                             {"sPut", nPut},
                             {"sPutMany", nPutMany},
                             {"sDelete", nDelete},
                             {"sDeleteMany", nDeleteMany},
                             {"sList", nList},
                             {"sDeleteAll", nDeleteAll},
                             {"sGetAlarm", nGetAlarm},
                             {"sSetAlarm", nSetAlarm},
                             {"sDeleteAlarm", nDeleteAlarm},
                         },
                         v8::External::New(ctx->GetIsolate(), &runtime));
}

}  // namespace partyd::api
