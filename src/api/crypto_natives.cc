// crypto.subtle on OpenSSL 3. Every native is synchronous, validates what it reads and throws a
// JS Error named like a DOMException; the `guarded` wrapper stops C++ exceptions at the V8
// boundary and clears OpenSSL's error queue after each call, so no error leaks into the next.
// WebIDL conversion, usages and extractability are the JS layer's (src/api/js/subtle).
// This file holds what the natives share (crypto_natives_internal.h) and installs them; they
// live by area in crypto_keys.cc, crypto_sign.cc, crypto_cipher.cc and crypto_derive.cc.
#include "api/crypto_natives.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "api/crypto_natives_internal.h"
#include "js/engine.h"
#include "js/native_handle.h"

namespace partyd::api {
namespace crypto {

namespace {
std::atomic<std::int64_t> gLiveKeys{0};
constexpr char kKeyBrand[] = "partyd.cryptoKeyHandle";
}  // namespace

// ---- errors and arguments -------------------------------------------------------------------

// Throws an Error whose name is `name`; returns false so callers can `return fail(...)`.
bool fail(Isolate* iso, const char* name, std::string_view msg) {
  Local<Value> e = v8::Exception::Error(str(iso, msg));
  e.As<v8::Object>()
      ->Set(iso->GetCurrentContext(), str(iso, "name"), str(iso, name))
      .FromMaybe(false);
  iso->ThrowException(e);
  return false;
}

void setProp(Isolate* iso, Local<v8::Object> obj, const char* name, Local<Value> v) {
  obj->Set(iso->GetCurrentContext(), str(iso, name), v).FromMaybe(false);
}

bool failType(Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::TypeError(str(iso, msg)));
  return false;
}

Local<Value> prop(Isolate* iso, Local<Value> obj, const char* name) {
  Local<Value> v;
  if (!obj->IsObject() ||
      !obj.As<v8::Object>()->Get(iso->GetCurrentContext(), str(iso, name)).ToLocal(&v)) {
    return v8::Undefined(iso);
  }
  return v;
}

std::string stringProp(Isolate* iso, Local<Value> obj, const char* name) {
  Local<Value> v = prop(iso, obj, name);
  return v->IsString() ? js::toUtf8(iso, v) : std::string();
}

bool bytesArg(Isolate* iso, Local<Value> v, std::string_view* out, const char* what) {
  if (js::bufferBytes(v, out)) return true;
  return failType(iso, std::string(what) + " must be an ArrayBuffer or a view");
}

// An optional BufferSource member: absent (undefined) gives an empty view.
bool optionalBytes(Isolate* iso, Local<Value> obj, const char* name, std::string_view* out) {
  Local<Value> v = prop(iso, obj, name);
  if (v->IsUndefined()) {
    *out = {};
    return true;
  }
  return bytesArg(iso, v, out, name);
}

double numberProp(Isolate* iso, Local<Value> obj, const char* name, double fallback) {
  Local<Value> v = prop(iso, obj, name);
  return v->IsNumber() ? v.As<v8::Number>()->Value() : fallback;
}

const unsigned char* u8(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* u8(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

void returnBytes(const FunctionCallbackInfo<Value>& info, std::string_view bytes) {
  info.GetReturnValue().Set(js::newArrayBuffer(info.GetIsolate(), bytes));
}

// ---- OpenSSL handles ------------------------------------------------------------------------

const EVP_MD* hashByName(std::string_view name) {
  if (name == "SHA-1") return EVP_sha1();
  if (name == "SHA-256") return EVP_sha256();
  if (name == "SHA-384") return EVP_sha384();
  if (name == "SHA-512") return EVP_sha512();
  if (name == "MD5") return EVP_md5();  // digest only: subtle/registry.js offers it nowhere else
  return nullptr;
}

const EVP_MD* hashArg(Isolate* iso, std::string_view name) {
  const EVP_MD* md = hashByName(name);
  if (!md) fail(iso, kNotSupportedError, "Unrecognized hash algorithm: " + std::string(name));
  return md;
}

std::string bnBytes(const BIGNUM* bn, int pad) {
  std::string out(pad > 0 ? pad : BN_num_bytes(bn), '\0');
  if (pad > 0) {
    BN_bn2binpad(bn, u8(out), pad);
  } else {
    BN_bn2bin(bn, u8(out));
  }
  return out;
}

BnPtr bnFrom(std::string_view bytes) {
  return BnPtr(BN_bin2bn(u8(bytes), static_cast<int>(bytes.size()), nullptr));
}

bool hmac(const EVP_MD* md, std::string_view key, std::string_view data, std::string* out) {
  unsigned int len = EVP_MAX_MD_SIZE;
  out->resize(len);
  if (!HMAC(md, u8(key), static_cast<int>(key.size()), u8(data), data.size(), u8(*out), &len)) {
    return false;
  }
  out->resize(len);
  return true;
}

// ---- key handles ----------------------------------------------------------------------------

KeyData::KeyData() {
  ++gLiveKeys;
}

KeyData::~KeyData() {
  OPENSSL_cleanse(secret.data(), secret.size());
  magic = 0;
  --gLiveKeys;
}

Local<Value> newHandle(Isolate* iso, std::unique_ptr<KeyData> key) {
  return js::wrapHandle(iso, std::move(key), kKeyBrand);
}

KeyData* keyArg(Isolate* iso, Local<Value> v) {
  if (KeyData* key = js::unwrapHandle<KeyData>(iso, v, kKeyBrand)) return key;
  failType(iso, "Expected a key handle");
  return nullptr;
}

std::unique_ptr<KeyData> makeKey(KeyType type, KeyKind kind, PkeyPtr pkey) {
  auto key = std::make_unique<KeyData>();
  key->type = type;
  key->kind = kind;
  key->pkey = std::move(pkey);
  return key;
}

bool kindFromName(std::string_view name, KeyKind* out) {
  if (name == "secret")
    *out = KeyKind::kSecret;
  else if (name == "rsa")
    *out = KeyKind::kRsa;
  else if (name == "ec")
    *out = KeyKind::kEc;
  else if (name == "ed25519")
    *out = KeyKind::kEd25519;
  else if (name == "x25519")
    *out = KeyKind::kX25519;
  else
    return false;
  return true;
}

int pkeyIdOf(KeyKind kind) {
  switch (kind) {
    case KeyKind::kRsa:
      return EVP_PKEY_RSA;
    case KeyKind::kEc:
      return EVP_PKEY_EC;
    case KeyKind::kEd25519:
      return EVP_PKEY_ED25519;
    case KeyKind::kX25519:
      return EVP_PKEY_X25519;
    case KeyKind::kSecret:
      break;
  }
  return EVP_PKEY_NONE;
}

// ---- curves ---------------------------------------------------------------------------------

const Curve* curveByWebName(std::string_view name) {
  for (const Curve& c : kCurves) {
    if (name == c.webName) return &c;
  }
  return nullptr;
}

const Curve* curveOf(EVP_PKEY* pkey) {
  char name[64];
  size_t len = 0;
  if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len)) {
    return nullptr;
  }
  int nid = OBJ_txt2nid(name);
  for (const Curve& c : kCurves) {
    if (nid == c.nid) return &c;
  }
  return nullptr;
}

// The public point as WebCrypto's raw format wants it: 0x04 || x || y, each padded.
bool ecPublicPoint(EVP_PKEY* pkey, const Curve& c, std::string* out) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) &&
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
  if (ok) *out = "\x04" + bnBytes(x, c.fieldBytes) + bnBytes(y, c.fieldBytes);
  BN_free(x);
  BN_free(y);
  return ok;
}

}  // namespace crypto

// ---- installation ---------------------------------------------------------------------------

namespace crypto {
namespace {

// Runs a native with C++ exceptions stopped at the boundary and OpenSSL's error queue cleared.
template <void (*F)(const FunctionCallbackInfo<Value>&)>
void guarded(const FunctionCallbackInfo<Value>& info) {
  try {
    F(info);
  } catch (const std::exception& e) {
    fail(info.GetIsolate(), kOperationError, e.what());
  } catch (...) {
    fail(info.GetIsolate(), kOperationError, "Internal error");
  }
  ERR_clear_error();
}

}  // namespace
}  // namespace crypto

std::int64_t liveCryptoKeyCount() {
  return crypto::gLiveKeys.load();
}

bool installCryptoNatives(v8::Isolate* iso, v8::Local<v8::Context> ctx,
                          v8::Local<v8::Object> target) {
  using namespace crypto;
  return js::addFunctions(ctx, target,
                         {
                             {"cryptoDigest", guarded<nDigest>},
                             {"cryptoHmac", guarded<nHmac>},
                             {"cryptoImportKey", guarded<nImportKey>},
                             {"cryptoKeyInfo", guarded<nKeyInfo>},
                             {"cryptoExportKey", guarded<nExportKey>},
                             {"cryptoGenerateKey", guarded<nGenerateKey>},
                             {"cryptoSign", guarded<nSign>},
                             {"cryptoVerify", guarded<nVerify>},
                             {"cryptoEncrypt", guarded<nEncrypt>},
                             {"cryptoDecrypt", guarded<nDecrypt>},
                             {"cryptoDeriveBits", guarded<nDeriveBits>},
                         });
}

}  // namespace partyd::api
