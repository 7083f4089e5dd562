// Bundler tests run the real esbuild on small projects written into a temp dir. Where Node.js is
// installed they also evaluate the bundle in it, as a classic script the way V8 will, to check
// what the runtime will see; without Node those checks are skipped.
#include "project/bundler.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "project/subprocess.h"
#include "project/test_support.h"

namespace partyd::project {
namespace {

namespace fs = std::filesystem;

// The 8-byte header alone is a valid, empty WebAssembly module.
const std::string kEmptyWasm("\0asm\1\0\0\0", 8);

std::optional<fs::path> findOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::string_view rest(path);
  while (true) {
    std::size_t colon = rest.find(':');
    fs::path candidate = fs::path(std::string(rest.substr(0, colon))) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(colon + 1);
  }
}

Config projectConfig(const TempDir& dir, std::string mainFile = "src/server.ts") {
  Config config;
  config.root = dir.path();
  config.name = "test-project";
  config.main = dir.path() / mainFile;
  return config;
}

BundleOptions optionsFor(const TempDir& dir) {
  BundleOptions options;
  options.outDir = dir.path() / ".partykit/build";
  options.host = "127.0.0.1:1999";
  return options;
}

// Evaluates the bundle in Node as a classic script, between `prelude` (which plays the runtime's
// part) and `probe`; returns what they print. esbuild columns in messages are 0-based.
std::string runInNode(const TempDir& dir, const Bundle& bundle, const std::string& probe,
                      const std::string& prelude = "") {
  auto node = findOnPath("node");
  if (!node) return "<no node>";
  fs::path harness = dir.write("harness.cjs", prelude + R"JS(
globalThis.__partyd_wasm = (b64) => new WebAssembly.Module(Buffer.from(b64, "base64"));
const code = require("fs").readFileSync(process.argv[2], "utf8");
(0, eval)(code);
const parties = globalThis.__partyd_parties;
)JS" + probe);
  auto run = runProcess({node->string(), harness.string(), bundle.outFile.string()}, dir.path());
  if (!run) return "<node failed to start: " + run.error().message + ">";
  return run->output;
}

#define SKIP_WITHOUT_NODE() \
  if (!findOnPath("node")) GTEST_SKIP() << "node is not installed; skipping the run"

TEST(Bundler, BundlesTypeScriptWithTypeOnlyPartykitImports) {
  TempDir dir;
  dir.write("src/server.ts", R"TS(
import type * as Party from "partykit/server";
import { greet } from "./util";

export default class Server implements Party.Server {
  constructor(readonly room: Party.Room) {}
  onMessage(message: string, sender: Party.Connection) {
    sender.send(greet(message));
  }
}
)TS");
  dir.write("src/util.ts", "export const greet = (who: string): string => `hello ${who}`;\n");
  dir.write("src/chat.ts", R"TS(
import * as Party from "partykit/server";
export default class Chat implements Party.Server {
  static kind: string = "chat";
  constructor(readonly room: Party.Room) {}
}
)TS");
  dir.write("src/legacy.js", R"JS(
import "partykit/server";
export default { onConnect(conn, room) { conn.send("hi"); } };
)JS");
  Config config = projectConfig(dir);
  config.parties = {{"chat", dir.path() / "src/chat.ts"}, {"legacy", dir.path() / "src/legacy.js"}};

  auto result = bundle(config, optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->outFile, dir.path() / ".partykit/build/bundle.js");
  EXPECT_CONTAINS(result->code, "__partyd_parties");
  EXPECT_FALSE(result->sourceMap.empty());
  std::vector<fs::path> expected = {dir.path() / "src/server.ts", dir.path() / "src/util.ts",
                                    dir.path() / "src/chat.ts", dir.path() / "src/legacy.js"};
  for (const fs::path& p : expected) {
    EXPECT_NE(std::find(result->inputs.begin(), result->inputs.end(), p), result->inputs.end())
        << p << " is not among the inputs";
  }
  for (const fs::path& p : result->inputs) {
    EXPECT_EQ(p.string().find(".partykit/build"), std::string::npos) << p;
  }

  SKIP_WITHOUT_NODE();
  EXPECT_EQ(runInNode(dir, *result, R"JS(
console.log(Object.keys(parties).join(","));
console.log(typeof parties.main, parties.main.name, parties.chat.kind, typeof parties.legacy.onConnect);
let sent;
new parties.main({}).onMessage("you", { send: (m) => { sent = m; } });
console.log(sent);
)JS"),
            "main,chat,legacy\nfunction Server chat function\nhello you\n");
}

TEST(Bundler, ResolvesNpmModulesFromTheProjectNodeModules) {
  TempDir dir;
  dir.write("node_modules/tiny-pkg/package.json", R"({
  "name": "tiny-pkg", "version": "1.0.0",
  "exports": { ".": { "workerd": "./worker.js", "node": "./node.js", "default": "./node.js" } }
})");
  dir.write("node_modules/tiny-pkg/worker.js", "export const where = 'workerd build';\n");
  dir.write("node_modules/tiny-pkg/node.js", "export const where = 'node build';\n");
  dir.write("node_modules/cjs-pkg/package.json", R"({"name": "cjs-pkg", "main": "lib/index.js"})");
  dir.write("node_modules/cjs-pkg/lib/index.js",
            "module.exports = function double(x) { return 2 * x; };\n");
  dir.write("src/server.ts", R"TS(
import { where } from "tiny-pkg";
import double from "cjs-pkg";
export default { where, four: double(2) };
)TS");

  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_NE(std::find(result->inputs.begin(), result->inputs.end(),
                      dir.path() / "node_modules/tiny-pkg/worker.js"),
            result->inputs.end());
  SKIP_WITHOUT_NODE();
  EXPECT_EQ(runInNode(dir, *result, "console.log(parties.main.where, parties.main.four);\n"),
            "workerd build 4\n");
}

TEST(Bundler, SyntaxErrorReportsFileLineAndColumn) {
  TempDir dir;
  dir.write("src/server.ts", "const ok = 1;\nconst broken value = 2;\nexport default {};\n");
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(result.error().message, "esbuild could not bundle src/server.ts");
  EXPECT_CONTAINS(result.error().message, "[ERROR] Expected \";\" but found \"value\"");
  EXPECT_CONTAINS(result.error().message, "src/server.ts:2:13:");
}

TEST(Bundler, UnresolvedImportNamesTheImportingFile) {
  TempDir dir;
  dir.write("src/server.ts", "import x from \"not-installed\";\nexport default x;\n");
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(result.error().message, "Could not resolve \"not-installed\"");
  EXPECT_CONTAINS(result.error().message, "src/server.ts:1:14:");
  EXPECT_CONTAINS(result.error().message, "If \"not-installed\" is an npm package, install it in " +
                                              dir.path().string() +
                                              " (npm install not-installed).");
  EXPECT_EQ(result.error().message.find("as external"), std::string::npos);
}

TEST(Bundler, WasmImportBecomesAPartydWasmCall) {
  TempDir dir;
  dir.write("src/empty.wasm", kEmptyWasm);
  dir.write("src/server.ts", R"TS(
import mod from "./empty.wasm";
import again from "./empty.wasm?module";
export default { mod, again };
)TS");
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_CONTAINS(result->code, "__partyd_wasm(\"AGFzbQEAAAA=\")");
  EXPECT_EQ(result->code.find("data:application/wasm"), std::string::npos) << result->code;
  EXPECT_NE(std::find(result->inputs.begin(), result->inputs.end(), dir.path() / "src/empty.wasm"),
            result->inputs.end());

  SKIP_WITHOUT_NODE();
  EXPECT_EQ(runInNode(dir, *result,
                      "console.log(parties.main.mod instanceof WebAssembly.Module, "
                      "parties.main.again instanceof WebAssembly.Module);\n"),
            "true true\n");
}

TEST(Bundler, NodeBuiltinsBundleButThrowANamedErrorWhenUsed) {
  TempDir dir;
  dir.write("src/server.ts", R"TS(
import fs from "node:fs";
import { readFile } from "fs/promises";
import { EventEmitter } from "events";
import { connect } from "cloudflare:sockets";
export default {
  readSync: () => fs.readFileSync("/etc/hostname"),
  readAsync: () => readFile("/etc/hostname"),
  emitter: () => new EventEmitter(),
  socket: () => connect("example.com:443"),
};
)TS");
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;

  SKIP_WITHOUT_NODE();
  std::string out = runInNode(dir, *result, R"JS(
for (const name of ["readSync", "readAsync", "emitter", "socket"]) {
  try { parties.main[name](); console.log(name, "did not throw"); }
  catch (e) { console.log(e.message.split(" (")[0], "|", e.message.match(/\((.*?) was used/)[1]); }
}
)JS");
  EXPECT_EQ(
      out,
      "partyd: the module \"node:fs\" is not available | node:fs.readFileSync\n"
      "partyd: the module \"node:fs/promises\" is not available | node:fs/promises.readFile\n"
      "partyd: the module \"node:events\" is not available | node:events.EventEmitter\n"
      "partyd: the module \"cloudflare:sockets\" is not available | cloudflare:sockets.connect\n");
}

TEST(Bundler, RuntimeMayProvideABuiltinModule) {
  TempDir dir;
  dir.write("src/server.ts",
            "import { EventEmitter } from 'node:events';\nexport default new EventEmitter();\n");
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;
  SKIP_WITHOUT_NODE();
  EXPECT_EQ(runInNode(dir, *result,
                      "console.log(parties.main instanceof require('events').EventEmitter);\n",
                      "globalThis.__partyd_modules = { 'node:events': require('events') };\n"),
            "true\n");
}

TEST(Bundler, AModuleWithoutDefaultExportIsGivenAsItsNamespace) {
  TempDir dir;
  dir.write("src/server.ts", "export const onRequest = () => 'named only';\n");
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;
  SKIP_WITHOUT_NODE();
  EXPECT_EQ(runInNode(dir, *result,
                      "console.log(Object.keys(parties.main).join(), parties.main.onRequest());\n"),
            "onRequest named only\n");
}

TEST(Bundler, DefinesHostAndEnvVarsAreCompiledIn) {
  TempDir dir;
  dir.write("src/server.ts", R"TS(
declare const PARTYKIT_HOST: string;
declare const FEATURE: boolean;
export default { host: PARTYKIT_HOST, feature: FEATURE, secret: process.env.SECRET };
)TS");
  dir.write("src/notes.txt", "plain text\n");
  Config config = projectConfig(dir);
  config.define = {{"FEATURE", "true"}};
  config.envFileVars = {{"SECRET", "s3cret"}, {"not-an-identifier", "x"}};
  BundleOptions options = optionsFor(dir);
  options.host = "example.test:8080";
  options.minify = true;
  auto result = bundle(config, options);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_CONTAINS(result->code, "example.test:8080");
  EXPECT_CONTAINS(result->code, "s3cret");
  SKIP_WITHOUT_NODE();
  EXPECT_EQ(runInNode(dir, *result,
                      "const m = parties.main; console.log(m.host, m.feature, m.secret);\n"),
            "example.test:8080 true s3cret\n");
}

TEST(Bundler, AFreeProcessIsTheInjectedNodeProcessWithDotEnvInItsEnv) {
  TempDir dir;
  // A CommonJS module that, like React's entry point, reads process.env.NODE_ENV when it loads.
  dir.write("src/react_like.cjs", R"JS(
module.exports = process.env.NODE_ENV === "production" ? "prod build" : "dev build";
)JS");
  dir.write("src/server.ts", R"TS(
import build from "./react_like.cjs";
import nodeProcess from "node:process";
const key = "DASH-KEY";
export default {
  build,
  same: process === nodeProcess,
  dashed: process.env[key],
  secret: process.env.SECRET,
  nodeEnv: process.env.NODE_ENV,
};
)TS");
  Config config = projectConfig(dir);
  config.envFileVars = {{"SECRET", "s3cret"}, {"DASH-KEY", "dash"}};
  auto result = bundle(config, optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;
  SKIP_WITHOUT_NODE();
  const std::string probe =
      "const m = parties.main;\n"
      "console.log(m.build, m.same, m.dashed, m.secret, m.nodeEnv);\n";
  const std::string prelude =
      "globalThis.__partyd_modules = { 'node:process': { env: {} } };\n";
  EXPECT_EQ(runInNode(dir, *result, probe, prelude), "dev build true dash s3cret development\n");

  BundleOptions minified = optionsFor(dir);
  minified.minify = true;
  result = bundle(config, minified);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(runInNode(dir, *result, probe, prelude),
            "prod build true dash s3cret production\n");
}

TEST(Bundler, TextAndJsonImportsUseTheirLoaders) {
  TempDir dir;
  dir.write("src/page.html", "<h1>hi</h1>\n");
  dir.write("src/data.json", "{\"n\": 42}\n");
  dir.write("src/blob.bin", std::string("\x01\x02\x03", 3));
  dir.write("src/server.ts", R"TS(
import page from "./page.html";
import data from "./data.json";
import blob from "./blob.bin";
export default { page, n: data.n, bytes: blob.length };
)TS");
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_TRUE(result.ok()) << result.error().message;
  SKIP_WITHOUT_NODE();
  EXPECT_EQ(
      runInNode(dir, *result,
                "const m = parties.main; console.log(JSON.stringify(m.page), m.n, m.bytes);\n"),
      "\"<h1>hi</h1>\\n\" 42 3\n");
}

TEST(Bundler, MissingMainFileIsReportedBeforeRunningEsbuild) {
  TempDir dir;
  auto result = bundle(projectConfig(dir), optionsFor(dir));
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(result.error().message,
                  "main file not found: " + (dir.path() / "src/server.ts").string());
}

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Bundler, FindsEsbuildFromTheEnvironmentThenNodeModulesThenPath) {
  TempDir dir;
  {
    ScopedEnv env("PARTYD_ESBUILD", (dir.path() / "nope").c_str());
    auto found = findEsbuild(dir.path());
    ASSERT_FALSE(found.ok());
    EXPECT_CONTAINS(found.error().message,
                    "PARTYD_ESBUILD is set to " + (dir.path() / "nope").string());
  }
  fs::path local = dir.write("node_modules/.bin/esbuild", "#!/bin/sh\n");
  fs::permissions(local, fs::perms::owner_all);
  {
    ScopedEnv env("PARTYD_ESBUILD", nullptr);
    auto found = findEsbuild(dir.path() / "sub");
    ASSERT_TRUE(found.ok()) << found.error().message;
    EXPECT_EQ(*found, local);
  }
  fs::remove(local);
  {
    ScopedEnv env("PARTYD_ESBUILD", nullptr);
    ScopedEnv path("PATH", dir.path().c_str());
    auto found = findEsbuild(dir.path());
    ASSERT_FALSE(found.ok());
    EXPECT_CONTAINS(found.error().message, "`apt-get install esbuild`, or `npm i -D esbuild`");
  }
}

}  // namespace
}  // namespace partyd::project
