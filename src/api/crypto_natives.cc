// crypto.subtle on OpenSSL 3. Every native is synchronous, validates what it reads and throws a
// JS Error named like a DOMException; the `guarded` wrapper stops C++ exceptions at the V8
// boundary and clears OpenSSL's error queue after each call, so no error leaks into the next.
// WebIDL conversion, usages and extractability are the JS layer's (src/api/js/subtle).
#include "api/crypto_natives.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

constexpr const char* kDataError = "DataError";
constexpr const char* kOperationError = "OperationError";
constexpr const char* kNotSupportedError = "NotSupportedError";
constexpr const char* kInvalidAccessError = "InvalidAccessError";

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

template <auto F>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    F(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Free<EVP_CIPHER_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_clear_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Free<OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG_free>>;
using P8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, Free<PKCS8_PRIV_KEY_INFO_free>>;

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

std::string bnBytes(const BIGNUM* bn, int pad = 0) {
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
// A CryptoKey's native half is a KeyData behind a handle (js/native_handle.h).

enum class KeyType { kSecret, kPublic, kPrivate };
enum class KeyKind { kSecret, kRsa, kEc, kEd25519, kX25519 };

constexpr std::uint64_t kKeyMagic = 0x7061727479643a6bULL;  // "partyd:k"
std::atomic<std::int64_t> gLiveKeys{0};

struct KeyData {
  static constexpr std::uint64_t kMagic = kKeyMagic;
  unsigned char window = 0;  // all the handle's ArrayBuffer shows of this struct
  std::uint64_t magic = kKeyMagic;
  KeyType type = KeyType::kSecret;
  KeyKind kind = KeyKind::kSecret;
  std::string secret;  // secret keys
  PkeyPtr pkey;        // asymmetric keys (a private key's pkey also holds its public half)

  KeyData() { ++gLiveKeys; }
  ~KeyData() {
    OPENSSL_cleanse(secret.data(), secret.size());
    magic = 0;
    --gLiveKeys;
  }
};

constexpr char kKeyBrand[] = "partyd.cryptoKeyHandle";

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

struct Curve {
  const char* webName;
  const char* osslName;
  int nid;
  int fieldBytes;
};
constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", NID_X9_62_prime256v1, 32},
    {"P-384", "secp384r1", NID_secp384r1, 48},
    {"P-521", "secp521r1", NID_secp521r1, 66},
};

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

// ---- building keys --------------------------------------------------------------------------

// EVP_PKEY_fromdata for `type` ("RSA", "EC") from the parameters `fill` pushes.
template <typename Fill>
PkeyPtr pkeyFromData(const char* type, int selection, Fill fill) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !fill(bld.get())) return nullptr;
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) <= 0) {
    return nullptr;
  }
  return PkeyPtr(pkey);
}

// OpenSSL's own RSA checks test primality (100 ms for a 2048-bit private key); this checks what
// makes a private key self-consistent, as BoringSSL does: n = p*q and the CRT values fit d and e.
bool rsaPrivateConsistent(EVP_PKEY* pkey) {
  static const char* const kNames[] = {
      OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,           OSSL_PKEY_PARAM_RSA_D,
      OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,     OSSL_PKEY_PARAM_RSA_EXPONENT1,
      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  BnPtr v[8];
  for (int i = 0; i < 8; ++i) {
    BIGNUM* bn = nullptr;
    if (!EVP_PKEY_get_bn_param(pkey, kNames[i], &bn)) return false;
    v[i].reset(bn);
  }
  auto& [n, e, d, p, q, dp, dq, qi] = v;
  std::unique_ptr<BN_CTX, Free<BN_CTX_free>> ctx(BN_CTX_new());
  BnPtr t(BN_new()), pm1(BN_dup(p.get())), qm1(BN_dup(q.get()));
  if (!ctx || !t || !pm1 || !qm1 || !BN_sub_word(pm1.get(), 1) || !BN_sub_word(qm1.get(), 1)) {
    return false;
  }
  auto modIs = [&](const BIGNUM* a, const BIGNUM* m, const BIGNUM* want) {
    return BN_nnmod(t.get(), a, m, ctx.get()) && BN_cmp(t.get(), want) == 0;
  };
  auto mulModIsOne = [&](const BIGNUM* a, const BIGNUM* b, const BIGNUM* m) {
    return BN_mod_mul(t.get(), a, b, m, ctx.get()) && BN_is_one(t.get());
  };
  return BN_mul(t.get(), p.get(), q.get(), ctx.get()) && BN_cmp(t.get(), n.get()) == 0 &&
         modIs(d.get(), pm1.get(), dp.get()) && modIs(d.get(), qm1.get(), dq.get()) &&
         mulModIsOne(e.get(), dp.get(), pm1.get()) && mulModIsOne(e.get(), dq.get(), qm1.get()) &&
         mulModIsOne(q.get(), qi.get(), p.get());
}

// Public EC/OKP keys must be valid points; private keys must match their public half. RSA public
// keys get no check beyond parsing (OpenSSL's would test n for primality).
bool consistent(EVP_PKEY* pkey, KeyKind kind, KeyType type) {
  if (kind == KeyKind::kRsa) return type == KeyType::kPublic || rsaPrivateConsistent(pkey);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx) return false;
  return type == KeyType::kPrivate ? EVP_PKEY_pairwise_check(ctx.get()) == 1
                                   : EVP_PKEY_public_check(ctx.get()) == 1;
}

PkeyPtr ecFromPoint(const Curve& c, std::string_view point, const BIGNUM* priv) {
  return pkeyFromData("EC", priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, [&](OSSL_PARAM_BLD* b) {
    return OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, c.osslName, 0) &&
           OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                            point.size()) &&
           (!priv || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv));
  });
}

// A copy holding only the public half (for the public key of a generated pair).
PkeyPtr publicOnly(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) return nullptr;
  const unsigned char* p = der;
  PkeyPtr out(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  return out;
}

// ---- import ---------------------------------------------------------------------------------

// spki or pkcs8 DER, all of it, of the given key type. A decoder told the structure and key
// type is about ten times faster than d2i_PUBKEY or EVP_PKCS82PKEY, which try every decoder.
PkeyPtr importDer(std::string_view format, KeyKind kind, std::string_view der) {
  static const char* const kTypes[] = {"", "RSA", "EC", "ED25519", "X25519"};
  bool spki = format == "spki";
  EVP_PKEY* pkey = nullptr;
  std::unique_ptr<OSSL_DECODER_CTX, Free<OSSL_DECODER_CTX_free>> dctx(OSSL_DECODER_CTX_new_for_pkey(
      &pkey, "DER", spki ? "SubjectPublicKeyInfo" : "PrivateKeyInfo",
      kTypes[static_cast<int>(kind)], spki ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEYPAIR, nullptr,
      nullptr));
  const unsigned char* p = u8(der);
  size_t left = der.size();
  bool ok = dctx && OSSL_DECODER_from_data(dctx.get(), &p, &left) == 1;
  PkeyPtr out(pkey);
  return ok && left == 0 ? std::move(out) : nullptr;
}

// JWK members arrive decoded: an object of ArrayBuffers (n, e, d, p, q, dp, dq, qi, x, y).
struct JwkParts {
  Isolate* iso;
  Local<Value> obj;
  bool has(const char* name) const { return !prop(iso, obj, name)->IsUndefined(); }
  std::string_view get(const char* name) const {
    std::string_view out;
    js::bufferBytes(prop(iso, obj, name), &out);
    return out;
  }
};

PkeyPtr rsaFromJwk(const JwkParts& jwk, KeyType* type) {
  static const char* const kCrt[] = {"p", "q", "dp", "dq", "qi"};
  static const char* const kCrtParams[] = {
      OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  *type = jwk.has("d") ? KeyType::kPrivate : KeyType::kPublic;
  if (!jwk.has("n") || !jwk.has("e")) return nullptr;
  std::vector<BnPtr> bns;
  auto push = [&](OSSL_PARAM_BLD* b, const char* param, const char* member) {
    bns.push_back(bnFrom(jwk.get(member)));
    return bns.back() && OSSL_PARAM_BLD_push_BN(b, param, bns.back().get());
  };
  int selection = *type == KeyType::kPrivate ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  return pkeyFromData("RSA", selection, [&](OSSL_PARAM_BLD* b) {
    if (!push(b, OSSL_PKEY_PARAM_RSA_N, "n") || !push(b, OSSL_PKEY_PARAM_RSA_E, "e")) return false;
    if (*type == KeyType::kPublic) return true;
    if (!push(b, OSSL_PKEY_PARAM_RSA_D, "d")) return false;
    for (int i = 0; i < 5; ++i) {
      // TODO(compat): keys without CRT parameters are rejected, as in Chrome.
      if (!jwk.has(kCrt[i]) || !push(b, kCrtParams[i], kCrt[i])) return false;
    }
    return true;
  });
}

PkeyPtr ecFromJwk(const JwkParts& jwk, const Curve& c, KeyType* type) {
  *type = jwk.has("d") ? KeyType::kPrivate : KeyType::kPublic;
  std::string_view x = jwk.get("x"), y = jwk.get("y");
  auto n = static_cast<size_t>(c.fieldBytes);
  if (x.size() != n || y.size() != n) return nullptr;
  std::string point = "\x04" + std::string(x) + std::string(y);
  if (*type == KeyType::kPublic) return ecFromPoint(c, point, nullptr);
  std::string_view d = jwk.get("d");
  if (d.size() != n) return nullptr;
  BnPtr priv = bnFrom(d);
  return priv ? ecFromPoint(c, point, priv.get()) : nullptr;
}

PkeyPtr okpFromJwk(const JwkParts& jwk, int id, KeyType* type) {
  *type = jwk.has("d") ? KeyType::kPrivate : KeyType::kPublic;
  std::string_view x = jwk.get("x");
  if (*type == KeyType::kPublic) {
    return PkeyPtr(EVP_PKEY_new_raw_public_key(id, nullptr, u8(x), x.size()));
  }
  std::string_view d = jwk.get("d");
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(id, nullptr, u8(d), d.size()));
  // The private key determines x; a JWK whose x disagrees is corrupt.
  unsigned char pub[64];
  size_t len = sizeof pub;
  if (!pkey || !EVP_PKEY_get_raw_public_key(pkey.get(), pub, &len) ||
      std::string_view(reinterpret_cast<char*>(pub), len) != x) {
    return nullptr;
  }
  return pkey;
}

// cryptoImportKey(format, kind, data, namedCurve?) -> handle
//   format: "raw" | "spki" | "pkcs8" | "jwk"; kind: "secret" | "rsa" | "ec" | "ed25519" | "x25519"
//   data: a BufferSource, or for jwk an object of decoded members (ArrayBuffers). Secret keys
//   come as raw bytes only (the JS layer decodes a JWK's "k").
void nImportKey(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string format = js::toUtf8(iso, info[0]);
  KeyKind kind;
  if (!kindFromName(js::toUtf8(iso, info[1]), &kind)) {
    return (void)fail(iso, kNotSupportedError, "Unsupported key kind");
  }
  const Curve* curve = nullptr;
  if (kind == KeyKind::kEc) {
    curve = curveByWebName(js::toUtf8(iso, info[3]));
    if (!curve) return (void)fail(iso, kNotSupportedError, "Unsupported named curve");
  }
  if (kind == KeyKind::kSecret) {
    std::string_view bytes;
    if (format != "raw") {
      return (void)fail(iso, kNotSupportedError, "Secret keys import only as raw bytes");
    }
    if (!bytesArg(iso, info[2], &bytes, "keyData")) return;
    auto key = makeKey(KeyType::kSecret, kind, nullptr);
    key->secret.assign(bytes);
    return info.GetReturnValue().Set(newHandle(iso, std::move(key)));
  }

  PkeyPtr pkey;
  KeyType type = KeyType::kPublic;
  int id = pkeyIdOf(kind);
  if (format == "spki" || format == "pkcs8") {
    std::string_view der;
    if (!bytesArg(iso, info[2], &der, "keyData")) return;
    pkey = importDer(format, kind, der);
    type = format == "spki" ? KeyType::kPublic : KeyType::kPrivate;
    if (pkey && EVP_PKEY_get_base_id(pkey.get()) != id) {
      return (void)fail(iso, kDataError, "The key is not of the algorithm's key type");
    }
    if (pkey && curve && curveOf(pkey.get()) != curve) {
      return (void)fail(iso, kDataError, "The key's named curve does not match namedCurve");
    }
  } else if (format == "raw") {
    std::string_view raw;
    if (!bytesArg(iso, info[2], &raw, "keyData")) return;
    if (kind == KeyKind::kEc) {
      pkey = ecFromPoint(*curve, raw, nullptr);
    } else if (kind != KeyKind::kRsa) {
      pkey.reset(EVP_PKEY_new_raw_public_key(id, nullptr, u8(raw), raw.size()));
    } else {
      return (void)fail(iso, kNotSupportedError, "RSA keys cannot be imported as raw");
    }
  } else if (format == "jwk") {
    JwkParts jwk{iso, info[2]};
    if (kind == KeyKind::kRsa)
      pkey = rsaFromJwk(jwk, &type);
    else if (kind == KeyKind::kEc)
      pkey = ecFromJwk(jwk, *curve, &type);
    else
      pkey = okpFromJwk(jwk, id, &type);
  } else {
    return (void)fail(iso, kNotSupportedError, "Unsupported key format: " + format);
  }
  if (!pkey || !consistent(pkey.get(), kind, type)) {
    return (void)fail(iso, kDataError, "Invalid " + format + " key data");
  }
  if (kind == KeyKind::kEc) {
    // Export spki with an uncompressed point even if the import used a compressed one.
    EVP_PKEY_set_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                   "uncompressed");
  }
  info.GetReturnValue().Set(newHandle(iso, makeKey(type, kind, std::move(pkey))));
}

// ---- key info and export --------------------------------------------------------------------

const char* typeName(KeyType t) {
  return t == KeyType::kSecret ? "secret" : t == KeyType::kPublic ? "public" : "private";
}

// cryptoKeyInfo(handle) -> {type, length?, modulusLength?, publicExponent?, namedCurve?}
void nKeyInfo(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  KeyData* key = keyArg(iso, info[0]);
  if (!key) return;
  Local<v8::Object> out = v8::Object::New(iso);
  auto set = [&](const char* name, Local<Value> v) { setProp(iso, out, name, v); };
  set("type", str(iso, typeName(key->type)));
  if (key->kind == KeyKind::kSecret) {
    set("length", v8::Number::New(iso, static_cast<double>(key->secret.size()) * 8));
  } else if (key->kind == KeyKind::kRsa) {
    set("modulusLength", v8::Number::New(iso, EVP_PKEY_get_bits(key->pkey.get())));
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(key->pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e)) {
      std::string bytes = bnBytes(e);
      BN_free(e);
      Local<v8::ArrayBuffer> ab = js::newArrayBuffer(iso, bytes);
      set("publicExponent", v8::Uint8Array::New(ab, 0, bytes.size()));
    }
  } else if (key->kind == KeyKind::kEc) {
    const Curve* c = curveOf(key->pkey.get());
    if (c) set("namedCurve", str(iso, c->webName));
  }
  info.GetReturnValue().Set(out);
}

// JWK members of an asymmetric key as big-endian bytes (the JS layer base64url-encodes them).
bool jwkParts(Isolate* iso, const KeyData& key, Local<v8::Object> out) {
  EVP_PKEY* pkey = key.pkey.get();
  bool priv = key.type == KeyType::kPrivate;
  auto set = [&](const char* name, std::string_view bytes) {
    setProp(iso, out, name, js::newArrayBuffer(iso, bytes));
  };
  auto bnMember = [&](const char* name, const char* param, int pad) {
    BIGNUM* bn = nullptr;
    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) return false;
    std::string bytes = bnBytes(bn, pad);
    BN_clear_free(bn);
    set(name, bytes);
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return true;
  };
  switch (key.kind) {
    case KeyKind::kRsa:
      return bnMember("n", OSSL_PKEY_PARAM_RSA_N, 0) && bnMember("e", OSSL_PKEY_PARAM_RSA_E, 0) &&
             (!priv || (bnMember("d", OSSL_PKEY_PARAM_RSA_D, 0) &&
                        bnMember("p", OSSL_PKEY_PARAM_RSA_FACTOR1, 0) &&
                        bnMember("q", OSSL_PKEY_PARAM_RSA_FACTOR2, 0) &&
                        bnMember("dp", OSSL_PKEY_PARAM_RSA_EXPONENT1, 0) &&
                        bnMember("dq", OSSL_PKEY_PARAM_RSA_EXPONENT2, 0) &&
                        bnMember("qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0)));
    case KeyKind::kEc: {
      const Curve* c = curveOf(pkey);
      return c && bnMember("x", OSSL_PKEY_PARAM_EC_PUB_X, c->fieldBytes) &&
             bnMember("y", OSSL_PKEY_PARAM_EC_PUB_Y, c->fieldBytes) &&
             (!priv || bnMember("d", OSSL_PKEY_PARAM_PRIV_KEY, c->fieldBytes));
    }
    case KeyKind::kEd25519:
    case KeyKind::kX25519: {
      unsigned char buf[64];
      size_t len = sizeof buf;
      if (!EVP_PKEY_get_raw_public_key(pkey, buf, &len)) return false;
      set("x", std::string_view(reinterpret_cast<char*>(buf), len));
      len = sizeof buf;
      if (priv && !EVP_PKEY_get_raw_private_key(pkey, buf, &len)) return false;
      if (priv) set("d", std::string_view(reinterpret_cast<char*>(buf), len));
      OPENSSL_cleanse(buf, sizeof buf);
      return true;
    }
    case KeyKind::kSecret:
      break;
  }
  return false;
}

// cryptoExportKey(handle, format) -> ArrayBuffer (raw, spki, pkcs8) | object of members (jwk)
void nExportKey(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  KeyData* key = keyArg(iso, info[0]);
  if (!key) return;
  std::string format = js::toUtf8(iso, info[1]);
  EVP_PKEY* pkey = key->pkey.get();
  if (format == "jwk") {
    Local<v8::Object> out = v8::Object::New(iso);
    if (key->kind == KeyKind::kSecret) {
      setProp(iso, out, "k", js::newArrayBuffer(iso, key->secret));
    } else if (!jwkParts(iso, *key, out)) {
      return (void)fail(iso, kOperationError, "The key could not be exported as jwk");
    }
    return info.GetReturnValue().Set(out);
  }
  if (format == "raw") {
    if (key->kind == KeyKind::kSecret) return returnBytes(info, key->secret);
    if (key->type != KeyType::kPublic || key->kind == KeyKind::kRsa) {
      return (void)fail(iso, kInvalidAccessError, "Only public EC and OKP keys export as raw");
    }
    std::string out;
    if (key->kind == KeyKind::kEc) {
      const Curve* c = curveOf(pkey);
      if (!c || !ecPublicPoint(pkey, *c, &out)) {
        return (void)fail(iso, kOperationError, "The key could not be exported");
      }
    } else {
      size_t len = 0;
      EVP_PKEY_get_raw_public_key(pkey, nullptr, &len);
      out.resize(len);
      if (!EVP_PKEY_get_raw_public_key(pkey, u8(out), &len)) {
        return (void)fail(iso, kOperationError, "The key could not be exported");
      }
    }
    return returnBytes(info, out);
  }
  bool spki = format == "spki";
  if (!spki && format != "pkcs8") {
    return (void)fail(iso, kNotSupportedError, "Unsupported key format: " + format);
  }
  if (key->type != (spki ? KeyType::kPublic : KeyType::kPrivate)) {
    return (void)fail(
        iso, kInvalidAccessError,
        spki ? "Only public keys export as spki" : "Only private keys export as pkcs8");
  }
  unsigned char* der = nullptr;
  int len = -1;
  if (spki) {
    len = i2d_PUBKEY(pkey, &der);
  } else {
    P8Ptr p8(EVP_PKEY2PKCS8(pkey));
    if (p8) len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  }
  if (len <= 0) return (void)fail(iso, kOperationError, "The key could not be exported");
  returnBytes(info, std::string_view(reinterpret_cast<char*>(der), len));
  OPENSSL_clear_free(der, len);
}

// ---- generation -----------------------------------------------------------------------------

constexpr double kMaxRsaBits = 8192;  // TODO(security): larger keys stall the shard for seconds

PkeyPtr generateRsa(Isolate* iso, Local<Value> params) {
  double bits = numberProp(iso, params, "modulusLength", 0);
  std::string_view exp;
  if (!bytesArg(iso, prop(iso, params, "publicExponent"), &exp, "publicExponent")) return nullptr;
  BnPtr e = bnFrom(exp);
  // Only the exponents browsers accept; anything else is slow or weak.
  if (!e || (!BN_is_word(e.get(), 3) && !BN_is_word(e.get(), 65537))) {
    fail(iso, kOperationError, "The publicExponent must be 3 or 65537");
    return nullptr;
  }
  if (bits < 512 || bits > kMaxRsaBits || static_cast<int>(bits) % 8 != 0) {
    fail(iso, kOperationError, "The modulusLength must be a multiple of 8 from 512 to 8192");
    return nullptr;
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) <= 0 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) <= 0 ||
      EVP_PKEY_generate(ctx.get(), &pkey) <= 0) {
    fail(iso, kOperationError, "RSA key generation failed");
    return nullptr;
  }
  return PkeyPtr(pkey);
}

// cryptoGenerateKey(kind, params) -> handle (secret: {length} in bits)
//                                  | [publicHandle, privateHandle] (rsa: {modulusLength,
//                                    publicExponent}, ec: {namedCurve}, ed25519, x25519)
void nGenerateKey(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  KeyKind kind;
  if (!kindFromName(js::toUtf8(iso, info[0]), &kind)) {
    return (void)fail(iso, kNotSupportedError, "Unsupported key kind");
  }
  Local<Value> params = info[1];
  if (kind == KeyKind::kSecret) {
    double bits = numberProp(iso, params, "length", 0);
    if (!(bits > 0 && bits <= 65536)) {
      return (void)fail(iso, kOperationError, "Invalid key length");
    }
    auto key = makeKey(KeyType::kSecret, kind, nullptr);
    key->secret.resize((static_cast<size_t>(bits) + 7) / 8);
    if (RAND_bytes(u8(key->secret), static_cast<int>(key->secret.size())) != 1) {
      return (void)fail(iso, kOperationError, "The random generator failed");
    }
    return info.GetReturnValue().Set(newHandle(iso, std::move(key)));
  }
  PkeyPtr priv;
  if (kind == KeyKind::kRsa) {
    priv = generateRsa(iso, params);
    if (!priv) return;
  } else if (kind == KeyKind::kEc) {
    const Curve* c = curveByWebName(stringProp(iso, params, "namedCurve"));
    if (!c) return (void)fail(iso, kNotSupportedError, "Unsupported named curve");
    priv.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", c->osslName));
  } else {
    priv.reset(
        EVP_PKEY_Q_keygen(nullptr, nullptr, kind == KeyKind::kEd25519 ? "ED25519" : "X25519"));
  }
  PkeyPtr pub = priv ? publicOnly(priv.get()) : nullptr;
  if (!pub) return (void)fail(iso, kOperationError, "Key generation failed");
  Local<Value> pair[] = {newHandle(iso, makeKey(KeyType::kPublic, kind, std::move(pub))),
                         newHandle(iso, makeKey(KeyType::kPrivate, kind, std::move(priv)))};
  info.GetReturnValue().Set(v8::Array::New(iso, pair, 2));
}

// ---- digest, HMAC, sign and verify ----------------------------------------------------------

// cryptoDigest(hash, data) -> ArrayBuffer
void nDigest(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  const EVP_MD* md = hashArg(iso, js::toUtf8(iso, info[0]));
  std::string_view data;
  if (!md || !bytesArg(iso, info[1], &data, "data")) return;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), out, &len, md, nullptr)) {
    return (void)fail(iso, kOperationError, "Digest failed");
  }
  returnBytes(info, std::string_view(reinterpret_cast<char*>(out), len));
}

// cryptoHmac(hash, keyBytes, data) -> ArrayBuffer
void nHmac(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  const EVP_MD* md = hashArg(iso, js::toUtf8(iso, info[0]));
  std::string_view key, data;
  if (!md || !bytesArg(iso, info[1], &key, "key") || !bytesArg(iso, info[2], &data, "data")) {
    return;
  }
  std::string out;
  if (!hmac(md, key, data, &out)) return (void)fail(iso, kOperationError, "HMAC failed");
  returnBytes(info, out);
}

enum class SignOp { kSign, kVerify };

// Opens `mctx` for alg (RSASSA-PKCS1-v1_5, RSA-PSS, ECDSA, Ed25519) with `key`.
bool openSigner(Isolate* iso, SignOp op, std::string_view alg, const KeyData& key,
                Local<Value> params, EVP_MD_CTX* mctx) {
  bool rsa = alg == "RSASSA-PKCS1-v1_5" || alg == "RSA-PSS";
  KeyKind want = rsa ? KeyKind::kRsa : alg == "ECDSA" ? KeyKind::kEc : KeyKind::kEd25519;
  if (!rsa && alg != "ECDSA" && alg != "Ed25519") {
    return fail(iso, kNotSupportedError, "Unsupported signature algorithm: " + std::string(alg));
  }
  KeyType wantType = op == SignOp::kSign ? KeyType::kPrivate : KeyType::kPublic;
  if (key.kind != want || key.type != wantType) {
    return fail(iso, kInvalidAccessError, "The key does not fit the signature algorithm");
  }
  const EVP_MD* md = nullptr;
  if (want != KeyKind::kEd25519 && !(md = hashArg(iso, stringProp(iso, params, "hash")))) {
    return false;
  }
  EVP_PKEY_CTX* pctx = nullptr;
  int ok = op == SignOp::kSign ? EVP_DigestSignInit(mctx, &pctx, md, nullptr, key.pkey.get())
                               : EVP_DigestVerifyInit(mctx, &pctx, md, nullptr, key.pkey.get());
  if (ok == 1 && alg == "RSASSA-PKCS1-v1_5") {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
  } else if (ok == 1 && alg == "RSA-PSS") {
    double salt = numberProp(iso, params, "saltLength", -1);
    if (!(salt >= 0 && salt <= INT_MAX)) return fail(iso, kOperationError, "Invalid saltLength");
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(salt)) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
  }
  return ok == 1 || fail(iso, kOperationError, "The signature operation could not start");
}

// ECDSA in WebCrypto is r || s, each padded to the field size; OpenSSL speaks DER.
bool ecdsaDerToRaw(std::string_view der, int n, std::string* out) {
  const unsigned char* p = u8(der);
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return false;
  *out = bnBytes(ECDSA_SIG_get0_r(sig.get()), n) + bnBytes(ECDSA_SIG_get0_s(sig.get()), n);
  return true;
}

bool ecdsaRawToDer(std::string_view raw, int n, std::string* out) {
  if (raw.size() != static_cast<size_t>(2 * n)) return false;
  BnPtr r = bnFrom(raw.substr(0, n)), s = bnFrom(raw.substr(n));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || !ECDSA_SIG_set0(sig.get(), r.get(), s.get())) return false;
  r.release();
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return false;
  out->resize(len);
  unsigned char* q = u8(*out);
  return i2d_ECDSA_SIG(sig.get(), &q) == len;
}

int ecFieldBytes(EVP_PKEY* pkey) {
  return (EVP_PKEY_get_bits(pkey) + 7) / 8;
}

// cryptoSign(alg, handle, data, params{hash, saltLength}) -> ArrayBuffer
void nSign(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string alg = js::toUtf8(iso, info[0]);
  KeyData* key = keyArg(iso, info[1]);
  std::string_view data;
  if (!key || !bytesArg(iso, info[2], &data, "data")) return;
  std::string out;
  if (alg == "HMAC") {
    const EVP_MD* md = hashArg(iso, stringProp(iso, info[3], "hash"));
    if (!md) return;
    if (key->kind != KeyKind::kSecret) {
      return (void)fail(iso, kInvalidAccessError, "HMAC needs a secret key");
    }
    if (!hmac(md, key->secret, data, &out)) return (void)fail(iso, kOperationError, "HMAC failed");
    return returnBytes(info, out);
  }
  MdCtxPtr mctx(EVP_MD_CTX_new());
  if (!mctx || !openSigner(iso, SignOp::kSign, alg, *key, info[3], mctx.get())) return;
  size_t len = 0;
  if (EVP_DigestSign(mctx.get(), nullptr, &len, u8(data), data.size()) != 1) {
    return (void)fail(iso, kOperationError, "Signing failed");
  }
  out.resize(len);
  if (EVP_DigestSign(mctx.get(), u8(out), &len, u8(data), data.size()) != 1) {
    return (void)fail(iso, kOperationError, "Signing failed");
  }
  out.resize(len);
  if (alg == "ECDSA") {
    std::string raw;
    if (!ecdsaDerToRaw(out, ecFieldBytes(key->pkey.get()), &raw)) {
      return (void)fail(iso, kOperationError, "Signing failed");
    }
    out.swap(raw);
  }
  returnBytes(info, out);
}

// cryptoVerify(alg, handle, signature, data, params{hash, saltLength}) -> boolean
void nVerify(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  std::string alg = js::toUtf8(iso, info[0]);
  KeyData* key = keyArg(iso, info[1]);
  std::string_view sig, data;
  if (!key || !bytesArg(iso, info[2], &sig, "signature") ||
      !bytesArg(iso, info[3], &data, "data")) {
    return;
  }
  if (alg == "HMAC") {
    const EVP_MD* md = hashArg(iso, stringProp(iso, info[4], "hash"));
    if (!md) return;
    if (key->kind != KeyKind::kSecret) {
      return (void)fail(iso, kInvalidAccessError, "HMAC needs a secret key");
    }
    std::string mac;
    if (!hmac(md, key->secret, data, &mac)) return (void)fail(iso, kOperationError, "HMAC failed");
    bool ok = mac.size() == sig.size() && CRYPTO_memcmp(mac.data(), sig.data(), sig.size()) == 0;
    return info.GetReturnValue().Set(ok);
  }
  MdCtxPtr mctx(EVP_MD_CTX_new());
  if (!mctx || !openSigner(iso, SignOp::kVerify, alg, *key, info[4], mctx.get())) return;
  std::string der;
  if (alg == "ECDSA") {
    if (!ecdsaRawToDer(sig, ecFieldBytes(key->pkey.get()), &der)) {
      return info.GetReturnValue().Set(false);
    }
    sig = der;
  }
  int ok = EVP_DigestVerify(mctx.get(), u8(sig), sig.size(), u8(data), data.size());
  info.GetReturnValue().Set(ok == 1);
}

// ---- encrypt and decrypt --------------------------------------------------------------------

enum class Dir { kEncrypt, kDecrypt };

struct AesMode {
  const char* name;
  const EVP_CIPHER* (*bySize[3])();  // 128, 192 and 256-bit keys
};
constexpr AesMode kAesModes[] = {
    {"AES-GCM", {EVP_aes_128_gcm, EVP_aes_192_gcm, EVP_aes_256_gcm}},
    {"AES-CBC", {EVP_aes_128_cbc, EVP_aes_192_cbc, EVP_aes_256_cbc}},
    {"AES-CTR", {EVP_aes_128_ctr, EVP_aes_192_ctr, EVP_aes_256_ctr}},
    {"AES-KW", {EVP_aes_128_wrap, EVP_aes_192_wrap, EVP_aes_256_wrap}},
};

const AesMode* aesMode(std::string_view alg) {
  for (const AesMode& m : kAesModes) {
    if (alg == m.name) return &m;
  }
  return nullptr;
}

const EVP_CIPHER* aesCipher(const AesMode& mode, size_t keyBytes) {
  int i = keyBytes == 16 ? 0 : keyBytes == 24 ? 1 : keyBytes == 32 ? 2 : -1;
  return i < 0 ? nullptr : mode.bySize[i]();
}

// One EVP_CipherInit/Update/Final pass; GCM's tag handling is the caller's.
struct CipherRun {
  EVP_CIPHER_CTX* ctx;
  Dir dir;
  bool update(std::string_view in, std::string* out) {
    size_t at = out->size();
    out->resize(at + in.size() + EVP_MAX_BLOCK_LENGTH);
    int len = 0;
    if (EVP_CipherUpdate(ctx, u8(*out) + at, &len, u8(in), static_cast<int>(in.size())) != 1) {
      return false;
    }
    out->resize(at + len);
    return true;
  }
  bool final(std::string* out) {
    size_t at = out->size();
    out->resize(at + EVP_MAX_BLOCK_LENGTH);
    int len = 0;
    if (EVP_CipherFinal_ex(ctx, u8(*out) + at, &len) != 1) return false;
    out->resize(at + len);
    return true;
  }
};

bool aesGcm(Isolate* iso, Dir dir, const EVP_CIPHER* cipher, std::string_view key,
            Local<Value> params, std::string_view data, std::string* out) {
  std::string_view iv, aad;
  if (!optionalBytes(iso, params, "iv", &iv) ||
      !optionalBytes(iso, params, "additionalData", &aad)) {
    return false;
  }
  double tagBits = numberProp(iso, params, "tagLength", 128);
  int tagBytes = static_cast<int>(tagBits) / 8;
  if (tagBits != tagBytes * 8 ||
      (tagBits != 32 && tagBits != 64 && (tagBits < 96 || tagBits > 128))) {
    return fail(iso, kOperationError, "Invalid tagLength");
  }
  if (iv.empty()) return fail(iso, kOperationError, "The iv must not be empty");
  std::string_view tag;
  if (dir == Dir::kDecrypt) {
    if (data.size() < static_cast<size_t>(tagBytes)) {
      return fail(iso, kOperationError, "The data is shorter than the tag");
    }
    tag = data.substr(data.size() - tagBytes);
    data.remove_suffix(tagBytes);
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  CipherRun run{ctx.get(), dir};
  int enc = dir == Dir::kEncrypt ? 1 : 0;
  int aadLen = 0;
  bool ok = ctx && EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, enc) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                                nullptr) == 1 &&
            EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, u8(key), u8(iv), enc) == 1 &&
            (aad.empty() || EVP_CipherUpdate(ctx.get(), nullptr, &aadLen, u8(aad),
                                             static_cast<int>(aad.size())) == 1) &&
            run.update(data, out);
  if (ok && dir == Dir::kDecrypt) {
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tagBytes,
                             const_cast<unsigned char*>(u8(tag))) == 1 &&
         run.final(out);
    return ok || fail(iso, kOperationError, "Decryption failed");
  }
  if (ok && run.final(out)) {
    size_t at = out->size();
    out->resize(at + tagBytes);
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tagBytes, u8(*out) + at) == 1;
  }
  return ok || fail(iso, kOperationError, "Encryption failed");
}

using u128 = unsigned __int128;

u128 loadBe128(std::string_view b) {
  u128 v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}

std::string storeBe128(u128 v) {
  std::string b(16, '\0');
  for (int i = 15; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xff);
  return b;
}

// AES-CTR where only the low `length` bits of the counter block count and wrap, as WebCrypto
// says; OpenSSL counts all 128, so the run is split where the low bits wrap.
bool aesCtr(Isolate* iso, const EVP_CIPHER* cipher, std::string_view key, Local<Value> params,
            std::string_view data, std::string* out) {
  std::string_view counter;
  if (!optionalBytes(iso, params, "counter", &counter)) return false;
  double bits = numberProp(iso, params, "length", 0);
  if (counter.size() != 16) return fail(iso, kOperationError, "The counter must be 16 bytes");
  if (!(bits >= 1 && bits <= 128)) return fail(iso, kOperationError, "Invalid counter length");
  int n = static_cast<int>(bits);
  u128 blocks = (data.size() + 15) / 16;
  u128 ctr = loadBe128(counter);
  std::string_view first = data, second;
  std::string wrapped;
  if (n < 128) {
    u128 space = static_cast<u128>(1) << n, mask = space - 1;
    if (blocks > space) return fail(iso, kOperationError, "The counter would repeat");
    u128 untilWrap = space - (ctr & mask);
    if (blocks > untilWrap) {
      first = data.substr(0, static_cast<size_t>(untilWrap) * 16);
      second = data.substr(first.size());
      wrapped = storeBe128(ctr & ~mask);
    }
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  CipherRun run{ctx.get(), Dir::kEncrypt};
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, u8(key), u8(counter)) == 1 &&
            run.update(first, out);
  if (ok && !second.empty()) {
    ok = EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, nullptr, u8(wrapped)) == 1 &&
         run.update(second, out);
  }
  return (ok && run.final(out)) || fail(iso, kOperationError, "AES-CTR failed");
}

bool aesSimple(Isolate* iso, Dir dir, std::string_view alg, const EVP_CIPHER* cipher,
               std::string_view key, Local<Value> params, std::string_view data, std::string* out) {
  std::string_view iv;
  if (alg == "AES-CBC") {
    if (!optionalBytes(iso, params, "iv", &iv)) return false;
    if (iv.size() != 16) return fail(iso, kOperationError, "The iv must be 16 bytes for AES-CBC");
  } else if (data.size() % 8 != 0 || data.size() < (dir == Dir::kEncrypt ? 16u : 24u)) {
    return fail(iso, kOperationError, "AES-KW data must be a multiple of 8 bytes, at least 16");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return fail(iso, kOperationError, "Out of memory");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  CipherRun run{ctx.get(), dir};
  bool ok = EVP_CipherInit_ex(ctx.get(), cipher, nullptr, u8(key), iv.empty() ? nullptr : u8(iv),
                              dir == Dir::kEncrypt ? 1 : 0) == 1 &&
            run.update(data, out) && run.final(out);
  return ok || fail(iso, kOperationError,
                    dir == Dir::kEncrypt ? "Encryption failed" : "Decryption failed");
}

bool rsaOaep(Isolate* iso, Dir dir, const KeyData& key, Local<Value> params, std::string_view data,
             std::string* out) {
  KeyType want = dir == Dir::kEncrypt ? KeyType::kPublic : KeyType::kPrivate;
  if (key.kind != KeyKind::kRsa || key.type != want) {
    return fail(iso, kInvalidAccessError, "The key does not fit RSA-OAEP");
  }
  const EVP_MD* md = hashArg(iso, stringProp(iso, params, "hash"));
  std::string_view label;
  if (!md || !optionalBytes(iso, params, "label", &label)) return false;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
  bool enc = dir == Dir::kEncrypt;
  bool ok = ctx &&
            (enc ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get())) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) == 1;
  if (ok && !label.empty()) {
    void* copy = OPENSSL_memdup(label.data(), label.size());
    ok = copy &&
         EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy, static_cast<int>(label.size())) == 1;
    if (!ok) OPENSSL_free(copy);
  }
  auto call = [&](unsigned char* dst, size_t* len) {
    return enc ? EVP_PKEY_encrypt(ctx.get(), dst, len, u8(data), data.size())
               : EVP_PKEY_decrypt(ctx.get(), dst, len, u8(data), data.size());
  };
  size_t len = 0;
  ok = ok && call(nullptr, &len) == 1;
  if (ok) {
    out->resize(len);
    ok = call(u8(*out), &len) == 1;
    out->resize(len);
  }
  return ok || fail(iso, kOperationError, enc ? "Encryption failed" : "Decryption failed");
}

// cryptoEncrypt / cryptoDecrypt(alg, handle, data, params) -> ArrayBuffer
//   AES-GCM {iv, additionalData?, tagLength?}, AES-CBC {iv}, AES-CTR {counter, length},
//   AES-KW {}, RSA-OAEP {hash, label?}
void cipherNative(const FunctionCallbackInfo<Value>& info, Dir dir) {
  Isolate* iso = info.GetIsolate();
  std::string alg = js::toUtf8(iso, info[0]);
  KeyData* key = keyArg(iso, info[1]);
  std::string_view data;
  if (!key || !bytesArg(iso, info[2], &data, "data")) return;
  if (data.size() > INT_MAX - 64) return (void)fail(iso, kOperationError, "The data is too large");
  std::string out;
  bool ok = false;
  if (alg == "RSA-OAEP") {
    ok = rsaOaep(iso, dir, *key, info[3], data, &out);
  } else {
    const AesMode* mode = aesMode(alg);
    if (!mode) return (void)fail(iso, kNotSupportedError, "Unsupported cipher: " + alg);
    const EVP_CIPHER* cipher = aesCipher(*mode, key->secret.size());
    if (key->kind != KeyKind::kSecret || !cipher) {
      return (void)fail(iso, kInvalidAccessError, "The key does not fit " + alg);
    }
    if (alg == "AES-GCM")
      ok = aesGcm(iso, dir, cipher, key->secret, info[3], data, &out);
    else if (alg == "AES-CTR")
      ok = aesCtr(iso, cipher, key->secret, info[3], data, &out);
    else
      ok = aesSimple(iso, dir, alg, cipher, key->secret, info[3], data, &out);
  }
  if (ok) returnBytes(info, out);
  OPENSSL_cleanse(out.data(), out.size());
}

void nEncrypt(const FunctionCallbackInfo<Value>& info) {
  cipherNative(info, Dir::kEncrypt);
}
void nDecrypt(const FunctionCallbackInfo<Value>& info) {
  cipherNative(info, Dir::kDecrypt);
}

// ---- key derivation -------------------------------------------------------------------------

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

// ---- installation ---------------------------------------------------------------------------

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

std::int64_t liveCryptoKeyCount() {
  return gLiveKeys.load();
}

void installCryptoNatives(Isolate* iso, Local<v8::Context> ctx, Local<v8::Object> target) {
  auto add = [&](const char* name, v8::FunctionCallback fn) {
    Local<v8::Function> f = v8::FunctionTemplate::New(iso, fn)->GetFunction(ctx).ToLocalChecked();
    target->Set(ctx, str(iso, name), f).FromMaybe(false);
  };
  add("cryptoDigest", guarded<nDigest>);
  add("cryptoHmac", guarded<nHmac>);
  add("cryptoImportKey", guarded<nImportKey>);
  add("cryptoKeyInfo", guarded<nKeyInfo>);
  add("cryptoExportKey", guarded<nExportKey>);
  add("cryptoGenerateKey", guarded<nGenerateKey>);
  add("cryptoSign", guarded<nSign>);
  add("cryptoVerify", guarded<nVerify>);
  add("cryptoEncrypt", guarded<nEncrypt>);
  add("cryptoDecrypt", guarded<nDecrypt>);
  add("cryptoDeriveBits", guarded<nDeriveBits>);
}

}  // namespace partyd::api
