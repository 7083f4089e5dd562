// The ICU natives inside V8, called directly (the JS layer on top of them is tested by
// tests/unit-js and, through partyd, by tests/compat/webapi and tests/conformance).
#include "api/web_natives.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "js/engine.h"

namespace partyd::api {
namespace {

class WebNatives : public testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<js::Engine>(js::Engine::Options{});
    v8::HandleScope scope(iso());
    v8::Local<v8::Object> native = v8::Object::New(iso());
    installWebNatives(iso(), engine_->context(), native);
    ASSERT_TRUE(engine_->context()
                    ->Global()
                    ->Set(engine_->context(), js::str(iso(), "n"), native)
                    .FromMaybe(false));
    Result<void> r = engine_->runScript(R"js(
      globalThis.hex = (s) => Array.from(s, (c) => c.codePointAt(0).toString(16)).join(" ");
      globalThis.errorName = (f) => { try { f(); return "no error"; } catch (e) { return e.name; } };
      globalThis.dec = (name, bytes, fatal = false) =>
        n.textDecoderDecode(n.textDecoderOpen(name, fatal), new Uint8Array(bytes), true);
    )js",
                                        "prelude.js");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  v8::Isolate* iso() { return engine_->isolate(); }

  // Evaluates `expression` and returns it as a string (or the exception's description).
  std::string eval(std::string_view expression) {
    v8::HandleScope scope(iso());
    std::string source = "globalThis.__out = String(" + std::string(expression) + ");";
    Result<void> r = engine_->runScript(source, "test.js");
    if (!r.ok()) return "error: " + r.error().message;
    v8::Local<v8::Value> out;
    if (!engine_->context()->Global()->Get(engine_->context(), js::str(iso(), "__out")).ToLocal(&out)) {
      return "no value";
    }
    return js::toUtf8(iso(), out);
  }

  std::unique_ptr<js::Engine> engine_;
};

TEST_F(WebNatives, SingleByteTablesFollowTheWhatwgIndexes) {
  EXPECT_EQ(eval("hex(dec('windows-1252', [0x41, 0x80, 0x81, 0xe9]))"), "41 20ac 81 e9");
  EXPECT_EQ(eval("hex(dec('koi8-u', [0xae, 0xbe, 0xc1]))"), "45e 40e 430");
  EXPECT_EQ(eval("hex(dec('ibm866', [0x1a, 0x1c, 0x7f, 0x80]))"), "1a 1c 7f 410");
  EXPECT_EQ(eval("hex(dec('windows-1255', [0xca]))"), "5ba");
  EXPECT_EQ(eval("hex(dec('windows-874', [0xdb, 0xa1]))"), "fffd e01");
  EXPECT_EQ(eval("hex(dec('iso-8859-16', [0xa4, 0xaa, 0xfe]))"), "20ac 218 21b");
  EXPECT_EQ(eval("hex(dec('x-user-defined', [0x7f, 0x80, 0xff]))"), "7f f780 f7ff");
  EXPECT_EQ(eval("errorName(() => dec('windows-874', [0xdb], true))"), "TypeError");
  EXPECT_EQ(eval("dec('iso-8859-8-i', [0xe0, 0xe1])"), "\xd7\x90\xd7\x91");  // U+05D0 U+05D1
}

TEST_F(WebNatives, Utf16KeepsStateAcrossCallsAndReplacesErrors) {
  EXPECT_EQ(eval(R"js((() => {
    const d = n.textDecoderOpen("utf-16le", false);
    const parts = [[0x3d], [0xd8, 0x00], [0xde, 0x41]].map((b) => n.textDecoderDecode(d, new Uint8Array(b), false));
    parts.push(n.textDecoderDecode(d, undefined, true));
    return parts.map(hex).join("|");
  })())js"),
            "||1f600|fffd");
  EXPECT_EQ(eval("hex(dec('utf-16be', [0xfe, 0xff, 0x00, 0x41]))"), "feff 41");
  EXPECT_EQ(eval("hex(dec('utf-16le', [0x00, 0xd8, 0x41, 0x00]))"), "fffd 41");
  EXPECT_EQ(eval(R"js((() => {
    const d = n.textDecoderOpen("utf-16le", true);
    const first = errorName(() => n.textDecoderDecode(d, new Uint8Array([0x00, 0xd8]), true));
    return first + " " + hex(n.textDecoderDecode(d, new Uint8Array([0x41, 0x00]), true));
  })())js"),
            "TypeError 41");
}

TEST_F(WebNatives, MultiByteEncodingsDecodeAcrossCalls) {
  EXPECT_EQ(eval(R"js((() => {
    const d = n.textDecoderOpen("shift_jis", false);
    return n.textDecoderDecode(d, new Uint8Array([0x93]), false) + "|" +
      n.textDecoderDecode(d, new Uint8Array([0xfa, 0x96]), false) + "|" +
      n.textDecoderDecode(d, new Uint8Array([0x7b]), true);
  })())js"),
            "|\xe6\x97\xa5|\xe6\x9c\xac");  // |日|本
  EXPECT_EQ(eval("dec('gb18030', [0x81, 0x30, 0x81, 0x30])"), "\xc2\x80");  // U+0080
  EXPECT_EQ(eval("hex(dec('shift_jis', [0x93]))"), "fffd");
  EXPECT_EQ(eval("errorName(() => dec('euc-kr', [0xb0], true))"), "TypeError");
}

TEST_F(WebNatives, BadArgumentsThrowAndNeverCrash) {
  EXPECT_EQ(eval("errorName(() => n.textDecoderOpen('utf-8', false))"), "RangeError");
  EXPECT_EQ(eval("errorName(() => n.textDecoderOpen('replacement', false))"), "RangeError");
  EXPECT_EQ(eval("errorName(() => n.textDecoderOpen(7, false))"), "TypeError");
  EXPECT_EQ(eval("errorName(() => n.textDecoderDecode(new ArrayBuffer(1), new Uint8Array(1), true))"),
            "TypeError");
  EXPECT_EQ(eval("errorName(() => n.textDecoderDecode(n.textDecoderOpen('gbk', false), 'x', true))"),
            "TypeError");
  EXPECT_EQ(eval("errorName(() => n.domainToASCII({}))"), "TypeError");
}

TEST_F(WebNatives, DomainToAsciiIsUts46WithTheUrlStandardsFlags) {
  EXPECT_EQ(eval("n.domainToASCII('B\\u00fccher.example')"), "xn--bcher-kva.example");
  EXPECT_EQ(eval("n.domainToASCII('fa\\u00df.de')"), "xn--fa-hia.de");        // nontransitional
  EXPECT_EQ(eval("n.domainToASCII('\\uff45x\\u3002\\u00fc')"), "ex.xn--tda");   // width, dots
  EXPECT_EQ(eval("n.domainToASCII('ab--c.-x-.\\u00fc')"), "ab--c.-x-.xn--tda");  // no CheckHyphens
  EXPECT_EQ(eval("n.domainToASCII('a'.repeat(70) + '..\\u00fc')"),
            std::string(70, 'a') + "..xn--tda");  // no VerifyDnsLength
  EXPECT_EQ(eval("n.domainToASCII('a\\u200db.\\u00fc')"), "null");  // CheckJoiners
  EXPECT_EQ(eval("n.domainToASCII('\\u05d0a.\\u00fc')"), "null");    // CheckBidi
  EXPECT_EQ(eval("n.domainToASCII('\\ufffd.com')"), "null");         // disallowed
  EXPECT_EQ(eval("n.domainToASCII('xn--a.\\u00fc')"), "null");       // bad Punycode
  EXPECT_EQ(eval("n.domainToASCII('a_b.\\u00fc')"), "a_b.xn--tda");  // no STD3 rules
  EXPECT_EQ(eval("n.domainToASCII('\\u00ad')"), "null");             // empty result
}

// js::toUtf8 (every string a native reads): ASCII one-byte strings are copied as they are;
// Latin-1, two-byte, lone surrogates and cons strings go through V8's UTF-8 writer.
TEST_F(WebNatives, ToUtf8WritesEveryKindOfString) {
  EXPECT_EQ(eval("'plain ascii'"), "plain ascii");
  EXPECT_EQ(eval("'caf\\u00e9'"), "caf\xc3\xa9");  // one-byte, not ASCII
  EXPECT_EQ(eval("'\\u00ff'.repeat(3)"), "\xc3\xbf\xc3\xbf\xc3\xbf");
  EXPECT_EQ(eval("'snow \\u2603'"), "snow \xe2\x98\x83");  // two-byte
  EXPECT_EQ(eval("'a\\ud800b'"), "a\xef\xbf\xbd" "b");  // a lone surrogate
  EXPECT_EQ(eval("'x'.repeat(40) + 'y'.repeat(40)"), std::string(40, 'x') + std::string(40, 'y'));
  EXPECT_EQ(eval("''"), "");
}

}  // namespace
}  // namespace partyd::api
