// The serve.build esbuild run, with partykit dev's defaults (bundle, splitting, ESM, source maps).
#include "project/asset_builder.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <system_error>

#include "project/bundler.h"
#include "project/esbuild_output.h"
#include "project/subprocess.h"

namespace partyd::project {

namespace fs = std::filesystem;

Result<AssetBuild> buildAssets(const Config& config, const std::string& host) {
  if (!config.serve || !config.serve->build) {
    return makeError("buildAssets: the config has no serve.build");
  }
  const ServeBuild& build = *config.serve->build;
  if (build.entries.empty()) {
    return makeError("serve.build has no entry: set \"entry\" to the script(s) to build");
  }
  if (build.outdir.empty()) {
    return makeError(
        "serve.build has no outdir and serve has no path to put dist/ in: set "
        "serve.build.outdir or serve.path");
  }
  auto esbuild = findEsbuild(config.root);
  if (!esbuild) return esbuild.error();

  // The metafile lives with partyd's other build files, not in the directory being served.
  fs::path metaDir = config.root / ".partykit" / "build";
  std::error_code ec;
  fs::create_directories(metaDir, ec);
  fs::path metafile = metaDir / "assets-meta.json";
  fs::remove(metafile, ec);

  std::vector<std::string> argv = {esbuild->string()};
  for (const fs::path& entry : build.entries) argv.push_back(entry.string());
  if (build.bundle) argv.push_back("--bundle");
  // esbuild splits only ESM bundles; partykit passes splitting anyway and fails for other formats.
  if (build.splitting && build.bundle && build.format == "esm") argv.push_back("--splitting");
  argv.push_back("--outdir=" + build.outdir.string());
  argv.push_back("--format=" + build.format);
  if (build.minify.value_or(false)) argv.push_back("--minify");
  if (build.sourcemap) argv.push_back("--sourcemap");
  for (const std::string& external : build.external) argv.push_back("--external:" + external);

  // PARTYKIT_HOST < the project's define < serve.build.define, each key once.
  StringPairs define = {{"PARTYKIT_HOST", boost::json::serialize(boost::json::string(host))}};
  auto set = [&](const std::string& key, const std::string& value) {
    auto it =
        std::find_if(define.begin(), define.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != define.end()) {
      it->second = value;
    } else {
      define.emplace_back(key, value);
    }
  };
  for (const auto& [key, value] : config.define) set(key, value);
  for (const auto& [key, value] : build.define) set(key, value);
  for (const auto& [key, value] : define) argv.push_back("--define:" + key + "=" + value);
  for (const auto& [ext, loader] : build.loader) argv.push_back("--loader:" + ext + "=" + loader);
  for (const auto& [from, to] : build.alias) argv.push_back("--alias:" + from + "=" + to);
  argv.push_back("--metafile=" + metafile.string());
  argv.push_back("--log-level=warning");
  argv.push_back("--color=false");

  auto run = runProcess(argv, config.root);
  if (!run) return run.error();
  std::string output = run->output;
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (run->exitCode != 0) {
    return makeError("esbuild could not build serve.build (exit status " +
                     std::to_string(run->exitCode) + "):\n" +
                     improveEsbuildHints(output, config.root));
  }
  Metafile meta = readMetafile(metafile, config.root, fs::path());
  AssetBuild result;
  result.inputs = std::move(meta.inputs);
  result.outputs = std::move(meta.outputs);
  result.warnings = std::move(output);
  return result;
}

}  // namespace partyd::project
