// Config is one PartyKit project's settings, read from partykit.json (or .json5, .jsonc, or the
// "partykit" key of package.json) and checked against PartyKit's schema
// (partykit/src/config-schema.ts), with .env, .env.local and command-line vars and defines merged
// in. loadConfig reads the config file and the .env files; it never runs user code and never
// bundles (bundler.h does that).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace partyd::project {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

// serve.build: an esbuild run over the static site's own scripts (partykit dev's asset build).
struct ServeBuild {
  std::vector<std::filesystem::path> entries;  // absolute
  bool bundle = true;
  bool splitting = true;
  std::vector<std::string> external;
  std::filesystem::path outdir;  // absolute; defaults to <serve.path>/dist
  std::optional<bool> minify;
  StringPairs alias;
  std::string format = "esm";  // "esm" | "cjs" | "iife"
  bool live = false;
  bool sourcemap = true;
  StringPairs define;  // merged over the project's define, as partykit dev does
  StringPairs loader;  // ".ext" → esbuild loader name
};

struct ServeConfig {
  std::filesystem::path path;  // absolute; empty when "serve" is an object without "path"
  bool singlePageApp = false;
  // Cache lifetimes in seconds; null in the file reads as unset.
  std::optional<std::int64_t> browserTTL, edgeTTL;
  std::optional<std::string> buildEntry;  // the first of build->entries, as an absolute path
  std::optional<ServeBuild> build;
  // Glob lists; partykit dev refuses them ("not implemented"), so the server may too.
  std::vector<std::string> include, exclude;
};

// "build": a custom command that partykit runs before bundling, and again on changes.
struct BuildConfig {
  std::optional<std::string> command;  // run by a shell
  std::filesystem::path cwd;           // absolute; defaults to the project root
  // Absolute paths to watch; empty means <root>/src, as in partykit dev.
  std::vector<std::filesystem::path> watch;
  StringPairs alias;  // esbuild --alias for the server bundle
};

struct AiConfig {  // "ai": true is an AiConfig with nothing set
  std::optional<std::string> apiGateway, apiToken, apiAccount;
};

struct ObservabilityConfig {
  std::optional<bool> enabled;
  std::optional<double> headSamplingRate;
};

struct Config {
  std::filesystem::path configFile;  // absolute; empty when no config file was found
  std::filesystem::path root;        // the directory of the config file
  std::string name;                  // from the file, else made from the root folder's name
  std::filesystem::path main;        // absolute; the file exists
  std::vector<std::pair<std::string, std::filesystem::path>> parties;  // file order, no "main"
  // A JSON object text: "vars" < .env < .env.local (dev only) < --var. Values from .env files and
  // --var are strings.
  std::string varsJson = "{}";
  // The .env and .env.local entries alone (already inside varsJson). The server bundler compiles
  // each in as process.env.<KEY>; the runtime may also offer them as a process.env object.
  StringPairs envFileVars;
  // esbuild defines, values are JS expressions (JSON literals or identifiers) as in partykit.json.
  // Order of precedence, lowest first: each .env key as itself under LoadOptions::withEnv, "define"
  // from the file, then --define. The server bundler adds PARTYKIT_HOST and process.env.<KEY>
  // unless they are set here.
  StringPairs define;
  std::string compatibilityDate;  // "YYYY-MM-DD" or empty
  std::vector<std::string> compatibilityFlags;
  std::optional<int> port;
  std::optional<ServeConfig> serve;
  StringPairs crons;  // name → cron expression, unchecked
  // "persist": a path (as written, relative to root) or false. See statePath().
  std::optional<std::string> persist;
  bool persistDisabled = false;

  // Known fields that partyd reads but does not act on (yet); checked like the rest.
  std::optional<BuildConfig> build;
  std::optional<bool> minify;
  std::optional<std::string> schema;  // "$schema"
  std::optional<std::string> team, preview, domain, analytics;
  std::optional<bool> logpush;
  std::vector<std::string> tailConsumers;
  std::optional<AiConfig> ai;
  StringPairs vectorize;                // binding name → index name
  StringPairs r2Buckets, kvNamespaces;  // "bindings": binding name → bucket / namespace
  std::optional<std::string> placementMode;
  std::optional<ObservabilityConfig> observability;

  // The files that were read (config file, .env, .env.local): a change to one means reload.
  std::vector<std::filesystem::path> watchFiles;
  // Things the user should see but that do not stop the load ("ignoring unknown field ...",
  // ".env:3: skipped ..."). Each names its file.
  std::vector<std::string> warnings;
};

struct LoadOptions {
  StringPairs vars;    // --var KEY=VALUE; they win over every other source
  StringPairs define;  // --define KEY=EXPR; they win over "define" in the file
  // The `dev [script]` argument: replaces "main"; relative paths are taken from the working dir.
  std::optional<std::filesystem::path> main;
  bool dev = true;  // dev reads .env.local as well as .env
  // --with-env: also define each .env key as a global constant (partykit's --with-env).
  bool withEnv = false;
};

// Finds and loads a project's config. `dirOrFile` may be a config file (package.json means its
// "partykit" key), or a directory: then partykit.json, partykit.json5, partykit.jsonc and a
// package.json with a "partykit" key are looked for in that directory, then in each parent, and the
// nearest wins. With no config anywhere, LoadOptions::main alone is enough (root = the directory).
// .env and .env.local are read from the root. Errors name the file, line and column and the field;
// when several fields are wrong, each is on its own line.
Result<Config> loadConfig(const std::filesystem::path& dirOrFile, const LoadOptions& opts);

// Where room state lives: <root>/.partykit/state unless "persist" names another place (relative
// to root); nothing when persistence is off.
std::optional<std::filesystem::path> statePath(const Config& config);

}  // namespace partyd::project
