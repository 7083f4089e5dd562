// PostgresStorage against a real PostgreSQL 15. CMake runs this under tests/cluster/pg_fixture.sh,
// which starts one on loopback and sets PARTYD_PG_URL (and PARTYD_PG_PID); without PARTYD_PG_URL
// every test here is skipped. Each test uses its own project, so tests share the server only.
#include "storage/postgres_storage.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite_storage.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace partyd::storage {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace std::string_literals;

const char* pgUrl() {
  return std::getenv("PARTYD_PG_URL");
}

// A plain blocking libpq session, for looking at the tables and holding locks.
class Raw {
 public:
  explicit Raw(const std::string& appName = "partyd-test") {
    std::string info = std::string(pgUrl());
    const char* keys[] = {"dbname", "application_name", nullptr};
    const char* values[] = {info.c_str(), appName.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    PARTYD_CHECK(PQstatus(conn_) == CONNECTION_OK, "raw connection");
  }
  ~Raw() { PQfinish(conn_); }
  // The first column of the first row, or "<none>"; "<error: …>" on an error.
  std::string one(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string out;
    auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      out = "<error: " + std::string(PQresultErrorMessage(r)) + ">";
    } else if (PQntuples(r) == 0) {
      out = "<none>";
    } else {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
  }
  PGconn* get() { return conn_; }

 private:
  PGconn* conn_;
};

std::string uniqueProject(const std::string& name) {
  std::random_device rd;
  return name + "-" + std::to_string(rd());
}

class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pgUrl()) GTEST_SKIP() << "PARTYD_PG_URL is not set (ctest runs this with a PostgreSQL)";
    raw_ = std::make_unique<Raw>();
    project_ = uniqueProject(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  std::unique_ptr<PostgresStorage> open(const std::string& node,
                                        std::function<void(PostgresOptions&)> tune = {}) {
    PostgresOptions o{.conninfo = pgUrl(), .project = project_, .nodeId = node};
    if (tune) tune(o);
    auto s = PostgresStorage::open(io_, o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Runs the loop until `done` (or 20 s).
  void runUntil(const std::function<bool()>& done) {
    auto until = std::chrono::steady_clock::now() + 20s;
    while (!done() && std::chrono::steady_clock::now() < until) {
      io_.restart();
      io_.run_for(5ms);
    }
    ASSERT_TRUE(done()) << "timed out";
  }

  Result<void> acquire(PostgresStorage& s, const RoomKey& room, std::int64_t epoch,
                       std::string region = "eu") {
    std::optional<Result<void>> out;
    s.acquire(room, epoch, std::move(region), [&](Result<void> r) { out = std::move(r); });
    runUntil([&] { return out.has_value(); });
    return out ? *out : makeError("no answer");
  }

  Result<void> commitAsync(PostgresStorage& s) {
    std::optional<Result<void>> out;
    s.commitAsync([&](Result<void> r) { out = std::move(r); });
    runUntil([&] { return out.has_value(); });
    return out ? *out : makeError("no answer");
  }

  std::string q(const std::string& s) { return "'" + s + "'"; }
  std::string stored(const RoomKey& room, const std::string& key) {
    return raw_->one("SELECT encode(v, 'escape') FROM room_kv WHERE project = " + q(project_) +
                    " AND party = " + q(room.party) + " AND room = " + q(room.room) +
                    " AND k = " + q(key) + "::bytea");
  }

  asio::io_context io_;
  std::string project_;
  std::unique_ptr<Raw> raw_;
};

const RoomKey kRoom{"main", "room-1"};

#define ASSERT_OK(expr)                                                           \
  do {                                                                            \
    auto r_ = (expr);                                                             \
    ASSERT_TRUE(r_.ok()) << #expr << ": " << (r_.ok() ? "" : r_.error().message); \
  } while (0)

std::vector<ListOptions> everyListOption() {
  std::vector<ListOptions> out;
  std::vector<std::optional<std::string>> bounds = {std::nullopt, "",  "a",    "b", "c/",
                                                    "c/2",        "d", "\xff", "zz"};
  std::vector<std::optional<std::string>> prefixes = {std::nullopt, "",      "c", "c/",
                                                      "\xff",       "b\xff", "x"};
  for (const auto& start : bounds) {
    for (const auto& end : bounds) {
      for (bool after : {false, true}) {
        for (const auto& prefix : prefixes) {
          for (bool reverse : {false, true}) {
            for (std::optional<std::uint32_t> limit :
                 {std::optional<std::uint32_t>(), std::optional<std::uint32_t>(0),
                  std::optional<std::uint32_t>(1), std::optional<std::uint32_t>(2)}) {
              ListOptions o;
              if (after) {
                o.startAfter = start;
              } else {
                o.start = start;
              }
              o.end = end;
              o.prefix = prefix;
              o.reverse = reverse;
              o.limit = limit;
              out.push_back(o);
            }
          }
        }
      }
    }
  }
  return out;
}

void expectSameAsSqlite(Storage& pg, const RoomKey& room, Storage& lite) {
  for (const ListOptions& o : everyListOption()) {
    auto a = pg.list(room, o);
    auto b = lite.list(room, o);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(*a, *b) << "start=" << o.start.value_or("-")
                      << " after=" << o.startAfter.value_or("-") << " end=" << o.end.value_or("-")
                      << " prefix=" << o.prefix.value_or("-") << " reverse=" << o.reverse
                      << " limit=" << (o.limit ? *o.limit : 99);
  }
}

TEST_F(PostgresStorageTest, KeysValuesListAndAlarmsBehaveAsSqliteAndSurviveAReload) {
  auto s = open("node-a");
  ASSERT_TRUE(s);
  auto lite = SqliteStorage::openInMemory();
  ASSERT_TRUE(lite.ok());
  ASSERT_OK(acquire(*s, kRoom, 5));
  EXPECT_EQ(s->homeRegion(kRoom), "eu");

  // Keys are bytes: NUL, 0xFF, invalid UTF-8; a large value.
  std::vector<std::pair<std::string, std::string>> kv = {{"a", "1"},
                                                         {"b", "2"},
                                                         {"c/1", "3"},
                                                         {"c/2", "4"},
                                                         {"d", ""},
                                                         {"", "empty key"},
                                                         {"\xff", "ff"},
                                                         {"b\xff\xff", "bff"},
                                                         {"\x00k"s, "nul\x00v"s},
                                                         {"\xc3\x28", "bad utf8"}};
  const RoomKey bigRoom{"main", "big"};
  ASSERT_OK(acquire(*s, bigRoom, 5));
  ASSERT_OK(s->put(bigRoom, "big", std::string(3 << 20, 'x')));
  for (auto& [k, v] : kv) {
    ASSERT_OK(s->put(kRoom, k, v));
    ASSERT_OK((*lite)->put(kRoom, k, v));
  }
  ASSERT_OK(s->put(kRoom, "gone", "x"));
  auto existed = s->del(kRoom, "gone");
  ASSERT_TRUE(existed.ok() && *existed);
  auto missing = s->del(kRoom, "never");
  ASSERT_TRUE(missing.ok() && !*missing);
  EXPECT_EQ(*s->get(kRoom, "b"), std::optional<std::string>("2"));
  EXPECT_EQ(*s->get(kRoom, "gone"), std::nullopt);
  auto many = s->getMany(kRoom, {"d", "a", "zz", "a"});
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(*many, (std::vector<Entry>{{"a", "1"}, {"d", ""}}));
  ASSERT_OK(s->setAlarm(kRoom, 1234));
  expectSameAsSqlite(*s, kRoom, **lite);
  EXPECT_TRUE(s->dirty());
  ASSERT_OK(s->commit());
  EXPECT_FALSE(s->dirty());

  // A new object (another node), a higher epoch: the same data comes back from PostgreSQL.
  auto t = open("node-b");
  ASSERT_TRUE(t);
  ASSERT_OK(acquire(*t, kRoom, 9, "us"));
  EXPECT_EQ(t->homeRegion(kRoom), "eu") << "the first owner's home region stays";
  expectSameAsSqlite(*t, kRoom, **lite);
  EXPECT_EQ(*t->getAlarm(kRoom), std::optional<std::int64_t>(1234));
  auto alarms = t->allAlarms();
  ASSERT_TRUE(alarms.ok());
  ASSERT_EQ(alarms->size(), 1u);
  EXPECT_EQ((*alarms)[0].timeMs, 1234);
  ASSERT_OK(acquire(*t, bigRoom, 9));
  EXPECT_EQ(*t->get(bigRoom, "big"), std::optional<std::string>(std::string(3 << 20, 'x')));

  // deleteAll keeps the alarm; deleteAlarm removes it; both durable.
  ASSERT_OK(t->deleteAll(kRoom));
  ASSERT_OK(t->put(kRoom, "after", "clear"));
  ASSERT_OK(t->commit());
  ASSERT_OK(t->deleteAlarm(kRoom));
  ASSERT_OK(t->commit());
  auto u = open("node-c");
  ASSERT_OK(acquire(*u, kRoom, 10));
  auto all = u->list(kRoom, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<Entry>{{"after", "clear"}}));
  EXPECT_EQ(*u->getAlarm(kRoom), std::nullopt);
  auto usage = u->usage(kRoom);
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->keys, 1u);
}

TEST_F(PostgresStorageTest, RollbackDiscardsPendingWritesOnly) {
  auto s = open("node-a");
  ASSERT_OK(acquire(*s, kRoom, 1));
  ASSERT_OK(s->put(kRoom, "kept", "1"));
  ASSERT_OK(s->setAlarm(kRoom, 5));
  ASSERT_OK(s->commit());
  ASSERT_OK(s->put(kRoom, "kept", "2"));
  ASSERT_OK(s->put(kRoom, "new", "x"));
  ASSERT_OK(s->deleteAlarm(kRoom));
  s->rollback();
  EXPECT_FALSE(s->dirty());
  EXPECT_EQ(*s->get(kRoom, "kept"), std::optional<std::string>("1"));
  EXPECT_EQ(*s->get(kRoom, "new"), std::nullopt);
  EXPECT_EQ(*s->getAlarm(kRoom), std::optional<std::int64_t>(5));
  ASSERT_OK(s->commit());
  EXPECT_EQ(stored(kRoom, "kept"), "1");
  EXPECT_EQ(stored(kRoom, "new"), "<none>");
}

TEST_F(PostgresStorageTest, ARoomNotAcquiredCannotBeReadOrWritten) {
  auto s = open("node-a");
  auto r = s->get(kRoom, "k");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not acquired"), std::string::npos);
  EXPECT_FALSE(s->put(kRoom, "k", "v").ok());
  std::optional<Result<void>> out;
  s->acquire(RoomKey{"main", "a\0b"s}, 1, "", [&](Result<void> r) { out = r; });
  ASSERT_TRUE(out && !out->ok()) << "a NUL in a room name is refused at once";
  // Invalid UTF-8 in a room name: PostgreSQL refuses it with a clear error, nothing crashes.
  auto bad = acquire(*s, RoomKey{"main", "\xc3\x28"}, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("acquiring room"), std::string::npos) << bad.error().message;
  ASSERT_OK(acquire(*s, kRoom, 1));  // the session still works
}

TEST_F(PostgresStorageTest, AnOlderOrEqualEpochOfAnotherNodeCannotTakeTheRoom) {
  auto old = open("old-node");
  const RoomKey other{"main", "room-2"};
  ASSERT_OK(acquire(*old, kRoom, 5));
  ASSERT_OK(acquire(*old, other, 6));
  ASSERT_OK(old->put(kRoom, "k", "v5"));
  ASSERT_OK(old->commit());

  auto next = open("new-node");
  ASSERT_OK(acquire(*next, kRoom, 9));
  // The old owner cannot take it back with a lower epoch.
  auto back = acquire(*old, kRoom, 7);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().message.find("a newer owner holds this room"), std::string::npos);
  EXPECT_FALSE(acquire(*old, kRoom, 9).ok()) << "the same epoch under another owner";
  ASSERT_OK(acquire(*next, kRoom, 9));  // the owner itself may reload with its epoch
  EXPECT_EQ(*next->get(kRoom, "k"), std::optional<std::string>("v5"));
}

TEST_F(PostgresStorageTest, AStaleWriteIsRefusedTheOtherRoomsOfTheCommitStillCommit) {
  auto old = open("old-node");
  const RoomKey other{"main", "room-2"};
  ASSERT_OK(acquire(*old, kRoom, 5));
  ASSERT_OK(acquire(*old, other, 6));
  ASSERT_OK(old->put(kRoom, "k", "v5"));
  ASSERT_OK(old->commit());

  auto next = open("new-node");
  ASSERT_OK(acquire(*next, kRoom, 9));

  ASSERT_OK(old->put(kRoom, "k", "stale"));
  ASSERT_OK(old->put(kRoom, "k2", "stale"));
  ASSERT_OK(old->setAlarm(kRoom, 99));
  ASSERT_OK(old->put(other, "k", "fine"));
  auto r = commitAsync(*old);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("owner of room(s) main/room-1 changed"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(old->fencedRooms(), std::vector<RoomKey>{kRoom});
  EXPECT_TRUE(old->lostRooms().empty());
  EXPECT_EQ(old->fencedWritesRejected(), 1u);
  EXPECT_FALSE(old->acquired(kRoom)) << "a fenced room is dropped";
  EXPECT_EQ(stored(kRoom, "k"), "v5");
  EXPECT_EQ(stored(kRoom, "k2"), "<none>");
  EXPECT_EQ(raw_->one("SELECT count(*) FROM room_alarm WHERE project = " + q(project_)), "0");
  EXPECT_EQ(stored(other, "k"), "fine") << "the other room was committed without the fenced one";
  EXPECT_EQ(raw_->one("SELECT epoch || owner FROM room_owner WHERE project = " + q(project_) +
                     " AND room = 'room-1'"),
            "9new-node");
  // Its later commits go on for the rooms it still owns.
  ASSERT_OK(old->put(other, "k", "later"));
  ASSERT_OK(commitAsync(*old));
  EXPECT_EQ(stored(other, "k"), "later");
}

// The takeover meets the old owner's commit in flight (its upsert waits on a row lock that a third
// session holds): the takeover waits for it, so the stale write lands before it, never after, and
// the new owner loads it.
TEST_F(PostgresStorageTest, ATakeoverWaitsForTheOldOwnersCommitInFlight) {
  auto old = open("old-node");
  ASSERT_OK(acquire(*old, kRoom, 5));
  ASSERT_OK(old->put(kRoom, "x", "first"));
  ASSERT_OK(old->commit());

  Raw blocker;
  ASSERT_EQ(blocker.one("BEGIN"), "<none>");
  ASSERT_EQ(blocker.one("SELECT 1 FROM room_kv WHERE project = " + q(project_) +
                        " AND k = 'x'::bytea FOR UPDATE"),
            "1");
  ASSERT_OK(old->put(kRoom, "x", "second"));
  std::vector<std::string> order;
  std::optional<Result<void>> oldDone, newDone;
  old->commitAsync([&](Result<void> r) {
    oldDone = r;
    order.push_back("old commit");
  });
  auto next = open("new-node", [](PostgresOptions& o) { o.lockTimeout = 10s; });
  next->acquire(kRoom, 9, "", [&](Result<void> r) {
    newDone = r;
    order.push_back("takeover");
  });
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < 400ms) {
    io_.restart();
    io_.run_for(10ms);
  }
  EXPECT_FALSE(oldDone) << "the old commit waits on the blocker";
  EXPECT_FALSE(newDone) << "the takeover waits on the old commit's FOR SHARE";
  ASSERT_EQ(blocker.one("COMMIT"), "<none>");
  runUntil([&] { return oldDone && newDone; });
  ASSERT_TRUE(oldDone->ok()) << oldDone->error().message;
  ASSERT_TRUE(newDone->ok()) << newDone->error().message;
  EXPECT_EQ(order, (std::vector<std::string>{"old commit", "takeover"}));
  EXPECT_EQ(*next->get(kRoom, "x"), std::optional<std::string>("second"));
  // From now on the old owner is fenced.
  ASSERT_OK(old->put(kRoom, "x", "third"));
  EXPECT_FALSE(commitAsync(*old).ok());
  EXPECT_EQ(stored(kRoom, "x"), "second");
}

// A session of another node sits in a transaction holding the room's owner row (a paused owner):
// the takeover runs into lock_timeout, terminates that session and succeeds on its second try.
TEST_F(PostgresStorageTest, ATakeoverTerminatesAStuckSessionOfAnotherNode) {
  auto old = open("old-node");
  ASSERT_OK(acquire(*old, kRoom, 5));
  Raw stuck("stuck-node");
  ASSERT_EQ(stuck.one("BEGIN"), "<none>");
  ASSERT_EQ(stuck.one("SELECT 1 FROM room_owner WHERE project = " + q(project_) +
                      " AND room = 'room-1' FOR SHARE"),
            "1");
  auto next = open("new-node", [](PostgresOptions& o) { o.lockTimeout = 300ms; });
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_OK(acquire(*next, kRoom, 9));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms) << "it waited for lock_timeout first";
  EXPECT_NE(stuck.one("SELECT 1").find("<error"), std::string::npos)
      << "the stuck session was terminated";
  EXPECT_EQ(raw_->one("SELECT epoch FROM room_owner WHERE project = " + q(project_)), "9");
}

TEST_F(PostgresStorageTest, AnAsyncCommitDoesNotBlockTheLoop) {
  if (!std::getenv("PARTYD_PG_PID")) GTEST_SKIP() << "needs PARTYD_PG_PID";
  auto s = open("node-a");
  ASSERT_OK(acquire(*s, kRoom, 1));
  const int backend = s->backendPid();
  ASSERT_GT(backend, 0);
  ASSERT_OK(s->put(kRoom, "k", "v"));
  ASSERT_EQ(::kill(backend, SIGSTOP), 0);
  std::optional<Result<void>> done;
  s->commitAsync([&](Result<void> r) { done = r; });
  int ticks = 0;
  asio::steady_timer timer(io_);
  std::function<void()> tick = [&] {
    timer.expires_after(10ms);
    timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      ++ticks;
      tick();
    });
  };
  tick();
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < 300ms) {
    io_.restart();
    io_.run_for(10ms);
  }
  const bool doneWhileStopped = done.has_value();
  ::kill(backend, SIGCONT);
  EXPECT_FALSE(doneWhileStopped);
  EXPECT_GE(ticks, 10) << "the timer kept firing while the commit was in flight";
  runUntil([&] { return done.has_value(); });
  timer.cancel();
  ASSERT_TRUE(done->ok()) << done->error().message;
  EXPECT_EQ(stored(kRoom, "k"), "v");
}

TEST_F(PostgresStorageTest, NoAnswerWithinTheRequestTimeoutFailsTheCommitAsUnknown) {
  if (!std::getenv("PARTYD_PG_PID")) GTEST_SKIP() << "needs PARTYD_PG_PID";
  auto s = open("node-a", [](PostgresOptions& o) { o.requestTimeout = 300ms; });
  ASSERT_OK(acquire(*s, kRoom, 1));
  const int backend = s->backendPid();
  ASSERT_OK(s->put(kRoom, "k", "v"));
  ASSERT_EQ(::kill(backend, SIGSTOP), 0);
  auto r = commitAsync(*s);
  ::kill(backend, SIGCONT);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown"), std::string::npos) << r.error().message;
  EXPECT_EQ(s->lostRooms(), std::vector<RoomKey>{kRoom});
  EXPECT_FALSE(s->acquired(kRoom)) << "its copy cannot be trusted: acquire again";
  ASSERT_OK(acquire(*s, kRoom, 1));
  ASSERT_OK(s->put(kRoom, "k", "w"));
  ASSERT_OK(commitAsync(*s));
  EXPECT_EQ(stored(kRoom, "k"), "w");
}

TEST_F(PostgresStorageTest, ALostConnectionFailsTheCommitAndTheNextAcquireReconnects) {
  auto s = open("node-a");
  ASSERT_OK(acquire(*s, kRoom, 1));
  ASSERT_OK(s->put(kRoom, "k", "1"));
  ASSERT_OK(commitAsync(*s));
  const int backend = s->backendPid();
  EXPECT_EQ(raw_->one("SELECT pg_terminate_backend(" + std::to_string(backend) + ")"), "t");
  std::this_thread::sleep_for(100ms);
  ASSERT_OK(s->put(kRoom, "k", "2"));
  auto r = commitAsync(*s);
  ASSERT_FALSE(r.ok()) << "the commit on a terminated session fails";
  EXPECT_EQ(s->lostRooms(), std::vector<RoomKey>{kRoom});
  ASSERT_OK(acquire(*s, kRoom, 1));  // reconnects
  EXPECT_NE(s->backendPid(), backend);
  EXPECT_EQ(*s->get(kRoom, "k"), std::optional<std::string>("1"));
  ASSERT_OK(s->put(kRoom, "k", "3"));
  ASSERT_OK(commitAsync(*s));
  EXPECT_EQ(stored(kRoom, "k"), "3");
}

TEST_F(PostgresStorageTest, AServerErrorRollsTheRoomsBackToTheirCommittedCopy) {
  auto s = open("node-a", [](PostgresOptions& o) { o.lockTimeout = 200ms; });
  ASSERT_OK(acquire(*s, kRoom, 1));
  ASSERT_OK(s->put(kRoom, "k", "1"));
  ASSERT_OK(s->commit());
  Raw blocker;
  ASSERT_EQ(blocker.one("BEGIN"), "<none>");
  ASSERT_EQ(blocker.one("SELECT 1 FROM room_kv WHERE project = " + q(project_) + " FOR UPDATE"),
            "1");
  ASSERT_OK(s->put(kRoom, "k", "2"));
  auto r = commitAsync(*s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("lock timeout"), std::string::npos) << r.error().message;
  EXPECT_EQ(s->lostRooms(), std::vector<RoomKey>{kRoom});
  EXPECT_TRUE(s->acquired(kRoom));
  EXPECT_EQ(*s->get(kRoom, "k"), std::optional<std::string>("1"));
  EXPECT_FALSE(s->dirty());
  ASSERT_EQ(blocker.one("COMMIT"), "<none>");
  ASSERT_OK(s->put(kRoom, "k", "3"));
  ASSERT_OK(commitAsync(*s));
  EXPECT_EQ(stored(kRoom, "k"), "3");
}

TEST_F(PostgresStorageTest, WritesMadeWhileACommitIsInFlightGoIntoTheNextOne) {
  auto s = open("node-a");
  ASSERT_OK(acquire(*s, kRoom, 1));
  ASSERT_OK(s->put(kRoom, "a", "1"));
  std::vector<int> done;
  s->commitAsync([&](Result<void> r) {
    EXPECT_TRUE(r.ok());
    done.push_back(1);
  });
  EXPECT_FALSE(s->dirty());
  ASSERT_OK(s->put(kRoom, "b", "2"));
  EXPECT_TRUE(s->dirty());
  s->rollback();  // drops b only: a is in flight
  EXPECT_EQ(*s->get(kRoom, "a"), std::optional<std::string>("1"));
  ASSERT_OK(s->put(kRoom, "c", "3"));
  s->commitAsync([&](Result<void> r) {
    EXPECT_TRUE(r.ok());
    done.push_back(2);
  });
  runUntil([&] { return done.size() == 2; });
  EXPECT_EQ(done, (std::vector<int>{1, 2}));
  EXPECT_EQ(stored(kRoom, "a"), "1");
  EXPECT_EQ(stored(kRoom, "b"), "<none>");
  EXPECT_EQ(stored(kRoom, "c"), "3");
}

}  // namespace
}  // namespace partyd::storage
