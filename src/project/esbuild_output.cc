// Metafile parsing (Boost.JSON) and the message rewrite.
#include "project/esbuild_output.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace partyd::project {
namespace {

namespace fs = std::filesystem;

// The keys of metafile[section], as absolute paths (query and hash suffixes dropped: the import
// "x.wasm?module" reads the file x.wasm). Keys like "ns:path" from other namespaces are skipped.
std::vector<fs::path> paths(const boost::json::object& meta, const char* section,
                            const fs::path& workingDir) {
  std::vector<fs::path> out;
  const boost::json::value* entries = meta.if_contains(section);
  if (entries == nullptr || !entries->is_object()) return out;
  std::set<fs::path> seen;
  for (const auto& member : entries->get_object()) {
    std::string key(member.key());
    key = key.substr(0, key.find_first_of("?#"));
    std::size_t colon = key.find(':');
    if (colon != std::string::npos && key.find('/') > colon) continue;
    fs::path p =
        (fs::path(key).is_absolute() ? fs::path(key) : workingDir / key).lexically_normal();
    if (seen.insert(p).second) out.push_back(p);
  }
  return out;
}

}  // namespace

Metafile readMetafile(const fs::path& metafile, const fs::path& workingDir,
                      const fs::path& generatedDir) {
  Metafile result;
  std::ifstream in(metafile, std::ios::binary);
  if (!in) return result;
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  boost::json::value meta = boost::json::parse(text.str(), ec);
  if (ec || !meta.is_object()) return result;

  std::string generated = generatedDir.lexically_normal().string();
  if (!generated.empty() && generated.back() != '/') generated += '/';
  for (fs::path& p : paths(meta.get_object(), "inputs", workingDir)) {
    if (!generated.empty() && generated != "/" && p.string().rfind(generated, 0) == 0) continue;
    std::error_code fec;
    if (fs::is_regular_file(p, fec)) result.inputs.push_back(std::move(p));
  }
  result.outputs = paths(meta.get_object(), "outputs", workingDir);
  return result;
}

std::string improveEsbuildHints(const std::string& output, const fs::path& root) {
  constexpr std::string_view kHint = "  You can mark the path \"";
  std::istringstream in(output);
  std::string out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(kHint, 0) == 0) {
      std::size_t close = line.find('"', kHint.size());
      std::string spec = line.substr(kHint.size(), close - kHint.size());
      // "lodash/fp" is in the package "lodash"; "@scope/pkg/x" in "@scope/pkg".
      std::size_t cut = spec.find('/', !spec.empty() && spec[0] == '@' ? spec.find('/') + 1 : 0);
      std::string package = spec.substr(0, cut);
      line = "  If \"" + package + "\" is an npm package, install it in " + root.string() +
             " (npm install " + package + ").";
    }
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

}  // namespace partyd::project
