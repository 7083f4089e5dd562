// Reading what an esbuild run leaves behind: the metafile (which files went in and came out) and
// its messages, where one hint is rewritten because it cannot work for partyd's bundles. Shared by
// the server bundler and the asset build; it only reads files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace partyd::project {

struct Metafile {
  std::vector<std::filesystem::path> inputs;   // absolute, existing source files
  std::vector<std::filesystem::path> outputs;  // absolute
};

// Paths in a metafile are relative to esbuild's working directory. Inputs under `generatedDir`
// (partyd's own entry and shims) are left out. A missing or broken metafile reads as empty.
Metafile readMetafile(const std::filesystem::path& metafile,
                      const std::filesystem::path& workingDir,
                      const std::filesystem::path& generatedDir);

// esbuild suggests marking an unresolved package as external; partyd's bundles have no externals,
// so that line becomes a hint to install the package in `root`.
std::string improveEsbuildHints(const std::string& output, const std::filesystem::path& root);

}  // namespace partyd::project
