// The deploy API of `partyd serve`: Deployments' answers to each route, and the routes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "base/random.h"
#include "server/admin.h"
#include "server/deployments.h"
#include "server/replication.h"

namespace partyd::server {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<void> writeFile(const fs::path& p, std::string_view bytes, mode_t mode = 0644) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  fs::path tmp = p;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return makeError("cannot write " + p.string() + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      return makeError("cannot write " + p.string() + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), p.c_str()) != 0) {
    return makeError("cannot write " + p.string() + ": " + std::strerror(errno));
  }
  return {};
}

bool validAssetName(std::string_view s) {
  if (s.empty() || s.size() > 255 || s[0] == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@' || c == '+' || c == '~';
    if (!ok) return false;
  }
  return true;
}

bool validAssetPath(std::string_view s) {
  if (s.empty() || s.size() > 1024 || s.front() == '/' || s.find('\\') != std::string_view::npos ||
      s.find('\0') != std::string_view::npos) {
    return false;
  }
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t slash = s.find('/', i);
    if (slash == std::string_view::npos) slash = s.size();
    std::string_view seg = s.substr(i, slash - i);
    if (seg.empty() || seg == "." || seg == "..") return false;
    i = slash + 1;
  }
  return true;
}

std::string projectUrl(const ProjectId& id, const std::string& domain) {
  std::string d = domain.empty() ? "localhost" : domain;
  return "https://" + (id.preview.empty() ? "" : id.preview + ".") + id.name + "." + id.team + "." +
         d;
}

bool isPartyName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

// ---- deploy ---------------------------------------------------------------------------------

ApiAnswer Deployments::deploy(const ProjectId& id, const std::vector<FormPart>& form) {
  std::lock_guard serial(deployMutex_);
  const FormPart* code = findPart(form, "code");
  if (!code || code->body.empty()) {
    return ApiAnswer::error(400, "the deploy form has no \"code\" field (the bundled party)");
  }
  json::object meta;
  meta["team"] = id.team;
  meta["name"] = id.name;
  meta["preview"] = id.preview;
  json::array parties;
  std::vector<std::string> partyList;
  if (const FormPart* p = findPart(form, "parties")) {
    auto v = parseJson(p->body);
    if (!v || !v->is_array()) return ApiAnswer::error(400, "\"parties\" is not a JSON array");
    for (const auto& n : v->as_array()) {
      if (!n.is_string() || !isPartyName(n.as_string()) || n.as_string() == "main") {
        return ApiAnswer::error(
            400, "\"parties\" holds a name that is not a party name: " + json::serialize(n));
      }
      parties.push_back(n);
      partyList.emplace_back(n.as_string());
    }
  }
  meta["parties"] = parties;
  json::object vars;
  if (const FormPart* p = findPart(form, "vars")) {
    auto v = parseJson(p->body);
    if (!v || !v->is_object()) return ApiAnswer::error(400, "\"vars\" is not a JSON object");
    vars = v->as_object();
  }
  meta["vars"] = vars;
  if (const FormPart* p = findPart(form, "crons")) {
    auto v = parseJson(p->body);
    if (!v || !v->is_object()) return ApiAnswer::error(400, "\"crons\" is not a JSON object");
    meta["crons"] = *v;
  }
  if (const FormPart* p = findPart(form, "domain")) meta["domain"] = p->body;
  if (const FormPart* p = findPart(form, "compatibilityDate")) meta["compatibilityDate"] = p->body;

  auto adapted = adaptBundle(code->body, partyList);
  if (!adapted) return ApiAnswer::error(400, adapted.error().message);

  fs::path dir = deployDir(id);
  fs::path staging = dir;
  staging += ".staging-" + randomUuid().substr(0, 8);
  std::error_code ec;
  auto cleanup = [&] { fs::remove_all(staging, ec); };
  fs::create_directories(staging / "site", ec);
  if (ec) return ApiAnswer::error(500, "cannot create " + staging.string() + ": " + ec.message());

  // The assets: each path of the manifest, from the uploaded blobs.
  bool hasAssets = false;
  if (const FormPart* p = findPart(form, "staticAssetsManifest")) {
    auto v = parseJson(p->body);
    if (!v || !v->is_object() || !v->as_object().contains("assets") ||
        !v->as_object().at("assets").is_object()) {
      cleanup();
      return ApiAnswer::error(400, "\"staticAssetsManifest\" is not an assets manifest");
    }
    const json::object& m = v->as_object();
    for (const auto& [key, file] : m.at("assets").as_object()) {
      if (!validAssetPath(key) || !file.is_string() || !validAssetName(file.as_string())) {
        cleanup();
        return ApiAnswer::error(400, "the asset \"" + std::string(key) +
                                         "\" has a path or name that leaves the assets folder");
      }
      fs::path blob = dir / "blobs" / std::string(file.as_string());
      fs::path target = staging / "site" / std::string(key);
      fs::create_directories(target.parent_path(), ec);
      fs::copy_file(blob, target, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        cleanup();
        return ApiAnswer::error(400, "the asset \"" + std::string(key) + "\" (" +
                                         std::string(file.as_string()) +
                                         ") was not uploaded (PUT …/assets first)");
      }
    }
    hasAssets = true;
    if (auto* spa = m.if_contains("singlePageApp"); spa && spa->is_bool()) {
      meta["singlePageApp"] = *spa;
    }
    if (auto* ttl = m.if_contains("browserTTL"); ttl && ttl->is_number()) meta["browserTTL"] = *ttl;
  }
  meta["assets"] = hasAssets;

  auto existing = find(id);
  std::int64_t created = nowMs();
  std::int64_t deploys = 1;
  if (auto old = readFile(dir / "meta.json")) {
    if (auto v = parseJson(*old); v && v->is_object()) {
      if (auto* c = v->as_object().if_contains("createdAt"); c && c->is_int64())
        created = c->as_int64();
      if (auto* d = v->as_object().if_contains("deploys"); d && d->is_int64())
        deploys = d->as_int64() + 1;
    }
  }
  meta["createdAt"] = created;
  meta["updatedAt"] = nowMs();
  meta["deploys"] = deploys;
  std::string metaJson = json::serialize(meta);
  if (auto r = writeFile(staging / "bundle.js", *adapted); !r) {
    cleanup();
    return ApiAnswer::error(500, r.error().message);
  }
  if (auto r = writeFile(staging / "meta.json", metaJson); !r) {
    cleanup();
    return ApiAnswer::error(500, r.error().message);
  }

  // Tried first on a scratch shard with in-memory storage: a bundle that throws at load, or
  // whose parties are not what it says, is refused here and nothing deployed changes.
  {
    auto po = optionsFor(id, staging, metaJson, nullptr);
    if (!po) {
      cleanup();
      return ApiAnswer::error(400, po.error().message);
    }
    po->state.reset();
    po->crons.clear();
    if (!scratch_) {
      scratch_ = std::make_unique<ShardPool>(PoolOptions{"127.0.0.1", 0, 1, {}});
      (void)scratch_->start([](std::size_t, std::shared_ptr<http::Session>, http::Request&&) {});
    }
    ProjectHost trial(*scratch_, std::move(*po));
    auto r = trial.start();
    trial.stop();
    if (!r) {
      cleanup();
      return ApiAnswer::error(400,
                              "the deploy was refused and nothing changed: " + r.error().message);
    }
  }

  // Switch: the files first (bundle, meta, site; the replaced ones kept in previous/ for a
  // rollback), then the running project.
  fs::create_directories(dir, ec);
  fs::path prev = dir / "previous";
  if (fs::exists(dir / "meta.json", ec)) {
    fs::remove_all(prev, ec);
    fs::create_directories(prev, ec);
    for (const char* f : {"bundle.js", "meta.json", "site"}) {
      if (fs::exists(dir / f, ec)) fs::rename(dir / f, prev / f, ec);
    }
  }
  fs::rename(staging / "site", dir / "site", ec);
  fs::rename(staging / "bundle.js", dir / "bundle.js", ec);
  fs::rename(staging / "meta.json", dir / "meta.json", ec);
  cleanup();
  if (ec) return ApiAnswer::error(500, "the deploy's files could not be moved in: " + ec.message());

  bool initial = !existing;
  if (existing) {
    if (auto r = switchRunning(existing, metaJson, false); !r) {
      return ApiAnswer::error(500, r.error().message);
    }
  } else if (auto r = startEntry(id, dir); !r) {
    return ApiAnswer::error(500, "the new project did not start: " + r.error().message);
  }
  log::info("serve: deployed " + id.key() + (initial ? " (new)" : ""));
  return {200, "{\"result\":{\"is_initial_deploy\":" + std::string(initial ? "true" : "false") +
                   ",\"url\":" + log::jsonQuoted(projectUrl(id, options_.domain)) + "}}"};
}

Result<void> Deployments::switchRunning(const std::shared_ptr<Entry>& existing,
                                        const std::string& metaJson, bool rollback) {
  const ProjectId& id = existing->id;
  fs::path dir = deployDir(id);
  auto oldMeta = parseJson(existing->meta);
  auto newMeta = parseJson(metaJson);
  if (!newMeta || !newMeta->is_object()) return makeError(dir.string() + "/meta.json is corrupt");
  const json::object& meta = newMeta->as_object();
  auto sameKey = [&](const char* k) {
    const json::value* a =
        oldMeta && oldMeta->is_object() ? oldMeta->as_object().if_contains(k) : nullptr;
    const json::value* b = meta.if_contains(k);
    return (a == nullptr) == (b == nullptr) && (!a || *a == *b);
  };
  auto po = optionsFor(id, dir, metaJson, existing->hub);
  if (!po) return po.error();
  if (sameKey("assets") && sameKey("crons") && sameKey("singlePageApp") && sameKey("browserTTL")) {
    // The code swap of a running project on every shard: back to the build the host still
    // holds when it is the one asked for, else the files' build.
    Result<void> r = rollback && existing->host->hasPrevious()
                         ? existing->host->rollback()
                         : existing->host->reload(po->runtime.userBundle,
                                                  po->runtime.userBundleName, po->runtime.envJson,
                                                  po->runtime.partyNames);
    if (!r) return makeError("the new code failed to load: " + r.error().message);
    std::unique_lock lock(mutex_);
    existing->meta = metaJson;
    auto* d = meta.if_contains("domain");
    existing->domain = d && d->is_string() ? std::string(d->as_string()) : "";
    routes_ = routeTable();
    return {};
  }
  // Assets or crons changed shape: the project restarts (its sockets close with 1001).
  {
    std::unique_lock lock(mutex_);
    std::erase(entries_, existing);
    routes_ = routeTable();
  }
  existing->host->stop();
  retired_.push_back(existing->host->edgeTable());
  // The open tails carry over.
  if (auto r = startEntry(id, dir, existing->hub); !r) {
    return makeError("the new version did not start: " + r.error().message);
  }
  return {};
}

ApiAnswer Deployments::rollback(const ProjectId& id) {
  std::lock_guard serial(deployMutex_);
  auto e = find(id);
  if (!e || e->local) {
    return ApiAnswer::error(404, "no project " + id.key() + " is deployed on this partyd");
  }
  fs::path dir = deployDir(id);
  fs::path prev = dir / "previous";
  std::error_code ec;
  auto prevMeta = readFile(prev / "meta.json");
  if (!prevMeta || !fs::exists(prev / "bundle.js", ec)) {
    return ApiAnswer::error(409, "there is no earlier version of " + id.key() +
                                     " to roll back to (it was deployed once)");
  }
  // The files swap places: current ↔ previous, so a second rollback returns to where it began.
  fs::path swap = dir / "previous.swap";
  fs::remove_all(swap, ec);
  fs::create_directories(swap, ec);
  for (const char* f : {"bundle.js", "meta.json", "site"}) {
    if (fs::exists(dir / f, ec)) fs::rename(dir / f, swap / f, ec);
    if (fs::exists(prev / f, ec)) fs::rename(prev / f, dir / f, ec);
  }
  fs::remove_all(prev, ec);
  fs::rename(swap, prev, ec);
  if (ec) return ApiAnswer::error(500, "the rollback's files could not be moved: " + ec.message());
  if (auto r = switchRunning(e, *prevMeta, true); !r) {
    return ApiAnswer::error(500, r.error().message);
  }
  std::string when;
  if (auto v = parseJson(*prevMeta); v && v->is_object()) {
    if (auto* u = v->as_object().if_contains("updatedAt"); u && u->is_int64()) {
      when = ",\"updatedAt\":" + std::to_string(u->as_int64());
    }
  }
  log::info("serve: rolled back " + id.key());
  return {200, "{\"result\":{\"rolled_back\":" + log::jsonQuoted(id.key()) + when + "}}"};
}

// ---- info, list, delete ---------------------------------------------------------------------

namespace {

json::object describe(const ProjectId& id, const std::string& metaJson, const std::string& domain) {
  json::object o;
  o["name"] = id.name;
  o["team"] = id.team;
  if (!id.preview.empty()) o["preview"] = id.preview;
  o["url"] = projectUrl(id, domain);
  if (auto v = parseJson(metaJson); v && v->is_object()) {
    const json::object& m = v->as_object();
    for (const char* k : {"domain", "createdAt", "updatedAt", "deploys"}) {
      if (auto* x = m.if_contains(k)) o[k] = *x;
    }
    if (auto* p = m.if_contains("parties"); p && p->is_array()) {
      std::string names = "main";
      for (const auto& n : p->as_array()) {
        if (n.is_string()) names += ", " + std::string(n.as_string());
      }
      o["parties"] = names;
    }
    if (auto* a = m.if_contains("assets")) o["assets"] = *a;
  }
  return o;
}

}  // namespace

ApiAnswer Deployments::info(const ProjectId& id) {
  auto e = find(id);
  if (!e || e->local) {
    return ApiAnswer::error(404, "no project " + id.key() + " is deployed on this partyd");
  }
  std::shared_lock lock(mutex_);
  return {200, json::serialize(describe(id, e->meta, options_.domain))};
}

ApiAnswer Deployments::list(const std::string& team) {
  json::array out;
  std::shared_lock lock(mutex_);
  for (const auto& e : entries_) {
    if (e->local || e->id.team != team) continue;
    out.push_back(describe(e->id, e->meta, options_.domain));
  }
  return {200, json::serialize(out)};
}

ApiAnswer Deployments::remove(const ProjectId& id) {
  std::lock_guard serial(deployMutex_);
  auto e = find(id);
  if (!e || e->local) {
    return ApiAnswer::error(404, "no project " + id.key() + " is deployed on this partyd");
  }
  {
    std::unique_lock lock(mutex_);
    std::erase(entries_, e);
    routes_ = routeTable();
  }
  e->host->stop();
  retired_.push_back(e->host->edgeTable());
  e->hub->closeAll();
  std::error_code ec;
  fs::remove_all(deployDir(id), ec);
  // The last deploy of a project takes its env with it, as on PartyKit.
  if (fs::is_empty(projectDir(id) / "deploys", ec)) fs::remove_all(projectDir(id), ec);
  if (options_.forgetProject) options_.forgetProject(id.key());
  log::info("serve: deleted " + id.key());
  return {200, "{\"result\":{\"deleted\":" + log::jsonQuoted(id.key()) + "}}"};
}

// ---- assets ---------------------------------------------------------------------------------

ApiAnswer Deployments::assetsManifest(const ProjectId& id) {
  if (auto m = readFile(deployDir(id) / "assets.json")) return {200, *m};
  return {200, "{\"assets\":{},\"assetInfo\":{}}"};
}

ApiAnswer Deployments::putAsset(const ProjectId& id, const std::string& name,
                                const std::string& bytes) {
  if (!validAssetName(name)) {
    return ApiAnswer::error(400, "the asset name \"" + name +
                                     "\" is not a plain file name (it would leave the assets "
                                     "folder)");
  }
  if (auto r = writeFile(deployDir(id) / "blobs" / name, bytes); !r) {
    return ApiAnswer::error(500, r.error().message);
  }
  return {200, "{\"result\":{\"name\":" + log::jsonQuoted(name) + "}}"};
}

ApiAnswer Deployments::saveAssetsManifest(const ProjectId& id, const std::string& body) {
  auto v = parseJson(body);
  if (!v || !v->is_object() || !v->as_object().contains("assets") ||
      !v->as_object().at("assets").is_object()) {
    return ApiAnswer::error(400, "the body is not an assets manifest ({\"assets\":{…}})");
  }
  for (const auto& [key, file] : v->as_object().at("assets").as_object()) {
    if (!validAssetPath(key) || !file.is_string() || !validAssetName(file.as_string())) {
      return ApiAnswer::error(400, "the asset \"" + std::string(key) +
                                       "\" has a path or name that leaves the assets folder");
    }
  }
  if (auto r = writeFile(deployDir(id) / "assets.json", body); !r) {
    return ApiAnswer::error(500, r.error().message);
  }
  return {200, "{\"result\":{}}"};
}

// ---- env ------------------------------------------------------------------------------------

namespace {

Result<json::object> readEnv(const fs::path& file) {
  auto text = readFile(file);
  if (!text) return json::object();
  auto v = parseJson(*text);
  if (!v || !v->is_object()) return makeError(file.string() + " is not a JSON object");
  return v->as_object();
}

}  // namespace

ApiAnswer Deployments::envGet(const ProjectId& id, bool keysOnly) {
  auto env = readEnv(projectDir(id) / "env.json");
  if (!env) return ApiAnswer::error(500, env.error().message);
  if (!keysOnly) return {200, json::serialize(*env)};
  json::array keys;
  for (const auto& [k, v] : *env) keys.push_back(json::string(k));
  return {200, json::serialize(keys)};
}

ApiAnswer Deployments::envPush(const ProjectId& id, const std::string& body) {
  std::lock_guard serial(deployMutex_);
  auto v = parseJson(body);
  if (!v || !v->is_object()) return ApiAnswer::error(400, "the body is not a JSON object of vars");
  auto env = readEnv(projectDir(id) / "env.json");
  if (!env) return ApiAnswer::error(500, env.error().message);
  for (const auto& [k, val] : v->as_object()) {
    (*env)[k] = val.is_string() ? val : json::value(json::serialize(val));
  }
  if (auto r = writeFile(projectDir(id) / "env.json", json::serialize(*env), 0600); !r) {
    return ApiAnswer::error(500, r.error().message);
  }
  return {200, "{\"result\":{}}"};
}

ApiAnswer Deployments::envSet(const ProjectId& id, const std::string& key,
                              const std::string& value) {
  if (key.empty() || key.size() > 256) return ApiAnswer::error(400, "an env key is 1 to 256 bytes");
  std::lock_guard serial(deployMutex_);
  auto env = readEnv(projectDir(id) / "env.json");
  if (!env) return ApiAnswer::error(500, env.error().message);
  (*env)[key] = value;
  if (auto r = writeFile(projectDir(id) / "env.json", json::serialize(*env), 0600); !r) {
    return ApiAnswer::error(500, r.error().message);
  }
  return {200, "{\"result\":{}}"};
}

ApiAnswer Deployments::envRemove(const ProjectId& id, const std::optional<std::string>& key) {
  std::lock_guard serial(deployMutex_);
  auto env = readEnv(projectDir(id) / "env.json");
  if (!env) return ApiAnswer::error(500, env.error().message);
  if (key) {
    if (!env->erase(*key)) return ApiAnswer::error(404, "no env var " + *key);
  } else {
    env->clear();
  }
  if (auto r = writeFile(projectDir(id) / "env.json", json::serialize(*env), 0600); !r) {
    return ApiAnswer::error(500, r.error().message);
  }
  return {200, "{\"result\":{}}"};
}

ApiAnswer Deployments::envReplace(const ProjectId& id, const std::string& body) {
  std::lock_guard serial(deployMutex_);
  auto v = parseJson(body);
  if (!v || !v->is_object()) return ApiAnswer::error(400, "the env is not a JSON object");
  if (auto r = writeFile(projectDir(id) / "env.json", json::serialize(*v), 0600); !r) {
    return ApiAnswer::error(500, r.error().message);
  }
  return {200, "{\"result\":{}}"};
}

// ---- tail -----------------------------------------------------------------------------------

ApiAnswer Deployments::tailCreate(const ProjectId& id, const std::string& adminBase,
                                  const std::string& filterJson) {
  auto e = find(id);
  if (!e || e->local) {
    return ApiAnswer::error(404, "no project " + id.key() + " is deployed on this partyd");
  }
  auto ticket = e->hub->create(filterJson);
  if (!ticket) return ApiAnswer::error(400, ticket.error().message);
  TailHub::Ticket t = std::move(*ticket);
  std::string url = adminBase + "/tail/" + id.team + "/" + id.name +
                    (id.preview.empty() ? "" : "~" + id.preview) + "/" + t.id +
                    "?secret=" + t.secret;
  // An ISO date, as the CLI prints it.
  std::time_t secs = static_cast<std::time_t>(t.expiresAtMs / 1000);
  char iso[32];
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {200, "{\"result\":{\"id\":" + log::jsonQuoted(t.id) + ",\"url\":" + log::jsonQuoted(url) +
                   ",\"expires_at\":" + log::jsonQuoted(iso) + "}}"};
}

ApiAnswer Deployments::tailDelete(const ProjectId& id, const std::string& tailId) {
  auto e = find(id);
  if (!e || !e->hub->remove(tailId)) return ApiAnswer::error(404, "no such tail " + tailId);
  return {200, "{\"result\":{}}"};
}

void Deployments::tailAttach(const std::string& key, const std::string& tailId,
                             const std::string& secret, std::shared_ptr<http::Session> session,
                             http::Request&& request) {
  auto id = parseProjectKey(key);
  std::shared_ptr<Entry> e = id ? find(*id) : nullptr;
  if (!e) {
    http::Response r;
    r.status = 404;
    r.headers.emplace_back("content-type", "application/json");
    r.body = "{\"error\":\"no such project\"}";
    session->respond(std::move(r), false);
    return;
  }
  e->hub->attach(tailId, secret, std::move(session), std::move(request));
}

// ---- routes ---------------------------------------------------------------------------------

void addDeployRoutes(AdminServer& admin, Deployments& d) {
  using bhttp::verb;
  // Every answer goes through here; the project comes from :team, :name and ?preview.
  auto idOf = [](AdminRequest& req) -> std::optional<ProjectId> {
    ProjectId id{req.params["team"], req.params["name"], req.query("preview").value_or("")};
    if (!validName(id.team) || !validName(id.name) ||
        (!id.preview.empty() && !validName(id.preview))) {
      req.fail(400, "team, project and preview names are 1 to 64 of a-z, 0-9, - and _");
      return std::nullopt;
    }
    return id;
  };
  auto send = [](AdminRequest& req, ApiAnswer a) { req.respondJson(a.status, std::move(a.json)); };
  auto body = [](AdminRequest& req) { return std::string(req.request.body()); };

  admin.route(verb::get, "/flags", [](AdminRequest& req) {
    req.respondJson(200,
                    "{\"defaultLoginMethod\":\"github\",\"supportedLoginMethods\":[\"clerk\","
                    "\"github\"]}");
  });
  admin.route(verb::get, "/parties/:team", [&d, send](AdminRequest& req) {
    if (!validName(req.params["team"])) return req.fail(400, "not a team name");
    send(req, d.list(req.params["team"]));
  });
  admin.route(verb::get, "/parties/:team/:name", [&d, idOf, send](AdminRequest& req) {
    if (auto id = idOf(req)) send(req, d.info(*id));
  });
  admin.route(verb::post, "/parties/:team/:name", [&d, idOf, send](AdminRequest& req) {
    auto id = idOf(req);
    if (!id) return;
    auto ct = req.request[bhttp::field::content_type];
    auto boundary = multipartBoundary(std::string_view(ct.data(), ct.size()));
    if (!boundary) {
      return req.fail(400, "a deploy is a multipart/form-data POST (with a boundary)");
    }
    auto form = parseMultipart(req.request.body(), *boundary);
    if (!form) return req.fail(400, form.error().message);
    send(req, replicated(
                  d.replicator(), "deploy", *id, "", [&] { return d.deploy(*id, *form); },
                  [&] { return encodeForm(*form); }));
  });
  admin.route(verb::delete_, "/parties/:team/:name", [&d, idOf, send](AdminRequest& req) {
    auto id = idOf(req);
    if (id)
      send(req, replicated(d.replicator(), "delete", *id, "", [&] { return d.remove(*id); }, {}));
  });
  admin.route(verb::post, "/parties/:team/:name/rollback", [&d, idOf, send](AdminRequest& req) {
    if (auto id = idOf(req)) send(req, d.rollback(*id));
  });
  admin.route(verb::get, "/parties/:team/:name/assets", [&d, idOf, send](AdminRequest& req) {
    if (auto id = idOf(req)) send(req, d.assetsManifest(*id));
  });
  admin.route(verb::put, "/parties/:team/:name/assets", [&d, idOf, send](AdminRequest& req) {
    auto id = idOf(req);
    if (!id) return;
    auto field = req.request["x-partykit-asset-name"];
    std::string name(field.data(), field.size());
    const std::string& bytes = req.request.body();
    send(req, replicated(
                  d.replicator(), "asset", *id, name, [&] { return d.putAsset(*id, name, bytes); },
                  [&] { return bytes; }));
  });
  admin.route(verb::post, "/parties/:team/:name/assets", [&d, idOf, send, body](AdminRequest& req) {
    auto id = idOf(req);
    if (!id) return;
    std::string manifest = body(req);
    send(req, replicated(
                  d.replicator(), "manifest", *id, "",
                  [&] { return d.saveAssetsManifest(*id, manifest); }, [&] { return manifest; }));
  });
  admin.route(verb::post, "/parties/:team/:name/prepare_assets", [idOf](AdminRequest& req) {
    if (auto id = idOf(req)) req.respondJson(200, "{\"result\":{}}");
  });
  admin.route(verb::get, "/parties/:team/:name/env", [&d, idOf, send](AdminRequest& req) {
    if (auto id = idOf(req)) send(req, d.envGet(*id, req.query("keys").has_value()));
  });
  // An env change goes into the cluster's log as the project's whole env after it ("env").
  auto envChange = [&d](const ProjectId& id, const std::function<ApiAnswer()>& change) {
    ProjectId project{id.team, id.name, ""};
    return replicated(d.replicator(), "env", project, "", change,
                      [&d, project] { return d.envGet(project, false).json; });
  };
  admin.route(verb::post, "/parties/:team/:name/env",
              [&d, idOf, send, body, envChange](AdminRequest& req) {
                auto id = idOf(req);
                if (id) send(req, envChange(*id, [&] { return d.envPush(*id, body(req)); }));
              });
  admin.route(verb::delete_, "/parties/:team/:name/env",
              [&d, idOf, send, envChange](AdminRequest& req) {
                auto id = idOf(req);
                if (id) send(req, envChange(*id, [&] { return d.envRemove(*id, std::nullopt); }));
              });
  admin.route(verb::post, "/parties/:team/:name/env/:key",
              [&d, idOf, send, body, envChange](AdminRequest& req) {
                auto id = idOf(req);
                if (id) {
                  send(req,
                       envChange(*id, [&] { return d.envSet(*id, req.params["key"], body(req)); }));
                }
              });
  admin.route(verb::delete_, "/parties/:team/:name/env/:key",
              [&d, idOf, send, envChange](AdminRequest& req) {
                auto id = idOf(req);
                if (id) {
                  send(req, envChange(*id, [&] { return d.envRemove(*id, req.params["key"]); }));
                }
              });
  admin.route(verb::post, "/parties/:team/:name/tail", [&d, idOf, send, body](AdminRequest& req) {
    auto id = idOf(req);
    if (!id) return;
    auto host = req.request[bhttp::field::host];
    send(req, d.tailCreate(*id, "ws://" + std::string(host.data(), host.size()), body(req)));
  });
  admin.route(verb::delete_, "/parties/:team/:name/tail/:id", [&d, idOf, send](AdminRequest& req) {
    if (auto id = idOf(req)) send(req, d.tailDelete(*id, req.params["id"]));
  });
  // The tail socket: the CLI sends no token on it, so its URL carries a secret of its own.
  admin.route(
      verb::get, "/tail/:team/:name/:id",
      [&d](AdminRequest& req) {
        d.tailAttach(req.params["team"] + "/" + req.params["name"], req.params["id"],
                     req.query("secret").value_or(""), req.session, std::move(req.request));
      },
      AdminServer::Access::kPublic);
}

}  // namespace partyd::server
