#include "server/deployments.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "base/random.h"
#include "server/replication.h"

namespace partyd::server {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

// ---- helpers --------------------------------------------------------------------------------

std::optional<std::string> readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<json::value> parseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

namespace {

bool isIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// The module a CLI bundle imports, as the name the runtime's table knows it by
// (globalThis.__partyd_modules): partykit's esbuild step leaves node built-ins and the
// cloudflare: modules as imports of `partykit-exposed-node-X` / `partykit-exposed-cloudflare-X`.
std::optional<std::string> builtinName(std::string_view spec) {
  constexpr std::string_view kNode = "partykit-exposed-node-";
  constexpr std::string_view kCf = "partykit-exposed-cloudflare-";
  if (spec.substr(0, kNode.size()) == kNode)
    return "node:" + std::string(spec.substr(kNode.size()));
  if (spec.substr(0, kCf.size()) == kCf)
    return "cloudflare:" + std::string(spec.substr(kCf.size()));
  if (spec.substr(0, 5) == "node:" || spec.substr(0, 11) == "cloudflare:") return std::string(spec);
  return std::nullopt;
}

// Rewrites the bundle's top-level `import … from "…";` statements (esbuild writes them at the
// start of a line) into reads of the runtime's module table, since partyd evaluates a bundle as
// one module without imports.
Result<std::string> rewriteImports(const std::string& code) {
  std::string out =
      "const __partyd_import = (name) => {\n"
      "  const m = globalThis.__partyd_modules && globalThis.__partyd_modules[name];\n"
      "  if (m) return m;\n"
      "  const fail = () => { throw new Error(\"partyd: the module \" + JSON.stringify(name) + "
      "\" is not available\"); };\n"
      "  return new Proxy(function () {}, { get: fail, apply: fail, construct: fail });\n"
      "};\n";
  std::size_t pos = 0;
  while (pos < code.size()) {
    std::size_t eol = code.find('\n', pos);
    if (eol == std::string::npos) eol = code.size();
    if (code.compare(pos, 7, "import ") != 0 && code.compare(pos, 7, "import{") != 0 &&
        code.compare(pos, 7, "import\"") != 0) {
      out.append(code, pos, eol - pos);
      out += '\n';
      pos = eol + 1;
      continue;
    }
    // One statement: up to the `"…";` that ends it (it may span lines: `import {\n a,\n} from`).
    std::size_t q1 = code.find('"', pos);
    std::size_t q2 = q1 == std::string::npos ? q1 : code.find('"', q1 + 1);
    if (q2 == std::string::npos)
      return makeError("the bundle has an import statement partyd cannot read");
    std::string spec = code.substr(q1 + 1, q2 - q1 - 1);
    std::string clause = code.substr(pos + 6, q1 - pos - 6);
    std::size_t end = q2 + 1;
    if (end < code.size() && code[end] == ';') ++end;
    pos = end;
    auto name = builtinName(spec);
    if (!name) {
      return makeError("the bundle imports \"" + spec +
                       "\", which partyd serve cannot provide "
                       "(WebAssembly and other uploaded modules are not supported yet)");
    }
    std::size_t from = clause.rfind("from");
    std::string binding = from == std::string::npos ? "" : clause.substr(0, from);
    // trim
    while (!binding.empty() && std::isspace(static_cast<unsigned char>(binding.back())))
      binding.pop_back();
    while (!binding.empty() && std::isspace(static_cast<unsigned char>(binding.front())))
      binding.erase(0, 1);
    std::string m = "__partyd_import(" + log::jsonQuoted(*name) + ")";
    if (binding.empty()) {
      out += "void " + m + ";";
      continue;
    }
    if (binding.compare(0, 1, "*") == 0) {
      std::size_t as = binding.find(" as ");
      if (as == std::string::npos) return makeError("cannot read the import of " + spec);
      out += "const " + binding.substr(as + 4) +
             " = ((m) => Object.assign(Object.create(null), m, "
             "{ default: m }))(" +
             m + ");";
      continue;
    }
    std::string def, named;
    std::size_t brace = binding.find('{');
    if (brace == std::string::npos) {
      def = binding;
    } else {
      def = binding.substr(0, brace);
      named = binding.substr(brace);
      while (!def.empty() &&
             (def.back() == ',' || std::isspace(static_cast<unsigned char>(def.back()))))
        def.pop_back();
    }
    if (!def.empty()) out += "const " + def + " = " + m + ";";
    if (!named.empty()) {
      // { a, b as c } → { a, b: c }
      std::string obj;
      for (std::size_t i = 0; i < named.size(); ++i) {
        if (named.compare(i, 4, " as ") == 0) {
          obj += ": ";
          i += 3;
        } else {
          obj += named[i];
        }
      }
      out += "const " + obj + " = " + m + ";";
    }
  }
  return out;
}

// The project's console lines, alarms and crons go to its tail.
void traceTo(api::RuntimeConfig& runtime, const std::shared_ptr<TailHub>& hub) {
  runtime.onLog = [hub](int level, std::string_view where, std::string_view text) {
    hub->log(level, where, text);
  };
  runtime.onTrace = [hub](api::ScheduledTrace t) {
    hub->scheduled(t.cron, t.where, t.cronName, t.cronExpr, t.scheduledTimeMs, t.ok, t.logs);
  };
}

}  // namespace

ApiAnswer ApiAnswer::error(unsigned status, std::string_view message) {
  return {status, "{\"error\":" + log::jsonQuoted(message) + "}"};
}

// ---- bundles --------------------------------------------------------------------------------

Result<std::string> adaptBundle(std::string code, const std::vector<std::string>& parties) {
  if (code.find("__partyd_parties") != std::string::npos) return code;
  auto rewritten = rewriteImports(code);
  if (!rewritten) return rewritten.error();
  code = std::move(*rewritten);
  // esbuild ends an ES module with one `export { local as name, ... };`.
  std::size_t at = std::string::npos;
  for (std::size_t p = code.rfind("export"); p != std::string::npos;
       p = p == 0 ? std::string::npos : code.rfind("export", p - 1)) {
    std::size_t q = p + 6;
    while (q < code.size() && (code[q] == ' ' || code[q] == '\n')) ++q;
    if (q < code.size() && code[q] == '{') {
      at = p;
      break;
    }
  }
  if (at == std::string::npos) {
    return makeError(
        "the bundle exports nothing: partyd expects the main party as its default "
        "export (what `partykit deploy` builds)");
  }
  std::size_t open = code.find('{', at);
  std::size_t close = code.find('}', open);
  if (close == std::string::npos)
    return makeError("the bundle's last export statement is cut short");
  std::string inner = code.substr(open + 1, close - open - 1);
  std::map<std::string, std::string> exports;  // exported name → local
  std::size_t i = 0;
  while (i < inner.size()) {
    std::size_t comma = inner.find(',', i);
    if (comma == std::string::npos) comma = inner.size();
    std::string item = inner.substr(i, comma - i);
    i = comma + 1;
    std::istringstream words(item);
    std::string local, as, name;
    words >> local >> as >> name;
    if (local.empty()) continue;
    if (as.empty()) name = local;
    if (!isIdentifier(local) || (!as.empty() && as != "as")) {
      return makeError("the bundle's export statement is not one partyd reads: " + item);
    }
    exports[name] = local;
  }
  if (!exports.count("default")) {
    return makeError(
        "the bundle has no default export: the main party (\"main\" in "
        "partykit.json) must be the default export");
  }
  std::string table = "globalThis.__partyd_parties = {\"main\": " + exports["default"];
  for (const auto& party : parties) {
    auto it = exports.find(party);
    if (it == exports.end()) {
      return makeError("the bundle does not export the party \"" + party + "\"");
    }
    table += ", " + log::jsonQuoted(party) + ": " + it->second;
  }
  table += "};";
  std::size_t end = close + 1;
  if (end < code.size() && code[end] == ';') ++end;
  code.replace(at, end - at, table);
  return code;
}

// ---- the table ------------------------------------------------------------------------------

Deployments::Deployments(ShardPool& pool, boost::asio::io_context& adminIo,
                         DeploymentsOptions options)
    : pool_(pool), adminIo_(adminIo), options_(std::move(options)) {}

Deployments::~Deployments() {
  stopAll();
}

fs::path Deployments::projectDir(const ProjectId& id) const {
  return options_.data / "projects" / id.team / id.name;
}

fs::path Deployments::deployDir(const ProjectId& id) const {
  return projectDir(id) / "deploys" / (id.preview.empty() ? std::string("@") : id.preview);
}

std::shared_ptr<Deployments::Entry> Deployments::find(const ProjectId& id) const {
  std::shared_lock lock(mutex_);
  for (const auto& e : entries_) {
    if (e->id == id) return e;
  }
  return nullptr;
}

void Deployments::route(std::size_t shard, std::shared_ptr<http::Session> session,
                        http::Request&& request) {
  std::shared_lock lock(mutex_);
  auto hostField = request[bhttp::field::host];
  std::string_view host(hostField.data(), hostField.size());
  auto index = resolveHost(host, options_.domain, routes_, options_.defaultProject);
  party::Edge* edge = index ? entries_[*index]->host->edge(shard) : nullptr;
  if (!edge) {
    session->respond(http::textResponse(
        404, index ? "this project is starting or stopping\n"
                   : "no project is deployed at " + std::string(host) + " on this partyd\n"));
    return;
  }
  auto& hub = entries_[*index]->hub;
  std::string_view method(request.method_string().data(), request.method_string().size());
  std::string url = "https://" + std::string(host) +
                    std::string(request.target().data(), request.target().size());
  if (hub->active()) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& f : request) {
      headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    // Published once the answer's status is known (or the client left: 0).
    session->onResponse([hub, method = std::string(method), url = std::move(url),
                         headers = std::move(headers)](unsigned status) {
      hub->request(method, url, status, headers);
    });
  }
  edge->onRequest(std::move(session), std::move(request));
}

std::vector<ObservedProject> Deployments::observed() const {
  std::shared_lock lock(mutex_);
  std::vector<ObservedProject> out;
  for (const auto& e : entries_) {
    if (e->host) out.push_back({e->id.key(), e->host->edgeTable()});
  }
  return out;
}

std::vector<RouteEntry> Deployments::routeTable() const {
  std::vector<RouteEntry> out;
  for (const auto& e : entries_) out.push_back({e->id, e->domain});
  return out;
}

Result<std::string> Deployments::envJsonFor(const ProjectId& id,
                                            const std::string& deployVarsJson) const {
  json::object merged;
  if (auto stored = readFile(projectDir(id) / "env.json")) {
    auto v = parseJson(*stored);
    if (!v || !v->is_object())
      return makeError("env.json of " + id.key() + " is not a JSON object");
    merged = v->as_object();
  }
  if (auto v = parseJson(deployVarsJson); v && v->is_object()) {
    for (auto& [k, val] : v->as_object()) merged[k] = val;
  }
  return json::serialize(merged);
}

Result<ProjectOptions> Deployments::optionsFor(const ProjectId& id, const fs::path& dir,
                                               const std::string& metaJson,
                                               std::shared_ptr<TailHub> hub) const {
  auto meta = parseJson(metaJson);
  if (!meta || !meta->is_object()) return makeError(dir.string() + "/meta.json is corrupt");
  const json::object& m = meta->as_object();
  auto code = readFile(dir / "bundle.js");
  if (!code) return makeError("cannot read " + (dir / "bundle.js").string());
  ProjectOptions po;
  po.name = id.key();
  po.state = dir / "state";
  po.syncFull = options_.syncFull;
  po.host = options_.host;
  po.runtime.heapLimitMb = options_.heapLimitMb;
  options_.clientGeo.applyTo(po);
  po.runtime.userBundle = std::move(*code);
  po.runtime.userBundleName = id.key() + "/bundle.js";
  std::string vars = m.contains("vars") ? json::serialize(m.at("vars")) : "{}";
  auto env = envJsonFor(id, vars);
  if (!env) return env.error();
  po.runtime.envJson = *env;
  po.runtime.partyNames.push_back("main");
  if (auto* p = m.if_contains("parties"); p && p->is_array()) {
    for (const auto& n : p->as_array()) {
      if (n.is_string()) po.runtime.partyNames.emplace_back(n.as_string());
    }
  }
  if (auto* c = m.if_contains("crons"); c && c->is_object()) {
    for (const auto& [k, v] : c->as_object()) {
      if (v.is_string()) po.crons.emplace_back(std::string(k), std::string(v.as_string()));
    }
  }
  if (auto* a = m.if_contains("assets"); a && a->is_bool() && a->as_bool()) {
    http::StaticOptions so;
    so.root = dir / "site";
    if (auto* spa = m.if_contains("singlePageApp"); spa && spa->is_bool()) {
      so.singlePageApp = spa->as_bool();
    }
    if (auto* ttl = m.if_contains("browserTTL"); ttl && ttl->is_number()) {
      so.browserTtlSeconds = static_cast<std::int64_t>(ttl->to_number<double>());
    }
    po.assets = so;
  }
  if (hub) traceTo(po.runtime, hub);
  return po;
}

Result<void> Deployments::startEntry(const ProjectId& id, const fs::path& dir,
                                     std::shared_ptr<TailHub> hub) {
  auto meta = readFile(dir / "meta.json");
  if (!meta) return makeError("no meta.json in " + dir.string());
  auto entry = std::make_shared<Entry>();
  entry->id = id;
  entry->dir = dir;
  entry->meta = *meta;
  entry->hub = hub ? std::move(hub) : std::make_shared<TailHub>(adminIo_, id.key());
  if (auto m = parseJson(*meta); m && m->is_object()) {
    if (auto* d = m->as_object().if_contains("domain"); d && d->is_string()) {
      entry->domain = std::string(d->as_string());
    }
  }
  auto po = optionsFor(id, dir, *meta, entry->hub);
  if (!po) return po.error();
  if (options_.configureProject) options_.configureProject(id.key(), *po);
  entry->host = std::make_unique<ProjectHost>(pool_, std::move(*po));
  if (auto r = entry->host->start(); !r) return r;
  std::unique_lock lock(mutex_);
  entries_.push_back(entry);
  routes_ = routeTable();
  return {};
}

void Deployments::loadAll() {
  std::error_code ec;
  fs::path root = options_.data / "projects";  // none yet: the loop below finds nothing
  for (const auto& team : fs::directory_iterator(root, ec)) {
    if (!team.is_directory()) continue;
    for (const auto& project : fs::directory_iterator(team.path(), ec)) {
      fs::path deploys = project.path() / "deploys";
      if (!fs::is_directory(deploys, ec)) continue;
      for (const auto& d : fs::directory_iterator(deploys, ec)) {
        std::string leaf = d.path().filename().string();
        if (leaf.find(".staging") != std::string::npos || leaf.find(".old") != std::string::npos) {
          fs::remove_all(d.path(), ec);  // a deploy that a crash cut short
          continue;
        }
        ProjectId id{team.path().filename().string(), project.path().filename().string(),
                     leaf == "@" ? std::string() : leaf};
        if (!validName(id.team) || !validName(id.name) ||
            (!id.preview.empty() && !validName(id.preview)) ||
            !fs::exists(d.path() / "meta.json", ec)) {
          continue;
        }
        if (auto r = startEntry(id, d.path()); !r) {
          log::error("serve: " + id.key() + " did not start: " + r.error().message);
        } else {
          log::info("serve: started " + id.key());
        }
      }
    }
  }
  // In a cluster, what the other nodes deployed while this one was away comes next.
  if (!options_.replicateUrl.empty() && !replicator_) {
    ReplicationOptions ro;
    ro.url = options_.replicateUrl;
    ro.data = options_.data;
    replicator_ = std::make_unique<Replicator>(*this, std::move(ro));
    replicator_->start();
  }
}

Result<void> Deployments::addLocal(const ProjectId& id, ProjectOptions options) {
  auto entry = std::make_shared<Entry>();
  entry->id = id;
  entry->local = true;
  entry->hub = std::make_shared<TailHub>(adminIo_, id.key());
  auto hub = entry->hub;
  traceTo(options.runtime, hub);
  if (options_.configureProject) options_.configureProject(id.key(), options);
  entry->host = std::make_unique<ProjectHost>(pool_, std::move(options));
  if (auto r = entry->host->start(); !r) return r;
  std::unique_lock lock(mutex_);
  entries_.push_back(entry);
  routes_ = routeTable();
  return {};
}

void Deployments::stopAll() {
  if (replicator_) replicator_->stop();
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::unique_lock lock(mutex_);
    all.swap(entries_);
    routes_.clear();
  }
  for (auto& e : all) {
    if (e->host) {
      e->host->stop();
      retired_.push_back(e->host->edgeTable());
    }
  }
}

}  // namespace partyd::server
