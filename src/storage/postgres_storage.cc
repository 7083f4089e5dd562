#include "storage/postgres_storage.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <utility>

#include "storage/postgres_sql.h"

namespace partyd::storage {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

using namespace pgsql;

namespace {

constexpr const char* kPrefix = "postgres storage: ";

// Every parameter is sent in binary format: text as its bytes (the server checks the encoding, so
// a NUL or invalid UTF-8 is an error, never a silent truncation), bigint as 8 bytes big-endian.
struct Query {
  const char* sql;
  std::vector<std::string> params;
};

std::string be64(std::int64_t v) {
  std::string out(8, '\0');
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(u & 0xFF);
    u >>= 8;
  }
  return out;
}

std::int64_t fromBe64(const std::string& s) {
  std::uint64_t u = 0;
  for (std::size_t i = 0; i < 8 && i < s.size(); ++i) {
    u = (u << 8) | static_cast<unsigned char>(s[i]);
  }
  return static_cast<std::int64_t>(u);
}

// One room's part of a commit.
struct BatchRoom {
  RoomKey key;
  std::int64_t epoch;
  std::uint64_t generation;
  Changes changes;
};

struct QueryResult {
  bool ok = false;
  bool aborted = false;  // skipped after an earlier error in the pipeline
  std::string sqlstate;
  std::string message;
  std::vector<std::vector<std::string>> rows;  // binary values; NULL as ""
};

using Results = std::vector<QueryResult>;

struct Job {
  std::vector<Query> queries;
  // An error: the connection broke or timed out, so the outcome is unknown.
  std::function<void(Result<Results>)> done;
};

std::string roomName(const RoomKey& room) {
  return room.party + "/" + room.room;
}

std::string trimMessage(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

struct PostgresStorage::Impl {
  Impl(asio::io_context& io, PostgresOptions options)
      : io(io), opt(std::move(options)), timer(io) {
    if (!opt.fencedCounter) opt.fencedCounter = std::make_shared<std::atomic<std::uint64_t>>(0);
  }

  asio::io_context& io;
  PostgresOptions opt;

  // ---- the connection ----
  PGconn* conn = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> sock;
  int sockFd = -1;
  std::uint64_t connGen = 0;  // callbacks of an older connection are ignored
  bool connecting = false;
  PostgresPollingStatusType connectState = PGRES_POLLING_WRITING;
  bool readWaiting = false;
  bool writeWaiting = false;
  bool needFlush = false;
  std::string lastConnectError;

  // ---- jobs: one in flight at a time ----
  std::deque<Job> jobs;
  bool active = false;
  Results results;
  std::size_t resultIndex = 0;
  bool gotResult = false;
  Clock::time_point deadline;
  asio::steady_timer timer;
  std::uint64_t jobSerial = 0;

  // ---- rooms and commits ----
  std::map<RoomKey, RoomData, RoomKeyLess> rooms;
  std::uint64_t nextGeneration = 1;
  std::vector<RoomKey> fenced, lost;
  std::size_t dirtyCount = 0;  // rooms with pending writes
  bool committing = false;
  std::shared_ptr<std::vector<BatchRoom>> inFlight;  // the commit being sent
  std::deque<std::function<void(Result<void>)>> queuedCommits;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  ~Impl() {
    *alive = false;
    closeConnection();
  }

  void touched(RoomData& r) {
    if (!r.dirty) {
      r.dirty = true;
      ++dirtyCount;
    }
  }
  void cleaned(RoomData& r) {
    if (r.dirty) {
      r.dirty = false;
      --dirtyCount;
    }
    r.pending = Changes{};
  }
  void erase(const RoomKey& room) {
    auto it = rooms.find(room);
    if (it == rooms.end()) return;
    if (it->second.dirty) --dirtyCount;
    rooms.erase(it);
  }

  RoomData* find(const RoomKey& room) {
    auto it = rooms.find(room);
    return it == rooms.end() ? nullptr : &it->second;
  }

  Error notAcquired(const RoomKey& room) const {
    return makeError(std::string(kPrefix) + "room " + roomName(room) +
                     " is not acquired by this node (its owner changed, or it was released)");
  }

  std::vector<std::string> roomParams(const RoomKey& room) const {
    return {opt.project, room.party, room.room};
  }

  // ---- connecting ----

  std::vector<std::pair<std::string, std::string>> connectParams() const {
    std::string options = "-c lock_timeout=" + std::to_string(opt.lockTimeout.count()) +
                          " -c statement_timeout=" + std::to_string(opt.statementTimeout.count()) +
                          " -c idle_in_transaction_session_timeout=" +
                          std::to_string(opt.idleInTransactionTimeout.count()) +
                          " -c client_min_messages=warning";
    return {{"dbname", opt.conninfo},
            {"application_name", opt.nodeId},
            {"options", options},
            {"connect_timeout", "10"}};
  }

  PGconn* startConnecting(bool blocking) {
    auto params = connectParams();
    std::vector<const char*> keys, values;
    for (auto& [k, v] : params) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    return blocking ? PQconnectdbParams(keys.data(), values.data(), 1)
                    : PQconnectStartParams(keys.data(), values.data(), 1);
  }

  void watchSocket() {
    int fd = PQsocket(conn);
    if (fd == sockFd && sock) return;
    releaseSocket();
    if (fd < 0) return;
    sock = std::make_unique<asio::posix::stream_descriptor>(io, fd);
    sockFd = fd;
  }

  void releaseSocket() {
    if (sock) {
      boost::system::error_code ec;
      sock->cancel(ec);
      (void)sock->release();
      sock.reset();
    }
    sockFd = -1;
    readWaiting = writeWaiting = false;
  }

  void closeConnection() {
    releaseSocket();
    if (conn) PQfinish(conn);
    conn = nullptr;
    connecting = false;
    needFlush = false;
    ++connGen;
  }

  // Non-blocking mode and pipeline mode, once connected.
  Result<void> ready() {
    if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1) {
      return makeError(std::string(kPrefix) +
                       "cannot enter pipeline mode: " + trimMessage(PQerrorMessage(conn)));
    }
    watchSocket();
    return {};
  }

  void startConnect() {
    closeConnection();
    conn = startConnecting(false);
    if (!conn || PQstatus(conn) == CONNECTION_BAD) {
      connectFailed(conn ? trimMessage(PQerrorMessage(conn)) : "out of memory");
      return;
    }
    connecting = true;
    connectState = PGRES_POLLING_WRITING;
    deadline = Clock::now() + opt.requestTimeout;
    armTimer();
    watchSocket();
    continueConnect();
  }

  void continueConnect() {
    if (connectState == PGRES_POLLING_READING) {
      waitRead();
    } else {
      waitWrite();
    }
  }

  void connectStep() {
    if (!connecting) return;
    connectState = PQconnectPoll(conn);
    if (connectState == PGRES_POLLING_FAILED) {
      connectFailed(trimMessage(PQerrorMessage(conn)));
      return;
    }
    watchSocket();  // libpq may have moved to another address
    if (connectState == PGRES_POLLING_OK) {
      connecting = false;
      if (auto r = ready(); !r) {
        connectFailed(r.error().message);
        return;
      }
      pump();
      return;
    }
    continueConnect();
  }

  // Every queued job fails with the reason; the next one tries again.
  void connectFailed(const std::string& why) {
    lastConnectError = why;
    closeConnection();
    auto failed = std::move(jobs);
    jobs.clear();
    active = false;
    for (auto& job : failed) {
      job.done(makeError(std::string(kPrefix) + "cannot connect to PostgreSQL: " + why));
    }
  }

  // ---- the socket ----

  void waitRead() {
    if (readWaiting || !sock) return;
    readWaiting = true;
    sock->async_wait(asio::posix::descriptor_base::wait_read,
                     [this, a = alive, gen = connGen](boost::system::error_code ec) {
                       if (!*a || gen != connGen) return;
                       readWaiting = false;
                       if (ec) return;
                       onReadable();
                     });
  }

  void waitWrite() {
    if (writeWaiting || !sock) return;
    writeWaiting = true;
    sock->async_wait(asio::posix::descriptor_base::wait_write,
                     [this, a = alive, gen = connGen](boost::system::error_code ec) {
                       if (!*a || gen != connGen) return;
                       writeWaiting = false;
                       if (ec) return;
                       onWritable();
                     });
  }

  void onWritable() {
    if (connecting) {
      connectStep();
      return;
    }
    flushOut();
  }

  void onReadable() {
    if (connecting) {
      connectStep();
      return;
    }
    if (!conn) return;
    if (PQconsumeInput(conn) != 1) {
      broken("the connection to PostgreSQL failed: " + trimMessage(PQerrorMessage(conn)));
      return;
    }
    if (needFlush) flushOut();
    processResults();
    if (active && conn) waitRead();
  }

  void flushOut() {
    if (!conn) return;
    int r = PQflush(conn);
    if (r < 0) {
      broken("sending to PostgreSQL failed: " + trimMessage(PQerrorMessage(conn)));
      return;
    }
    needFlush = r == 1;
    if (needFlush) waitWrite();
  }

  // ---- jobs ----

  void submit(Job job) {
    jobs.push_back(std::move(job));
    pump();
  }

  void pump() {
    if (active || connecting || jobs.empty()) return;
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
      startConnect();
      return;
    }
    const Job& job = jobs.front();
    for (const Query& q : job.queries) {
      std::vector<const char*> values;
      std::vector<int> lengths, formats;
      for (const auto& p : q.params) {
        values.push_back(p.data());
        lengths.push_back(static_cast<int>(p.size()));
        formats.push_back(1);
      }
      if (PQsendQueryParams(conn, q.sql, static_cast<int>(values.size()), nullptr, values.data(),
                            lengths.data(), formats.data(), 1) != 1) {
        broken("sending to PostgreSQL failed: " + trimMessage(PQerrorMessage(conn)));
        return;
      }
    }
    if (PQpipelineSync(conn) != 1) {
      broken("sending to PostgreSQL failed: " + trimMessage(PQerrorMessage(conn)));
      return;
    }
    active = true;
    ++jobSerial;
    results.assign(job.queries.size(), QueryResult{});
    resultIndex = 0;
    gotResult = false;
    deadline = Clock::now() + opt.requestTimeout;
    armTimer();
    flushOut();
    if (conn) waitRead();
  }

  void armTimer() {
    timer.expires_at(deadline);
    timer.async_wait(
        [this, a = alive, serial = jobSerial, gen = connGen](boost::system::error_code ec) {
          if (ec || !*a) return;
          if (gen == connGen && serial == jobSerial) checkDeadline();
        });
  }

  void checkDeadline() {
    if ((active || connecting) && Clock::now() >= deadline) {
      if (connecting) {
        connectFailed("no answer within " + std::to_string(opt.requestTimeout.count()) + " ms");
      } else {
        broken("no answer from PostgreSQL within " + std::to_string(opt.requestTimeout.count()) +
               " ms");
      }
    }
  }

  // The connection is unusable: the job in flight fails as "unknown outcome", queued jobs wait for
  // the reconnect that the next pump starts.
  void broken(const std::string& why) {
    closeConnection();
    if (active) {
      active = false;
      Job job = std::move(jobs.front());
      jobs.pop_front();
      job.done(makeError(std::string(kPrefix) + why));
    }
    // A job queued behind it gets a new connection.
    if (!jobs.empty()) {
      asio::post(io, [this, a = alive] {
        if (*a) pump();
      });
    }
  }

  void processResults() {
    while (active && conn) {
      if (PQisBusy(conn)) return;
      PGresult* r = PQgetResult(conn);
      if (!r) {
        if (!gotResult) return;  // nothing more yet
        gotResult = false;
        ++resultIndex;
        continue;
      }
      ExecStatusType status = PQresultStatus(r);
      if (status == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        finishJob();
        return;
      }
      if (resultIndex < results.size() && !gotResult) {
        QueryResult& out = results[resultIndex];
        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
          out.ok = true;
          int rows = PQntuples(r), cols = PQnfields(r);
          out.rows.reserve(static_cast<std::size_t>(rows));
          for (int i = 0; i < rows; ++i) {
            std::vector<std::string> row;
            row.reserve(static_cast<std::size_t>(cols));
            for (int c = 0; c < cols; ++c) {
              row.emplace_back(PQgetvalue(r, i, c), static_cast<std::size_t>(PQgetlength(r, i, c)));
            }
            out.rows.push_back(std::move(row));
          }
        } else if (status == PGRES_PIPELINE_ABORTED) {
          out.aborted = true;
          out.message = "skipped after an earlier error";
        } else {
          const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
          out.sqlstate = state ? state : "";
          out.message = trimMessage(PQresultErrorMessage(r));
        }
      }
      gotResult = true;
      PQclear(r);
      if (PQstatus(conn) == CONNECTION_BAD) {
        broken("the connection to PostgreSQL failed: " + trimMessage(PQerrorMessage(conn)));
        return;
      }
    }
  }

  void finishJob() {
    active = false;
    ++jobSerial;  // the timer of this job is void
    timer.cancel();
    Job job = std::move(jobs.front());
    jobs.pop_front();
    Results r = std::move(results);
    results.clear();
    job.done(std::move(r));
    pump();
  }

  // ---- the synchronous wait (commit()) ----

  // Polls the socket and drives the same steps as the Asio handlers until `finished` is set.
  void waitUntil(const bool& finished) {
    while (!finished) {
      if (!conn) {
        if (!jobs.empty() && !active && !connecting) {
          pump();
          continue;
        }
        return;  // nothing can make progress
      }
      pollfd p{PQsocket(conn), 0, 0};
      bool wantWrite = connecting ? connectState == PGRES_POLLING_WRITING : needFlush;
      p.events = static_cast<short>(connecting && wantWrite ? POLLOUT
                                                            : (POLLIN | (wantWrite ? POLLOUT : 0)));
      int n = ::poll(&p, 1, 50);
      if (n > 0) {
        if (connecting) {
          connectStep();
        } else {
          if (p.revents & POLLOUT) flushOut();
          if (p.revents & (POLLIN | POLLERR | POLLHUP)) onReadable();
        }
      }
      checkDeadline();
    }
  }

  // ---- commits ----

  void commitAsync(std::function<void(Result<void>)> done) {
    if (committing) {
      queuedCommits.push_back(std::move(done));
      return;
    }
    std::vector<BatchRoom> batch;
    for (auto& [key, room] : rooms) {
      if (!room.dirty) continue;
      batch.push_back(BatchRoom{key, room.epoch, room.generation, std::move(room.pending)});
      cleaned(room);
    }
    fenced.clear();
    lost.clear();
    if (batch.empty()) {
      done({});
      nextCommit();
      return;
    }
    committing = true;
    sendBatch(std::make_shared<std::vector<BatchRoom>>(std::move(batch)), std::move(done));
  }

  void nextCommit() {
    if (committing || queuedCommits.empty()) return;
    auto done = std::move(queuedCommits.front());
    queuedCommits.pop_front();
    commitAsync(std::move(done));
  }

  void finishCommit(const std::function<void(Result<void>)>& done, Result<void> r) {
    committing = false;
    inFlight.reset();
    done(std::move(r));
    nextCommit();
  }

  void sendBatch(std::shared_ptr<std::vector<BatchRoom>> batch,
                 std::function<void(Result<void>)> done) {
    inFlight = batch;
    Job job;
    auto roomOf = std::make_shared<std::vector<std::size_t>>();
    for (std::size_t i = 0; i < batch->size(); ++i) {
      const BatchRoom& b = (*batch)[i];
      auto base = roomParams(b.key);
      auto with = [&](std::initializer_list<std::string> extra) {
        std::vector<std::string> p = base;
        p.insert(p.end(), extra);
        return p;
      };
      job.queries.push_back({kFence, with({be64(b.epoch)})});
      if (b.changes.cleared) job.queries.push_back({kDeleteAll, base});
      for (const auto& [k, v] : b.changes.kv) {
        if (v) {
          job.queries.push_back({kPut, with({k, *v})});
        } else {
          job.queries.push_back({kDelete, with({k})});
        }
      }
      if (b.changes.alarm) {
        if (*b.changes.alarm) {
          job.queries.push_back({kSetAlarm, with({be64(**b.changes.alarm)})});
        } else {
          job.queries.push_back({kDeleteAlarm, base});
        }
      }
      roomOf->resize(job.queries.size(), i);
    }
    job.done = [this, batch, roomOf, done = std::move(done)](Result<Results> r) mutable {
      onBatchDone(std::move(batch), *roomOf, std::move(done), std::move(r));
    };
    submit(std::move(job));
  }

  bool same(const BatchRoom& b, RoomData*& data) {
    data = find(b.key);
    return data && data->generation == b.generation;
  }

  void onBatchDone(std::shared_ptr<std::vector<BatchRoom>> batch,
                   const std::vector<std::size_t>& roomOf, std::function<void(Result<void>)> done,
                   Result<Results> r) {
    if (!r) {
      // Unknown outcome: it may have committed. The copies cannot be trusted either way, so
      // the rooms are dropped and must be acquired (loaded) again.
      for (const BatchRoom& b : *batch) {
        RoomData* data;
        if (same(b, data)) erase(b.key);
        lost.push_back(b.key);
      }
      finishCommit(done, makeError(r.error().message + "; whether the last writes of " +
                                   std::to_string(batch->size()) +
                                   " room(s) were stored is unknown, they must be acquired again"));
      return;
    }
    const Results& results = *r;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const QueryResult& q = results[i];
      if (q.ok || q.aborted) continue;
      if (q.sqlstate == kFenced) {
        std::size_t index = roomOf[i];
        const BatchRoom& b = (*batch)[index];
        opt.fencedCounter->fetch_add(1, std::memory_order_relaxed);
        fenced.push_back(b.key);
        RoomData* data;
        if (same(b, data)) erase(b.key);
        batch->erase(batch->begin() + static_cast<std::ptrdiff_t>(index));
        if (batch->empty()) {
          finishCommit(done, fencedError());
        } else {
          sendBatch(std::move(batch), std::move(done));  // the others, without it
        }
        return;
      }
      // Refused by the server: nothing of it was stored; back to the committed copies.
      for (const BatchRoom& b : *batch) {
        RoomData* data;
        if (same(b, data)) {
          data->kv = data->committedKv;
          data->alarm = data->committedAlarm;
          cleaned(*data);
        }
        lost.push_back(b.key);
      }
      finishCommit(done, makeError(std::string(kPrefix) + "commit failed: " + q.message +
                                   "; the writes of " + std::to_string(batch->size()) +
                                   " room(s) since their last commit were rolled back"));
      return;
    }
    for (const BatchRoom& b : *batch) {
      RoomData* data;
      if (same(b, data)) apply(b.changes, data->committedKv, data->committedAlarm);
    }
    finishCommit(done, fenced.empty() ? Result<void>() : Result<void>(fencedError()));
  }

  Error fencedError() const {
    std::string names;
    for (const auto& k : fenced) names += (names.empty() ? "" : ", ") + roomName(k);
    return makeError(std::string(kPrefix) + "the owner of room(s) " + names +
                     " changed: their writes since the last commit were refused and the rooms "
                     "dropped (the other rooms' writes committed)");
  }

  // ---- acquire ----

  void acquire(const RoomKey& room, std::int64_t epoch, std::string homeRegion,
               std::function<void(Result<void>)> done, bool retried) {
    auto base = roomParams(room);
    std::vector<std::string> takeover = base;
    takeover.push_back(be64(epoch));
    takeover.push_back(opt.nodeId);
    takeover.push_back(homeRegion);
    Job job;
    job.queries.push_back({kTakeover, takeover});
    job.queries.push_back({kLoadKv, base});
    job.queries.push_back({kLoadAlarm, base});
    job.done = [this, room, epoch, homeRegion, retried,
                done = std::move(done)](Result<Results> r) mutable {
      if (!r) {
        done(r.error());
        return;
      }
      const QueryResult& owner = (*r)[0];
      if (!owner.ok) {
        if (owner.sqlstate == kLockNotAvailable && !retried) {
          terminateHolders(room, [this, room, epoch, homeRegion = std::move(homeRegion),
                                  done = std::move(done)]() mutable {
            acquire(room, epoch, std::move(homeRegion), std::move(done), true);
          });
          return;
        }
        done(makeError(std::string(kPrefix) + "acquiring room " + roomName(room) + ": " +
                       owner.message));
        return;
      }
      if (owner.rows.empty()) {
        done(makeError(std::string(kPrefix) + "room " + roomName(room) +
                       ": a newer owner holds this room (epoch " + std::to_string(epoch) +
                       " is stale)"));
        return;
      }
      if (!(*r)[1].ok || !(*r)[2].ok) {
        done(makeError(std::string(kPrefix) + "loading room " + roomName(room) + ": " +
                       (!(*r)[1].ok ? (*r)[1].message : (*r)[2].message)));
        return;
      }
      RoomData data;
      data.epoch = fromBe64(owner.rows[0][0]);
      data.homeRegion = owner.rows[0][1];
      data.generation = nextGeneration++;
      for (auto& row : (*r)[1].rows) data.kv.emplace(std::move(row[0]), std::move(row[1]));
      if (!(*r)[2].rows.empty()) data.alarm = fromBe64((*r)[2].rows[0][0]);
      data.committedKv = data.kv;
      data.committedAlarm = data.alarm;
      erase(room);
      rooms.emplace(room, std::move(data));
      done({});
    };
    submit(std::move(job));
  }

  void terminateHolders(const RoomKey& room, std::function<void()> then) {
    auto params = roomParams(room);
    params.push_back(opt.nodeId);
    Job job;
    job.queries.push_back({kTerminate, params});
    job.done = [then = std::move(then)](Result<Results>) { then(); };
    submit(std::move(job));
  }
};

// ---- PostgresStorage ------------------------------------------------------------------------

PostgresStorage::PostgresStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PostgresStorage::~PostgresStorage() = default;

Result<std::unique_ptr<PostgresStorage>> PostgresStorage::open(asio::io_context& io,
                                                               PostgresOptions options) {
  if (options.nodeId.empty()) return makeError(std::string(kPrefix) + "a node id is required");
  auto impl = std::make_unique<Impl>(io, std::move(options));
  impl->conn = impl->startConnecting(true);
  if (!impl->conn || PQstatus(impl->conn) != CONNECTION_OK) {
    std::string why = impl->conn ? trimMessage(PQerrorMessage(impl->conn)) : "out of memory";
    return makeError(std::string(kPrefix) + "cannot connect to PostgreSQL: " + why);
  }
  if (impl->opt.createSchema) {
    // Two nodes creating the schema at once can collide in the catalog: once more then.
    std::string error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      PGresult* r = PQexec(impl->conn, kSchema);
      bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      error = ok ? "" : trimMessage(PQresultErrorMessage(r));
      PQclear(r);
      if (ok) break;
    }
    if (!error.empty()) return makeError(std::string(kPrefix) + "creating the schema: " + error);
  }
  if (auto r = impl->ready(); !r) return r.error();
  return std::unique_ptr<PostgresStorage>(new PostgresStorage(std::move(impl)));
}

void PostgresStorage::acquire(const RoomKey& room, std::int64_t epoch, std::string homeRegion,
                              std::function<void(Result<void>)> done) {
  if (room.party.find('\0') != std::string::npos || room.room.find('\0') != std::string::npos) {
    done(makeError(std::string(kPrefix) + "a room name with a NUL byte cannot be stored"));
    return;
  }
  impl_->acquire(room, epoch, std::move(homeRegion), std::move(done), false);
}

void PostgresStorage::release(const RoomKey& room) {
  impl_->erase(room);
}

bool PostgresStorage::acquired(const RoomKey& room) const {
  return impl_->rooms.count(room) > 0;
}

std::optional<std::string> PostgresStorage::homeRegion(const RoomKey& room) const {
  auto it = impl_->rooms.find(room);
  if (it == impl_->rooms.end()) return std::nullopt;
  return it->second.homeRegion;
}

std::optional<std::int64_t> PostgresStorage::epoch(const RoomKey& room) const {
  auto it = impl_->rooms.find(room);
  if (it == impl_->rooms.end()) return std::nullopt;
  return it->second.epoch;
}

std::uint64_t PostgresStorage::fencedWritesRejected() const {
  return impl_->opt.fencedCounter->load(std::memory_order_relaxed);
}

bool PostgresStorage::connected() const {
  return impl_->conn && !impl_->connecting && PQstatus(impl_->conn) == CONNECTION_OK;
}

int PostgresStorage::backendPid() const {
  return connected() ? PQbackendPID(impl_->conn) : 0;
}

// ---- reads and writes: the in-memory copy -----------------------------------------------------

Result<std::optional<std::string>> PostgresStorage::get(const RoomKey& room, std::string_view key) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  auto it = r->kv.find(std::string(key));
  if (it == r->kv.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<std::vector<Entry>> PostgresStorage::getMany(const RoomKey& room,
                                                    const std::vector<std::string>& keys) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  std::vector<const std::string*> sorted;
  sorted.reserve(keys.size());
  for (const auto& k : keys) sorted.push_back(&k);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return *a < *b; });
  sorted.erase(std::unique(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return *a == *b; }),
               sorted.end());
  std::vector<Entry> out;
  for (const std::string* key : sorted) {
    auto it = r->kv.find(*key);
    if (it != r->kv.end()) out.emplace_back(it->first, it->second);
  }
  return out;
}

Result<void> PostgresStorage::put(const RoomKey& room, std::string_view key,
                                  std::string_view value) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  std::string k(key);
  r->kv.insert_or_assign(k, std::string(value));
  r->pending.kv.insert_or_assign(std::move(k), std::string(value));
  impl_->touched(*r);
  return {};
}

Result<bool> PostgresStorage::del(const RoomKey& room, std::string_view key) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  std::string k(key);
  bool existed = r->kv.erase(k) > 0;
  // Deleting what is neither stored nor pending changes nothing.
  if (existed || r->pending.kv.count(k)) {
    r->pending.kv.insert_or_assign(std::move(k), std::nullopt);
    impl_->touched(*r);
  }
  return existed;
}

Result<std::vector<Entry>> PostgresStorage::list(const RoomKey& room, const ListOptions& options) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  // The same range as SqliteStorage::list: [lower, upper), lower inclusive or exclusive.
  std::optional<std::string> lower;
  bool exclusive = false;
  if (options.start) {
    lower = *options.start;
  } else if (options.startAfter) {
    lower = *options.startAfter;
    exclusive = true;
  }
  std::optional<std::string> upper = options.end;
  if (options.prefix && !options.prefix->empty()) {
    if (!lower || *options.prefix > *lower) {
      lower = *options.prefix;
      exclusive = false;
    }
    std::string pe = *options.prefix;
    while (!pe.empty() && static_cast<unsigned char>(pe.back()) == 0xFF) pe.pop_back();
    if (!pe.empty()) {
      pe.back() = static_cast<char>(static_cast<unsigned char>(pe.back()) + 1);
      if (!upper || pe < *upper) upper = std::move(pe);
    }
  }
  std::vector<Entry> out;
  if (options.limit && *options.limit == 0) return out;
  auto& kv = r->kv;
  auto first = !lower ? kv.begin() : exclusive ? kv.upper_bound(*lower) : kv.lower_bound(*lower);
  auto last = upper ? kv.lower_bound(*upper) : kv.end();
  if (upper && lower && *upper <= *lower) return out;
  std::size_t limit = options.limit ? *options.limit : SIZE_MAX;
  if (!options.reverse) {
    for (auto it = first; it != last && out.size() < limit; ++it) out.emplace_back(*it);
  } else {
    for (auto it = last; it != first && out.size() < limit;) {
      --it;
      out.emplace_back(*it);
    }
  }
  return out;
}

Result<void> PostgresStorage::deleteAll(const RoomKey& room) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  r->kv.clear();
  r->pending.kv.clear();
  r->pending.cleared = true;
  impl_->touched(*r);
  return {};
}

Result<std::optional<std::int64_t>> PostgresStorage::getAlarm(const RoomKey& room) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  return r->alarm;
}

Result<void> PostgresStorage::setAlarm(const RoomKey& room, std::int64_t timeMs) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  r->alarm = timeMs;
  r->pending.alarm.emplace(timeMs);
  impl_->touched(*r);
  return {};
}

Result<void> PostgresStorage::deleteAlarm(const RoomKey& room) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  r->alarm.reset();
  r->pending.alarm.emplace(std::nullopt);
  impl_->touched(*r);
  return {};
}

Result<std::vector<Alarm>> PostgresStorage::allAlarms() {
  std::vector<Alarm> out;
  for (const auto& [key, r] : impl_->rooms) {
    if (r.alarm) out.push_back(Alarm{key, *r.alarm});
  }
  return out;
}

Result<Storage::Usage> PostgresStorage::usage(const RoomKey& room) {
  RoomData* r = impl_->find(room);
  if (!r) return impl_->notAcquired(room);
  Usage u;
  for (const auto& [k, v] : r->kv) {
    ++u.keys;
    u.bytes += k.size() + v.size();
  }
  return u;
}

// ---- commits ----------------------------------------------------------------------------------

void PostgresStorage::commitAsync(std::function<void(Result<void>)> done) {
  impl_->commitAsync(std::move(done));
}

Result<void> PostgresStorage::commit() {
  bool finished = false;
  Result<void> result;
  impl_->commitAsync([&](Result<void> r) {
    result = std::move(r);
    finished = true;
  });
  impl_->waitUntil(finished);
  if (!finished) return makeError(std::string(kPrefix) + "commit could not complete");
  return result;
}

void PostgresStorage::rollback() {
  if (impl_->dirtyCount == 0) return;
  for (auto& [key, r] : impl_->rooms) {
    if (!r.dirty) continue;
    // Back to the committed copy, plus the writes of the commit in flight (no longer pending).
    r.kv = r.committedKv;
    r.alarm = r.committedAlarm;
    if (impl_->inFlight) {
      for (const BatchRoom& b : *impl_->inFlight) {
        if (b.generation == r.generation) apply(b.changes, r.kv, r.alarm);
      }
    }
    impl_->cleaned(r);
  }
}

bool PostgresStorage::dirty() const {
  return impl_->dirtyCount > 0;
}

std::vector<RoomKey> PostgresStorage::fencedRooms() {
  return impl_->fenced;
}

std::vector<RoomKey> PostgresStorage::lostRooms() {
  return impl_->lost;
}

}  // namespace partyd::storage
