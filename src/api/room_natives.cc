// The natives of rooms and the edge (src/api/js/index.js, party.js, edge.js): accept a socket,
// answer a request, send, broadcast and close, alarm results, hibernation, worker-hook results and
// party-to-party fetch. They reach the shard's RoomHost and Edge through the Runtime.
#include "api/natives.h"

#include <algorithm>
#include "base/random.h"

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Local;
using v8::Value;

namespace {

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

void nAccept(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  auto code = static_cast<std::uint16_t>(handleArg(info, 1));
  self(info)->host().accept(handleArg(info, 0), code, js::toUtf8(iso, info[2]));
}

// refuse(conn, status, body): answers a pending upgrade with an HTTP error instead of the 101.
void nRefuse(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  self(info)->host().refuse(handleArg(info, 0), static_cast<unsigned>(handleArg(info, 1)),
                            js::toUtf8(iso, info[2]));
}

void nRespond(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  http::Response r;
  r.status = static_cast<unsigned>(handleArg(info, 1));
  r.headers = headerPairs(iso, info[2]);
  r.body = bodyBytes(iso, info[3]);
  self(info)->host().respond(handleArg(info, 0), std::move(r));
}

// send(conn, data) -> 0 queued, 1 dropped (the socket is closing), 2 dropped and the socket is
// being closed with 1008 because its client reads too slowly.
void nSend(const FunctionCallbackInfo<Value>& info) {
  ws::Frame frame;
  if (!frameArg(info.GetIsolate(), info[1], &frame)) return;
  ws::SendStatus status = self(info)->host().send(handleArg(info, 0), frame);
  info.GetReturnValue().Set(static_cast<int>(status));
}

// broadcast(room, data, exclude) -> how many sockets did not get it
void nBroadcast(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  ws::Frame frame;
  if (!frameArg(iso, info[1], &frame)) return;
  std::vector<std::uint64_t> exclude;
  if (info[2]->IsArray()) {
    auto arr = info[2].As<v8::Array>();
    Local<v8::Context> ctx = iso->GetCurrentContext();
    for (uint32_t i = 0; i < arr->Length(); ++i) {
      Local<Value> v;
      if (!arr->Get(ctx, i).ToLocal(&v)) return;
      if (v->IsNumber()) exclude.push_back(static_cast<std::uint64_t>(v.As<v8::Number>()->Value()));
    }
  }
  std::size_t dropped =
      self(info)->host().broadcast(static_cast<std::uint32_t>(handleArg(info, 0)), frame, exclude);
  info.GetReturnValue().Set(static_cast<double>(dropped));
}

void nClose(const FunctionCallbackInfo<Value>& info) {
  self(info)->host().close(handleArg(info, 0), static_cast<std::uint16_t>(handleArg(info, 1)),
                           js::toUtf8(info.GetIsolate(), info[2]));
}

void nAlarmDone(const FunctionCallbackInfo<Value>& info) {
  self(info)->traceAlarmDone(static_cast<std::uint32_t>(handleArg(info, 0)), info[1]->IsTrue());
  self(info)->host().alarmDone(static_cast<std::uint32_t>(handleArg(info, 0)), info[1]->IsTrue());
}

void nStashConn(const FunctionCallbackInfo<Value>& info) {
  auto bytes = self(info)->engine()->serialize(info[1]);
  if (!bytes) return throwError(info.GetIsolate(), bytes.error().message);
  self(info)->host().stash(handleArg(info, 0), std::move(*bytes));
}

void nRoomHibernated(const FunctionCallbackInfo<Value>& info) {
  self(info)->host().roomHibernated(static_cast<std::uint32_t>(handleArg(info, 0)));
}

void nMarkHibernating(const FunctionCallbackInfo<Value>& info) {
  self(info)->host().setCreatedHibernating(info[0]->IsTrue());
}

// edgeDone(handle, action, statusOrUrl, headers, body, method)
void nEdgeDone(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  party::EdgeResult r;
  r.action = static_cast<party::EdgeResult::Action>(handleArg(info, 1));
  if (r.action == party::EdgeResult::kRespond) {
    r.response.status = static_cast<unsigned>(handleArg(info, 2));
    r.response.headers = headerPairs(iso, info[3]);
    r.response.body = bodyBytes(iso, info[4]);
  } else if (r.action == party::EdgeResult::kRewrite || r.action == party::EdgeResult::kRoute) {
    r.url = js::toUtf8(iso, info[2]);
    r.headers = headerPairs(iso, info[3]);
    if (!info[4]->IsNull() && !info[4]->IsUndefined()) r.body = bodyBytes(iso, info[4]);
    if (info[5]->IsString()) r.method = js::toUtf8(iso, info[5]);
    if (r.action == party::EdgeResult::kRoute) {
      r.target = party::RoomKey{js::toUtf8(iso, info[6]), js::toUtf8(iso, info[7])};
    }
  } else if (r.action == party::EdgeResult::kPair) {
    r.pair = handleArg(info, 2);
  }
  self(info)->traceEdgeDone(handleArg(info, 0), r.action == party::EdgeResult::kRespond
                                                    ? r.response.status
                                                    : 200);
  self(info)->edge().edgeDone(handleArg(info, 0), std::move(r));
}

// partyFetch(party, room, method, url, headers, body) -> handle
void nPartyFetch(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  http::PartyRoute route{js::toUtf8(iso, info[0]), js::toUtf8(iso, info[1])};
  party::InternalRequest req;
  req.method = js::toUtf8(iso, info[2]);
  req.url = js::toUtf8(iso, info[3]);
  req.headers = headerPairs(iso, info[4]);
  if (!info[5]->IsNull() && !info[5]->IsUndefined()) req.body = bodyBytes(iso, info[5]);
  std::uint64_t handle = self(info)->edge().partyFetch(route, std::move(req));
  info.GetReturnValue().Set(v8::Number::New(iso, static_cast<double>(handle)));
}

// internalId(party, room) -> the room's internalID (64 hex digits), made when party code first
// reads room.internalID: most never do, and a SHA-256 and a string kept per room add up (W2).
void nInternalId(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  party::RoomKey key{js::toUtf8(iso, info[0]), js::toUtf8(iso, info[1])};
  info.GetReturnValue().Set(str(iso, party::internalId(key)));
}

// assetFetch(path) -> [status, headers, body] | null
void nAssetFetch(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  const http::StaticFiles* assets = self(info)->edge().assets();
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

}  // namespace

bool installRoomNatives(Runtime& runtime, v8::Local<v8::Context> ctx, v8::Local<v8::Object> target) {
  return js::addFunctions(ctx, target,
                         {
                             {"accept", nAccept},
                             {"respond", nRespond},
                             {"refuse", nRefuse},
                             {"send", nSend},
                             {"broadcast", nBroadcast},
                             {"close", nClose},
                             {"alarmDone", nAlarmDone},
                             {"stashConn", nStashConn},
                             {"roomHibernated", nRoomHibernated},
                             {"markHibernating", nMarkHibernating},
                             {"edgeDone", nEdgeDone},
                             {"partyFetch", nPartyFetch},
                             {"assetFetch", nAssetFetch},
                             {"internalId", nInternalId},
                         },
                         v8::External::New(ctx->GetIsolate(), &runtime));
}

}  // namespace partyd::api
