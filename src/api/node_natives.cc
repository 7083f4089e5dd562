// node:crypto's hashes, HMACs, timingSafeEqual, PBKDF2, HKDF and scrypt on OpenSSL 3, and the
// promise-hook switch of node:async_hooks. A hash state is a handle like crypto.subtle's keys: a
// one-byte ArrayBuffer whose backing store owns the OpenSSL context and frees it when V8 collects
// the buffer, branded with a private symbol so that no other buffer is ever read as one. The JS
// layer (src/api/js/node) owns argument conversion, encodings and Node's error codes.
#include "api/node_natives.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "js/engine.h"
#include "js/native_handle.h"

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Value;

namespace {

// ---- errors and arguments -------------------------------------------------------------------

// Throws an Error (or a TypeError); returns false so callers can `return fail(...)`.
bool fail(Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::Error(str(iso, msg)));
  return false;
}
bool failType(Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::TypeError(str(iso, msg)));
  return false;
}

bool bytesArg(Isolate* iso, Local<Value> v, std::string_view* out, const char* what) {
  if (js::bufferBytes(v, out)) return true;
  return failType(iso, std::string(what) + " must be an ArrayBuffer or a view");
}

const unsigned char* u8(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

template <auto F>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    F(p);
  }
};
using MdPtr = std::unique_ptr<EVP_MD, Free<EVP_MD_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, Free<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Free<EVP_MAC_CTX_free>>;

// An OpenSSL digest by any of its names ("sha256", "SHA-256", "md5", "sha512-256", ...), or null.
MdPtr fetchDigest(std::string_view name) {
  if (name.empty()) return nullptr;
  return MdPtr(EVP_MD_fetch(nullptr, std::string(name).c_str(), nullptr));
}

// ---- hash and HMAC states -------------------------------------------------------------------

constexpr std::uint64_t kHashMagic = 0x7061727479643a68ULL;  // "partyd:h"
std::atomic<std::int64_t> gLiveHashes{0};

struct HashState {
  static constexpr std::uint64_t kMagic = kHashMagic;
  unsigned char window = 0;  // all the handle's ArrayBuffer shows of this struct
  std::uint64_t magic = kHashMagic;
  MdCtxPtr md;    // createHash
  MacCtxPtr mac;  // createHmac

  HashState() { ++gLiveHashes; }
  ~HashState() {
    magic = 0;
    --gLiveHashes;
  }
};

constexpr char kHashBrand[] = "partyd.nodeHashHandle";

Local<Value> newHashHandle(Isolate* iso, std::unique_ptr<HashState> state) {
  return js::wrapHandle(iso, std::move(state), kHashBrand);
}

HashState* hashArg(Isolate* iso, Local<Value> v) {
  if (HashState* state = js::unwrapHandle<HashState>(iso, v, kHashBrand)) return state;
  failType(iso, "Expected a hash handle");
  return nullptr;
}

// nodeHashNew(algorithm) -> handle; throws "Digest method not supported" as Node does.
void nHashNew(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  MdPtr md = fetchDigest(js::toUtf8(iso, info[0]));
  if (!md) return (void)fail(iso, "Digest method not supported");
  auto state = std::make_unique<HashState>();
  state->md.reset(EVP_MD_CTX_new());
  if (!state->md || !EVP_DigestInit_ex(state->md.get(), md.get(), nullptr)) {
    return (void)fail(iso, "Digest method not supported");
  }
  info.GetReturnValue().Set(newHashHandle(iso, std::move(state)));
}

// nodeHmacNew(algorithm, keyBytes) -> handle; throws "Digest method not supported" as workerd
// does (Node says "Invalid digest: <name>").
void nHmacNew(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string name = js::toUtf8(iso, info[0]);
  MdPtr md = fetchDigest(name);
  if (!md) return (void)fail(iso, "Digest method not supported");
  std::string_view key;
  if (!bytesArg(iso, info[1], &key, "key")) return;
  MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  auto state = std::make_unique<HashState>();
  if (mac) state->mac.reset(EVP_MAC_CTX_new(mac.get()));
  std::string mdName = EVP_MD_get0_name(md.get());
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, mdName.data(), 0),
                         OSSL_PARAM_construct_end()};
  if (!state->mac || !EVP_MAC_init(state->mac.get(), u8(key), key.size(), params)) {
    return (void)fail(iso, "Digest method not supported");
  }
  info.GetReturnValue().Set(newHashHandle(iso, std::move(state)));
}

// nodeHashUpdate(handle, bytes)
void nHashUpdate(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  HashState* state = hashArg(iso, info[0]);
  std::string_view data;
  if (!state || !bytesArg(iso, info[1], &data, "data")) return;
  bool ok = state->md ? EVP_DigestUpdate(state->md.get(), data.data(), data.size())
                      : EVP_MAC_update(state->mac.get(), u8(data), data.size());
  if (!ok) fail(iso, "Hash update failed");
}

// nodeHashDigest(handle) -> ArrayBuffer. The state is finished: the JS layer refuses later calls.
void nHashDigest(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  HashState* state = hashArg(iso, info[0]);
  if (!state) return;
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  bool ok;
  if (state->md) {
    unsigned int n = 0;
    ok = EVP_DigestFinal_ex(state->md.get(), out, &n);
    len = n;
  } else {
    ok = EVP_MAC_final(state->mac.get(), out, &len, sizeof out);
  }
  if (!ok) return (void)fail(iso, "Digest failed");
  info.GetReturnValue().Set(
      js::newArrayBuffer(iso, std::string_view(reinterpret_cast<char*>(out), len)));
  OPENSSL_cleanse(out, sizeof out);
}

// nodeHashCopy(handle) -> a new handle in the same state (Hash.prototype.copy).
void nHashCopy(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  HashState* state = hashArg(iso, info[0]);
  if (!state) return;
  auto copy = std::make_unique<HashState>();
  if (state->md) {
    copy->md.reset(EVP_MD_CTX_new());
    if (!copy->md || !EVP_MD_CTX_copy_ex(copy->md.get(), state->md.get())) {
      return (void)fail(iso, "Hash copy failed");
    }
  } else {
    copy->mac.reset(EVP_MAC_CTX_dup(state->mac.get()));
    if (!copy->mac) return (void)fail(iso, "Hash copy failed");
  }
  info.GetReturnValue().Set(newHashHandle(iso, std::move(copy)));
}

// ---- comparisons and derivation -------------------------------------------------------------

// nodeTimingSafeEqual(a, b) -> boolean; the JS layer has checked that the lengths match.
void nTimingSafeEqual(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string_view a, b;
  if (!bytesArg(iso, info[0], &a, "a") || !bytesArg(iso, info[1], &b, "b")) return;
  if (a.size() != b.size()) return (void)failType(iso, "Input buffers must have the same length");
  info.GetReturnValue().Set(CRYPTO_memcmp(u8(a), u8(b), a.size()) == 0);
}

// Derivations run to completion on the shard's thread, where the watchdog cannot stop a native
// loop: PBKDF2 has crypto.subtle's cap, scrypt a cap on its work (N * r * p).
constexpr double kMaxPbkdf2Iterations = 100000;
constexpr double kMaxScryptWork = 1 << 24;
constexpr double kMaxDerivedBytes = 1 << 20;

// nodePbkdf2(password, salt, iterations, keylen, digest) -> ArrayBuffer
void nPbkdf2(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string_view password, salt;
  if (!bytesArg(iso, info[0], &password, "password") || !bytesArg(iso, info[1], &salt, "salt")) {
    return;
  }
  double iterations = info[2]->IsNumber() ? info[2].As<v8::Number>()->Value() : 0;
  double keylen = info[3]->IsNumber() ? info[3].As<v8::Number>()->Value() : -1;
  if (!(iterations >= 1 && iterations <= 2147483647)) {
    return (void)failType(iso, "iterations must be an integer >= 1");
  }
  if (iterations > kMaxPbkdf2Iterations) {
    return (void)fail(iso, "PBKDF2 iteration counts above 100000 are not supported");
  }
  if (!(keylen >= 0 && keylen <= kMaxDerivedBytes)) {
    return (void)failType(iso, "keylen must be an integer from 0 to 1048576");
  }
  std::string name = js::toUtf8(iso, info[4]);
  MdPtr md = fetchDigest(name);
  if (!md) return (void)failType(iso, "Invalid digest: " + name);
  std::string out(static_cast<size_t>(keylen), '\0');
  if (!out.empty() &&
      !PKCS5_PBKDF2_HMAC(password.empty() ? "" : password.data(), static_cast<int>(password.size()),
                         u8(salt), static_cast<int>(salt.size()), static_cast<int>(iterations),
                         md.get(), static_cast<int>(out.size()),
                         reinterpret_cast<unsigned char*>(out.data()))) {
    return (void)fail(iso, "PBKDF2 failed");
  }
  info.GetReturnValue().Set(js::newArrayBuffer(iso, out));
  OPENSSL_cleanse(out.data(), out.size());
}

using KdfPtr = std::unique_ptr<EVP_KDF, Free<EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Free<EVP_KDF_CTX_free>>;

// nodeHkdf(digest, ikm, salt, info, keylen) -> ArrayBuffer (RFC 5869)
void nHkdf(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string name = js::toUtf8(iso, info[0]);
  MdPtr md = fetchDigest(name);
  if (!md) return (void)failType(iso, "Invalid digest: " + name);
  std::string_view ikm, salt, label;
  if (!bytesArg(iso, info[1], &ikm, "ikm") || !bytesArg(iso, info[2], &salt, "salt") ||
      !bytesArg(iso, info[3], &label, "info")) {
    return;
  }
  double keylen = info[4]->IsNumber() ? info[4].As<v8::Number>()->Value() : -1;
  if (!(keylen >= 1 && keylen <= 255.0 * EVP_MD_get_size(md.get()))) {
    return (void)fail(iso, "Invalid key length");
  }
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  KdfCtxPtr ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  std::string mdName = EVP_MD_get0_name(md.get());
  // OpenSSL refuses an empty key; RFC 5869 does not, and HMAC pads any key to the block size.
  static const unsigned char kZero = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, mdName.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<unsigned char*>(ikm.empty() ? &kZero : u8(ikm)),
                                        ikm.empty() ? 1 : ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<unsigned char*>(u8(salt)),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<unsigned char*>(u8(label)),
                                        label.size()),
      OSSL_PARAM_construct_end()};
  std::string out(static_cast<size_t>(keylen), '\0');
  if (!ctx || !EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                              params)) {
    return (void)fail(iso, "HKDF failed");
  }
  info.GetReturnValue().Set(js::newArrayBuffer(iso, out));
  OPENSSL_cleanse(out.data(), out.size());
}

// nodeScrypt(password, salt, N, r, p, maxmem, keylen) -> ArrayBuffer (RFC 7914)
void nScrypt(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string_view password, salt;
  if (!bytesArg(iso, info[0], &password, "password") || !bytesArg(iso, info[1], &salt, "salt")) {
    return;
  }
  double n[5];
  for (int i = 0; i < 5; ++i)
    n[i] = info[2 + i]->IsNumber() ? info[2 + i].As<v8::Number>()->Value() : -1;
  double cost = n[0], blockSize = n[1], parallel = n[2], maxmem = n[3], keylen = n[4];
  bool powerOfTwo =
      cost >= 2 && cost <= 4294967296.0 &&
      (static_cast<std::uint64_t>(cost) & (static_cast<std::uint64_t>(cost) - 1)) == 0;
  if (!powerOfTwo || !(blockSize >= 1) || !(parallel >= 1) || !(maxmem >= 0)) {
    return (void)fail(iso, "Invalid scrypt params: N must be a power of two > 1, r and p >= 1");
  }
  if (cost * blockSize * parallel > kMaxScryptWork) {
    return (void)fail(iso, "scrypt parameters above N * r * p = 16777216 are not supported");
  }
  if (!(keylen >= 0 && keylen <= kMaxDerivedBytes)) {
    return (void)failType(iso, "keylen must be an integer from 0 to 1048576");
  }
  std::string out(static_cast<size_t>(keylen), '\0');
  if (!out.empty() &&
      !EVP_PBE_scrypt(password.empty() ? "" : password.data(), password.size(), u8(salt),
                      salt.size(), static_cast<std::uint64_t>(cost),
                      static_cast<std::uint64_t>(blockSize), static_cast<std::uint64_t>(parallel),
                      static_cast<std::uint64_t>(maxmem),
                      reinterpret_cast<unsigned char*>(out.data()), out.size())) {
    return (void)fail(iso, "Invalid scrypt params: memory limit exceeded");
  }
  info.GetReturnValue().Set(js::newArrayBuffer(iso, out));
  OPENSSL_cleanse(out.data(), out.size());
}

// ---- promise hooks --------------------------------------------------------------------------

// nodeSetPromiseHooks(init, before, after, resolve): V8's per-context promise hooks; a hook that
// is not a function is left unset. AsyncLocalStorage calls it once, on first construction.
void nSetPromiseHooks(const FunctionCallbackInfo<Value>& info) {
  Local<v8::Function> hooks[4];
  for (int i = 0; i < 4; ++i) {
    if (info[i]->IsFunction()) hooks[i] = info[i].As<v8::Function>();
  }
  info.GetIsolate()->GetCurrentContext()->SetPromiseHooks(hooks[0], hooks[1], hooks[2], hooks[3]);
}

// ---- installation ---------------------------------------------------------------------------

// Runs a native with C++ exceptions stopped at the boundary and OpenSSL's error queue cleared.
template <void (*F)(const FunctionCallbackInfo<Value>&)>
void guarded(const FunctionCallbackInfo<Value>& info) {
  try {
    F(info);
  } catch (const std::exception& e) {
    fail(info.GetIsolate(), e.what());
  } catch (...) {
    fail(info.GetIsolate(), "Internal error");
  }
  ERR_clear_error();
}

}  // namespace

std::int64_t liveNodeHashCount() {
  return gLiveHashes.load();
}

bool installNodeNatives(Isolate* iso, Local<v8::Context> ctx, Local<v8::Object> target) {
  return js::addFunctions(ctx, target,
                         {
                             {"nodeHashNew", guarded<nHashNew>},
                             {"nodeHmacNew", guarded<nHmacNew>},
                             {"nodeHashUpdate", guarded<nHashUpdate>},
                             {"nodeHashDigest", guarded<nHashDigest>},
                             {"nodeHashCopy", guarded<nHashCopy>},
                             {"nodeTimingSafeEqual", guarded<nTimingSafeEqual>},
                             {"nodePbkdf2", guarded<nPbkdf2>},
                             {"nodeHkdf", guarded<nHkdf>},
                             {"nodeScrypt", guarded<nScrypt>},
                             {"nodeSetPromiseHooks", nSetPromiseHooks},
                         });
}

}  // namespace partyd::api
