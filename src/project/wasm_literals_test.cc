#include "project/wasm_literals.h"

#include <gtest/gtest.h>

namespace partyd::project {
namespace {

TEST(WasmLiterals, ReplacesABase64DataUrlAndPadsToTheSameLength) {
  std::string code = "var a = \"data:application/wasm;base64,AGFzbQEAAAA=\", b = 1;";
  WasmRewrite r = rewriteWasmDataUrls(code);
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.code.size(), code.size());
  // The 43-character literal becomes a 29-character call and 14 spaces.
  EXPECT_EQ(r.code, "var a = __partyd_wasm(\"AGFzbQEAAAA=\")" + std::string(14, ' ') + ", b = 1;");
}

TEST(WasmLiterals, DecodesTheTextFormWithJsAndPercentEscapes) {
  // What esbuild 0.17 writes for the 8-byte empty module, which is valid UTF-8.
  WasmRewrite r = rewriteWasmDataUrls("x=\"data:application/wasm,\\0asm%01%00%00%00\";");
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.code, "x=__partyd_wasm(\"AGFzbQEAAAA=\")" + std::string(12, ' ') + ";");
}

TEST(WasmLiterals, HandlesSingleQuotesTemplatesAndSeveralLiterals) {
  WasmRewrite r = rewriteWasmDataUrls(
      "f('data:application/wasm;base64,AQID',`data:application/wasm;base64,BAU=`)");
  EXPECT_EQ(r.count, 2);
  EXPECT_EQ(r.code.find("data:"), std::string::npos) << r.code;
  EXPECT_NE(r.code.find("__partyd_wasm(\"AQID\")"), std::string::npos) << r.code;
  EXPECT_NE(r.code.find("__partyd_wasm(\"BAU=\")"), std::string::npos) << r.code;
}

TEST(WasmLiterals, LeavesOtherStringsAndBrokenLiteralsAlone) {
  std::string code =
      "a = \"data:application/wasmish,x\"; b = \"data:image/png;base64,AAAA\"; "
      "c = `data:application/wasm;base64,${x}`; d = \"data:application/wasm;base64,AA";
  WasmRewrite r = rewriteWasmDataUrls(code);
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(r.code, code);
}

}  // namespace
}  // namespace partyd::project
