// The natives behind crypto.subtle (src/api/js/subtle): digests, HMAC, key import, export and
// generation, sign/verify, encrypt/decrypt and key derivation, all synchronous, on OpenSSL 3.
// Key material lives in C++: a key handle is a one-byte ArrayBuffer whose backing store owns the
// key, so V8 frees it with the buffer (also when the isolate goes away). The JS layer owns
// WebIDL conversion, usages and extractability; these natives still check what they rely on and
// throw Errors whose `name` is a DOMException name (DataError, OperationError, ...).
#pragma once

#include <v8.h>

#include <cstdint>

namespace partyd::api {

// Adds the crypto* functions to `target` (the runtime's `native` object).
bool installCryptoNatives(v8::Isolate* iso, v8::Local<v8::Context> ctx,
                          v8::Local<v8::Object> target);

// Key handles alive in this process; tests use it to see that V8 frees them.
std::int64_t liveCryptoKeyCount();

}  // namespace partyd::api
