// crypto.subtle's deriveBits native: PBKDF2, HKDF, ECDH and X25519.
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "api/crypto_natives_internal.h"

namespace partyd::api::crypto {

// ---- key derivation -------------------------------------------------------------------------

namespace {

// Cloudflare Workers refuses more, and a native loop cannot be stopped by the shard's watchdog.
constexpr double kMaxPbkdf2Iterations = 100000;

// RFC 5869, on HMAC directly: an empty salt is HashLen zero bytes, which HMAC pads to anyway.
bool hkdf(const EVP_MD* md, std::string_view ikm, std::string_view salt, std::string_view info,
          size_t length, std::string* out) {
  std::string prk, block;
  if (!hmac(md, salt, ikm, &prk)) return false;
  for (unsigned char i = 1; out->size() < length; ++i) {
    std::string input = block + std::string(info) + static_cast<char>(i);
    if (!hmac(md, prk, input, &block)) return false;
    out->append(block);
  }
  out->resize(length);
  OPENSSL_cleanse(prk.data(), prk.size());
  return true;
}

}  // namespace

// cryptoDeriveBits(alg, handle, params, lengthBits) -> ArrayBuffer
//   PBKDF2 {hash, salt, iterations}, HKDF {hash, salt, info}: exactly lengthBits / 8 bytes.
//   ECDH, X25519 {public: handle}: the whole shared secret (the JS layer truncates).
void nDeriveBits(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string alg = js::toUtf8(iso, info[0]);
  KeyData* key = keyArg(iso, info[1]);
  if (!key) return;
  Local<Value> params = info[2];
  std::string out;
  if (alg == "PBKDF2" || alg == "HKDF") {
    const EVP_MD* md = hashArg(iso, stringProp(iso, params, "hash"));
    std::string_view salt, extra;
    if (!md || !optionalBytes(iso, params, "salt", &salt) ||
        !optionalBytes(iso, params, "info", &extra)) {
      return;
    }
    double bits = info[3]->IsNumber() ? info[3].As<v8::Number>()->Value() : -1;
    if (!(bits >= 0 && bits <= 1 << 20) || static_cast<int>(bits) % 8 != 0) {
      return (void)fail(iso, kOperationError, "The length must be a multiple of 8");
    }
    if (key->kind != KeyKind::kSecret) {
      return (void)fail(iso, kInvalidAccessError, "The key does not fit " + alg);
    }
    auto bytes = static_cast<size_t>(bits) / 8;
    if (alg == "HKDF") {
      if (bytes > 255u * EVP_MD_get_size(md)) {
        return (void)fail(iso, kOperationError, "The length is too large for HKDF");
      }
      if (!hkdf(md, key->secret, salt, extra, bytes, &out)) {
        return (void)fail(iso, kOperationError, "HKDF failed");
      }
    } else {
      double iterations = numberProp(iso, params, "iterations", 0);
      if (!(iterations >= 1)) return (void)fail(iso, kOperationError, "iterations must be > 0");
      if (iterations > kMaxPbkdf2Iterations) {
        return (void)fail(iso, kNotSupportedError,
                          "PBKDF2 iteration counts above 100000 are not supported");
      }
      out.resize(bytes);
      if (bytes > 0 &&
          PKCS5_PBKDF2_HMAC(key->secret.data(), static_cast<int>(key->secret.size()), u8(salt),
                            static_cast<int>(salt.size()), static_cast<int>(iterations), md,
                            static_cast<int>(bytes), u8(out)) != 1) {
        return (void)fail(iso, kOperationError, "PBKDF2 failed");
      }
    }
  } else if (alg == "ECDH" || alg == "X25519") {
    KeyData* peer = keyArg(iso, prop(iso, params, "public"));
    if (!peer) return;
    KeyKind kind = alg == "ECDH" ? KeyKind::kEc : KeyKind::kX25519;
    if (key->kind != kind || key->type != KeyType::kPrivate || peer->kind != kind ||
        peer->type != KeyType::kPublic) {
      return (void)fail(iso, kInvalidAccessError, "The keys do not fit " + alg);
    }
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key->pkey.get(), nullptr));
    size_t len = 0;
    bool ok = ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
              EVP_PKEY_derive_set_peer(ctx.get(), peer->pkey.get()) == 1 &&
              EVP_PKEY_derive(ctx.get(), nullptr, &len) == 1;
    if (ok) {
      out.resize(len);
      ok = EVP_PKEY_derive(ctx.get(), u8(out), &len) == 1;
      out.resize(len);
    }
    if (!ok) return (void)fail(iso, kOperationError, alg + " key agreement failed");
  } else {
    return (void)fail(iso, kNotSupportedError, "Unsupported derivation: " + alg);
  }
  returnBytes(info, out);
  OPENSSL_cleanse(out.data(), out.size());
}

}  // namespace partyd::api::crypto
