// The natives of what a room reaches outside partyd: outgoing fetch(), outgoing WebSockets and
// timers. Their results come back later as runs of their own (Runtime::runEntry).
#include "api/natives.h"

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Local;
using v8::Value;

namespace {

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
  Runtime* rt = self(info);
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
    js::Engine::Scope enter(*rt->engine());
    v8::Isolate* i = rt->engine()->isolate();
    v8::HandleScope scope(i);
    Local<Value> args[] = {num(*idBox), str(i, protocol)};
    rt->deliverWsEvent("wsOpen", 2, args);
  };
  events.onMessage = [rt, idBox, num](bool binary, std::string data) {
    js::Engine::Scope enter(*rt->engine());
    v8::Isolate* i = rt->engine()->isolate();
    v8::HandleScope scope(i);
    Local<Value> payload = binary ? Local<Value>(js::newArrayBuffer(i, data))
                                  : Local<Value>(str(i, data));
    Local<Value> args[] = {num(*idBox), v8::Boolean::New(i, binary), payload};
    rt->deliverWsEvent("wsMessage", 3, args);
  };
  events.onError = [rt, idBox, num](std::string message) {
    js::Engine::Scope enter(*rt->engine());
    v8::Isolate* i = rt->engine()->isolate();
    v8::HandleScope scope(i);
    Local<Value> args[] = {num(*idBox), str(i, message)};
    rt->deliverWsEvent("wsError", 2, args);
  };
  events.onClose = [rt, idBox, num](std::uint16_t code, std::string reason, bool clean) {
    js::Engine::Scope enter(*rt->engine());
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

void nSetTimer(const FunctionCallbackInfo<Value>& info) {
  double delay = info[1]->IsNumber() ? info[1].As<v8::Number>()->Value() : 0;
  self(info)->setTimer(static_cast<std::uint32_t>(handleArg(info, 0)), delay);
}

void nClearTimer(const FunctionCallbackInfo<Value>& info) {
  self(info)->clearTimer(static_cast<std::uint32_t>(handleArg(info, 0)));
}

}  // namespace

bool installIoNatives(Runtime& runtime, v8::Local<v8::Context> ctx, v8::Local<v8::Object> target) {
  return js::addFunctions(ctx, target,
                         {
                             {"fetch", nFetch},
                             {"fetchAbort", nFetchAbort},
                             {"wsConnect", nWsConnect},
                             {"wsSend", nWsSend},
                             {"wsClose", nWsClose},
                             {"wsBufferedAmount", nWsBufferedAmount},
                             {"setTimer", nSetTimer},
                             {"clearTimer", nClearTimer},
                         },
                         v8::External::New(ctx->GetIsolate(), &runtime));
}

}  // namespace partyd::api
