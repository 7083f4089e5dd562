#include "project/asset_builder.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "project/test_support.h"

namespace partyd::project {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(AssetBuilder, BuildsServeEntriesIntoDistWithTheProjectDefinesButNoEnvValues) {
  TempDir dir;
  dir.write("src/server.ts", "export default {};\n");
  dir.write("public/index.html", "<script type=module src=/dist/index.js></script>\n");
  dir.write("app/index.ts", R"TS(
import { label } from "./label";
declare const PARTYKIT_HOST: string;
declare const STAGE: string;
console.log(label, PARTYKIT_HOST, STAGE, process.env.SECRET);
)TS");
  dir.write("app/label.ts", "export const label: string = 'the label';\n");
  dir.write(".env", "SECRET=do-not-ship\n");
  dir.write("partykit.json", R"({
    "main": "src/server.ts",
    "define": { "STAGE": "\"project\"" },
    "serve": { "path": "public", "build": { "entry": "app/index.ts", "minify": false } }
  })");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;

  auto result = buildAssets(*config, "127.0.0.1:1999");
  ASSERT_TRUE(result.ok()) << result.error().message;
  std::string js = slurp(dir.path() / "public/dist/index.js");
  EXPECT_CONTAINS(js, "the label");
  EXPECT_CONTAINS(js, "127.0.0.1:1999");
  EXPECT_CONTAINS(js, "\"project\"");
  EXPECT_EQ(js.find("do-not-ship"), std::string::npos) << js;
  EXPECT_TRUE(fs::exists(dir.path() / "public/dist/index.js.map"));
  EXPECT_NE(std::find(result->inputs.begin(), result->inputs.end(), dir.path() / "app/label.ts"),
            result->inputs.end());
  EXPECT_NE(std::find(result->outputs.begin(), result->outputs.end(),
                      dir.path() / "public/dist/index.js"),
            result->outputs.end());
}

TEST(AssetBuilder, BuildDefinesOverrideProjectDefines) {
  TempDir dir;
  dir.write("src/server.ts", "");
  dir.write("app/main.js", "console.log(MODE);\n");
  dir.write("partykit.json", R"({
    "main": "src/server.ts", "define": { "MODE": "\"server\"" },
    "serve": { "path": "public", "build": { "entry": ["app/main.js"], "outdir": "out",
               "format": "iife", "sourcemap": false, "define": { "MODE": "\"browser\"" } } }
  })");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  auto result = buildAssets(*config, "h:1");
  ASSERT_TRUE(result.ok()) << result.error().message;
  std::string js = slurp(dir.path() / "out/main.js");
  EXPECT_CONTAINS(js, "\"browser\"");
  EXPECT_CONTAINS(js, "(() => {");  // iife, so no splitting was asked for
  EXPECT_FALSE(fs::exists(dir.path() / "out/main.js.map"));
}

TEST(AssetBuilder, BuildErrorsNameTheFileAndLine) {
  TempDir dir;
  dir.write("src/server.ts", "");
  dir.write("app/main.ts", "let x = ;\n");
  dir.write("partykit.json",
            R"({"main": "src/server.ts", "serve": {"path": "public", "build": "app/main.ts"}})");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  auto result = buildAssets(*config, "h:1");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(result.error().message, "esbuild could not build serve.build");
  EXPECT_CONTAINS(result.error().message, "app/main.ts:1:8:");
}

TEST(AssetBuilder, ConfigWithoutServeBuildIsAnError) {
  Config config;
  auto result = buildAssets(config, "h:1");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(result.error().message, "no serve.build");
}

}  // namespace
}  // namespace partyd::project
