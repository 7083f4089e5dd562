#include "server/replication.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/random.h"
#include "server/deployments.h"

namespace partyd::server {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The cluster-wide lock every admin op holds from its first read of the log to its COMMIT, so
// that the log's order is the order in which nodes applied the ops locally.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(7233010600000001)";

// ---- the op types: adding one is one line here --------------------------------------------

// An op of `type` on the same project, older than the new op, is deleted from the log when the
// new one is appended, except the `keep` newest of them.
struct Supersede {
  std::string_view type;
  int keep = 0;
};

struct OpType {
  std::string_view name;
  ApiAnswer (*apply)(Deployments&, const AdminOp&);
  std::vector<Supersede> supersedes;
};

ApiAnswer applyDeploy(Deployments& d, const AdminOp& op) {
  auto form = decodeForm(op.payload);
  if (!form) return ApiAnswer::error(400, form.error().message);
  return d.deploy(op.id, *form);
}

const std::vector<OpType>& opTypes() {
  static const std::vector<OpType> kOpTypes = {
      // A deploy keeps the one before it in the log (what a rollback goes back to).
      {"deploy", applyDeploy, {{"deploy", 1}}},
      // Uploaded blobs stay until the project is deleted (an older deploy may name them).
      {"asset",
       [](Deployments& d, const AdminOp& op) { return d.putAsset(op.id, op.key, op.payload); },
       {}},
      {"manifest",
       [](Deployments& d, const AdminOp& op) { return d.saveAssetsManifest(op.id, op.payload); },
       {{"manifest"}}},
      // The payload is the project's whole env after the change, so the newest one is enough.
      {"env",
       [](Deployments& d, const AdminOp& op) { return d.envReplace(op.id, op.payload); },
       {{"env"}}},
      {"delete",
       [](Deployments& d, const AdminOp& op) { return d.remove(op.id); },
       {{"deploy"}, {"asset"}, {"manifest"}, {"delete"}}},
  };
  return kOpTypes;
}

const OpType* findOpType(std::string_view name) {
  for (const auto& t : opTypes()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<void> writeFileAtomic(const fs::path& p, std::string_view bytes) {
  fs::path tmp = p;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return makeError("cannot write " + p.string() + ": " + std::strerror(errno));
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0) {
    return makeError("cannot write " + p.string() + ": " + std::strerror(errno));
  }
  return {};
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void putBytes(std::string& out, std::string_view s) {
  std::uint64_t n = s.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(s);
}

}  // namespace

// ---- the form of a deploy, as bytes ------------------------------------------------------------

std::string encodeForm(const std::vector<FormPart>& parts) {
  std::string out = "pdf1";
  for (const auto& p : parts) {
    putBytes(out, p.name);
    out += p.filename ? '\1' : '\0';
    putBytes(out, p.filename.value_or(""));
    putBytes(out, p.contentType);
    putBytes(out, p.body);
  }
  return out;
}

Result<std::vector<FormPart>> decodeForm(std::string_view in) {
  if (in.substr(0, 4) != "pdf1") return makeError("the deploy op's form is not one partyd wrote");
  std::size_t at = 4;
  auto bytes = [&](std::string& out) {
    if (in.size() - at < 8) return false;
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i)
      n |= std::uint64_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
    at += 8;
    if (in.size() - at < n) return false;
    out.assign(in.substr(at, n));
    at += n;
    return true;
  };
  std::vector<FormPart> parts;
  while (at < in.size()) {
    FormPart p;
    std::string filename;
    bool ok = bytes(p.name) && at < in.size();
    bool hasFilename = ok && in[at++] == '\1';
    ok = ok && bytes(filename) && bytes(p.contentType) && bytes(p.body);
    if (!ok) return makeError("the deploy op's form is cut short");
    if (hasFilename) p.filename = std::move(filename);
    parts.push_back(std::move(p));
  }
  return parts;
}

// ---- one libpq connection, blocking with a deadline --------------------------------------------

class Replicator::Conn {
 public:
  struct Param {
    std::string_view value;
    bool binary = false;
  };
  using Rows = std::unique_ptr<PGresult, decltype(&PQclear)>;

  Conn(std::string url, std::string appName, std::chrono::milliseconds timeout)
      : url_(std::move(url)), appName_(std::move(appName)), timeout_(timeout) {}
  ~Conn() { close(); }

  bool ok() const { return c_ && PQstatus(c_) == CONNECTION_OK; }
  void close() {
    if (c_) PQfinish(c_);
    c_ = nullptr;
  }
  PGconn* raw() { return c_; }

  Result<void> connect() {
    close();
    std::string connectTimeout = std::to_string(std::max<long>(2, timeout_.count() / 6000));
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {url_.c_str(), connectTimeout.c_str(), appName_.c_str(), nullptr};
    c_ = PQconnectdbParams(keys, values, 1);
    if (!c_ || PQstatus(c_) != CONNECTION_OK) return fail("cannot connect");
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
    if (PQsetnonblocking(c_, 1) != 0) return fail("cannot set the connection non-blocking");
    // The table, made by whichever node comes first (under the log's lock: CREATE … IF NOT
    // EXISTS alone can fail when two nodes run it at once).
    const char* schema[] = {
        "BEGIN", kLockSql,
        "CREATE TABLE IF NOT EXISTS partyd_admin_ops(seq bigserial PRIMARY KEY, project text NOT "
        "NULL, op text NOT NULL, k text NOT NULL DEFAULT '', payload bytea NOT NULL, node text "
        "NOT NULL, at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX IF NOT EXISTS partyd_admin_ops_project ON partyd_admin_ops(project, op, k, "
        "seq)",
        "COMMIT"};
    for (const char* sql : schema) {
      if (auto r = exec(sql); !r) {
        close();
        return makeError("cannot create the table partyd_admin_ops: " + r.error().message);
      }
    }
    return {};
  }

  // One statement. Parameters are text unless marked binary; the rows are text unless
  // `binaryRows`. An SQL error leaves the connection open; a lost one or a timeout closes it.
  Result<Rows> exec(const std::string& sql, const std::vector<Param>& params = {},
                    bool binaryRows = false) {
    if (!ok()) return makeError("not connected to PostgreSQL");
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : params) {
      values.push_back(p.value.data());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    // Text parameters are C strings: copies with their NUL.
    std::vector<std::string> texts;
    texts.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!params[i].binary) {
        texts.emplace_back(params[i].value);
        values[i] = texts.back().c_str();
      }
    }
    if (!PQsendQueryParams(c_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                           lengths.data(), formats.data(), binaryRows ? 1 : 0)) {
      return fail("cannot send a statement");
    }
    auto deadline = Clock::now() + timeout_;
    for (;;) {
      int f = PQflush(c_);
      if (f == 0) break;
      if (f < 0) return fail("cannot send a statement");
      short ev = wait(POLLIN | POLLOUT, deadline);
      if (ev == 0) return fail("PostgreSQL did not answer in time");
      if ((ev & POLLIN) && !PQconsumeInput(c_)) return fail("the connection was lost");
    }
    Rows last(nullptr, &PQclear);
    std::string sqlError;
    for (;;) {
      while (PQisBusy(c_)) {
        if (wait(POLLIN, deadline) == 0) return fail("PostgreSQL did not answer in time");
        if (!PQconsumeInput(c_)) return fail("the connection was lost");
      }
      PGresult* r = PQgetResult(c_);
      if (!r) break;
      auto status = PQresultStatus(r);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && sqlError.empty()) {
        sqlError = trimmed(PQresultErrorMessage(r));
        if (sqlError.empty()) sqlError = PQresStatus(status);
      }
      last.reset(r);
    }
    if (PQstatus(c_) != CONNECTION_OK) return fail("the connection was lost");
    if (!sqlError.empty()) return makeError(sqlError);
    if (!last) return makeError("PostgreSQL gave no result");
    return last;
  }

 private:
  // Polls the socket for `events` until `deadline`: the events that came, 0 at the deadline.
  short wait(short events, Clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return 0;
      pollfd p{PQsocket(c_), events, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) return p.revents ? p.revents : events;
      if (n < 0 && errno != EINTR) return POLLERR;
    }
  }
  Error fail(const std::string& what) {
    std::string why = c_ ? trimmed(PQerrorMessage(c_)) : "out of memory";
    close();
    return makeError(what + (why.empty() ? "" : ": " + why));
  }

  std::string url_, appName_;
  std::chrono::milliseconds timeout_;
  PGconn* c_ = nullptr;
};

// ---- the replicator ---------------------------------------------------------------------------

Replicator::Replicator(Deployments& deployments, ReplicationOptions options)
    : deployments_(deployments), options_(std::move(options)), node_(options_.node) {
  std::error_code ec;
  fs::create_directories(options_.data, ec);
  if (node_.empty()) {
    fs::path idFile = options_.data / "cluster-node-id";
    if (auto text = readFile(idFile); text && !trimmed(*text).empty()) {
      node_ = trimmed(*text);
    } else {
      node_ = randomUuid();
      if (auto r = writeFileAtomic(idFile, node_ + "\n"); !r)
        log::error("cluster: " + r.error().message);
    }
  }
  if (auto text = readFile(options_.data / "cluster-applied-seq")) {
    try {
      applied_ = std::stoll(*text);
    } catch (const std::exception&) {
      log::warn("cluster: cluster-applied-seq is not a number: applying the whole log again");
    }
  }
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

Replicator::~Replicator() {
  stop();
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

void Replicator::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "replicator");
    loop();
  });
}

void Replicator::stop() {
  stopping_ = true;
  if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(applyMutex_);
  adminConn_.reset();
}

bool Replicator::sleepFor(std::chrono::milliseconds d) {
  pollfd p{wake_[0], POLLIN, 0};
  ::poll(&p, 1, static_cast<int>(d.count()));
  return !stopping_;
}

void Replicator::setApplied(std::int64_t seq) {
  applied_ = seq;
  if (auto r = writeFileAtomic(options_.data / "cluster-applied-seq", std::to_string(seq) + "\n");
      !r) {
    log::error("cluster: " + r.error().message);
  }
}

void Replicator::applyLocked(const AdminOp& op) {
  std::string what = "op " + std::to_string(op.seq) + " (" + op.type + " " + op.id.key() +
                     ") from node " + op.node;
  const OpType* type = findOpType(op.type);
  if (!type) {
    log::error("cluster: " + what + " is of a kind this partyd does not know; skipped");
    return;
  }
  ApiAnswer a;
  try {
    a = type->apply(deployments_, op);
  } catch (const std::exception& e) {
    a = ApiAnswer::error(500, e.what());
  }
  if (a.status / 100 == 2) {
    log::info("cluster: applied " + what);
  } else if (op.type == "delete" && a.status == 404) {
    log::info("cluster: " + what + ": nothing to delete here");
  } else {
    log::error("cluster: " + what +
               " failed on this node and was skipped: " + std::to_string(a.status) + " " + a.json);
  }
}

Result<void> Replicator::catchUp(Conn& conn, bool haveApplyLock) {
  std::unique_lock lock(applyMutex_, std::defer_lock);
  for (;;) {
    std::string from = std::to_string(applied_.load());
    auto rows = conn.exec(
        "SELECT seq, project, op, k, node FROM partyd_admin_ops WHERE seq > $1 ORDER BY seq "
        "LIMIT 64",
        {{from}});
    if (!rows) return rows.error();
    PGresult* r = rows->get();
    int n = PQntuples(r);
    if (n == 0) {
      // The log never loses its newest op; one behind this node was made anew (a new database).
      auto max = conn.exec("SELECT coalesce(max(seq), 0) FROM partyd_admin_ops");
      if (!max) return max.error();
      std::int64_t top = std::stoll(PQgetvalue(max->get(), 0, 0));
      if (top >= applied_.load()) return {};
      log::warn("cluster: the admin log ends at op " + std::to_string(top) + ", before op " +
                std::to_string(applied_.load()) +
                " that this node applied (a new database?): applying it from the start");
      if (!haveApplyLock) lock.lock();
      setApplied(0);
      if (!haveApplyLock) lock.unlock();
      continue;
    }
    for (int i = 0; i < n; ++i) {
      AdminOp op;
      op.seq = std::stoll(PQgetvalue(r, i, 0));
      auto id = parseProjectKey(PQgetvalue(r, i, 1));
      op.type = PQgetvalue(r, i, 2);
      op.key = PQgetvalue(r, i, 3);
      op.node = PQgetvalue(r, i, 4);
      bool apply = op.node != node_ && id;
      if (!id) {
        log::error("cluster: op " + std::to_string(op.seq) + " names no project (\"" +
                   PQgetvalue(r, i, 1) + "\"); skipped");
      }
      if (apply) {
        op.id = *id;
        auto payload = conn.exec("SELECT payload FROM partyd_admin_ops WHERE seq = $1",
                                 {{std::to_string(op.seq)}}, true);
        if (!payload) return payload.error();
        // None: a newer op superseded it meanwhile (it comes later in this loop).
        apply = PQntuples(payload->get()) == 1;
        if (apply) {
          op.payload.assign(PQgetvalue(payload->get(), 0, 0), PQgetlength(payload->get(), 0, 0));
        }
      }
      if (!haveApplyLock) lock.lock();
      if (op.seq > applied_.load()) {
        if (apply) applyLocked(op);
        setApplied(op.seq);
      }
      if (!haveApplyLock) lock.unlock();
      if (stopping_) return {};
    }
  }
}

void Replicator::loop() {
  Conn conn(options_.url, "partyd-replicator " + node_, options_.timeout);
  auto backoff = std::chrono::milliseconds(500);
  bool down = false;
  while (!stopping_) {
    if (!conn.ok()) {
      auto r = conn.connect();
      if (r) {
        auto listen = conn.exec("LISTEN partyd_admin_ops");
        if (!listen) r = listen.error();
      }
      if (!r) {
        log::error("cluster: the admin log (PostgreSQL) cannot be reached: " + r.error().message +
                   "; retrying in " + std::to_string(backoff.count()) + " ms");
        down = true;
        conn.close();
        if (!sleepFor(backoff)) break;
        backoff = std::min(backoff * 2, options_.maxBackoff);
        continue;
      }
      if (down) log::info("cluster: the admin log (PostgreSQL) is reachable again");
      down = false;
      backoff = std::chrono::milliseconds(500);
    }
    if (auto r = catchUp(conn, false); !r) {
      log::error("cluster: reading the admin log failed: " + r.error().message);
      conn.close();
      continue;
    }
    // Notifications that came while catching up are already read: look again at once.
    bool notified = false;
    while (PGnotify* n = PQnotifies(conn.raw())) {
      PQfreemem(n);
      notified = true;
    }
    if (notified) continue;
    pollfd fds[2] = {{PQsocket(conn.raw()), POLLIN, 0}, {wake_[0], POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(options_.poll.count()));
    if (stopping_) break;
    if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn.raw())) {
      log::error("cluster: the connection to the admin log was lost");
      conn.close();
    }
  }
}

ApiAnswer Replicator::run(std::string_view typeName, const ProjectId& id, std::string key,
                          const std::function<ApiAnswer()>& local,
                          const std::function<std::string()>& payload) {
  const OpType* type = findOpType(typeName);
  if (!type) return ApiAnswer::error(500, "no replicated op type " + std::string(typeName));
  std::lock_guard lock(applyMutex_);
  if (!adminConn_) {
    adminConn_ = std::make_unique<Conn>(options_.url, "partyd-admin " + node_, options_.timeout);
  }
  Conn& c = *adminConn_;
  auto refuse = [&](const Error& e) {
    return ApiAnswer::error(503,
                            "this partyd is a cluster node and the cluster's admin log "
                            "(PostgreSQL) cannot be written, so nothing changed: " +
                                e.message);
  };
  auto rollback = [&] {
    if (c.ok()) (void)c.exec("ROLLBACK");
  };
  if (!c.ok()) {
    if (auto r = c.connect(); !r) return refuse(r.error());
  }
  if (auto r = c.exec("BEGIN"); !r) return refuse(r.error());
  std::string lockTimeout =
      "SET LOCAL lock_timeout = '" + std::to_string(options_.timeout.count() * 4 / 5) + "ms'";
  for (const std::string& sql : {lockTimeout, std::string(kLockSql)}) {
    if (auto r = c.exec(sql); !r) {
      rollback();
      return refuse(r.error());
    }
  }
  // What other nodes did before this op comes first, here as in the log.
  if (auto r = catchUp(c, true); !r) {
    rollback();
    return refuse(r.error());
  }
  ApiAnswer answer = local();
  if (answer.status / 100 != 2) {
    rollback();
    return answer;
  }
  std::string bytes = payload ? payload() : std::string();
  std::string project = id.key();
  std::string typeText(typeName);
  auto append = [&]() -> Result<std::int64_t> {
    if (typeName == "asset") {
      // The same blob again (a retried upload) is not logged twice.
      auto same = c.exec(
          "SELECT md5(payload) = md5($3::bytea) FROM partyd_admin_ops WHERE project = $1 AND "
          "op = 'asset' AND k = $2 ORDER BY seq DESC LIMIT 1",
          {{project}, {key}, {bytes, true}});
      if (!same) return same.error();
      if (PQntuples(same->get()) == 1 && PQgetvalue(same->get(), 0, 0)[0] == 't') {
        if (auto r = c.exec("COMMIT"); !r) return r.error();
        return std::int64_t{0};
      }
    }
    auto row = c.exec(
        "INSERT INTO partyd_admin_ops(project, op, k, payload, node) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING seq",
        {{project}, {typeText}, {key}, {bytes, true}, {node_}});
    if (!row) return row.error();
    std::string seq = PQgetvalue(row->get(), 0, 0);
    std::vector<std::pair<std::string, Supersede>> gone;
    for (const auto& s : type->supersedes) gone.emplace_back(project, s);
    // The delete of a project's last deploy took its env with it (Deployments::remove).
    if (typeName == "delete" && !fs::exists(deployments_.projectDir(id))) {
      gone.emplace_back(ProjectId{id.team, id.name, ""}.key(), Supersede{"env"});
    }
    for (const auto& [p, s] : gone) {
      auto r = c.exec(
          "DELETE FROM partyd_admin_ops WHERE project = $1 AND op = $2 AND seq < $3 AND seq NOT "
          "IN (SELECT seq FROM partyd_admin_ops WHERE project = $1 AND op = $2 AND seq < $3 "
          "ORDER BY seq DESC LIMIT $4)",
          {{p}, {std::string(s.type)}, {seq}, {std::to_string(s.keep)}});
      if (!r) return r.error();
    }
    for (const char* sql : {"NOTIFY partyd_admin_ops", "COMMIT"}) {
      if (auto r = c.exec(sql); !r) return r.error();
    }
    return std::stoll(seq);
  };
  auto seq = append();
  if (!seq) {
    rollback();
    log::error(
        "cluster: " + typeText + " " + project +
        " was applied on this node but not recorded in the admin log: " + seq.error().message);
    return ApiAnswer::error(503,
                            "the change was made on this node but could not be recorded in the "
                            "cluster's admin log, so the other nodes do not have it (" +
                                seq.error().message +
                                "); repeat the operation once PostgreSQL is back");
  }
  if (*seq > 0) setApplied(*seq);
  return answer;
}

ApiAnswer replicated(Replicator* replicator, std::string_view type, const ProjectId& id,
                     std::string key, const std::function<ApiAnswer()>& local,
                     const std::function<std::string()>& payload) {
  if (!replicator) return local();
  return replicator->run(type, id, std::move(key), local, payload);
}

}  // namespace partyd::server
