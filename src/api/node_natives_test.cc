// The node* natives inside V8, without the JS layer (that runs in tests/unit-js/node.test.mjs):
// digests and HMACs against FIPS 180 and RFC 4231, PBKDF2, HKDF and scrypt against RFC 6070,
// 5869 and 7914, copies, foreign handles refused, hash states freed by GC, and promise hooks that
// see await.
#include "api/node_natives.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "js/engine.h"

namespace partyd::api {
namespace {

constexpr const char* kPrelude = R"js(
  globalThis.hex = (ab) => Array.from(new Uint8Array(ab), (b) => b.toString(16).padStart(2, "0")).join("");
  globalThis.utf8 = (s) => Uint8Array.from(unescape(encodeURIComponent(s)), (c) => c.charCodeAt(0));
  globalThis.digest = (alg, ...parts) => {
    const h = __native.nodeHashNew(alg);
    for (const p of parts) __native.nodeHashUpdate(h, utf8(p));
    return hex(__native.nodeHashDigest(h));
  };
)js";

class NodeNatives : public testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<js::Engine>(js::Engine::Options{});
    v8::HandleScope scope(iso());
    v8::Local<v8::Object> native = v8::Object::New(iso());
    installNodeNatives(iso(), engine_->context(), native);
    ASSERT_TRUE(engine_->context()
                    ->Global()
                    ->Set(engine_->context(), js::str(iso(), "__native"), native)
                    .FromMaybe(false));
    Result<void> r = engine_->runScript(kPrelude, "prelude.js");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  v8::Isolate* iso() { return engine_->isolate(); }

  // Evaluates `expression` after running its microtasks; its String() or "threw <message>".
  std::string eval(std::string_view expression) {
    v8::HandleScope scope(iso());
    std::string source = "globalThis.__out = (() => { try { return String(" +
                         std::string(expression) +
                         "); } catch (e) { return `threw ${e.message}`; } })();";
    Result<void> r = engine_->runScript(source, "test.js");
    if (!r.ok()) return "script error: " + r.error().message;
    iso()->PerformMicrotaskCheckpoint();
    v8::Local<v8::Value> out;
    if (!engine_->context()
             ->Global()
             ->Get(engine_->context(), js::str(iso(), "__out"))
             .ToLocal(&out)) {
      return "no result";
    }
    return js::toUtf8(iso(), out);
  }

  std::unique_ptr<js::Engine> engine_;
};

TEST_F(NodeNatives, DigestsMatchFips180AndStreamInParts) {
  EXPECT_EQ(eval("digest('sha256', 'abc')"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(eval("digest('SHA-256', 'a', 'b', 'c')"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(eval("digest('sha1', 'abc')"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(eval("digest('md5', '')"), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(eval("digest('nope', '')"), "threw Digest method not supported");
}

TEST_F(NodeNatives, HmacMatchesRfc4231AndCopiesKeepState) {
  EXPECT_EQ(eval(R"js((() => {
    const h = __native.nodeHmacNew("sha256", utf8("Jefe"));
    __native.nodeHashUpdate(h, utf8("what do ya want "));
    const copy = __native.nodeHashCopy(h);
    __native.nodeHashUpdate(h, utf8("for nothing?"));
    __native.nodeHashUpdate(copy, utf8("for nothing?"));
    return hex(__native.nodeHashDigest(h)) + " " + hex(__native.nodeHashDigest(copy));
  })())js"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 "
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(eval("hex(__native.nodeHashDigest(__native.nodeHmacNew('sha256', new Uint8Array(0))))"),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(eval("__native.nodeHmacNew('nope', new Uint8Array(1))"),
            "threw Digest method not supported");
}

TEST_F(NodeNatives, Pbkdf2MatchesRfc6070AndTimingSafeEqualCompares) {
  EXPECT_EQ(eval("hex(__native.nodePbkdf2(utf8('password'), utf8('salt'), 2, 20, 'sha1'))"),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
  EXPECT_EQ(eval("__native.nodePbkdf2(utf8('p'), utf8('s'), 0, 20, 'sha1')"),
            "threw iterations must be an integer >= 1");
  EXPECT_EQ(eval("[__native.nodeTimingSafeEqual(utf8('abc'), utf8('abc')),"
                 " __native.nodeTimingSafeEqual(utf8('abc'), utf8('abd'))]"),
            "true,false");
  EXPECT_EQ(eval("__native.nodeTimingSafeEqual(utf8('a'), utf8('ab'))"),
            "threw Input buffers must have the same length");
}

TEST_F(NodeNatives, HkdfAndScryptMatchRfc5869And7914) {
  EXPECT_EQ(eval("hex(__native.nodeHkdf('sha256', new Uint8Array(22).fill(11),"
                 " Uint8Array.from({ length: 13 }, (_, i) => i),"
                 " Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i), 42))"),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  EXPECT_EQ(
      eval("hex(__native.nodeScrypt(utf8('password'), utf8('NaCl'), 1024, 8, 16, 32 << 20,"
           " 64))"),
      "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff1092"
      "79d9830dac727afb94a83ee6d8360cbdfa2cc0640");
  EXPECT_EQ(eval("__native.nodeScrypt(utf8('p'), utf8('s'), 1 << 20, 8, 16, 1 << 30, 16)"),
            "threw scrypt parameters above N * r * p = 16777216 are not supported");
  EXPECT_EQ(eval("__native.nodeScrypt(utf8('p'), utf8('s'), 1024, 8, 1, 1024, 16)"),
            "threw Invalid scrypt params: memory limit exceeded");
}

TEST_F(NodeNatives, ForeignHandlesAreRefused) {
  EXPECT_EQ(eval("__native.nodeHashUpdate(new ArrayBuffer(1), new Uint8Array(1))"),
            "threw Expected a hash handle");
  EXPECT_EQ(eval("__native.nodeHashDigest({})"), "threw Expected a hash handle");
  EXPECT_EQ(eval("__native.nodeHashUpdate(__native.nodeHashNew('sha1'), 'text')"),
            "threw data must be an ArrayBuffer or a view");
}

TEST_F(NodeNatives, HashStatesAreFreedByGcAndIsolateDisposal) {
  std::int64_t before = liveNodeHashCount();
  EXPECT_EQ(eval(R"js((() => {
    for (let i = 0; i < 2000; i++) __native.nodeHashNew("sha256");
    globalThis.kept = __native.nodeHmacNew("sha1", new Uint8Array(4));
    return "ok";
  })())js"),
            "ok");
  EXPECT_GE(liveNodeHashCount(), before + 1);
  for (int i = 0; i < 3; ++i) iso()->LowMemoryNotification();
  EXPECT_LT(liveNodeHashCount(), before + 100);
  engine_.reset();
  EXPECT_EQ(liveNodeHashCount(), before);
}

TEST_F(NodeNatives, PromiseHooksSeeAwaitContinuations) {
  EXPECT_EQ(eval(R"js((() => {
    globalThis.log = [];
    let depth = 0;
    __native.nodeSetPromiseHooks(
      () => {}, () => { depth++; }, () => { depth--; }, undefined);
    (async () => {
      await null;
      log.push(`in job: ${depth}`);
    })();
    log.push(`sync: ${depth}`);
    return "set";
  })())js"),
            "set");
  EXPECT_EQ(eval("log.join(', ')"), "sync: 0, in job: 1");
}

}  // namespace
}  // namespace partyd::api
