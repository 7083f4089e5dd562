// buildAssets runs serve.build: one esbuild run over the static site's own scripts, written into
// serve.build.outdir (by default <serve.path>/dist) for the static file server to pick up, as
// `partykit dev` does before it serves assets. It shares nothing with the server bundle: browser
// platform, ESM by default, and only the project's own defines (never .env values).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"
#include "project/config.h"

namespace partyd::project {

struct AssetBuild {
  std::vector<std::filesystem::path> inputs;   // absolute paths of the sources, for watching
  std::vector<std::filesystem::path> outputs;  // absolute paths of the files written
  std::string warnings;                        // esbuild's warnings as printed, or empty
};

// Builds config.serve->build; a config without one is an error (check first). `host` is the value
// of PARTYKIT_HOST, e.g. "127.0.0.1:1999"; serve.build.define overrides the project's define.
Result<AssetBuild> buildAssets(const Config& config, const std::string& host);

}  // namespace partyd::project
