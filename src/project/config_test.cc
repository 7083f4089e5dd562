#include "project/config.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "project/test_support.h"

namespace partyd::project {
namespace {

namespace fs = std::filesystem;

std::string lookup(const StringPairs& pairs, const std::string& key) {
  for (const auto& [k, v] : pairs) {
    if (k == key) return v;
  }
  return "<missing " + key + ">";
}

// A project with src/server.ts and src/chat.ts, and `config` as partykit.json.
void writeProject(const TempDir& dir, std::string_view config) {
  dir.write("src/server.ts", "export default class Server {}\n");
  dir.write("src/chat.ts", "export default class Chat {}\n");
  dir.write("partykit.json", config);
}

std::string loadError(const TempDir& dir, const LoadOptions& opts = {}) {
  auto config = loadConfig(dir.path(), opts);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.error().message;
}

TEST(Config, LoadsEveryFieldOfAFullValidFile) {
  TempDir dir;
  writeProject(dir, R"({
    "$schema": "https://www.partykit.io/schema.json",
    "name": "my-app_1",
    "main": "src/server.ts",
    "team": "acme",
    "port": 2000,
    "parties": { "chat": "src/chat.ts", "also-main": "./src/server.ts" },
    "vars": { "A": 1, "B": { "nested": true } },
    "define": { "DEBUG": "true", "VERSION": "\"1.0\"" },
    "compatibilityDate": "2024-07-18",
    "compatibilityFlags": ["nodejs_compat"],
    "serve": { "path": "public", "singlePageApp": true, "browserTTL": 60, "edgeTTL": null,
               "build": { "entry": ["app/index.ts"], "format": "iife", "loader": { ".png": "file" } } },
    "crons": { "nightly": "0 3 * * *" },
    "persist": ".data/state",
    "build": { "command": "npm run build", "watch": "lib", "alias": { "x": "./y.js" } },
    "minify": true,
    "ai": { "apiToken": "t" },
    "vectorize": { "idx": "my-index", "other": { "index_name": "o" } },
    "bindings": { "r2": { "BUCKET": "b" }, "kv": { "KV": "k" } },
    "placement": { "mode": "smart" },
    "observability": { "enabled": true, "head_sampling_rate": 0.5 },
    "logpush": false, "tailConsumers": ["t1"], "analytics": "ds", "domain": "x.example", "preview": "p"
  })");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  const Config& c = *config;
  EXPECT_EQ(c.configFile, dir.path() / "partykit.json");
  EXPECT_EQ(c.root, dir.path());
  EXPECT_EQ(c.name, "my-app_1");
  EXPECT_EQ(c.main, dir.path() / "src/server.ts");
  ASSERT_EQ(c.parties.size(), 2u);
  EXPECT_EQ(c.parties[0].first, "chat");
  EXPECT_EQ(c.parties[0].second, dir.path() / "src/chat.ts");
  EXPECT_EQ(c.parties[1].first, "also-main");
  EXPECT_EQ(c.parties[1].second, dir.path() / "src/server.ts");
  EXPECT_EQ(boost::json::parse(c.varsJson), boost::json::parse(R"({"A":1,"B":{"nested":true}})"));
  EXPECT_EQ(lookup(c.define, "DEBUG"), "true");
  EXPECT_EQ(lookup(c.define, "VERSION"), "\"1.0\"");
  EXPECT_EQ(c.compatibilityDate, "2024-07-18");
  EXPECT_EQ(c.compatibilityFlags, std::vector<std::string>{"nodejs_compat"});
  EXPECT_EQ(c.port, 2000);
  ASSERT_TRUE(c.serve.has_value());
  EXPECT_EQ(c.serve->path, dir.path() / "public");
  EXPECT_TRUE(c.serve->singlePageApp);
  EXPECT_EQ(c.serve->browserTTL, 60);
  EXPECT_FALSE(c.serve->edgeTTL.has_value());
  ASSERT_TRUE(c.serve->build.has_value());
  EXPECT_EQ(c.serve->buildEntry, (dir.path() / "app/index.ts").string());
  EXPECT_EQ(c.serve->build->outdir, dir.path() / "public/dist");
  EXPECT_EQ(c.serve->build->format, "iife");
  EXPECT_EQ(lookup(c.serve->build->loader, ".png"), "file");
  EXPECT_EQ(lookup(c.crons, "nightly"), "0 3 * * *");
  EXPECT_EQ(c.persist, ".data/state");
  EXPECT_FALSE(c.persistDisabled);
  EXPECT_EQ(statePath(c), dir.path() / ".data/state");
  ASSERT_TRUE(c.build.has_value());
  EXPECT_EQ(c.build->command, "npm run build");
  EXPECT_EQ(c.build->watch, std::vector<fs::path>{dir.path() / "lib"});
  EXPECT_EQ(lookup(c.build->alias, "x"), "./y.js");
  EXPECT_EQ(c.minify, true);
  ASSERT_TRUE(c.ai.has_value());
  EXPECT_EQ(c.ai->apiToken, "t");
  EXPECT_EQ(lookup(c.vectorize, "other"), "o");
  EXPECT_EQ(lookup(c.r2Buckets, "BUCKET"), "b");
  EXPECT_EQ(lookup(c.kvNamespaces, "KV"), "k");
  EXPECT_EQ(c.placementMode, "smart");
  ASSERT_TRUE(c.observability.has_value());
  EXPECT_EQ(c.observability->headSamplingRate, 0.5);
  EXPECT_EQ(c.tailConsumers, std::vector<std::string>{"t1"});
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(c.watchFiles, std::vector<fs::path>{dir.path() / "partykit.json"});
}

TEST(Config, ReadsJsoncWithCommentsAndTrailingCommas) {
  TempDir dir;
  dir.write("src/server.ts", "export default {};\n");
  dir.write("partykit.jsonc", R"(// my project
{
  name: 'commented', /* unquoted keys and single quotes are JSON5 */
  "main": "src/server.ts",
  "parties": {},
})");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->name, "commented");
  EXPECT_EQ(config->configFile, dir.path() / "partykit.jsonc");
}

TEST(Config, PrefersPartykitJsonOverJson5AndJsonc) {
  TempDir dir;
  dir.write("src/server.ts", "");
  dir.write("partykit.json5", R"({name: "five", main: "src/server.ts"})");
  dir.write("partykit.json", R"({"name": "plain", "main": "src/server.ts"})");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->name, "plain");
}

TEST(Config, ParseErrorNamesFileLineAndColumn) {
  TempDir dir;
  writeProject(dir, "{\n  \"name\": \"x\",\n  \"main\": \"src/server.ts\"\n  \"port\": 1\n}\n");
  std::string error = loadError(dir);
  EXPECT_CONTAINS(error, "partykit.json:4:3: expected ',' or '}'");
}

TEST(Config, UnknownFieldIsAnErrorThatSuggestsTheKnownOne) {
  TempDir dir;
  writeProject(dir, "{\n  \"name\": \"x\",\n  \"mian\": \"src/server.ts\"\n}");
  std::string error = loadError(dir);
  EXPECT_CONTAINS(error, "partykit.json:3:3: unknown field \"mian\" (did you mean \"main\"?)");
}

TEST(Config, WrongTypeSaysWhatWasExpected) {
  TempDir dir;
  writeProject(dir, "{\n  \"main\": \"src/server.ts\",\n  \"vars\": 3\n}");
  EXPECT_CONTAINS(
      loadError(dir),
      "partykit.json:3:11: vars: expected an object of names to values, got a number (3)");

  writeProject(dir, R"({"main": "src/server.ts", "port": "1999"})");
  EXPECT_CONTAINS(loadError(dir), ":1:35: port: expected a number, got a string (\"1999\")");

  writeProject(dir, R"({"main": "src/server.ts", "define": {"A": 1}})");
  EXPECT_CONTAINS(loadError(dir), "define.A: expected a string, got a number (1)");

  writeProject(dir, R"({"main": "src/server.ts", "serve": {"singlePageApp": "yes"}})");
  EXPECT_CONTAINS(loadError(dir),
                  "serve.singlePageApp: expected true or false, got a string (\"yes\")");
}

TEST(Config, ReportsEveryBadFieldOnItsOwnLine) {
  TempDir dir;
  writeProject(dir, "{\n  \"main\": \"src/server.ts\",\n  \"port\": false,\n  \"name\": 1\n}");
  std::string error = loadError(dir);
  // In file order, although "name" is checked first.
  EXPECT_CONTAINS(error, "partykit.json:3:11: port: expected a number, got a boolean (false)\n" +
                             (dir.path() / "partykit.json").string() +
                             ":4:11: name: expected a string, got a number (1)");
}

TEST(Config, ProjectNameMustBeLowercaseLettersDigitsDashOrUnderscore) {
  TempDir dir;
  writeProject(dir, R"({"name": "My App", "main": "src/server.ts"})");
  EXPECT_CONTAINS(
      loadError(dir),
      ":1:10: name: \"My App\" is not a valid project name: use only lowercase letters, "
      "digits, '-' and '_'");
}

TEST(Config, MainMustExistAndTheErrorShowsItsResolvedPath) {
  TempDir dir;
  writeProject(dir, R"({"name": "x", "main": "src/missing.ts"})");
  EXPECT_CONTAINS(loadError(dir),
                  ":1:23: main: main file not found: " + (dir.path() / "src/missing.ts").string());
}

TEST(Config, MissingMainSaysHowToSetIt) {
  TempDir dir;
  writeProject(dir, R"({"name": "x"})");
  EXPECT_CONTAINS(loadError(dir), "partykit.json:1:1: missing \"main\"");
}

TEST(Config, PartyNamesAreValidatedAndMainIsReserved) {
  TempDir dir;
  writeProject(dir,
               "{\"main\": \"src/server.ts\", \"parties\": {\n"
               "  \"Chat\": \"src/chat.ts\",\n"
               "  \"main\": \"src/chat.ts\",\n"
               "  \"ok_name-2\": \"src/chat.ts\",\n"
               "  \"gone\": \"src/gone.ts\"\n}}");
  std::string error = loadError(dir);
  EXPECT_CONTAINS(error, "partykit.json:2:3: parties.Chat: \"Chat\" is not a valid party name");
  EXPECT_CONTAINS(error, "partykit.json:3:3: parties.main: a party cannot be named \"main\"");
  EXPECT_CONTAINS(error, "partykit.json:5:11: parties.gone: party file not found: " +
                             (dir.path() / "src/gone.ts").string());
  EXPECT_EQ(error.find("ok_name-2"), std::string::npos) << error;
}

TEST(Config, UnknownKeysInsideLenientObjectsOnlyWarn) {
  TempDir dir;
  writeProject(dir, R"({"main": "src/server.ts", "serve": {"path": "public", "colour": "red"}})");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_CONTAINS(config->warnings[0], "ignoring unknown field \"colour\" in serve");
}

TEST(Config, BuildIsStrictLikeTheTopLevel) {
  TempDir dir;
  writeProject(dir, R"({"main": "src/server.ts", "build": {"comand": "make"}})");
  EXPECT_CONTAINS(loadError(dir), "unknown field \"comand\" in build (did you mean \"command\"?)");
}

TEST(Config, VarsMergeInOrderVarsDotenvDotenvLocalThenCommandLine) {
  TempDir dir;
  writeProject(
      dir,
      R"({"main": "src/server.ts", "vars": {"A": "vars", "B": "vars", "C": "vars", "D": "vars", "N": 5}})");
  dir.write(".env", "B=env\nC=env\nD=env\n");
  dir.write(".env.local", "C=local\nD=local\n");
  LoadOptions opts;
  opts.vars = {{"D", "cli"}};
  auto config = loadConfig(dir.path(), opts);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(boost::json::parse(config->varsJson),
            boost::json::parse(R"({"A":"vars","B":"env","C":"local","D":"cli","N":5})"));
  EXPECT_EQ(lookup(config->envFileVars, "B"), "env");
  EXPECT_EQ(lookup(config->envFileVars, "C"), "local");
  EXPECT_EQ(lookup(config->envFileVars, "D"), "local");
  EXPECT_EQ(lookup(config->envFileVars, "A"), "<missing A>");
  EXPECT_TRUE(config->define.empty());  // .env values become defines only in the server bundle
  EXPECT_EQ(config->watchFiles.size(), 3u);

  opts.dev = false;  // .env.local is for dev only
  config = loadConfig(dir.path(), opts);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(boost::json::parse(config->varsJson),
            boost::json::parse(R"({"A":"vars","B":"env","C":"env","D":"cli","N":5})"));
}

TEST(Config, VarsJsonIsValidJsonEvenWithJson5Infinity) {
  TempDir dir;
  dir.write("src/server.ts", "");
  dir.write("partykit.json5", "{main: 'src/server.ts', vars: {big: Infinity, list: [NaN, 1]}}");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->varsJson, R"({"big":null,"list":[null,1]})");
}

TEST(Config, DefinesMergeWithEnvThenFileThenCommandLine) {
  TempDir dir;
  writeProject(
      dir,
      R"({"main": "src/server.ts", "define": {"X": "1", "Y": "2", "process.env.K": "\"file\""}})");
  dir.write(".env", "K=env\nbad-key=skipped\n");
  LoadOptions opts;
  opts.define = {{"Y", "3"}};
  opts.withEnv = true;
  auto config = loadConfig(dir.path(), opts);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(lookup(config->define, "X"), "1");
  EXPECT_EQ(lookup(config->define, "Y"), "3");
  EXPECT_EQ(lookup(config->define, "process.env.K"), "\"file\"");
  EXPECT_EQ(lookup(config->define, "K"), "\"env\"");  // --with-env
  EXPECT_EQ(lookup(config->define, "bad-key"), "<missing bad-key>");
}

TEST(Config, FallsBackToThePartykitKeyOfPackageJson) {
  TempDir dir;
  dir.write("src/server.ts", "");
  dir.write("package.json", R"({
  "name": "pkg",
  "partykit": {
    "name": "from-package",
    "main": "src/server.ts",
    "port": "oops"
  }
})");
  std::string error = loadError(dir);
  EXPECT_CONTAINS(error, "package.json:6:13: port: expected a number");

  dir.write("package.json",
            R"({"name": "pkg", "partykit": {"name": "from-package", "main": "src/server.ts"}})");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->name, "from-package");
  EXPECT_EQ(config->configFile, dir.path() / "package.json");
}

TEST(Config, PackageJsonWithoutPartykitKeyIsNotAConfig) {
  TempDir dir;
  dir.write("app/package.json", R"({"name": "pkg"})");
  EXPECT_CONTAINS(loadError(dir),
                  "no partykit.json, partykit.json5, partykit.jsonc or package.json");
}

TEST(Config, FindsTheConfigInAParentDirectory) {
  TempDir dir;
  writeProject(dir, R"({"name": "parent", "main": "src/server.ts"})");
  auto config = loadConfig(dir.path() / "src", {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->name, "parent");
  EXPECT_EQ(config->root, dir.path());
}

TEST(Config, AcceptsAnExplicitConfigFile) {
  TempDir dir;
  dir.write("src/server.ts", "");
  fs::path file =
      dir.write("configs/dev.json", R"({"name": "explicit", "main": "../src/server.ts"})");
  auto config = loadConfig(file, {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->root, dir.path() / "configs");
  EXPECT_EQ(config->main, dir.path() / "src/server.ts");
}

TEST(Config, MainFromTheCommandLineWorksWithoutAConfigFile) {
  TempDir dir;
  fs::path server = dir.write("My Project/server.js", "export default {};");
  LoadOptions opts;
  opts.main = server;
  auto config = loadConfig(dir.path() / "My Project", opts);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->configFile.empty());
  EXPECT_EQ(config->main, server);
  EXPECT_EQ(config->name, "my-project");

  opts.main = dir.path() / "nope.js";
  auto missing = loadConfig(dir.path() / "My Project", opts);
  ASSERT_FALSE(missing.ok());
  EXPECT_CONTAINS(missing.error().message,
                  "main file not found: " + (dir.path() / "nope.js").string());
}

TEST(Config, PersistTakesFalseTrueOrAPath) {
  TempDir dir;
  writeProject(dir, R"({"main": "src/server.ts", "persist": false})");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->persistDisabled);
  EXPECT_FALSE(statePath(*config).has_value());

  writeProject(dir, R"({"main": "src/server.ts", "persist": true})");
  config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(statePath(*config), dir.path() / ".partykit/state");

  writeProject(dir, R"({"main": "src/server.ts", "persist": 1})");
  EXPECT_CONTAINS(loadError(dir), "persist: expected true, false or a path, got a number (1)");
}

TEST(Config, ServeMayBeAPathString) {
  TempDir dir;
  writeProject(dir, R"({"main": "src/server.ts", "serve": "public"})");
  auto config = loadConfig(dir.path(), {});
  ASSERT_TRUE(config.ok());
  ASSERT_TRUE(config->serve.has_value());
  EXPECT_EQ(config->serve->path, dir.path() / "public");
  EXPECT_FALSE(config->serve->build.has_value());
}

TEST(Config, CompatibilityDateMustLookLikeADate) {
  TempDir dir;
  writeProject(dir, R"({"main": "src/server.ts", "compatibilityDate": "July 2024"})");
  EXPECT_CONTAINS(loadError(dir), "compatibilityDate: expected a date like \"2024-07-18\"");
}

TEST(Config, AScriptGivenAsTheConfigIsRejectedWithAHint) {
  TempDir dir;
  fs::path script = dir.write("src/server.ts", "export default {};");
  auto config = loadConfig(script, {});
  ASSERT_FALSE(config.ok());
  EXPECT_CONTAINS(config.error().message, "is a script, not a config");
}

TEST(Config, MissingDirectoryIsReported) {
  auto config = loadConfig("/nonexistent/partyd/project", {});
  ASSERT_FALSE(config.ok());
  EXPECT_CONTAINS(config.error().message, "/nonexistent/partyd/project does not exist");
}

}  // namespace
}  // namespace partyd::project
