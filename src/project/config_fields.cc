// The partykit.json schema, field by field, after pk:packages/partykit/src/config-schema.ts. The
// top level and "build" are zod .strict() (unknown keys are errors); the other objects are plain
// zod objects, which drop unknown keys, so here they only warn.
#include "project/config_fields.h"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <limits>
#include <system_error>

namespace partyd::project {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kNameRule = "use only lowercase letters, digits, '-' and '_'";

fs::path resolve(const fs::path& root, const std::string& p) {
  return (fs::path(p).is_absolute() ? fs::path(p) : root / p).lexically_normal();
}

// Records an error unless `file` is an existing regular file.
void requireFile(SchemaReader& reader, const std::string& pointer, const fs::path& file,
                 std::string_view what) {
  std::error_code ec;
  fs::file_status status = fs::status(file, ec);
  if (!fs::exists(status)) {
    reader.error(pointer, std::string(what) + " not found: " + file.string());
  } else if (fs::is_directory(status)) {
    reader.error(pointer, file.string() + " is a directory; expected the " + std::string(what));
  }
}

std::optional<std::int64_t> readTtl(SchemaReader& reader, const boost::json::value& value,
                                    const std::string& pointer) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_number()) {
    reader.error(pointer,
                 "expected a number of seconds or null, got " + SchemaReader::describe(value));
    return std::nullopt;
  }
  double seconds = value.to_number<double>();
  if (!std::isfinite(seconds) || seconds < 0) {
    reader.error(pointer,
                 "expected a number of seconds (0 or more), got " + SchemaReader::describe(value));
    return std::nullopt;
  }
  // Past int64 the cast is undefined; such a lifetime is forever anyway.
  if (seconds >= 9223372036854775808.0) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(seconds);
}

bool isDate(std::string_view s) {
  auto digits = [&](std::size_t from, std::size_t n) {
    for (std::size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  };
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !digits(0, 4) || !digits(5, 2) ||
      !digits(8, 2)) {
    return false;
  }
  int month = (s[5] - '0') * 10 + (s[6] - '0');
  int day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// ---- serve --------------------------------------------------------------------------------------

void readServeBuild(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
                    const fs::path& root, ServeConfig& serve) {
  ServeBuild build;
  if (value.is_string()) {
    build.entries.push_back(resolve(root, std::string(value.get_string())));
  } else if (const boost::json::object* o = r.object(value, ptr)) {
    r.checkKeys(*o, ptr,
                {"entry", "bundle", "splitting", "external", "outdir", "minify", "alias", "format",
                 "live", "sourcemap", "define", "loader"},
                UnknownKeys::kWarn);
    auto child = [&](std::string_view key) { return jsonPointerAppend(ptr, key); };
    if (auto* v = o->if_contains("entry")) {
      if (auto entries = r.strings(*v, child("entry"), true)) {
        for (const std::string& e : *entries) build.entries.push_back(resolve(root, e));
      }
    }
    if (auto* v = o->if_contains("bundle")) {
      build.bundle = r.boolean(*v, child("bundle")).value_or(true);
    }
    if (auto* v = o->if_contains("splitting")) {
      build.splitting = r.boolean(*v, child("splitting")).value_or(true);
    }
    if (auto* v = o->if_contains("external")) {
      build.external = r.strings(*v, child("external"), false).value_or(std::vector<std::string>{});
    }
    if (auto* v = o->if_contains("outdir")) {
      if (auto s = r.string(*v, child("outdir"))) build.outdir = resolve(root, *s);
    }
    if (auto* v = o->if_contains("minify")) build.minify = r.boolean(*v, child("minify"));
    if (auto* v = o->if_contains("alias")) {
      build.alias = r.stringMap(*v, child("alias")).value_or(StringPairs{});
    }
    if (auto* v = o->if_contains("format")) {
      if (auto s = r.string(*v, child("format"))) {
        if (*s == "esm" || *s == "cjs" || *s == "iife") {
          build.format = *s;
        } else {
          r.error(child("format"), "expected \"esm\", \"cjs\" or \"iife\", got \"" + *s + "\"");
        }
      }
    }
    if (auto* v = o->if_contains("live")) build.live = r.boolean(*v, child("live")).value_or(false);
    if (auto* v = o->if_contains("sourcemap")) {
      build.sourcemap = r.boolean(*v, child("sourcemap")).value_or(true);
    }
    if (auto* v = o->if_contains("define")) {
      build.define = r.stringMap(*v, child("define")).value_or(StringPairs{});
    }
    if (auto* v = o->if_contains("loader")) {
      static constexpr std::string_view kLoaders[] = {
          "base64", "binary", "copy", "css",       "dataurl", "default", "empty", "file",
          "js",     "json",   "jsx",  "local-css", "text",    "ts",      "tsx"};
      if (auto loaders = r.stringMap(*v, child("loader"))) {
        for (auto& [ext, loader] : *loaders) {
          if (std::find(std::begin(kLoaders), std::end(kLoaders), loader) == std::end(kLoaders)) {
            r.error(jsonPointerAppend(child("loader"), ext),
                    "\"" + loader +
                        "\" is not an esbuild loader (expected one of: base64, binary, "
                        "copy, css, dataurl, default, empty, file, js, json, jsx, local-css, text, "
                        "ts, tsx)");
          } else {
            build.loader.emplace_back(ext, loader);
          }
        }
      }
    }
  } else {
    return;
  }
  if (build.outdir.empty() && !serve.path.empty()) build.outdir = serve.path / "dist";
  if (!build.entries.empty()) serve.buildEntry = build.entries.front().string();
  serve.build = std::move(build);
}

void readServe(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
               const fs::path& root, Config& config) {
  ServeConfig serve;
  if (value.is_string()) {
    serve.path = resolve(root, std::string(value.get_string()));
    config.serve = std::move(serve);
    return;
  }
  if (!value.is_object()) {
    r.error(ptr, "expected a path (string) or an object, got " + SchemaReader::describe(value));
    return;
  }
  const boost::json::object& o = value.get_object();
  r.checkKeys(o, ptr,
              {"path", "build", "include", "exclude", "browserTTL", "edgeTTL", "singlePageApp"},
              UnknownKeys::kWarn);
  auto child = [&](std::string_view key) { return jsonPointerAppend(ptr, key); };
  if (auto* v = o.if_contains("path")) {
    if (auto s = r.string(*v, child("path"))) serve.path = resolve(root, *s);
  }
  if (auto* v = o.if_contains("include")) {
    serve.include = r.strings(*v, child("include"), false).value_or(std::vector<std::string>{});
  }
  if (auto* v = o.if_contains("exclude")) {
    serve.exclude = r.strings(*v, child("exclude"), false).value_or(std::vector<std::string>{});
  }
  if (auto* v = o.if_contains("browserTTL")) serve.browserTTL = readTtl(r, *v, child("browserTTL"));
  if (auto* v = o.if_contains("edgeTTL")) serve.edgeTTL = readTtl(r, *v, child("edgeTTL"));
  if (auto* v = o.if_contains("singlePageApp")) {
    serve.singlePageApp = r.boolean(*v, child("singlePageApp")).value_or(false);
  }
  if (auto* v = o.if_contains("build")) {
    if (v->is_string() || v->is_object()) {
      readServeBuild(r, *v, child("build"), root, serve);
    } else {
      r.error(child("build"),
              "expected an entry path (string) or an object, got " + SchemaReader::describe(*v));
    }
  }
  config.serve = std::move(serve);
}

// ---- the smaller objects ------------------------------------------------------------------------

void readBuild(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
               const fs::path& root, Config& config) {
  const boost::json::object* o = r.object(value, ptr);
  if (o == nullptr) return;
  r.checkKeys(*o, ptr, {"command", "cwd", "watch", "alias"}, UnknownKeys::kError);
  auto child = [&](std::string_view key) { return jsonPointerAppend(ptr, key); };
  BuildConfig build;
  build.cwd = root;
  if (auto* v = o->if_contains("command")) build.command = r.string(*v, child("command"));
  if (auto* v = o->if_contains("cwd")) {
    if (auto s = r.string(*v, child("cwd"))) build.cwd = resolve(root, *s);
  }
  if (auto* v = o->if_contains("watch")) {
    if (auto watch = r.strings(*v, child("watch"), true)) {
      for (const std::string& w : *watch) build.watch.push_back(resolve(root, w));
    }
  }
  if (auto* v = o->if_contains("alias")) {
    build.alias = r.stringMap(*v, child("alias")).value_or(StringPairs{});
  }
  config.build = std::move(build);
}

void readAi(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
            Config& config) {
  if (value.is_bool()) {
    if (value.get_bool()) config.ai = AiConfig{};
    return;
  }
  if (!value.is_object()) {
    r.error(ptr, "expected true, false or an object, got " + SchemaReader::describe(value));
    return;
  }
  const boost::json::object& o = value.get_object();
  r.checkKeys(o, ptr, {"apiGateway", "apiToken", "apiAccount"}, UnknownKeys::kWarn);
  AiConfig ai;
  if (auto* v = o.if_contains("apiGateway")) {
    ai.apiGateway = r.string(*v, jsonPointerAppend(ptr, "apiGateway"));
  }
  if (auto* v = o.if_contains("apiToken")) {
    ai.apiToken = r.string(*v, jsonPointerAppend(ptr, "apiToken"));
  }
  if (auto* v = o.if_contains("apiAccount")) {
    ai.apiAccount = r.string(*v, jsonPointerAppend(ptr, "apiAccount"));
  }
  config.ai = std::move(ai);
}

void readVectorize(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
                   Config& config) {
  const boost::json::object* o = r.object(value, ptr);
  if (o == nullptr) return;
  for (const auto& member : *o) {
    std::string binding(member.key());
    std::string child = jsonPointerAppend(ptr, binding);
    if (member.value().is_string()) {
      config.vectorize.emplace_back(binding, std::string(member.value().get_string()));
    } else if (member.value().is_object()) {
      const boost::json::object& index = member.value().get_object();
      r.checkKeys(index, child, {"index_name"}, UnknownKeys::kWarn);
      const boost::json::value* name = index.if_contains("index_name");
      if (name == nullptr) {
        r.error(child, "missing \"index_name\"");
      } else if (auto s = r.string(*name, jsonPointerAppend(child, "index_name"))) {
        config.vectorize.emplace_back(binding, *s);
      }
    } else {
      r.error(child, "expected an index name (string) or { \"index_name\": ... }, got " +
                         SchemaReader::describe(member.value()));
    }
  }
}

void readBindings(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
                  Config& config) {
  const boost::json::object* o = r.object(value, ptr);
  if (o == nullptr) return;
  r.checkKeys(*o, ptr, {"r2", "kv"}, UnknownKeys::kWarn);
  if (auto* v = o->if_contains("r2")) {
    config.r2Buckets = r.stringMap(*v, jsonPointerAppend(ptr, "r2")).value_or(StringPairs{});
  }
  if (auto* v = o->if_contains("kv")) {
    config.kvNamespaces = r.stringMap(*v, jsonPointerAppend(ptr, "kv")).value_or(StringPairs{});
  }
}

void readPlacement(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
                   Config& config) {
  const boost::json::object* o = r.object(value, ptr);
  if (o == nullptr) return;
  r.checkKeys(*o, ptr, {"mode"}, UnknownKeys::kWarn);
  const boost::json::value* mode = o->if_contains("mode");
  if (mode == nullptr) {
    r.error(ptr, "missing \"mode\" (the only mode is \"smart\")");
  } else if (auto s = r.string(*mode, jsonPointerAppend(ptr, "mode"))) {
    if (*s == "smart") {
      config.placementMode = *s;
    } else {
      r.error(jsonPointerAppend(ptr, "mode"), "expected \"smart\", got \"" + *s + "\"");
    }
  }
}

void readObservability(SchemaReader& r, const boost::json::value& value, const std::string& ptr,
                       Config& config) {
  const boost::json::object* o = r.object(value, ptr);
  if (o == nullptr) return;
  r.checkKeys(*o, ptr, {"enabled", "head_sampling_rate"}, UnknownKeys::kWarn);
  ObservabilityConfig obs;
  if (auto* v = o->if_contains("enabled")) {
    obs.enabled = r.boolean(*v, jsonPointerAppend(ptr, "enabled"));
  }
  if (auto* v = o->if_contains("head_sampling_rate")) {
    obs.headSamplingRate = r.number(*v, jsonPointerAppend(ptr, "head_sampling_rate"));
  }
  config.observability = obs;
}

}  // namespace

bool isValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

void readConfigFields(SchemaReader& r, const boost::json::object& o, const std::string& ptr,
                      const FieldOptions& options, Config& config, boost::json::object& vars) {
  r.checkKeys(o, ptr,
              {"$schema",
               "team",
               "name",
               "main",
               "port",
               "preview",
               "crons",
               "serve",
               "persist",
               "vars",
               "define",
               "parties",
               "build",
               "compatibilityDate",
               "compatibilityFlags",
               "minify",
               "ai",
               "domain",
               "vectorize",
               "logpush",
               "tailConsumers",
               "analytics",
               "bindings",
               "placement",
               "observability"},
              UnknownKeys::kError);
  auto child = [&](std::string_view key) { return jsonPointerAppend(ptr, key); };
  const fs::path& root = config.root;

  if (auto* v = o.if_contains("$schema")) config.schema = r.string(*v, child("$schema"));
  if (auto* v = o.if_contains("team")) config.team = r.string(*v, child("team"));
  if (auto* v = o.if_contains("preview")) config.preview = r.string(*v, child("preview"));
  if (auto* v = o.if_contains("domain")) config.domain = r.string(*v, child("domain"));
  if (auto* v = o.if_contains("analytics")) config.analytics = r.string(*v, child("analytics"));
  if (auto* v = o.if_contains("minify")) config.minify = r.boolean(*v, child("minify"));
  if (auto* v = o.if_contains("logpush")) config.logpush = r.boolean(*v, child("logpush"));
  if (auto* v = o.if_contains("tailConsumers")) {
    config.tailConsumers =
        r.strings(*v, child("tailConsumers"), false).value_or(std::vector<std::string>{});
  }

  if (auto* v = o.if_contains("name")) {
    if (auto name = r.string(*v, child("name"))) {
      if (isValidName(*name)) {
        config.name = *name;
      } else {
        r.error(child("name"),
                "\"" + *name + "\" is not a valid project name: " + std::string(kNameRule));
      }
    }
  }

  if (auto* v = o.if_contains("main")) {
    if (auto main = r.string(*v, child("main"))) {
      if (!options.mainFromCommandLine) {
        config.main = resolve(root, *main);
        requireFile(r, child("main"), config.main, "main file");
      }
    }
  }

  if (auto* v = o.if_contains("parties")) {
    if (const boost::json::object* parties = r.object(*v, child("parties"))) {
      for (const auto& member : *parties) {
        std::string name(member.key());
        std::string partyPtr = jsonPointerAppend(child("parties"), name);
        bool good = true;
        if (name == "main") {
          r.errorAtKey(partyPtr,
                       "a party cannot be named \"main\": that name belongs to the "
                       "\"main\" entry; rename this party");
          good = false;
        } else if (!isValidName(name)) {
          r.errorAtKey(partyPtr,
                       "\"" + name + "\" is not a valid party name: " + std::string(kNameRule));
          good = false;
        }
        auto file = r.string(member.value(), partyPtr);
        if (!file) continue;
        fs::path path = resolve(root, *file);
        requireFile(r, partyPtr, path, "party file");
        if (good) config.parties.emplace_back(name, path);
      }
    }
  }

  if (auto* v = o.if_contains("vars")) {
    if (v->is_object()) {
      vars = v->get_object();
    } else {
      r.error(child("vars"),
              "expected an object of names to values, got " + SchemaReader::describe(*v));
    }
  }
  if (auto* v = o.if_contains("define")) {
    if (auto define = r.stringMap(*v, child("define"))) config.define = std::move(*define);
  }
  if (auto* v = o.if_contains("crons")) {
    if (auto crons = r.stringMap(*v, child("crons"))) config.crons = std::move(*crons);
  }

  if (auto* v = o.if_contains("port")) {
    if (auto port = r.number(*v, child("port"))) {
      if (*port != std::floor(*port) || *port < 0 || *port > 65535) {
        r.error(child("port"),
                "expected a port number from 0 to 65535, got " + SchemaReader::describe(*v));
      } else {
        config.port = static_cast<int>(*port);
      }
    }
  }

  if (auto* v = o.if_contains("persist")) {
    // partykit also takes the strings "true" and "false" as the booleans.
    if (v->is_bool() ||
        (v->is_string() && (v->get_string() == "true" || v->get_string() == "false"))) {
      config.persistDisabled = v->is_bool() ? !v->get_bool() : v->get_string() == "false";
    } else if (v->is_string()) {
      config.persist = std::string(v->get_string());
    } else {
      r.error(child("persist"),
              "expected true, false or a path, got " + SchemaReader::describe(*v));
    }
  }

  if (auto* v = o.if_contains("compatibilityDate")) {
    if (auto date = r.string(*v, child("compatibilityDate"))) {
      if (isDate(*date)) {
        config.compatibilityDate = *date;
      } else {
        r.error(child("compatibilityDate"),
                "expected a date like \"2024-07-18\", got \"" + *date + "\"");
      }
    }
  }
  if (auto* v = o.if_contains("compatibilityFlags")) {
    config.compatibilityFlags =
        r.strings(*v, child("compatibilityFlags"), false).value_or(std::vector<std::string>{});
  }

  if (auto* v = o.if_contains("serve")) readServe(r, *v, child("serve"), root, config);
  if (auto* v = o.if_contains("build")) readBuild(r, *v, child("build"), root, config);
  if (auto* v = o.if_contains("ai")) readAi(r, *v, child("ai"), config);
  if (auto* v = o.if_contains("vectorize")) readVectorize(r, *v, child("vectorize"), config);
  if (auto* v = o.if_contains("bindings")) readBindings(r, *v, child("bindings"), config);
  if (auto* v = o.if_contains("placement")) readPlacement(r, *v, child("placement"), config);
  if (auto* v = o.if_contains("observability")) {
    readObservability(r, *v, child("observability"), config);
  }
}

}  // namespace partyd::project
