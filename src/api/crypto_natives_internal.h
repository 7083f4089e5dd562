// What the crypto.subtle natives share, for api/crypto_*.cc only: argument reading and the
// DOMException-named errors, OpenSSL handle owners, hash lookup, key handles (KeyData behind a
// branded ArrayBuffer) and the NIST curves. The natives themselves are defined in
// crypto_keys.cc, crypto_sign.cc, crypto_cipher.cc and crypto_derive.cc, and installed by
// installCryptoNatives (crypto_natives.cc), which is the only way in from outside.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <v8.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "js/engine.h"

namespace partyd::api::crypto {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Value;

// ---- errors and arguments -------------------------------------------------------------------

inline constexpr const char* kDataError = "DataError";
inline constexpr const char* kOperationError = "OperationError";
inline constexpr const char* kNotSupportedError = "NotSupportedError";
inline constexpr const char* kInvalidAccessError = "InvalidAccessError";

// Throws an Error whose name is `name`; returns false so callers can `return fail(...)`.
bool fail(Isolate* iso, const char* name, std::string_view msg);
bool failType(Isolate* iso, std::string_view msg);
void setProp(Isolate* iso, Local<v8::Object> obj, const char* name, Local<Value> v);
Local<Value> prop(Isolate* iso, Local<Value> obj, const char* name);
std::string stringProp(Isolate* iso, Local<Value> obj, const char* name);
bool bytesArg(Isolate* iso, Local<Value> v, std::string_view* out, const char* what);
// An optional BufferSource member: absent (undefined) gives an empty view.
bool optionalBytes(Isolate* iso, Local<Value> obj, const char* name, std::string_view* out);
double numberProp(Isolate* iso, Local<Value> obj, const char* name, double fallback);
const unsigned char* u8(std::string_view s);
unsigned char* u8(std::string& s);
void returnBytes(const FunctionCallbackInfo<Value>& info, std::string_view bytes);

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

const EVP_MD* hashByName(std::string_view name);
// hashByName, or a thrown NotSupportedError and nullptr.
const EVP_MD* hashArg(Isolate* iso, std::string_view name);
// Big-endian bytes of bn, left-padded with zeros to `pad` bytes when pad > 0.
std::string bnBytes(const BIGNUM* bn, int pad = 0);
BnPtr bnFrom(std::string_view bytes);
bool hmac(const EVP_MD* md, std::string_view key, std::string_view data, std::string* out);

// ---- key handles ----------------------------------------------------------------------------
// A CryptoKey's native half is a KeyData behind a handle (js/native_handle.h).

enum class KeyType { kSecret, kPublic, kPrivate };
enum class KeyKind { kSecret, kRsa, kEc, kEd25519, kX25519 };

inline constexpr std::uint64_t kKeyMagic = 0x7061727479643a6bULL;  // "partyd:k"

struct KeyData {
  static constexpr std::uint64_t kMagic = kKeyMagic;
  unsigned char window = 0;  // all the handle's ArrayBuffer shows of this struct
  std::uint64_t magic = kKeyMagic;
  KeyType type = KeyType::kSecret;
  KeyKind kind = KeyKind::kSecret;
  std::string secret;  // secret keys
  PkeyPtr pkey;        // asymmetric keys (a private key's pkey also holds its public half)

  KeyData();   // counted in liveCryptoKeyCount()
  ~KeyData();  // wipes `secret`
};

Local<Value> newHandle(Isolate* iso, std::unique_ptr<KeyData> key);
// The KeyData behind handle v, or a thrown TypeError and nullptr.
KeyData* keyArg(Isolate* iso, Local<Value> v);
std::unique_ptr<KeyData> makeKey(KeyType type, KeyKind kind, PkeyPtr pkey);
bool kindFromName(std::string_view name, KeyKind* out);
int pkeyIdOf(KeyKind kind);

// ---- curves ---------------------------------------------------------------------------------

struct Curve {
  const char* webName;
  const char* osslName;
  int nid;
  int fieldBytes;
};
inline constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", NID_X9_62_prime256v1, 32},
    {"P-384", "secp384r1", NID_secp384r1, 48},
    {"P-521", "secp521r1", NID_secp521r1, 66},
};

const Curve* curveByWebName(std::string_view name);
const Curve* curveOf(EVP_PKEY* pkey);
// The public point as WebCrypto's raw format wants it: 0x04 || x || y, each padded.
bool ecPublicPoint(EVP_PKEY* pkey, const Curve& c, std::string* out);

// ---- the natives (one per `native.crypto*` function) -----------------------------------------

void nImportKey(const FunctionCallbackInfo<Value>& info);    // crypto_keys.cc
void nKeyInfo(const FunctionCallbackInfo<Value>& info);      // crypto_keys.cc
void nExportKey(const FunctionCallbackInfo<Value>& info);    // crypto_keys.cc
void nGenerateKey(const FunctionCallbackInfo<Value>& info);  // crypto_keys.cc
void nDigest(const FunctionCallbackInfo<Value>& info);       // crypto_sign.cc
void nHmac(const FunctionCallbackInfo<Value>& info);         // crypto_sign.cc
void nSign(const FunctionCallbackInfo<Value>& info);         // crypto_sign.cc
void nVerify(const FunctionCallbackInfo<Value>& info);       // crypto_sign.cc
void nEncrypt(const FunctionCallbackInfo<Value>& info);      // crypto_cipher.cc
void nDecrypt(const FunctionCallbackInfo<Value>& info);      // crypto_cipher.cc
void nDeriveBits(const FunctionCallbackInfo<Value>& info);   // crypto_derive.cc

}  // namespace partyd::api::crypto
