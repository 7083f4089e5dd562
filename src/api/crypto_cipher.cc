// crypto.subtle's encrypt and decrypt natives: AES (GCM, CBC, CTR, KW) and RSA-OAEP.
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <climits>
#include <string>
#include <string_view>

#include "api/crypto_natives_internal.h"

namespace partyd::api::crypto {

// ---- encrypt and decrypt --------------------------------------------------------------------

namespace {

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

}  // namespace

void nEncrypt(const FunctionCallbackInfo<Value>& info) {
  cipherNative(info, Dir::kEncrypt);
}

void nDecrypt(const FunctionCallbackInfo<Value>& info) {
  cipherNative(info, Dir::kDecrypt);
}

}  // namespace partyd::api::crypto
