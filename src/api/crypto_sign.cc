// crypto.subtle's digest, HMAC, sign and verify natives (RSASSA-PKCS1-v1_5, RSA-PSS, ECDSA with
// WebCrypto's raw r || s signatures, Ed25519).
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <climits>
#include <cstring>
#include <string>
#include <string_view>

#include "api/crypto_natives_internal.h"

namespace partyd::api::crypto {

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

namespace {

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

}  // namespace

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

}  // namespace partyd::api::crypto
