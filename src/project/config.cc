// loadConfig: find the config file, parse it as JSON5, check it (config_fields.cc), then merge
// .env files and command-line options in the order partykit's getConfig() uses.
#include "project/config.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "project/config_fields.h"
#include "project/dotenv.h"
#include "project/json5.h"
#include "project/schema_reader.h"

namespace partyd::project {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigNames[] = {"partykit.json", "partykit.json5", "partykit.jsonc"};

// ---- files --------------------------------------------------------------------------------------

// How a path is shown in messages: relative to the working directory when inside it.
std::string displayPath(const fs::path& file) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (!ec) {
    fs::path rel = file.lexically_relative(cwd);
    if (!rel.empty() && *rel.begin() != "..") return rel.string();
  }
  return file.string();
}

Result<std::string> readFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError("could not read " + file.string() + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return makeError("could not read " + file.string() + ": " + std::strerror(errno));
  return out.str();
}

bool isFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// A config source: which file, and where in it the config object sits.
struct Source {
  fs::path file;
  std::string text;
  Json5Document doc;
  std::string pointer;  // "" or "/partykit"
};

// Reads and parses `file`; for package.json, also checks that it has a "partykit" object.
Result<Source> readSource(const fs::path& file) {
  Source source;
  source.file = file;
  auto text = readFile(file);
  if (!text) return text.error();
  source.text = std::move(*text);
  auto doc = parseJson5(source.text, displayPath(file));
  if (!doc) return doc.error();
  source.doc = std::move(*doc);
  if (file.filename() == "package.json") {
    source.pointer = "/partykit";
    const boost::json::value* config = source.doc.root.is_object()
                                           ? source.doc.root.get_object().if_contains("partykit")
                                           : nullptr;
    if (config == nullptr) {
      return makeError(displayPath(file) +
                       ": has no \"partykit\" key; put the config there, or in "
                       "a partykit.json next to it");
    }
  }
  return source;
}

// Whether `dir/package.json` exists and has a top-level "partykit" key. A package.json that does
// not parse is not ours to complain about unless it claims to hold the config, so a cheap textual
// check comes first.
bool packageJsonHasConfig(const fs::path& packageJson) {
  if (!isFile(packageJson)) return false;
  auto text = readFile(packageJson);
  if (!text || text->find("\"partykit\"") == std::string::npos) return false;
  auto doc = parseJson5(*text, "package.json");
  return doc && doc->root.is_object() && doc->root.get_object().contains("partykit");
}

// The nearest config file at or above `dir`, or an empty path.
fs::path findConfigFile(const fs::path& dir) {
  for (fs::path at = dir;; at = at.parent_path()) {
    for (const char* name : kConfigNames) {
      if (isFile(at / name)) return at / name;
    }
    if (packageJsonHasConfig(at / "package.json")) return at / "package.json";
    if (at == at.root_path() || at.parent_path() == at) return {};
  }
}

// ---- merging ------------------------------------------------------------------------------------

void setPair(StringPairs& pairs, const std::string& key, std::string value) {
  auto it =
      std::find_if(pairs.begin(), pairs.end(), [&](const auto& kv) { return kv.first == key; });
  if (it != pairs.end()) {
    it->second = std::move(value);
  } else {
    pairs.emplace_back(key, std::move(value));
  }
}

bool isIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$';
  });
}

// JSON.stringify writes Infinity and NaN (which JSON5 allows in "vars") as null; Boost.JSON 1.81
// would write them bare, which no JSON parser reads.
void nullNonFinite(boost::json::value& value) {
  if (value.is_double() && !std::isfinite(value.get_double())) {
    value = nullptr;
  } else if (value.is_array()) {
    for (boost::json::value& v : value.get_array()) nullNonFinite(v);
  } else if (value.is_object()) {
    for (auto& member : value.get_object()) nullNonFinite(member.value());
  }
}

// A name for projects without one: the root folder's name, lowercased, with other characters
// turned into '-'.
std::string defaultName(const fs::path& root) {
  std::string name;
  for (char c : root.filename().string()) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    name += isValidName(std::string_view(&c, 1)) ? c : '-';
  }
  return name.empty() ? "partyd" : name;
}

// Reads <root>/.env and, in dev, <root>/.env.local into the config.
void readEnvFiles(const LoadOptions& opts, Config& config, StringPairs& envVars) {
  std::vector<const char*> names = {".env"};
  if (opts.dev) names.push_back(".env.local");
  for (const char* name : names) {
    fs::path file = config.root / name;
    if (!isFile(file)) continue;
    auto text = readFile(file);
    if (!text) {
      config.warnings.push_back(text.error().message);
      continue;
    }
    Dotenv env = parseDotenv(*text, displayPath(file));
    for (auto& [key, value] : env.vars) setPair(envVars, key, value);
    for (std::string& w : env.warnings) config.warnings.push_back(std::move(w));
    config.watchFiles.push_back(file);
  }
}

}  // namespace

Result<Config> loadConfig(const fs::path& dirOrFile, const LoadOptions& opts) {
  std::error_code ec;
  fs::path target = fs::absolute(dirOrFile, ec).lexically_normal();
  if (ec || !fs::exists(target, ec)) {
    return makeError(dirOrFile.string() +
                     " does not exist (expected a project directory or its "
                     "partykit.json)");
  }
  if (!target.has_filename()) target = target.parent_path();  // "dir/" → "dir"

  bool isDirectory = fs::is_directory(target, ec);
  std::string extension = target.extension().string();
  if (!isDirectory && (extension == ".ts" || extension == ".js" || extension == ".tsx" ||
                       extension == ".jsx" || extension == ".mjs" || extension == ".mts")) {
    return makeError(dirOrFile.string() +
                     " is a script, not a config: pass the project directory (or its "
                     "partykit.json), and give the script as \"main\"");
  }
  fs::path configFile = isDirectory ? findConfigFile(target) : target;

  Config config;
  std::optional<fs::path> mainFromCommandLine;
  if (opts.main) {
    mainFromCommandLine = fs::absolute(*opts.main, ec).lexically_normal();
  }

  StringPairs envVars;
  boost::json::object vars;
  std::optional<Source> source;
  if (configFile.empty()) {
    if (!mainFromCommandLine) {
      return makeError(
          "no partykit.json, partykit.json5, partykit.jsonc or package.json with a "
          "\"partykit\" key in " +
          target.string() + " or its parents. Create " + (target / "partykit.json").string() +
          " with at least {\"name\": \"my-project\", \"main\": \"src/server.ts\"}, "
          "or pass the entry file");
    }
    config.root = target;
  } else {
    auto read = readSource(configFile);
    if (!read) return read.error();
    source = std::move(*read);
    config.configFile = configFile;
    config.root = configFile.parent_path();
    config.watchFiles.push_back(configFile);

    const boost::json::value& root =
        source->pointer.empty() ? source->doc.root : source->doc.root.get_object().at("partykit");
    SchemaReader reader(source->doc, source->text, displayPath(configFile), source->pointer);
    if (!root.is_object()) {
      reader.error(source->pointer, "expected the config to be an object ({ ... }), got " +
                                        SchemaReader::describe(root));
      return reader.takeError();
    }
    FieldOptions fieldOptions;
    fieldOptions.mainFromCommandLine = mainFromCommandLine.has_value();
    readConfigFields(reader, root.get_object(), source->pointer, fieldOptions, config, vars);
    if (!mainFromCommandLine && !root.get_object().contains("main")) {
      reader.error(source->pointer,
                   "missing \"main\": set it to your server's entry file (for example \"main\": "
                   "\"src/server.ts\"), or pass the entry file on the command line");
    }
    for (std::string& w : reader.warnings()) config.warnings.push_back(std::move(w));
    if (!reader.ok()) return reader.takeError();
  }

  if (mainFromCommandLine) {
    config.main = *mainFromCommandLine;
    if (!isFile(config.main)) {
      return makeError("main file not found: " + config.main.string() +
                       (opts.main->is_relative() ? " (given as " + opts.main->string() +
                                                       ", relative to the working directory)"
                                                 : ""));
    }
  }
  if (config.name.empty()) config.name = defaultName(config.root);

  // vars < .env < .env.local < --var, as partykit's getConfig() spreads them.
  readEnvFiles(opts, config, envVars);
  for (const auto& [key, value] : envVars) vars[key] = value;
  for (const auto& [key, value] : opts.vars) vars[key] = value;
  for (auto& member : vars) nullNonFinite(member.value());
  config.varsJson = boost::json::serialize(vars);
  config.envFileVars = envVars;

  // With --with-env, KEY < "define" < --define. process.env.KEY for .env keys is added by the
  // server bundler alone, so that .env secrets never reach a browser build of serve.build.
  StringPairs define;
  if (opts.withEnv) {
    for (const auto& [key, value] : envVars) {
      if (isIdentifier(key)) {
        setPair(define, key, boost::json::serialize(boost::json::string(value)));
      }
    }
  }
  for (const auto& [key, value] : config.define) setPair(define, key, value);
  for (const auto& [key, value] : opts.define) setPair(define, key, value);
  config.define = std::move(define);
  return config;
}

std::optional<fs::path> statePath(const Config& config) {
  if (config.persistDisabled) return std::nullopt;
  if (config.persist) {
    fs::path p(*config.persist);
    return (p.is_absolute() ? p : config.root / p).lexically_normal();
  }
  return config.root / ".partykit" / "state";
}

}  // namespace partyd::project
