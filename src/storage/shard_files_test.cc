#include "storage/shard_files.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "storage/sqlite_storage.h"

namespace partyd::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

class TempDir {
 public:
  explicit TempDir(const fs::path& base = fs::temp_directory_path()) {
    std::string templ = (base / "partyd-shards-XXXXXX").string();
    PARTYD_CHECK(::mkdtemp(templ.data()) != nullptr, "mkdtemp");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---- hashing ------------------------------------------------------------------------------------

TEST(ShardFiles, RoomHashIsFnv1a64OverPartyZeroByteRoom) {
  // FNV-1a 64 of the single byte 0, and of "main\0my-room", computed independently.
  EXPECT_EQ(roomHash("", ""), 0xaf63bd4c8601b7dfull);
  EXPECT_EQ(roomHash("main", "my-room"), 0xaeec865a2c0212e2ull);
  EXPECT_NE(roomHash("a", ""), roomHash("", "a"));
  EXPECT_NE(roomHash("ab", "c"), roomHash("a", "bc"));
}

TEST(ShardFiles, ShardOfIsJumpConsistentHashAndStaysInRange) {
  // Pinned so that a change of formula, which would strand every room, fails here first.
  EXPECT_EQ(shardOf(0xdeadbeef, 4), 3u);
  EXPECT_EQ(shardOf(0xdeadbeef, 8), 5u);
  EXPECT_EQ(shardOf(0xdeadbeef, 100), 87u);
  EXPECT_EQ(shardOf(roomHash("main", "my-room"), 100), 26u);
  EXPECT_EQ(shardOf(1, 8), 6u);
  std::mt19937_64 rng(7);
  std::vector<int> counts(5);
  for (int i = 0; i < 50'000; ++i) {
    auto s = shardOf(rng(), 5);
    ASSERT_LT(s, 5u);
    ++counts[s];
  }
  for (int c : counts) EXPECT_NEAR(c, 10'000, 600);
}

TEST(ShardFiles, ChangingTheCountMovesOnlyTheRoomsItMust) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20'000; ++i) {
    const std::uint64_t h = rng();
    // Shrinking 4 → 2 keeps the rooms of shards 0 and 1 where they are.
    if (shardOf(h, 4) < 2) {
      EXPECT_EQ(shardOf(h, 2), shardOf(h, 4));
    }
    // Growing n → n+1 moves a room to the new shard or not at all.
    for (std::size_t n = 1; n < 9; ++n) {
      const auto before = shardOf(h, n), after = shardOf(h, n + 1);
      if (after != before) {
        EXPECT_EQ(after, n);
      }
    }
  }
}

TEST(ShardFiles, ShardFileNamesTheShardsDatabase) {
  EXPECT_EQ(shardFile("/state", 0), fs::path("/state/shard-0.db"));
  EXPECT_EQ(shardFile("/state", 12), fs::path("/state/shard-12.db"));
}

// ---- rebalancing --------------------------------------------------------------------------------

using KvRow = std::tuple<std::string, std::string, std::string, std::string>;
using AlarmRow = std::tuple<std::string, std::string, std::int64_t>;

struct Contents {
  std::vector<KvRow> kv;
  std::vector<AlarmRow> alarms;
};

std::string blobAt(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(s, i)) : std::string();
}

// Every row of a shard file, read with the raw sqlite API.
Contents dump(const fs::path& file) {
  Contents out;
  sqlite3* db = nullptr;
  PARTYD_CHECK(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK,
               file.c_str());
  sqlite3_stmt* s = nullptr;
  PARTYD_CHECK(sqlite3_prepare_v2(db, "SELECT party, room, key, value FROM kv", -1, &s, nullptr) ==
                   SQLITE_OK,
               sqlite3_errmsg(db));
  while (sqlite3_step(s) == SQLITE_ROW) {
    out.kv.emplace_back(blobAt(s, 0), blobAt(s, 1), blobAt(s, 2), blobAt(s, 3));
  }
  sqlite3_finalize(s);
  PARTYD_CHECK(sqlite3_prepare_v2(db, "SELECT party, room, time_ms FROM alarms", -1, &s, nullptr) ==
                   SQLITE_OK,
               sqlite3_errmsg(db));
  while (sqlite3_step(s) == SQLITE_ROW) {
    out.alarms.emplace_back(blobAt(s, 0), blobAt(s, 1), sqlite3_column_int64(s, 2));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

// Rooms with awkward names, a few keys each, and an alarm on every third one.
Contents sampleContents(int rooms) {
  Contents c;
  for (int r = 0; r < rooms; ++r) {
    const std::string party = r % 7 == 0 ? "" : "party-" + std::to_string(r % 3);
    const std::string room =
        r % 11 == 0 ? "r\0\xFF"s + std::to_string(r) : "room-" + std::to_string(r);
    for (int k = 0; k <= r % 4; ++k) {
      c.kv.emplace_back(party, room, k == 0 ? "" : "key-" + std::to_string(k),
                        "value of " + std::to_string(r) + "/" + std::to_string(k));
    }
    if (r % 3 == 0) c.alarms.emplace_back(party, room, 1'700'000'000'000 + r);
  }
  return c;
}

// Writes each room into the file of the shard that owns it under shardCount.
void writeLayout(const fs::path& dir, std::size_t shardCount, const Contents& c) {
  std::vector<std::unique_ptr<SqliteStorage>> shards;
  for (std::size_t i = 0; i < shardCount; ++i) {
    auto s = SqliteStorage::open(shardFile(dir, i));
    PARTYD_CHECK(s.ok(), "open");
    shards.push_back(std::move(*s));
  }
  for (const auto& [party, room, key, value] : c.kv) {
    auto& s = shards[shardOf(roomHash(party, room), shardCount)];
    PARTYD_CHECK(s->put({party, room}, key, value).ok(), "put");
  }
  for (const auto& [party, room, time] : c.alarms) {
    auto& s = shards[shardOf(roomHash(party, room), shardCount)];
    PARTYD_CHECK(s->setAlarm({party, room}, time).ok(), "setAlarm");
  }
  for (auto& s : shards) PARTYD_CHECK(s->commit().ok(), "commit");
}

std::vector<std::size_t> shardFilesIn(const fs::path& dir) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < 64; ++i) {
    if (fs::exists(shardFile(dir, i))) out.push_back(i);
  }
  return out;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every row and alarm of expected is in exactly one file, the one of its owner under shardCount,
// and there is nothing else.
void expectLayout(const fs::path& dir, std::size_t shardCount, Contents expected) {
  Contents all;
  for (std::size_t i : shardFilesIn(dir)) {
    ASSERT_LT(i, shardCount) << "a file past the shard count is left";
    Contents c = dump(shardFile(dir, i));
    for (const auto& row : c.kv) {
      EXPECT_EQ(shardOf(roomHash(std::get<0>(row), std::get<1>(row)), shardCount), i);
      all.kv.push_back(row);
    }
    for (const auto& row : c.alarms) {
      EXPECT_EQ(shardOf(roomHash(std::get<0>(row), std::get<1>(row)), shardCount), i);
      all.alarms.push_back(row);
    }
  }
  std::sort(all.kv.begin(), all.kv.end());
  std::sort(all.alarms.begin(), all.alarms.end());
  std::sort(expected.kv.begin(), expected.kv.end());
  std::sort(expected.alarms.begin(), expected.alarms.end());
  EXPECT_EQ(all.kv.size(), expected.kv.size());
  EXPECT_TRUE(all.kv == expected.kv);
  EXPECT_EQ(all.alarms.size(), expected.alarms.size());
  EXPECT_TRUE(all.alarms == expected.alarms);
}

TEST(ShardFiles, RebalanceFrom4To2To3KeepsEveryRowAndAlarmExactlyOnce) {
  TempDir dir;
  const Contents c = sampleContents(300);
  writeLayout(dir.path(), 4, c);

  ASSERT_TRUE(rebalanceShards(dir.path(), 4).ok());
  EXPECT_EQ(readFile(dir.path() / "shard-count"), "4\n");
  expectLayout(dir.path(), 4, c);

  auto r = rebalanceShards(dir.path(), 2);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(readFile(dir.path() / "shard-count"), "2\n");
  EXPECT_EQ(shardFilesIn(dir.path()), (std::vector<std::size_t>{0, 1}));
  EXPECT_FALSE(fs::exists(dir.path() / "shard-3.db-wal"));
  EXPECT_FALSE(fs::exists(dir.path() / "shard-3.db-shm"));
  expectLayout(dir.path(), 2, c);

  r = rebalanceShards(dir.path(), 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(readFile(dir.path() / "shard-count"), "3\n");
  expectLayout(dir.path(), 3, c);

  // A rebalanced file opens as an ordinary shard and serves its rooms.
  const auto& [party, room, key, value] = c.kv.front();
  auto s = SqliteStorage::open(shardFile(dir.path(), shardOf(roomHash(party, room), 3)));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(**(*s)->get({party, room}, key), value);
}

TEST(ShardFiles, RebalanceCreatesAMissingDirectoryAndRecordsTheCount) {
  TempDir dir;
  const fs::path state = dir.path() / "a" / "b";
  ASSERT_TRUE(rebalanceShards(state, 3).ok());
  EXPECT_EQ(readFile(state / "shard-count"), "3\n");
  EXPECT_TRUE(shardFilesIn(state).empty());
}

TEST(ShardFiles, RebalanceRejectsZeroShards) {
  TempDir dir;
  auto r = rebalanceShards(dir.path(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("shard count is 0"), std::string::npos);
}

TEST(ShardFiles, RebalanceSkipsTheScanWhenTheRecordedCountIsUnchanged) {
  TempDir dir;
  ASSERT_TRUE(rebalanceShards(dir.path(), 2).ok());
  // A room planted in the wrong file stays there while the record says the layout is settled...
  RoomKey stray{"p", "r"};
  for (int i = 0; shardOf(roomHash(stray.party, stray.room), 2) != 1; ++i) {
    stray.room = "r" + std::to_string(i);
  }
  {
    auto s = SqliteStorage::open(shardFile(dir.path(), 0));
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->put(stray, "k", "v").ok());
    ASSERT_TRUE((*s)->commit().ok());
  }
  ASSERT_TRUE(rebalanceShards(dir.path(), 2).ok());
  EXPECT_EQ(dump(shardFile(dir.path(), 0)).kv.size(), 1u);
  // ...and moves once the record is gone, as after a crash in the middle of a rebalance.
  fs::remove(dir.path() / "shard-count");
  ASSERT_TRUE(rebalanceShards(dir.path(), 2).ok());
  EXPECT_EQ(dump(shardFile(dir.path(), 0)).kv.size(), 0u);
  EXPECT_EQ(dump(shardFile(dir.path(), 1)).kv.size(), 1u);
}

TEST(ShardFiles, RebalanceMergesARoomLeftInTwoFilesByAnInterruptedMove) {
  TempDir dir;
  const Contents c = sampleContents(40);
  writeLayout(dir.path(), 2, c);
  // The state after "copy into the destination, commit" and a kill before "delete from the
  // source": every room of shard 1 is also in shard 0, and there is no record.
  Contents copies = c;
  std::erase_if(copies.kv, [](const KvRow& row) {
    return shardOf(roomHash(std::get<0>(row), std::get<1>(row)), 2) != 1;
  });
  std::erase_if(copies.alarms, [](const AlarmRow& row) {
    return shardOf(roomHash(std::get<0>(row), std::get<1>(row)), 2) != 1;
  });
  ASSERT_FALSE(copies.kv.empty());
  {
    auto s = SqliteStorage::open(shardFile(dir.path(), 0));
    ASSERT_TRUE(s.ok());
    for (const auto& [party, room, key, value] : copies.kv) {
      ASSERT_TRUE((*s)->put({party, room}, key, value).ok());
    }
    for (const auto& [party, room, time] : copies.alarms) {
      ASSERT_TRUE((*s)->setAlarm({party, room}, time).ok());
    }
    ASSERT_TRUE((*s)->commit().ok());
  }
  ASSERT_TRUE(rebalanceShards(dir.path(), 2).ok());
  expectLayout(dir.path(), 2, c);
}

TEST(ShardFiles, RebalanceLeavesFilesThatAreNotShardFilesAlone) {
  TempDir dir;
  for (const char* name : {"shard-01.db", "shard-x.db", "notes.txt", "shard-.db"}) {
    std::ofstream(dir.path() / name) << "not mine";
  }
  writeLayout(dir.path(), 3, sampleContents(20));
  ASSERT_TRUE(rebalanceShards(dir.path(), 1).ok());
  expectLayout(dir.path(), 1, sampleContents(20));
  for (const char* name : {"shard-01.db", "shard-x.db", "notes.txt", "shard-.db"}) {
    EXPECT_EQ(readFile(dir.path() / name), "not mine") << name;
  }
}

TEST(ShardFiles, RebalanceFailsCleanlyOnAFileThatIsNotADatabase) {
  TempDir dir;
  std::ofstream(dir.path() / "shard-1.db") << std::string(4096, 'x');
  auto r = rebalanceShards(dir.path(), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("shard-1.db"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not a database"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(dir.path() / "shard-count"));
}

// A child runs a rebalance and the parent kills it with SIGKILL at a random moment; the next
// rebalance, to any count, must still find every row and alarm exactly once. A killed process
// leaves its writes in the page cache, so tmpfs, when there is one, models the crash as well as a
// disk and spares the test the fsyncs.
TEST(ShardFiles, RebalanceKilledMidwayLosesNothing) {
  const fs::path base =
      fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  const Contents c = sampleContents(2000);
  std::mt19937 rng(std::random_device{}());
  // How long an uninterrupted rebalance takes here, to spread the kills over it.
  std::chrono::microseconds span;
  {
    TempDir dir(base);
    writeLayout(dir.path(), 4, c);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(rebalanceShards(dir.path(), 2).ok());
    span = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 t0);
  }
  for (int iteration = 0; iteration < 8; ++iteration) {
    TempDir dir(base);
    writeLayout(dir.path(), 4, c);
    ASSERT_TRUE(rebalanceShards(dir.path(), 4).ok());
    const std::size_t target = iteration % 2 == 0 ? 2 : 3;
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(rebalanceShards(dir.path(), target).ok() ? 0 : 1);
    ::usleep(std::uniform_int_distribution<long>(0, span.count())(rng));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) || WEXITSTATUS(status) == 0);

    const std::size_t next = std::uniform_int_distribution<std::size_t>(1, 5)(rng);
    SCOPED_TRACE("iteration " + std::to_string(iteration) + ": 4 → " + std::to_string(target) +
                 " killed, then → " + std::to_string(next));
    auto r = rebalanceShards(dir.path(), next);
    ASSERT_TRUE(r.ok()) << r.error().message;
    expectLayout(dir.path(), next, c);
  }
}

}  // namespace
}  // namespace partyd::storage
