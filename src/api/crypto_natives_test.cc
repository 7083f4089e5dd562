// crypto.subtle end to end inside V8: the real natives under the real JS layer (bundled from
// src/api/js/subtle by esbuild at test time), checked against published vectors (FIPS 180,
// RFC 4231, 6070, 5869, 3394, 8032, the GCM spec), against signatures and JWTs made by Node with
// the fixture keys below (made with the openssl CLI), and with the jose package when installed.
#include "api/crypto_natives.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "js/engine.h"

namespace partyd::api {
namespace {

namespace fs = std::filesystem;

const fs::path kRepo = fs::path(__FILE__).parent_path().parent_path().parent_path();

// esbuild's IIFE bundle of `entry`, or "" when esbuild (or an import) is missing.
std::string bundle(const fs::path& entry, const std::string& args, const std::string& env = "") {
  fs::path out = fs::temp_directory_path() / ("partyd_subtle_" + std::to_string(getpid()) + "_" +
                                              entry.stem().string() + ".js");
  std::string cmd = env + " esbuild '" + entry.string() +
                    "' --bundle --format=iife --target=es2022 --log-level=error " + args +
                    " --outfile='" + out.string() + "'";
  if (std::system(cmd.c_str()) != 0) return "";
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(out);
  return text.str();
}

// Test helpers and the minimal web globals jose needs (the real runtime has full ones).
constexpr const char* kPrelude = R"js(
globalThis.subtle = subtleLib.createSubtle(globalThis.__native);
globalThis.CryptoKey = subtleLib.CryptoKey;
globalThis.crypto = {
  subtle,
  getRandomValues(a) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) b[i] = (Math.random() * 256) | 0;
    return a;
  },
};
// jose 6 clones JWKs with structuredClone; plain JSON data is all it passes.
globalThis.structuredClone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
globalThis.TextEncoder = class {
  encode(s = "") {
    return Uint8Array.from(unescape(encodeURIComponent(s)), (c) => c.charCodeAt(0));
  }
};
globalThis.TextDecoder = class {
  decode(b) {
    const u = b instanceof Uint8Array ? b : new Uint8Array(b.buffer ?? b);
    let s = "";
    for (const x of u) s += String.fromCharCode(x);
    return decodeURIComponent(escape(s));
  }
};
const kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
globalThis.btoa = (s) => {
  let out = "";
  for (let i = 0; i < s.length; i += 3) {
    const n = (s.charCodeAt(i) << 16) | ((s.charCodeAt(i + 1) || 0) << 8) | (s.charCodeAt(i + 2) || 0);
    out += kB64[n >> 18] + kB64[(n >> 12) & 63];
    out += i + 1 < s.length ? kB64[(n >> 6) & 63] : "=";
    out += i + 2 < s.length ? kB64[n & 63] : "=";
  }
  return out;
};
globalThis.atob = (s) => {
  s = s.replace(/[\s=]/g, "");
  let out = "";
  for (let i = 0; i < s.length; i += 4) {
    const n = [0, 1, 2, 3].reduce((acc, k) => (acc << 6) | Math.max(kB64.indexOf(s[i + k] ?? "A"), 0), 0);
    out += String.fromCharCode(n >> 16);
    if (i + 2 < s.length) out += String.fromCharCode((n >> 8) & 255);
    if (i + 3 < s.length) out += String.fromCharCode(n & 255);
  }
  return out;
};
globalThis.hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
globalThis.fromHex = (h) => new Uint8Array((h.match(/../g) ?? []).map((x) => parseInt(x, 16)));
globalThis.utf8 = (s) => new TextEncoder().encode(s);
globalThis.der = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
globalThis.errorOf = async (promise) => {
  try {
    await promise;
    return "resolved";
  } catch (e) {
    return `${e.name}${Object.prototype.toString.call(e) === "[object DOMException]" ? "(DOMException)" : ""}: ${e.message}`;
  }
};
)js";

// Fixture keys (openssl genpkey), their JWKs, and signatures and JWTs made by Node with them.
constexpr const char* kFixtures = R"js(
globalThis.FX = {
  rsaPkcs8:
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDN+meq94o167f6YwBFlzMYwv9Dy5o/l+YLqqdD" +
    "a87Ut1lq3S7U4ZIsCieQVkqcmyF6liJyT7t11Y9o0NWil1M/sUAUXYMtQufyOPDpZ4kDjDbjOo6kn8v4unFEIUxA" +
    "hU2781PXNbD8xeKbu/7PJiqTA27VMofGBPG1HaZfzD8dmPKz2+Vj7rM8SUkqsKBtr4Eefd2Lx9wcZSLABKwda2O/" +
    "E4WN8mOAMVDDfjXlhNv07aPygBp5Fu6jRn2lacBfrG9lOhoDwWW3zTQOpCrxZ4EcaorcshrXY22Jk54X1BhPkyrt" +
    "pGceK+g7okfozZmLrgZ8Xv1S3wJd6V01wrtfnnelAgMBAAECggEADDmWGOCTlGWxcqvuN93PIONvO7qEJM1teuMd" +
    "sEkKv+Ht7a4Y+cuK3brwjtwq63vi6HVWsArUE8dMDqrZCHW2HCv3Tf4gK08y7akRgK4uGfF4JH5fjvJpAbyBvSBu" +
    "InoxmzvIOG1YXCLxMyWyQYsrWwmzdKCIzGjotkN/PLpQ7f8AO9ODOV78tjoGqO6nEbnRFv1VDzHEgVrJpfb6JFCf" +
    "lzVTlNKtKb9wXC7Z2zftwSpzXb4l8cIjem/MCf+wO3+ZYbni/zl/8boF/JwZ6Ozrgn/OCXZEK0X3u5ohZNVam4vY" +
    "v7UOGCISUAWCkdO/fZslC0WrRuT0+mHKWfiSarKWAQKBgQD3Gc+KXvlYlLosieUIkS7SSqfl4vTzq0Qg5j695rk/" +
    "TSMdQVKgT0HWWXy2sfBRQ5PPz/DC4LrM3USiX04DnkGVNfymvm+hpZ8xqVJD8abvT8SGK5YwVye2C908EJVTO5PJ" +
    "cZkATSVpweyFlki2wEuNstHSHpITlVWMXarpnCIagQKBgQDVZXTd+k3qDV7rpGqgBPyU4xPDzl85aKQy9xuMolHL" +
    "eUWhWfe29ydey+dBgYUTsTpKPS5qqnQjlBRA6AKf30lnbMgen/VZlrZPW67jItfRTj2DFW+Gn5il0KYa1yD4ZhVX" +
    "/hvTHUXHdWZYxq8vLs/WEG58DeoslXQ98BlJIpEjJQKBgQCl8lqUNfZFDBUABlefaklEh0i8tbAF2PY3Fgn65PFx" +
    "1q8HXbBM4w13E8ASveuD19tzy9WIOv6YyNzoIxM0kNrAh3I21VwI9j60Tl9mK+sNesejx6/kpRORSeR5CzYNoMw+" +
    "lCDJuAWxQcBDcstAmGHlNrt83nUB29+JFfrLSsUIgQKBgHsiJ+VOYVcEkBj4rm3XcseWn/kEQ/4kW1rtK4BiyT/X" +
    "ok4QU9fHlXglwDMUQW2zficIVphF8u30rBsnxRvrA7giFPdW5YPkax4vkSKPIGkt9GCHJetQfAxx8Obb67JpdTdo" +
    "8TVIVtNY8s2XF87p/BNRN+9tOAqx0nlK6cxBne3hAoGAdFoC6/E46s70YPmnEWjolfNyU/9+h8/uoUm2bdEREg0t" +
    "SFWeSM2IN+lL0Ksqe+yAval/GSTKnkLEeDVjX/aKc6dA1b13h2isWpmVMPwMo2T7ULyh6B8qm9+jHEmpDwcklQ4y" +
    "ySEmX22t4ZteJ6Pj9m6K0z1JuukhEIfyIx+VQrs=",
  rsaSpki:
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzfpnqveKNeu3+mMARZczGML/Q8uaP5fmC6qnQ2vO1LdZ" +
    "at0u1OGSLAonkFZKnJshepYick+7ddWPaNDVopdTP7FAFF2DLULn8jjw6WeJA4w24zqOpJ/L+LpxRCFMQIVNu/NT" +
    "1zWw/MXim7v+zyYqkwNu1TKHxgTxtR2mX8w/HZjys9vlY+6zPElJKrCgba+BHn3di8fcHGUiwASsHWtjvxOFjfJj" +
    "gDFQw3415YTb9O2j8oAaeRbuo0Z9pWnAX6xvZToaA8Flt800DqQq8WeBHGqK3LIa12NtiZOeF9QYT5Mq7aRnHivo" +
    "O6JH6M2Zi64GfF79Ut8CXeldNcK7X553pQIDAQAB",
  rsaJwk: {
    kty: "RSA",
    n:
      "zfpnqveKNeu3-mMARZczGML_Q8uaP5fmC6qnQ2vO1LdZat0u1OGSLAonkFZKnJshepYick-7ddWPaNDVopdTP7FA" +
      "FF2DLULn8jjw6WeJA4w24zqOpJ_L-LpxRCFMQIVNu_NT1zWw_MXim7v-zyYqkwNu1TKHxgTxtR2mX8w_HZjys9vl" +
      "Y-6zPElJKrCgba-BHn3di8fcHGUiwASsHWtjvxOFjfJjgDFQw3415YTb9O2j8oAaeRbuo0Z9pWnAX6xvZToaA8Fl" +
      "t800DqQq8WeBHGqK3LIa12NtiZOeF9QYT5Mq7aRnHivoO6JH6M2Zi64GfF79Ut8CXeldNcK7X553pQ",
    e: "AQAB",
    d:
      "DDmWGOCTlGWxcqvuN93PIONvO7qEJM1teuMdsEkKv-Ht7a4Y-cuK3brwjtwq63vi6HVWsArUE8dMDqrZCHW2HCv3" +
      "Tf4gK08y7akRgK4uGfF4JH5fjvJpAbyBvSBuInoxmzvIOG1YXCLxMyWyQYsrWwmzdKCIzGjotkN_PLpQ7f8AO9OD" +
      "OV78tjoGqO6nEbnRFv1VDzHEgVrJpfb6JFCflzVTlNKtKb9wXC7Z2zftwSpzXb4l8cIjem_MCf-wO3-ZYbni_zl_" +
      "8boF_JwZ6Ozrgn_OCXZEK0X3u5ohZNVam4vYv7UOGCISUAWCkdO_fZslC0WrRuT0-mHKWfiSarKWAQ",
    p:
      "9xnPil75WJS6LInlCJEu0kqn5eL086tEIOY-vea5P00jHUFSoE9B1ll8trHwUUOTz8_wwuC6zN1Eol9OA55BlTX8" +
      "pr5voaWfMalSQ_Gm70_EhiuWMFcntgvdPBCVUzuTyXGZAE0lacHshZZItsBLjbLR0h6SE5VVjF2q6ZwiGoE",
    q:
      "1WV03fpN6g1e66RqoAT8lOMTw85fOWikMvcbjKJRy3lFoVn3tvcnXsvnQYGFE7E6Sj0uaqp0I5QUQOgCn99JZ2zI" +
      "Hp_1WZa2T1uu4yLX0U49gxVvhp-YpdCmGtcg-GYVV_4b0x1Fx3VmWMavLy7P1hBufA3qLJV0PfAZSSKRIyU",
    dp:
      "pfJalDX2RQwVAAZXn2pJRIdIvLWwBdj2NxYJ-uTxcdavB12wTOMNdxPAEr3rg9fbc8vViDr-mMjc6CMTNJDawIdy" +
      "NtVcCPY-tE5fZivrDXrHo8ev5KUTkUnkeQs2DaDMPpQgybgFsUHAQ3LLQJhh5Ta7fN51AdvfiRX6y0rFCIE",
    dq:
      "eyIn5U5hVwSQGPiubddyx5af-QRD_iRbWu0rgGLJP9eiThBT18eVeCXAMxRBbbN-JwhWmEXy7fSsGyfFG-sDuCIU" +
      "91blg-RrHi-RIo8gaS30YIcl61B8DHHw5tvrsml1N2jxNUhW01jyzZcXzun8E1E37204CrHSeUrpzEGd7eE",
    qi:
      "dFoC6_E46s70YPmnEWjolfNyU_9-h8_uoUm2bdEREg0tSFWeSM2IN-lL0Ksqe-yAval_GSTKnkLEeDVjX_aKc6dA" +
      "1b13h2isWpmVMPwMo2T7ULyh6B8qm9-jHEmpDwcklQ4yySEmX22t4ZteJ6Pj9m6K0z1JuukhEIfyIx-VQrs",
  },
  ecPkcs8:
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVgMTtft8LZJnJQA5d6ddAAqSoKKolhJJ/5G2jg3y" +
    "8NihRANCAASmBh/VpW+Yg1h3vq5LlVcFzFxWVPUDS40UxrVC4adahO8qvvHkGyrmVeznXJyu9dq8/GTAV16XOo4X" +
    "zkbgzKBl",
  ecSpki:
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEpgYf1aVvmINYd76uS5VXBcxcVlT1A0uNFMa1QuGnWoTvKr7x5Bsq" +
    "5lXs51ycrvXavPxkwFdelzqOF85G4MygZQ==",
  ecJwk: {
    kty: "EC",
    x: "pgYf1aVvmINYd76uS5VXBcxcVlT1A0uNFMa1QuGnWoQ",
    y: "7yq-8eQbKuZV7OdcnK712rz8ZMBXXpc6jhfORuDMoGU",
    crv: "P-256",
    d: "VgMTtft8LZJnJQA5d6ddAAqSoKKolhJJ_5G2jg3y8Ng",
  },
  rs256:
    "29f127a92697aa5c0ea8f2f6379fdc2ff2216c714e1c7646572947cfc605aa107cc6bb3cdb034ba0dc5a14f6" +
    "c506435b4988b60b12605355e010edae12c67d7919f583ff478cc109d61fc628e96fe4f49e90b4bf85012477" +
    "0b2c4615062c19fbad3745b0a61d50a24e03564999083c7ad6dbf11240c0ed8e3285cd8f5942c0cee24b5873" +
    "f816d4856c786578835f73ca4ed796a6dc6db156443038d823ba08c8c03ea36f4abb02e5c3fb7fb028567d84" +
    "7284efeddf2428936ba222947466463bca6ee66db7e40343e87789daa7873321d767b3de769937e68944f2dd" +
    "badada93f3e4c481efbc173df2e56f876154c359104af6f5164ab5689364f71bb8071360",
  es256:
    "09c1473a96244570fa19dc98fc88466b88464c04aab540d101a5a82434f1b2ed8a408785e69645db2706cb42" +
    "03f4b8bf550aa38ba05e967ce4b70f6658af6d12",
  ps256:
    "afd9acf2effea08fc95e2233f25c2234a82ff52b4278f7c0ed5a01ba8b78bd2d8bace750479d312d671ce618" +
    "c57e31e65900b935322b8a29f6c849d25be22101c8f61236cff5221fbb53dde516bfbc81d24fbbcc0a21ae07" +
    "80357f9c10f95f1e29f479cf729d9f7c036189c694bc10add7177ca0509a15bbb244666a6fd2607e9f5e2492" +
    "9338ab38a106e5115bea83ff57e8db405bb603ec2fc6c473ab836a12407dff78e7e7c4a9822c812d2c420475" +
    "84fc851f86885a87c1dc1c09a0d88d18e835696f2ef2ee03c18ec95927204c87d84b1a429d81705a6fd769d9" +
    "f70ba86683c29e46d111b47d078a7efd411807a9fb09cae4e8090da2a738bcdb1377f2be",
  jwtHs256:
    "eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoibm9kZSJ9.iS0whc6q8Psm7-WhlSAP81JViWRXCMMqoS_Yn-sWM1M",
  jwtEs256:
    "eyJhbGciOiJFUzI1NiJ9.eyJyb29tIjoibm9kZSJ9.byear8T4fNZB5lKHDwV6JeK0_2ZVcg90GkrcBhuovnBOqF" +
    "dL7reO6XvA-qTGln5_8Yd281jPlHLSMTP0SBFw2A",
  jwtRs256:
    "eyJhbGciOiJSUzI1NiJ9.eyJyb29tIjoibm9kZSJ9.hnG_HQxslVNZvIXJwab9wBvSZf7HdiI1BYmne4M3wh3-0s" +
    "hjO6urcTJYYEQSV-z4tsEMJealcxrYBoY4-zT4r4p_-UgsUpr-dHFCCw2LFAj5BxcUgjoAwoSXlHIqNXCyNizoUy" +
    "vaFkhdRQhJ9AXCTJyxrjg8Fcwy0q4tpqoW8D_TVUMAW2j9c3RWUdq41EW8223UmrT3g7kFTT42JP4F256roIBnqt" +
    "lacrmBA6jofnWrGaJEKsZ6TvXxs-OLAH3uwQFc6eSr2JFbl467vgkwtiZmswTxVojC0a02qX9u28zJ8ojOcHwuMw" +
    "b6TzZzwZ8Z7oik7j3YvL9XZqR84xlsTw",
};
)js";

std::string gSubtleBundle;

class Subtle : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    gSubtleBundle = bundle(kRepo / "src/api/js/subtle/index.js", "--global-name=subtleLib");
  }

  void SetUp() override {
    ASSERT_FALSE(gSubtleBundle.empty()) << "esbuild could not bundle src/api/js/subtle";
    engine_ = std::make_unique<js::Engine>(js::Engine::Options{});
    v8::HandleScope scope(iso());
    v8::Local<v8::Object> native = v8::Object::New(iso());
    installCryptoNatives(iso(), engine_->context(), native);
    ASSERT_TRUE(engine_->context()
                    ->Global()
                    ->Set(engine_->context(), js::str(iso(), "__native"), native)
                    .FromMaybe(false));
    for (auto [source, name] :
         {std::pair<std::string_view, std::string_view>{gSubtleBundle, "subtle.js"},
          {kPrelude, "prelude.js"},
          {kFixtures, "fixtures.js"}}) {
      Result<void> r = engine_->runScript(source, name);
      ASSERT_TRUE(r.ok()) << r.error().message;
    }
  }

  v8::Isolate* iso() { return engine_->isolate(); }

  // Runs `body` as the body of an async function; returns what it resolves to, as a string, or
  // "threw <name>: <message>" when it rejects.
  std::string run(std::string_view body) {
    v8::HandleScope scope(iso());
    std::string source = "globalThis.__out = undefined; (async () => {\n" + std::string(body) +
                         "\n})().then((v) => { globalThis.__out = String(v); },"
                         " (e) => { globalThis.__out = `threw ${e?.name}: ${e?.message}`; });";
    Result<void> r = engine_->runScript(source, "test.js");
    if (!r.ok()) return "script error: " + r.error().message;
    iso()->PerformMicrotaskCheckpoint();
    v8::Local<v8::Value> out;
    if (!engine_->context()
             ->Global()
             ->Get(engine_->context(), js::str(iso(), "__out"))
             .ToLocal(&out) ||
        out->IsUndefined()) {
      return "still pending";
    }
    return js::toUtf8(iso(), out);
  }

  std::unique_ptr<js::Engine> engine_;
};

TEST_F(Subtle, DigestsMatchFips180ForAbc) {
  EXPECT_EQ(
      run(R"js(
    const out = [];
    for (const alg of ["SHA-1", "sha-256", { name: "SHA-384" }, "SHA-512"]) {
      out.push(hex(await subtle.digest(alg, utf8("abc"))));
    }
    return out.join(" ");
  )js"),
      "a9993e364706816aba3e25717850c26c9cd0d89d "
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca1"
      "34c825a7 "
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23"
      "a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST_F(Subtle, DigestAcceptsEveryBufferSourceAndCopiesIt) {
  EXPECT_EQ(run(R"js(
    const bytes = utf8("xabcx");
    const view = new DataView(bytes.buffer, 1, 3);
    const a = hex(await subtle.digest("SHA-1", view));
    const b = hex(await subtle.digest("SHA-1", bytes.buffer.slice(1, 4)));
    const c = hex(await subtle.digest("SHA-1", new Uint16Array(0)));
    return [a === b, c].join(" ");
  )js"),
            "true da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST_F(Subtle, HmacSha256MatchesRfc4231Case2) {
  EXPECT_EQ(run(R"js(
    const key = await subtle.importKey("raw", utf8("Jefe"), { name: "HMAC", hash: "SHA-256" },
                                       false, ["sign", "verify"]);
    const data = utf8("what do ya want for nothing?");
    const mac = await subtle.sign("HMAC", key, data);
    const ok = await subtle.verify({ name: "hmac" }, key, mac, data);
    const bad = await subtle.verify("HMAC", key, mac, utf8("what do ya want for something?"));
    const raw = __native.cryptoHmac("SHA-256", utf8("Jefe"), data);
    return [hex(mac), ok, bad, hex(raw) === hex(mac), key.algorithm.length,
            key.algorithm.hash.name, key.type, key.extractable, key.usages].join(" ");
  )js"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 true false true 32 "
            "SHA-256 secret false sign,verify");
}

TEST_F(Subtle, Rs256WithPkcs8SpkiAndJwkKeysMatchesNode) {
  EXPECT_EQ(run(R"js(
    const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    const msg = utf8("hello partyd");
    const priv = await subtle.importKey("pkcs8", der(FX.rsaPkcs8), alg, true, ["sign"]);
    const pub = await subtle.importKey("spki", der(FX.rsaSpki), alg, true, ["verify"]);
    const { d, p, q, dp, dq, qi, ...pubJwk } = FX.rsaJwk;
    const jwkPriv = await subtle.importKey("jwk", FX.rsaJwk, alg, true, ["sign"]);
    const jwkPub = await subtle.importKey("jwk", pubJwk, alg, true, ["verify"]);
    const sig = hex(await subtle.sign(alg, priv, msg));
    const sig2 = hex(await subtle.sign("RSASSA-PKCS1-v1_5", jwkPriv, msg));
    const exported = await subtle.exportKey("jwk", priv);
    const spki = hex(await subtle.exportKey("spki", jwkPub));
    return [
      sig === FX.rs256, sig2 === FX.rs256,
      await subtle.verify(alg, pub, fromHex(FX.rs256), msg),
      await subtle.verify(alg, jwkPub, fromHex(FX.rs256), utf8("hello partyd!")),
      pub.algorithm.modulusLength, hex(pub.algorithm.publicExponent), pub.algorithm.hash.name,
      exported.n === FX.rsaJwk.n && exported.d === FX.rsaJwk.d,
      exported.kty, exported.alg, exported.qi === FX.rsaJwk.qi, exported.ext, exported.key_ops,
      spki === hex(der(FX.rsaSpki)),
    ].join(" ");
  )js"),
            "true true true false 2048 010001 SHA-256 true RSA RS256 true true sign true");
}

TEST_F(Subtle, RsaPssVerifiesNodeSignatureAndRoundTrips) {
  EXPECT_EQ(run(R"js(
    const alg = { name: "RSA-PSS", hash: "SHA-256" };
    const msg = utf8("hello partyd");
    const priv = await subtle.importKey("pkcs8", der(FX.rsaPkcs8), alg, false, ["sign"]);
    const pub = await subtle.importKey("spki", der(FX.rsaSpki), alg, false, ["verify"]);
    const params = { name: "RSA-PSS", saltLength: 32 };
    const sig = await subtle.sign(params, priv, msg);
    return [
      await subtle.verify(params, pub, fromHex(FX.ps256), msg),
      await subtle.verify(params, pub, sig, msg),
      await subtle.verify({ name: "RSA-PSS", saltLength: 0 }, pub, sig, msg),
      sig.byteLength,
    ].join(" ");
  )js"),
            "true true false 256");
}

TEST_F(Subtle, Es256WithPkcs8SpkiJwkAndRawKeysInteroperatesWithNode) {
  EXPECT_EQ(run(R"js(
    const alg = { name: "ECDSA", namedCurve: "P-256" };
    const sha = { name: "ECDSA", hash: { name: "SHA-256" } };
    const msg = utf8("hello partyd");
    const priv = await subtle.importKey("pkcs8", der(FX.ecPkcs8), alg, true, ["sign"]);
    const pub = await subtle.importKey("spki", der(FX.ecSpki), alg, true, ["verify"]);
    const jwkPriv = await subtle.importKey("jwk", FX.ecJwk, alg, true, ["sign"]);
    const { d, ...pubJwk } = FX.ecJwk;
    const jwkPub = await subtle.importKey("jwk", pubJwk, alg, true, ["verify"]);
    const raw = await subtle.exportKey("raw", pub);
    const rawPub = await subtle.importKey("raw", raw, alg, true, ["verify"]);
    const sig = await subtle.sign(sha, priv, msg);
    const sig2 = await subtle.sign(sha, jwkPriv, msg);
    const tampered = new Uint8Array(sig.slice(0));
    tampered[5] ^= 1;
    const exported = await subtle.exportKey("jwk", priv);
    return [
      sig.byteLength, new Uint8Array(raw)[0], raw.byteLength,
      await subtle.verify(sha, pub, sig, msg), await subtle.verify(sha, jwkPub, sig2, msg),
      await subtle.verify(sha, rawPub, fromHex(FX.es256), msg),
      await subtle.verify(sha, jwkPub, fromHex(FX.es256), msg),
      await subtle.verify(sha, pub, tampered, msg),
      await subtle.verify(sha, pub, new Uint8Array(10), msg),
      exported.crv, exported.x === FX.ecJwk.x, exported.y === FX.ecJwk.y, exported.d === FX.ecJwk.d,
      hex(await subtle.exportKey("pkcs8", jwkPriv)) === hex(der(FX.ecPkcs8)) ? "same-pkcs8" : "other-pkcs8",
      pub.algorithm.namedCurve,
    ].join(" ");
  )js"),
            "64 4 65 true true true true false false P-256 true true true same-pkcs8 P-256");
}

TEST_F(Subtle, AesGcmMatchesTestCase3AndRejectsTampering) {
  EXPECT_EQ(
      run(R"js(
    const key = await subtle.importKey("raw", fromHex("feffe9928665731c6d6a8f9467308308"),
                                       "AES-GCM", true, ["encrypt", "decrypt"]);
    const iv = fromHex("cafebabefacedbaddecaf888");
    const plain = fromHex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
                          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
    const sealed = await subtle.encrypt({ name: "AES-GCM", iv }, key, plain);
    const opened = await subtle.decrypt({ name: "AES-GCM", iv }, key, sealed);
    const t96 = { name: "AES-GCM", iv, additionalData: fromHex("feedfacedeadbeef"), tagLength: 96 };
    const short = await subtle.encrypt(t96, key, plain.slice(0, 20));
    const back = await subtle.decrypt(t96, key, short);
    const broken = new Uint8Array(sealed.slice(0));
    broken[0] ^= 1;
    return [
      hex(sealed), hex(opened) === hex(plain), hex(short), hex(back) === hex(plain.slice(0, 20)),
      await errorOf(subtle.decrypt({ name: "AES-GCM", iv }, key, broken)),
      await errorOf(subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, sealed)),
      await errorOf(subtle.encrypt({ name: "AES-GCM", iv, tagLength: 100 }, key, plain)),
      await errorOf(subtle.encrypt({ name: "AES-GCM" }, key, plain)),
    ].join("\n");
  )js"),
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5a"
      "ac84aa051ba30b396a0aac973d58e091473f59854d5c2af327cd64a62cf35abd2ba6fab4\n"
      "true\n"
      "42831ec2217774244b7221b784d0d49ce3aa212f25487b3beee20c641413951e\n"
      "true\n"
      "OperationError(DOMException): Decryption failed\n"
      "OperationError(DOMException): Decryption failed\n"
      "OperationError(DOMException): Invalid tagLength\n"
      "TypeError: Failed to read the 'iv' property from 'AesGcmParams': Required member is "
      "undefined.");
}

TEST_F(Subtle, AesCbcAndCtrMatchNodeIncludingCounterWrap) {
  EXPECT_EQ(
      run(R"js(
    const k = fromHex("feffe9928665731c6d6a8f9467308308");
    const cbc = await subtle.importKey("raw", k, "AES-CBC", false, ["encrypt", "decrypt"]);
    const ctr = await subtle.importKey("raw", k, "AES-CTR", false, ["encrypt", "decrypt"]);
    const plain = fromHex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
                          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
    const iv = fromHex("000102030405060708090a0b0c0d0e0f");
    const c1 = await subtle.encrypt({ name: "AES-CBC", iv }, cbc, plain.slice(0, 40));
    const p1 = await subtle.decrypt({ name: "AES-CBC", iv }, cbc, c1);
    const counter = fromHex("00112233445566778899aabbccddeefe");
    const c8 = await subtle.encrypt({ name: "AES-CTR", counter, length: 8 }, ctr, plain);
    const c128 = await subtle.encrypt({ name: "AES-CTR", counter, length: 128 }, ctr, plain);
    const c64 = await subtle.encrypt({ name: "AES-CTR", counter: fromHex("0011223344556677fffffffffffffffe"),
                                       length: 64 }, ctr, plain);
    const p8 = await subtle.decrypt({ name: "AES-CTR", counter, length: 8 }, ctr, c8);
    return [
      hex(c1), hex(p1) === hex(plain.slice(0, 40)), hex(c8), hex(c128), hex(c64),
      hex(p8) === hex(plain),
      await errorOf(subtle.encrypt({ name: "AES-CTR", counter, length: 1 }, ctr, plain)),
      await errorOf(subtle.decrypt({ name: "AES-CBC", iv }, cbc, c1.slice(0, 16))),
      await errorOf(subtle.encrypt({ name: "AES-CBC", iv: iv.slice(1) }, cbc, plain)),
    ].join("\n");
  )js"),
      "e793f77c3170cc821d737d11c12d5b0d586a4ea8d8a7c50ccbd131404a4c121ad22fd7223bf7a8f81dcc0daf"
      "fb265e0b\n"
      "true\n"
      "4cceeeb2a4c4f5163c23d196d0a7dee8abebc8e9f1fbe3dab2e99ad0f980c92ba1c838a17361b2eaa40a2d2b"
      "9816b3124bcb3b631d001da7eb3d823ed2f9cf7f\n"
      "4cceeeb2a4c4f5163c23d196d0a7dee8abebc8e9f1fbe3dab2e99ad0f980c92ba4b78de0c86c33fdf7db8682"
      "669c3f59fc6356bf882d021cf57392dfd8183a00\n"
      "355adc5a2b484da2e33ab0c7b8f275123686cf8a8533d10a2065f5d70673fce63131fc4f74757c4191732a82"
      "c8a58fd705f7b3527b9b08da886f9a6d24642761\n"
      "true\n"
      "OperationError(DOMException): The counter would repeat\n"
      "OperationError(DOMException): Decryption failed\n"
      "OperationError(DOMException): The iv must be 16 bytes for AES-CBC");
}

TEST_F(Subtle, Pbkdf2MatchesRfc6070) {
  EXPECT_EQ(run(R"js(
    const key = await subtle.importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits"]);
    const out = [];
    for (const iterations of [1, 2, 4096]) {
      out.push(hex(await subtle.deriveBits(
          { name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations }, key, 160)));
    }
    const long = await subtle.importKey("raw", utf8("passwordPASSWORDpassword"), "PBKDF2", false,
                                        ["deriveBits"]);
    out.push(hex(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-1", iterations: 4096,
        salt: utf8("saltSALTsaltSALTsaltSALTsaltSALTsalt") }, long, 200)));
    out.push(await errorOf(subtle.deriveBits(
        { name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations: 0 }, key, 160)));
    out.push(await errorOf(subtle.importKey("raw", utf8("pw"), "PBKDF2", true, ["deriveBits"])));
    return out.join("\n");
  )js"),
            "0c60c80f961f0e71f3a9b524af6012062fe037a6\n"
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957\n"
            "4b007901b765489abead49d926f721d065a429c1\n"
            "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038\n"
            "OperationError(DOMException): PBKDF2 iterations must be greater than 0\n"
            "SyntaxError(DOMException): PBKDF2 keys cannot be extractable");
}

TEST_F(Subtle, HkdfMatchesRfc5869) {
  EXPECT_EQ(run(R"js(
    const ikm = new Uint8Array(22).fill(0x0b);
    const key = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits", "deriveKey"]);
    const case1 = await subtle.deriveBits({ name: "HKDF", hash: "SHA-256",
        salt: fromHex("000102030405060708090a0b0c"), info: fromHex("f0f1f2f3f4f5f6f7f8f9") },
        key, 42 * 8);
    const case3 = await subtle.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new Uint8Array(0) },
        key, 42 * 8);
    const aes = await subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new Uint8Array(0) },
        key, { name: "AES-GCM", length: 128 }, true, ["encrypt"]);
    return [hex(case1), hex(case3), hex(await subtle.exportKey("raw", aes)),
            await errorOf(subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: ikm, info: ikm },
                                            key, 256 * 32 * 8))].join("\n");
  )js"),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865\n"
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8\n"
            "8da4e775a563c18f715f802a063c5a31\n"
            "OperationError(DOMException): The length is too large for HKDF");
}

TEST_F(Subtle, AesKwMatchesRfc3394AndWrapsJwk) {
  EXPECT_EQ(run(R"js(
    const kek = await subtle.importKey("raw", fromHex("000102030405060708090a0b0c0d0e0f"),
                                       "AES-KW", false, ["wrapKey", "unwrapKey"]);
    const key = await subtle.importKey("raw", fromHex("00112233445566778899aabbccddeeff"),
                                       "AES-CBC", true, ["encrypt"]);
    const wrapped = await subtle.wrapKey("raw", key, kek, "AES-KW");
    const back = await subtle.unwrapKey("raw", wrapped, kek, "AES-KW", "AES-CBC", true, ["decrypt"]);
    const gcm = await subtle.generateKey({ name: "AES-GCM", length: 256 }, false,
                                         ["wrapKey", "unwrapKey"]);
    const hmac = await subtle.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign"]);
    const iv = new Uint8Array(12);
    const wrappedJwk = await subtle.wrapKey("jwk", hmac, gcm, { name: "AES-GCM", iv });
    const hmac2 = await subtle.unwrapKey("jwk", wrappedJwk, gcm, { name: "AES-GCM", iv },
                                         { name: "HMAC", hash: "SHA-384" }, false, ["sign"]);
    const same = hex(await subtle.sign("HMAC", hmac, utf8("x"))) ===
                 hex(await subtle.sign("HMAC", hmac2, utf8("x")));
    return [hex(wrapped), hex(await subtle.exportKey("raw", back)), back.usages,
            hmac2.algorithm.length, same,
            await errorOf(subtle.unwrapKey("raw", new Uint8Array(24), kek, "AES-KW", "AES-CBC",
                                           true, ["decrypt"]))].join("\n");
  )js"),
            "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5\n"
            "00112233445566778899aabbccddeeff\n"
            "decrypt\n"
            "1024\n"
            "true\n"
            "OperationError(DOMException): Decryption failed");
}

TEST_F(Subtle, Ed25519MatchesRfc8032AndX25519Agrees) {
  EXPECT_EQ(
      run(R"js(
    const b64u = (h) => btoa(String.fromCharCode(...fromHex(h))).replace(/\+/g, "-")
        .replace(/\//g, "_").replace(/=+$/, "");
    const jwk = { kty: "OKP", crv: "Ed25519",
        d: b64u("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
        x: b64u("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a") };
    const priv = await subtle.importKey("jwk", jwk, "Ed25519", false, ["sign"]);
    const pub = await subtle.importKey("raw",
        fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        { name: "Ed25519" }, true, ["verify"]);
    const sig = await subtle.sign("Ed25519", priv, new Uint8Array(0));
    const a = await subtle.generateKey("X25519", false, ["deriveBits"]);
    const b = await subtle.generateKey("X25519", false, ["deriveBits"]);
    const ab = await subtle.deriveBits({ name: "X25519", public: b.publicKey }, a.privateKey, 256);
    const ba = await subtle.deriveBits({ name: "X25519", public: a.publicKey }, b.privateKey, null);
    return [hex(sig), await subtle.verify("Ed25519", pub, sig, new Uint8Array(0)),
            await subtle.verify("Ed25519", pub, sig, new Uint8Array(1)),
            hex(ab) === hex(ba), ab.byteLength,
            await errorOf(subtle.importKey("jwk", { ...jwk, x: jwk.d }, "Ed25519", false, ["sign"]))
           ].join("\n");
  )js"),
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
      "1cf9b46bd25bf5f0595bbe24655141438e7a100b\n"
      "true\nfalse\ntrue\n32\n"
      "DataError(DOMException): Invalid jwk key data");
}

TEST_F(Subtle, GeneratedKeysSignVerifyExportAndReimport) {
  EXPECT_EQ(run(R"js(
    const out = [];
    const msg = utf8("m");
    for (const [alg, sign] of [
      [{ name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }],
      [{ name: "ECDSA", namedCurve: "P-521" }, { name: "ECDSA", hash: "SHA-512" }],
      [{ name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]),
         hash: "SHA-256" }, "RSASSA-PKCS1-v1_5"],
      [{ name: "Ed25519" }, "Ed25519"],
    ]) {
      const { publicKey, privateKey } = await subtle.generateKey(alg, true, ["sign", "verify"]);
      const sig = await subtle.sign(sign, privateKey, msg);
      const jwk = await subtle.exportKey("jwk", privateKey);
      const again = await subtle.importKey("jwk", jwk, alg, false, ["sign"]);
      const spki = await subtle.exportKey("spki", publicKey);
      const pub2 = await subtle.importKey("spki", spki, alg, false, ["verify"]);
      out.push([alg.name, sig.byteLength, publicKey.usages, privateKey.usages,
                publicKey.extractable, await subtle.verify(sign, pub2, sig, msg),
                await subtle.verify(sign, publicKey, await subtle.sign(sign, again, msg), msg)]
               .join(" "));
    }
    const hmac = await subtle.generateKey({ name: "HMAC", hash: "SHA-256", length: 100 }, true,
                                          ["sign"]);
    const aes = await subtle.generateKey({ name: "AES-CTR", length: 192 }, true, ["encrypt"]);
    out.push([hmac.algorithm.length, (await subtle.exportKey("raw", hmac)).byteLength,
              (await subtle.exportKey("jwk", aes)).alg].join(" "));
    return out.join("\n");
  )js"),
            "ECDSA 96 verify sign true true true\n"
            "ECDSA 132 verify sign true true true\n"
            "RSASSA-PKCS1-v1_5 128 verify sign true true true\n"
            "Ed25519 64 verify sign true true true\n"
            "100 13 A192CTR");
}

TEST_F(Subtle, EcdhAndRsaOaepWork) {
  EXPECT_EQ(run(R"js(
    const alg = { name: "ECDH", namedCurve: "P-256" };
    const a = await subtle.generateKey(alg, true, ["deriveBits", "deriveKey"]);
    const b = await subtle.generateKey(alg, true, ["deriveBits"]);
    const ab = await subtle.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 256);
    const ba = await subtle.deriveBits({ name: "ECDH", public: a.publicKey }, b.privateKey, 256);
    const odd = await subtle.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 12);
    const key = await subtle.deriveKey({ name: "ECDH", public: b.publicKey }, a.privateKey,
                                       { name: "HMAC", hash: "SHA-1", length: 256 }, true, ["sign"]);
    const rsa = await subtle.generateKey({ name: "RSA-OAEP", modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false,
        ["encrypt", "decrypt"]);
    const label = utf8("label");
    const ct = await subtle.encrypt({ name: "RSA-OAEP", label }, rsa.publicKey, utf8("secret"));
    const pt = await subtle.decrypt({ name: "RSA-OAEP", label }, rsa.privateKey, ct);
    return [hex(ab) === hex(ba), hex(odd) === hex(new Uint8Array(ab).slice(0, 2).map((x, i) => i ? x & 0xf0 : x)),
            hex(await subtle.exportKey("raw", key)) === hex(ab),
            new TextDecoder().decode(pt),
            await errorOf(subtle.decrypt({ name: "RSA-OAEP" }, rsa.privateKey, ct)),
            await errorOf(subtle.deriveBits({ name: "ECDH", public: b.privateKey }, a.privateKey)),
            await errorOf(subtle.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 512)),
            a.publicKey.usages.length].join("\n");
  )js"),
            "true\ntrue\ntrue\nsecret\n"
            "OperationError(DOMException): Decryption failed\n"
            "InvalidAccessError(DOMException): The public member must be a public key\n"
            "OperationError(DOMException): The length (512) is more than the 256 bits derived\n"
            "0");
}

TEST_F(Subtle, ErrorsRejectWithTheRightNames) {
  EXPECT_EQ(
      run(R"js(
    const hmac = await subtle.importKey("raw", utf8("k"), { name: "HMAC", hash: "SHA-256" }, false,
                                        ["sign"]);
    const sync = subtle.digest("SHA-999", new Uint8Array(1));
    return [
      sync instanceof Promise,
      await errorOf(sync),
      await errorOf(subtle.digest("SHA-256")),
      await errorOf(subtle.digest("SHA-256", "text")),
      await errorOf(subtle.sign({ name: "RSA-PSS", saltLength: 32 }, hmac, new Uint8Array(1))),
      await errorOf(subtle.verify("HMAC", hmac, new Uint8Array(32), new Uint8Array(1))),
      await errorOf(subtle.exportKey("raw", hmac)),
      await errorOf(subtle.exportKey("pem", hmac)),
      await errorOf(subtle.importKey("raw", utf8("k"), { name: "HMAC" }, false, ["sign"])),
      await errorOf(subtle.importKey("raw", utf8("k"), "HMAC", false, ["sign"])),
      await errorOf(subtle.importKey("raw", utf8("k"), { name: "HMAC", hash: "MD5" }, false, ["sign"])),
      await errorOf(subtle.importKey("raw", utf8("k"), { name: "HMAC", hash: "SHA-1" }, false, ["encrypt"])),
      await errorOf(subtle.importKey("raw", utf8("k"), { name: "HMAC", hash: "SHA-1" }, false, [])),
      await errorOf(subtle.importKey("raw", utf8("k"), { name: "HMAC", hash: "SHA-1" }, false, ["fly"])),
      await errorOf(subtle.importKey("spki", new Uint8Array(8), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])),
      await errorOf(subtle.importKey("spki", der(FX.rsaSpki), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])),
      await errorOf(subtle.importKey("spki", der(FX.ecSpki), { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"])),
      await errorOf(subtle.importKey("raw", new Uint8Array(16), { name: "ECDSA", namedCurve: "P-192" }, false, ["verify"])),
      await errorOf(subtle.importKey("pkcs8", der(FX.ecPkcs8), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])),
      await errorOf(subtle.importKey("jwk", { ...FX.ecJwk, alg: "ES384" }, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])),
      await errorOf(subtle.importKey("jwk", { kty: "oct", k: "!!" }, "AES-GCM", false, ["encrypt"])),
      await errorOf(subtle.importKey("jwk", { ...FX.rsaJwk, dp: FX.rsaJwk.dq }, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"])),
      await errorOf(subtle.importKey("raw", new Uint8Array(15), "AES-GCM", false, ["encrypt"])),
      await errorOf(subtle.generateKey({ name: "AES-GCM", length: 100 }, false, ["encrypt"])),
      await errorOf(subtle.generateKey({ name: "RSA-PSS", modulusLength: 1024, publicExponent: new Uint8Array([3, 1]), hash: "SHA-256" }, false, ["sign"])),
      await errorOf(subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, hmac, new Uint8Array(1))),
      await errorOf(subtle.sign("HMAC", {}, new Uint8Array(1))),
      await errorOf(subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(1), iterations: 200000 },
          await subtle.importKey("raw", utf8("p"), "PBKDF2", false, ["deriveBits"]), 256)),
      (() => { try { new CryptoKey(); return "constructed"; } catch (e) { return e.name; } })(),
    ].join("\n");
  )js"),
      "true\n"
      "NotSupportedError(DOMException): Unrecognized algorithm name: SHA-999\n"
      "TypeError: SubtleCrypto.digest: 2 arguments required, but only 1 present.\n"
      "TypeError: data is not of type '(ArrayBuffer or ArrayBufferView)'\n"
      "InvalidAccessError(DOMException): The key is for HMAC, not RSA-PSS\n"
      "InvalidAccessError(DOMException): The key does not allow 'verify'\n"
      "InvalidAccessError(DOMException): The key is not extractable\n"
      "TypeError: The provided value 'pem' is not a valid enum value of type KeyFormat.\n"
      "TypeError: Failed to read the 'hash' property from 'HmacImportParams': Required member "
      "is undefined.\n"
      "TypeError: Failed to read the 'hash' property from 'HmacImportParams': Required member "
      "is undefined.\n"
      "NotSupportedError(DOMException): Unrecognized hash algorithm: MD5\n"
      "SyntaxError(DOMException): Cannot create a key using the specified key usages (HMAC "
      "does not allow 'encrypt')\n"
      "SyntaxError(DOMException): Usages cannot be empty when creating a key.\n"
      "TypeError: The provided value 'fly' is not a valid enum value of type KeyUsage.\n"
      "DataError(DOMException): Invalid spki key data\n"
      "DataError(DOMException): Invalid spki key data\n"
      "DataError(DOMException): The key's named curve does not match namedCurve\n"
      "NotSupportedError(DOMException): Unsupported named curve: P-192\n"
      "SyntaxError(DOMException): Cannot create a key using the specified key usages (ECDSA "
      "does not allow 'verify')\n"
      "DataError(DOMException): The JWK \"alg\" member was not \"ES256\"\n"
      "DataError(DOMException): The JWK \"k\" member is not valid base64url\n"
      "DataError(DOMException): Invalid jwk key data\n"
      "DataError(DOMException): AES key data must be 128, 192 or 256 bits\n"
      "OperationError(DOMException): AES key length must be 128, 192 or 256 bits\n"
      "OperationError(DOMException): The publicExponent must be 3 or 65537\n"
      "InvalidAccessError(DOMException): The key is for HMAC, not AES-GCM\n"
      "TypeError: key is not of type 'CryptoKey'\n"
      "NotSupportedError(DOMException): PBKDF2 iteration counts above 100000 are not "
      "supported\n"
      "TypeError");
}

TEST_F(Subtle, CryptoKeyLooksLikeTheWebOne) {
  EXPECT_EQ(run(R"js(
    const key = await subtle.generateKey({ name: "AES-GCM", length: 128 }, true,
                                         ["decrypt", "encrypt", "encrypt"]);
    const alg = key.algorithm;
    alg.length = 1;
    return [Object.prototype.toString.call(key), key instanceof CryptoKey, key.usages,
            key.algorithm === alg, (await subtle.exportKey("raw", key)).byteLength,
            Object.prototype.toString.call(subtle), Object.keys(CryptoKey.prototype)].join(" ");
  )js"),
            "[object CryptoKey] true encrypt,decrypt true 16 [object SubtleCrypto] "
            "type,extractable,algorithm,usages");
}

TEST_F(Subtle, KeyHandlesAreFreedByGcAndIsolateDisposal) {
  std::int64_t before = liveCryptoKeyCount();
  EXPECT_EQ(run(R"js(
    for (let i = 0; i < 2000; i++) {
      await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
    }
    globalThis.kept = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false,
                                               ["sign"]);
    return "ok";
  )js"),
            "ok");
  EXPECT_GE(liveCryptoKeyCount(), before + 2);
  for (int i = 0; i < 3; ++i) iso()->LowMemoryNotification();
  EXPECT_LT(liveCryptoKeyCount(), before + 100);
  engine_.reset();
  EXPECT_EQ(liveCryptoKeyCount(), before);
}

TEST_F(Subtle, NativesRejectForeignHandlesAndNeverCrash) {
  EXPECT_EQ(run(R"js(
    const tries = [
      () => __native.cryptoSign("HMAC", new ArrayBuffer(1), new Uint8Array(1), { hash: "SHA-256" }),
      () => __native.cryptoSign("HMAC", new ArrayBuffer(8), new Uint8Array(1), { hash: "SHA-256" }),
      () => __native.cryptoExportKey(undefined, "raw"),
      () => __native.cryptoDigest("SHA-256"),
      () => __native.cryptoImportKey("raw", "ec", new Uint8Array(65), "P-256"),
      () => __native.cryptoGenerateKey("rsa", { modulusLength: 1 << 20, publicExponent: new Uint8Array([1, 0, 1]) }),
    ];
    return tries.map((f) => { try { f(); return "ok"; } catch (e) { return e.name; } }).join(" ");
  )js"),
            "TypeError TypeError TypeError TypeError DataError OperationError");
}

// jose's browser build, bundled from tests/unit-js/subtle_jose_entry.mjs. Skipped when the jose
// package is not installed in tests/node_modules or /tmp/node_modules (npm i jose@5).
TEST_F(Subtle, JoseSignsAndVerifiesHs256Es256Rs256) {
  std::string nodePath;
  for (const char* dir : {"tests/node_modules", "/tmp/node_modules"}) {
    fs::path p = fs::path(dir).is_absolute() ? fs::path(dir) : kRepo / dir;
    if (fs::exists(p / "jose/package.json")) nodePath = p.string();
  }
  if (nodePath.empty()) GTEST_SKIP() << "jose is not installed";
  std::string jose =
      bundle(kRepo / "tests/unit-js/subtle_jose_entry.mjs",
             "--platform=neutral --main-fields=browser,module,main --conditions=browser",
             "NODE_PATH='" + nodePath + "'");
  ASSERT_FALSE(jose.empty());
  Result<void> r = engine_->runScript(jose, "jose.js");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(run("return await runJose(FX);"),
            "HS256:lobby node ERR_JWS_SIGNATURE_VERIFICATION_FAILED "
            "ES256:lobby node ERR_JWS_SIGNATURE_VERIFICATION_FAILED ES256:lobby "
            "RS256:lobby node ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
}

}  // namespace
}  // namespace partyd::api
