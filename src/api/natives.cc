#include "api/natives.h"

namespace partyd::api {

bool installRuntimeNatives(Runtime& runtime, v8::Isolate* iso, v8::Local<v8::Context> ctx,
                           v8::Local<v8::Object> target) {
  return installRoomNatives(runtime, ctx, target) && installStorageNatives(runtime, ctx, target) &&
         installPlatformNatives(runtime, ctx, target) && installIoNatives(runtime, ctx, target) &&
         target->Set(ctx, js::str(iso, "internalToken"), js::str(iso, party::internalToken()))
             .FromMaybe(false);
}

}  // namespace partyd::api
