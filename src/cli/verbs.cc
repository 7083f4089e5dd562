#include "cli/verbs.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "base/log.h"
#include "cli/admin_client.h"
#include "project/asset_builder.h"
#include "project/bundler.h"
#include "project/config.h"
#include "ws/ws_client.h"

namespace partyd::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

const char* const kDeployVerbsUsage = R"(
deploy verbs (clients of `partyd serve --admin`; what `partykit deploy|list|…` does, without Node):
  partyd deploy [DIR]          bundle the project in DIR (default: .) and deploy it
      --var KEY=VALUE            a var for room.env (repeatable); --with-vars sends partykit.json's too
      --define KEY=VALUE         an esbuild define (repeatable)
  partyd list [--format json]  the team's projects
  partyd info                  one project
  partyd delete                delete a project, its storage and env
  partyd rollback              back to the deploy before the current one
  partyd env list|pull [FILE]|add KEY [VALUE]|remove KEY|remove --all
                               env values (add reads VALUE from stdin when not given);
                               they take effect on the next deploy
  partyd tail [--format json|pretty] [--status ok|error|canceled] [--method M]
              [--search TEXT] [--header KEY:VALUE] [--sampling-rate R] [--max-events N]
                               stream the project's requests, console lines, alarms and crons
  every verb takes:
      --name NAME                the project (default: "name" in DIR's partykit.json)
      --team TEAM                the team (default: $PARTYD_TEAM, "team" in partykit.json, else
                                 "default")
      --preview NAME             a preview deploy of the project
      --server URL               the admin API (default: $PARTYD_SERVER, else http://127.0.0.1:9999)
      --token T | --token-file F the admin token (default: $PARTYD_TOKEN, $PARTYD_TOKEN_FILE)
)";

namespace {

struct Options {
  std::string verb;
  std::vector<std::string> positional;
  std::optional<std::string> server, token, tokenFile, team, name, preview;
  project::StringPairs vars, defines;
  bool withVars = false, all = false;
  std::string format;
  std::vector<std::string> statuses, methods;
  std::string search, header;
  double samplingRate = 0;
  long maxEvents = 0;
};

int usage(const std::string& msg) {
  std::fprintf(stderr, "partyd: %s\n", msg.c_str());
  return 2;
}

int failed(const std::string& msg) {
  std::fprintf(stderr, "partyd: %s\n", msg.c_str());
  return 1;
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

Result<std::string> readToken(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError("cannot read the token file " + file);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return makeError(file + " holds no token");
  return t;
}

bool validName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

std::string isoTime(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  char iso[32];
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return iso;
}

std::string plain(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

// ---- the project: --name/--team, else partykit.json -------------------------------------------

struct Target {
  std::string team, name, preview;
  std::string path() const { return "/parties/" + team + "/" + name; }
  std::string query() const { return preview.empty() ? "" : "?preview=" + preview; }
  std::string key() const {
    return team + "/" + name + (preview.empty() ? "" : " (preview " + preview + ")");
  }
};

Result<Target> resolveTarget(const Options& o, const project::Config* config) {
  Target t;
  t.team = o.team ? *o.team
                  : env("PARTYD_TEAM").value_or(config && config->team ? *config->team : "default");
  if (o.name) {
    t.name = *o.name;
  } else if (config && !config->configFile.empty()) {
    t.name = config->name;
  } else {
    return makeError(
        "which project? Pass --name NAME (or run it in a folder with a partykit.json)");
  }
  t.preview = o.preview.value_or("");
  if (!validName(t.team))
    return makeError("the team \"" + t.team + "\" is not 1 to 64 of a-z, 0-9, - and _");
  if (!validName(t.name)) {
    return makeError("the project name \"" + t.name + "\" is not 1 to 64 of a-z, 0-9, - and _");
  }
  if (!t.preview.empty() && !validName(t.preview)) {
    return makeError("the preview name \"" + t.preview + "\" is not 1 to 64 of a-z, 0-9, - and _");
  }
  return t;
}

Result<AdminClient*> client(const Options& o, std::unique_ptr<AdminClient>* out) {
  AdminTarget target;
  target.server = o.server ? *o.server : env("PARTYD_SERVER").value_or("http://127.0.0.1:9999");
  if (target.server.rfind("http://", 0) != 0 && target.server.rfind("https://", 0) != 0) {
    return makeError("--server needs an http:// or https:// URL, got \"" + target.server + "\"");
  }
  if (o.token) {
    target.token = *o.token;
  } else if (auto file = o.tokenFile ? o.tokenFile : env("PARTYD_TOKEN_FILE")) {
    auto t = readToken(*file);
    if (!t) return t.error();
    target.token = *t;
  } else {
    target.token = env("PARTYD_TOKEN").value_or("");
  }
  *out = std::make_unique<AdminClient>(std::move(target));
  return out->get();
}

std::optional<json::value> parse(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return std::nullopt;
  return v;
}

// ---- deploy ------------------------------------------------------------------------------------

std::string assetName(const std::string& bytes) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llx-%zx", static_cast<unsigned long long>(h), bytes.size());
  return buf;
}

int deploy(const Options& o) {
  if (o.positional.size() > 1) return usage("deploy: more than one project folder given");
  fs::path dir = o.positional.empty() ? fs::path(".") : fs::path(o.positional[0]);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return failed(dir.string() + " is not a folder");
  project::LoadOptions lo;
  lo.vars = o.vars;
  lo.define = o.defines;
  lo.dev = false;
  auto config = project::loadConfig(dir, lo);
  fs::path here = fs::weakly_canonical(fs::absolute(dir), ec);
  if (!config || config->configFile.empty() || config->root != here) {
    bool noFile = true;
    for (const char* f : {"partykit.json", "partykit.json5", "partykit.jsonc", "package.json"}) {
      if (fs::exists(dir / f, ec)) noFile = false;
    }
    if (noFile) {
      return failed(dir.string() +
                    " has no partykit.json: run partyd deploy in a PartyKit project's folder (or "
                    "pass it: partyd deploy DIR)");
    }
    if (!config) return failed(config.error().message);
  }
  for (const auto& w : config->warnings) std::fprintf(stderr, "partyd: warning: %s\n", w.c_str());
  auto target = resolveTarget(o, &*config);
  if (!target) return usage(target.error().message);
  std::unique_ptr<AdminClient> owner;
  auto c = client(o, &owner);
  if (!c) return usage(c.error().message);
  AdminClient& api = **c;

  project::BundleOptions bo;
  bo.outDir = config->root / ".partykit" / "deploy";
  bo.host = target->name + "." + target->team;
  bo.minify = config->minify.value_or(false);
  bo.sourceMap = project::SourceMap::kNone;
  std::fprintf(stderr, "partyd: bundling %s\n", config->main.string().c_str());
  auto bundle = project::bundle(*config, bo);
  if (!bundle) return failed("build failed:\n" + bundle.error().message);
  if (config->serve && config->serve->build) {
    if (auto a = project::buildAssets(*config, bo.host); !a) {
      return failed("serve.build failed:\n" + a.error().message);
    }
  }

  Form form;
  form.fields.emplace_back("code", std::move(bundle->code));
  if (o.withVars) {
    form.fields.emplace_back("vars", config->varsJson);
  } else {
    json::object vars;
    for (const auto& [k, v] : o.vars) vars[k] = v;
    form.fields.emplace_back("vars", json::serialize(vars));
  }
  json::array parties;
  for (const auto& [name, path] : config->parties) parties.emplace_back(name);
  form.fields.emplace_back("parties", json::serialize(parties));
  if (!config->crons.empty()) {
    json::object crons;
    for (const auto& [k, v] : config->crons) crons[k] = v;
    form.fields.emplace_back("crons", json::serialize(crons));
  }
  if (config->domain) form.fields.emplace_back("domain", *config->domain);
  if (!config->compatibilityDate.empty()) {
    form.fields.emplace_back("compatibilityDate", config->compatibilityDate);
  }

  // The assets: each file of serve.path uploaded by content name, then the manifest.
  std::string path = target->path();
  std::string q = target->query();
  if (config->serve && !config->serve->path.empty() && fs::is_directory(config->serve->path, ec)) {
    json::object assets;
    std::size_t uploaded = 0;
    for (auto it = fs::recursive_directory_iterator(config->serve->path, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return failed("cannot read " + config->serve->path.string() + ": " + ec.message());
      if (!it->is_regular_file()) continue;
      std::ifstream in(it->path(), std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      std::string bytes = ss.str();
      std::string name = assetName(bytes);
      std::string rel = fs::relative(it->path(), config->serve->path, ec).generic_string();
      auto r =
          api.call("PUT", path + "/assets" + q, std::move(bytes),
                   {{"x-partykit-asset-name", name}, {"content-type", "application/octet-stream"}});
      if (!r) return failed("uploading " + rel + ": " + r.error().message);
      assets[rel] = name;
      ++uploaded;
    }
    json::object manifest;
    manifest["assets"] = std::move(assets);
    manifest["assetInfo"] = json::object();
    manifest["singlePageApp"] = config->serve->singlePageApp;
    if (config->serve->browserTTL) manifest["browserTTL"] = *config->serve->browserTTL;
    std::string m = json::serialize(manifest);
    auto r = api.call("POST", path + "/assets" + q, m, {{"content-type", "application/json"}});
    if (!r) return failed("saving the assets manifest: " + r.error().message);
    form.fields.emplace_back("staticAssetsManifest", m);
    std::fprintf(stderr, "partyd: uploaded %zu assets\n", uploaded);
  }

  auto [contentType, body] = form.encode();
  auto r = api.call("POST", path + q, std::move(body), {{"content-type", contentType}});
  if (!r) return failed("the deploy of " + target->key() + " failed: " + r.error().message);
  std::string url;
  if (auto v = parse(r->body); v && v->is_object()) {
    if (auto* res = v->as_object().if_contains("result"); res && res->is_object()) {
      if (auto* u = res->as_object().if_contains("url"); u && u->is_string()) {
        url = std::string(u->as_string());
      }
    }
  }
  std::printf("Deployed %s%s%s\n", target->key().c_str(), url.empty() ? "" : " to ", url.c_str());
  return 0;
}

// ---- list, info, delete, rollback --------------------------------------------------------------

int list(const Options& o, AdminClient& api, const std::string& team) {
  auto r = api.call("GET", "/parties/" + team);
  if (!r) return failed(r.error().message);
  if (o.format == "json") {
    std::printf("%s\n", r->body.c_str());
    return 0;
  }
  auto v = parse(r->body);
  if (!v || !v->is_array()) return failed("the server's list is not a JSON array");
  if (v->as_array().empty()) {
    std::printf("no projects of team %s\n", team.c_str());
    return 0;
  }
  std::printf("%-24s %-10s %-8s %-21s %s\n", "NAME", "PREVIEW", "DEPLOYS", "UPDATED", "URL");
  for (const auto& p : v->as_array()) {
    if (!p.is_object()) continue;
    const json::object& o2 = p.as_object();
    auto get = [&](const char* k) { return o2.contains(k) ? plain(o2.at(k)) : std::string("-"); };
    std::string updated = "-";
    if (auto* u = o2.if_contains("updatedAt"); u && u->is_int64()) updated = isoTime(u->as_int64());
    std::printf("%-24s %-10s %-8s %-21s %s\n", get("name").c_str(), get("preview").c_str(),
                get("deploys").c_str(), updated.c_str(), get("url").c_str());
  }
  return 0;
}

int info(const Options& o, AdminClient& api, const Target& t) {
  auto r = api.call("GET", t.path() + t.query());
  if (!r) return failed(r.error().message);
  if (o.format == "json") {
    std::printf("%s\n", r->body.c_str());
    return 0;
  }
  auto v = parse(r->body);
  if (!v || !v->is_object()) return failed("the server's answer is not a JSON object");
  for (const auto& [k, val] : v->as_object()) {
    std::string text = plain(val);
    if ((k == "createdAt" || k == "updatedAt") && val.is_int64()) text = isoTime(val.as_int64());
    std::printf("%-10s %s\n", (std::string(k) + ":").c_str(), text.c_str());
  }
  return 0;
}

// ---- env ---------------------------------------------------------------------------------------

int envVerb(const Options& o, AdminClient& api, const Target& t) {
  if (o.positional.empty()) return usage("env needs list, pull, add or remove");
  const std::string& sub = o.positional[0];
  std::string base = t.path() + "/env";
  if (sub == "list") {
    auto r = api.call("GET", base + "?keys=true");
    if (!r) return failed(r.error().message);
    auto v = parse(r->body);
    if (!v || !v->is_array()) return failed("the server's env list is not a JSON array");
    for (const auto& k : v->as_array()) std::printf("%s\n", plain(k).c_str());
    return 0;
  }
  if (sub == "pull") {
    auto r = api.call("GET", base);
    if (!r) return failed(r.error().message);
    if (o.positional.size() < 2) {
      std::printf("%s\n", r->body.c_str());
      return 0;
    }
    std::string file = o.positional[1];
    std::FILE* f = std::fopen(file.c_str(), "wb");
    if (!f) return failed("cannot write " + file);
    ::fchmod(fileno(f), 0600);
    std::fwrite(r->body.data(), 1, r->body.size(), f);
    std::fclose(f);
    std::fprintf(stderr, "partyd: wrote the env of %s to %s\n", t.key().c_str(), file.c_str());
    return 0;
  }
  if (sub == "add") {
    if (o.positional.size() < 2)
      return usage("env add needs KEY (and VALUE, or the value on stdin)");
    const std::string& key = o.positional[1];
    std::string value;
    if (o.positional.size() >= 3) {
      value = o.positional[2];
    } else {
      if (isatty(0)) std::fprintf(stderr, "value of %s (end with Ctrl-D): ", key.c_str());
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      value = ss.str();
      if (!value.empty() && value.back() == '\n') value.pop_back();
    }
    auto r = api.call("POST", base + "/" + key, value, {{"content-type", "text/plain"}});
    if (!r) return failed(r.error().message);
    std::printf("Set %s of %s (it takes effect on the next deploy)\n", key.c_str(),
                t.key().c_str());
    return 0;
  }
  if (sub == "remove") {
    if (o.positional.size() < 2 && !o.all) return usage("env remove needs KEY (or --all)");
    auto r = api.call("DELETE", o.positional.size() >= 2 ? base + "/" + o.positional[1] : base);
    if (!r) return failed(r.error().message);
    std::printf("Removed %s of %s\n",
                o.positional.size() >= 2 ? o.positional[1].c_str() : "every env value",
                t.key().c_str());
    return 0;
  }
  return usage("env: unknown subcommand " + sub + " (list, pull, add, remove)");
}

// ---- tail --------------------------------------------------------------------------------------

std::string prettyOutcome(const std::string& outcome) {
  if (outcome == "ok") return "Ok";
  if (outcome == "exception") return "Exception Thrown";
  if (outcome == "canceled") return "Canceled";
  if (outcome == "exceededCpu") return "Exceeded CPU Limit";
  if (outcome == "exceededMemory") return "Exceeded Memory";
  return outcome;
}

void printPretty(const std::string& message) {
  auto v = parse(message);
  if (!v || !v->is_object()) {
    std::printf("%s\n", message.c_str());
    return;
  }
  const json::object& e = v->as_object();
  std::string outcome = e.contains("outcome") ? prettyOutcome(plain(e.at("outcome"))) : "?";
  std::int64_t ts = e.contains("eventTimestamp") && e.at("eventTimestamp").is_int64()
                        ? e.at("eventTimestamp").as_int64()
                        : 0;
  const json::object* ev = e.contains("event") ? e.at("event").if_object() : nullptr;
  if (ev && ev->contains("request") && ev->at("request").is_object()) {
    const json::object& req = ev->at("request").as_object();
    std::printf("%s %s - %s @ %s\n", req.contains("method") ? plain(req.at("method")).c_str() : "?",
                req.contains("url") ? plain(req.at("url")).c_str() : "?", outcome.c_str(),
                isoTime(ts).c_str());
  } else if (ev && ev->contains("cron")) {
    std::printf("\"%s\" @ %s - %s\n", plain(ev->at("cron")).c_str(), isoTime(ts).c_str(),
                outcome.c_str());
  } else if (ev && ev->contains("scheduledTime")) {
    std::printf("Alarm%s%s @ %s - %s\n", ev->contains("room") ? " of " : "",
                ev->contains("room") ? plain(ev->at("room")).c_str() : "", isoTime(ts).c_str(),
                outcome.c_str());
  } else {
    std::printf("Unknown Event - %s @ %s\n", outcome.c_str(), isoTime(ts).c_str());
  }
  if (auto* logs = e.if_contains("logs"); logs && logs->is_array()) {
    for (const auto& l : logs->as_array()) {
      if (!l.is_object()) continue;
      std::string text;
      if (auto* m = l.as_object().if_contains("message"); m && m->is_array()) {
        for (const auto& part : m->as_array()) text += (text.empty() ? "" : " ") + plain(part);
      }
      std::printf(
          "  (%s) %s\n",
          l.as_object().contains("level") ? plain(l.as_object().at("level")).c_str() : "log",
          text.c_str());
    }
  }
  if (auto* ex = e.if_contains("exceptions"); ex && ex->is_array()) {
    for (const auto& x : ex->as_array()) {
      if (!x.is_object()) continue;
      const json::object& xo = x.as_object();
      std::printf("  %s: %s\n", xo.contains("name") ? plain(xo.at("name")).c_str() : "Error",
                  xo.contains("message") ? plain(xo.at("message")).c_str() : "");
    }
  }
}

int tail(const Options& o, AdminClient& api, const Target& t) {
  std::string format = o.format.empty() ? (isatty(1) ? "pretty" : "json") : o.format;
  if (format != "json" && format != "pretty") return usage("tail: --format is json or pretty");
  json::array filters;
  if (o.samplingRate > 0) filters.push_back(json::object{{"sampling_rate", o.samplingRate}});
  if (!o.statuses.empty()) {
    json::array outcomes;
    for (const auto& s : o.statuses) {
      if (s == "ok") {
        outcomes.emplace_back("ok");
      } else if (s == "canceled") {
        outcomes.emplace_back("canceled");
      } else if (s == "error") {
        for (const char* x : {"exception", "exceededCpu", "exceededMemory", "unknown"}) {
          outcomes.emplace_back(x);
        }
      } else {
        return usage("tail: --status is ok, error or canceled, not \"" + s + "\"");
      }
    }
    filters.push_back(json::object{{"outcome", outcomes}});
  }
  if (!o.methods.empty()) {
    json::array m;
    for (const auto& x : o.methods) m.emplace_back(x);
    filters.push_back(json::object{{"method", m}});
  }
  if (!o.header.empty()) {
    std::size_t colon = o.header.find(':');
    std::string key = o.header.substr(0, colon);
    std::string query = colon == std::string::npos ? "" : o.header.substr(colon + 1);
    while (!query.empty() && query.front() == ' ') query.erase(0, 1);
    filters.push_back(json::object{{"header", json::object{{"key", key}, {"query", query}}}});
  }
  if (!o.search.empty()) filters.push_back(json::object{{"query", o.search}});
  auto r = api.call("POST", t.path() + "/tail" + t.query(),
                    json::serialize(json::object{{"filters", filters}}),
                    {{"content-type", "application/json"}});
  if (!r) return failed(r.error().message);
  auto v = parse(r->body);
  const json::object* res = v && v->is_object() && v->as_object().contains("result")
                                ? v->as_object().at("result").if_object()
                                : nullptr;
  if (!res || !res->contains("id") || !res->contains("url")) {
    return failed("the server's tail answer has no id and url: " + r->body);
  }
  std::string id = plain(res->at("id"));
  std::string url = plain(res->at("url"));

  ws::WsClient wsc(api.io());
  bool finished = false, weClosed = false;
  std::string error;
  long seen = 0;
  std::uint64_t conn = 0;
  conn = wsc.connect(
      url, {"trace-v1"}, {},
      ws::WsClient::Events{[&](std::string) {
                             wsc.send(conn, false, "{\"debug\":false}");
                             if (format == "pretty") {
                               std::fprintf(stderr, "Connected to %s, waiting for logs...\n",
                                            t.key().c_str());
                             }
                           },
                           [&](bool, std::string data) {
                             if (weClosed) return;
                             if (format == "json") {
                               std::printf("%s\n", data.c_str());
                             } else {
                               printPretty(data);
                             }
                             std::fflush(stdout);
                             if (o.maxEvents > 0 && ++seen >= o.maxEvents) {
                               weClosed = true;
                               wsc.close(conn, 1000, "done");
                             }
                           },
                           [&](std::uint16_t, std::string, bool) { finished = true; },
                           [&](std::string message) { error = message; }});
  boost::asio::signal_set signals(api.io(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec || finished) return;
    weClosed = true;
    wsc.close(conn, 1000, "done");
  });
  while (!finished) api.io().run_one();
  signals.cancel();
  (void)api.call("DELETE", t.path() + "/tail/" + id + t.query());
  if (!weClosed) {
    return failed("the tail of " + t.key() + " closed" + (error.empty() ? "" : ": " + error));
  }
  return 0;
}

Result<Options> parseOptions(std::string_view verb, const std::vector<std::string_view>& args) {
  Options o;
  o.verb = verb;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](const char* what) -> Result<std::string> {
      if (i + 1 >= args.size()) return makeError(std::string(a) + " needs " + what);
      return std::string(args[++i]);
    };
#define VALUE(var, what)        \
  do {                          \
    auto v_ = value(what);      \
    if (!v_) return v_.error(); \
    var = std::move(*v_);       \
  } while (0)
    std::string v;
    if (a == "--server") {
      VALUE(o.server, "a URL");
    } else if (a == "--token") {
      VALUE(o.token, "a token");
    } else if (a == "--token-file") {
      VALUE(o.tokenFile, "a file");
    } else if (a == "--team") {
      VALUE(o.team, "a team name");
    } else if (a == "--name" || a == "-n") {
      VALUE(o.name, "a project name");
    } else if (a == "--preview") {
      VALUE(o.preview, "a preview name");
    } else if (a == "--format" || a == "-f") {
      VALUE(o.format, "json or pretty");
    } else if ((a == "--var" || a == "-v" || a == "--define" || a == "-d") && verb == "deploy") {
      VALUE(v, "KEY=VALUE");
      std::size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0) return makeError(std::string(a) + " needs KEY=VALUE");
      (a == "--var" || a == "-v" ? o.vars : o.defines)
          .emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a == "--with-vars" && verb == "deploy") {
      o.withVars = true;
    } else if (a == "--all" && verb == "env") {
      o.all = true;
    } else if (a == "--force") {
      // as `partykit delete --force`: partyd never asks
    } else if (verb == "tail" && a == "--status") {
      VALUE(v, "ok, error or canceled");
      o.statuses.push_back(v);
    } else if (verb == "tail" && a == "--method") {
      VALUE(v, "an HTTP method");
      o.methods.push_back(v);
    } else if (verb == "tail" && a == "--search") {
      VALUE(o.search, "text");
    } else if (verb == "tail" && a == "--header") {
      VALUE(o.header, "KEY:VALUE");
    } else if (verb == "tail" && a == "--sampling-rate") {
      VALUE(v, "a rate between 0 and 1");
      char* end = nullptr;
      o.samplingRate = std::strtod(v.c_str(), &end);
      if (*end || !(o.samplingRate > 0 && o.samplingRate < 1)) {
        return makeError(
            "--sampling-rate needs a number between 0 and 1 (0.25: a quarter of "
            "the events)");
      }
    } else if (verb == "tail" && a == "--max-events") {
      VALUE(v, "a number");
      char* end = nullptr;
      o.maxEvents = std::strtol(v.c_str(), &end, 10);
      if (*end || o.maxEvents < 1) return makeError("--max-events needs a positive number");
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return makeError(std::string(verb) + ": unknown option " + std::string(a));
    } else {
      o.positional.emplace_back(a);
    }
#undef VALUE
  }
  return o;
}

}  // namespace

bool isDeployVerb(std::string_view verb) {
  return verb == "deploy" || verb == "list" || verb == "info" || verb == "delete" ||
         verb == "rollback" || verb == "env" || verb == "tail";
}

int runDeployVerb(std::string_view verb, const std::vector<std::string_view>& args) {
  log::setLevel(log::Level::kWarn);
  auto o = parseOptions(verb, args);
  if (!o) return usage(o.error().message + "\n" + kDeployVerbsUsage);
  if (verb == "deploy") return deploy(*o);
  if (verb != "env" && !o->positional.empty()) {
    return usage(std::string(verb) + ": unexpected argument " + o->positional[0] +
                 " (the project is --name NAME)");
  }
  // The project of the working folder's partykit.json, when no --name says.
  std::optional<project::Config> config;
  if (!o->name || !o->team) {
    project::LoadOptions lo;
    lo.dev = false;
    if (auto c = project::loadConfig(".", lo)) config = std::move(*c);
  }
  std::unique_ptr<AdminClient> owner;
  auto c = client(*o, &owner);
  if (!c) return usage(c.error().message);
  if (verb == "list") {
    std::string team =
        o->team ? *o->team
                : env("PARTYD_TEAM").value_or(config && config->team ? *config->team : "default");
    if (!validName(team))
      return usage("the team \"" + team + "\" is not 1 to 64 of a-z, 0-9, - and _");
    return list(*o, **c, team);
  }
  auto t = resolveTarget(*o, config ? &*config : nullptr);
  if (!t) return usage(t.error().message);
  if (verb == "info") return info(*o, **c, *t);
  if (verb == "delete") {
    auto r = (*c)->call("DELETE", t->path() + t->query());
    if (!r) return failed(r.error().message);
    std::printf("Deleted %s\n", t->key().c_str());
    return 0;
  }
  if (verb == "rollback") {
    auto r = (*c)->call("POST", t->path() + "/rollback" + t->query());
    if (!r) return failed(r.error().message);
    std::printf("Rolled back %s to its previous deploy\n", t->key().c_str());
    return 0;
  }
  if (verb == "env") return envVerb(*o, **c, *t);
  return tail(*o, **c, *t);
}

}  // namespace partyd::cli
