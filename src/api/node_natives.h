// The natives behind the Node.js built-ins of the JS runtime (src/api/js/node): node:crypto's
// streaming hashes and HMACs, timingSafeEqual, PBKDF2, HKDF and scrypt on OpenSSL 3, and the V8
// promise hooks that node:async_hooks' AsyncLocalStorage installs on first use. All synchronous.
// crypto.subtle has its own natives (crypto_natives.h).
#pragma once

#include <v8.h>

#include <cstdint>

namespace partyd::api {

// Adds the node* functions to `target` (the runtime's `native` object).
bool installNodeNatives(v8::Isolate* iso, v8::Local<v8::Context> ctx, v8::Local<v8::Object> target);

// Hash and HMAC states alive in this process; tests use it to see that V8 frees them.
std::int64_t liveNodeHashCount();

}  // namespace partyd::api
