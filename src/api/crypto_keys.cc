// crypto.subtle's key natives: building OpenSSL keys from parameters, importKey (spki, pkcs8,
// raw, jwk), the facts the JS layer reads from a key handle, exportKey, and generateKey.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

#include "api/crypto_natives_internal.h"

namespace partyd::api::crypto {

// ---- building keys --------------------------------------------------------------------------

namespace {

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

}  // namespace

// ---- import ---------------------------------------------------------------------------------

namespace {

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

}  // namespace

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

namespace {

const char* typeName(KeyType t) {
  return t == KeyType::kSecret ? "secret" : t == KeyType::kPublic ? "public" : "private";
}

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace partyd::api::crypto
