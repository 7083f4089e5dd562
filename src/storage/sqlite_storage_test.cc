#include "storage/sqlite_storage.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

// GCC's -Wextra flags designated initializers that leave out members even when those members have
// defaults (GCC bug 96868); the ListOptions literals below read best that way.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace partyd::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "partyd-storage-XXXXXX").string();
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

std::unique_ptr<SqliteStorage> openOrDie(const fs::path& file, SqliteOptions options = {}) {
  auto s = SqliteStorage::open(file, options);
  PARTYD_CHECK(s.ok(), s.ok() ? "" : s.error().message.c_str());
  return std::move(*s);
}

std::vector<std::string> keysOf(const Result<std::vector<Entry>>& entries) {
  EXPECT_TRUE(entries.ok()) << (entries.ok() ? "" : entries.error().message);
  std::vector<std::string> out;
  if (entries.ok()) {
    for (const auto& [k, v] : *entries) out.push_back(k);
  }
  return out;
}

using Keys = std::vector<std::string>;

const RoomKey kRoom{"main", "room-1"};

class SqliteStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = openOrDie(dir_.path() / "shard-0.db"); }

  void putAll(const Keys& keys, const RoomKey& room = kRoom) {
    for (const auto& k : keys) ASSERT_TRUE(db_->put(room, k, "v:" + k).ok());
  }
  Keys list(ListOptions options) { return keysOf(db_->list(kRoom, options)); }

  TempDir dir_;
  std::unique_ptr<SqliteStorage> db_;
};

// The keys of the Durable Objects list() examples in PARTYKIT-API.md §4.
const Keys kAbcd = {"a", "b", "c/1", "c/2", "d"};

// ---- observation (the inspector, /metrics) -------------------------------------------------------

TEST_F(SqliteStorageTest, UsageCountsOneRoomsKeysAndBytesAndBytesInUseGrows) {
  const std::uint64_t empty = db_->bytesInUse();
  EXPECT_GT(empty, 0u);
  ASSERT_TRUE(db_->put(kRoom, "ab", "12345").ok());
  ASSERT_TRUE(db_->put(kRoom, "k\0x"s, "\0\0"s).ok());  // NUL bytes count too
  ASSERT_TRUE(db_->put(RoomKey{"main", "other"}, "zz", std::string(100'000, 'v')).ok());
  auto u = db_->usage(kRoom);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->keys, 2u);
  EXPECT_EQ(u->bytes, 2u + 5u + 3u + 2u);
  // The base class's answer (by list()) agrees with SQLite's.
  auto viaList = db_->Storage::usage(kRoom);
  ASSERT_TRUE(viaList.ok());
  EXPECT_EQ(viaList->bytes, u->bytes);
  ASSERT_TRUE(db_->commit().ok());
  EXPECT_GT(db_->bytesInUse(), empty + 100'000);
  auto none = db_->usage(RoomKey{"main", "nobody"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->keys, 0u);
  EXPECT_EQ(none->bytes, 0u);
}

// ---- keys and values ----------------------------------------------------------------------------

TEST_F(SqliteStorageTest, GetOfMissingKeyReturnsNothing) {
  auto v = db_->get(kRoom, "nope");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
}

TEST_F(SqliteStorageTest, PutThenGetRoundTripsArbitraryBytes) {
  const std::string key = "k\0ey\xFF"s;
  const std::string value = "\0\x01\x02 value \xC3\x28\0"s;
  ASSERT_TRUE(db_->put(kRoom, key, value).ok());
  auto v = db_->get(kRoom, key);
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, value);
  // The key with its NUL is not the same key as its prefix before the NUL.
  EXPECT_FALSE(db_->get(kRoom, "k")->has_value());
}

TEST_F(SqliteStorageTest, EmptyKeyAndEmptyValueAreStorableAndDistinctFromMissing) {
  ASSERT_TRUE(db_->put(kRoom, "", "").ok());
  auto v = db_->get(kRoom, "");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "");
  EXPECT_EQ(keysOf(db_->list(kRoom, {})), Keys{""});
}

TEST_F(SqliteStorageTest, PutOverwritesTheValue) {
  ASSERT_TRUE(db_->put(kRoom, "k", "one").ok());
  ASSERT_TRUE(db_->put(kRoom, "k", "two").ok());
  EXPECT_EQ(**db_->get(kRoom, "k"), "two");
  EXPECT_EQ(db_->list(kRoom, {})->size(), 1u);
}

TEST_F(SqliteStorageTest, KeysSortByUtf8BytesNotUtf16) {
  // U+FFFF is EF BF BF in UTF-8 and U+1F600 is F0 9F 98 80: bytes put U+FFFF first, while UTF-16
  // (D83D DE00 against FFFF) would put the emoji first. Durable Objects use the byte order.
  const std::string ffff = "\xEF\xBF\xBF", emoji = "\xF0\x9F\x98\x80";
  putAll({emoji, ffff, "z", "\xC2\x80", "\x7F", "a", "ab", "a\0"s});
  EXPECT_EQ(list({}), (Keys{"a", "a\0"s, "ab", "z", "\x7F", "\xC2\x80", ffff, emoji}));
}

TEST_F(SqliteStorageTest, HandlesHugeKeysAndValuesWithoutLimits) {
  // The Durable Object limits are the JS layer's to enforce; here big inputs just work.
  const std::string key(100'000, 'k');
  const std::string value(4 << 20, '\xAB');
  ASSERT_TRUE(db_->put(kRoom, key, value).ok());
  ASSERT_TRUE(db_->commit().ok());
  EXPECT_EQ(**db_->get(kRoom, key), value);
}

TEST_F(SqliteStorageTest, ValuePastSqlitesLengthLimitFailsThatPutOnly) {
  // SQLITE_MAX_LENGTH is 1e9 bytes by default; a lowered limit stands in for a value that big.
  sqlite3_limit(db_->rawHandleForTesting(), SQLITE_LIMIT_LENGTH, 1000);
  ASSERT_TRUE(db_->put(kRoom, "before", "1").ok());
  auto r = db_->put(kRoom, "big", std::string(2000, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("put: "), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("too big"), std::string::npos) << r.error().message;
  // The failed statement does not take the turn's other writes with it.
  EXPECT_TRUE(db_->dirty());
  ASSERT_TRUE(db_->put(kRoom, "after", "2").ok());
  ASSERT_TRUE(db_->commit().ok());
  EXPECT_EQ(list({}), (Keys{"after", "before"}));
}

TEST_F(SqliteStorageTest, EmptyPartyAndRoomNamesAreARoomOfTheirOwn) {
  const RoomKey empty{"", ""};
  ASSERT_TRUE(db_->put(empty, "k", "e").ok());
  ASSERT_TRUE(db_->put(kRoom, "k", "r").ok());
  EXPECT_EQ(**db_->get(empty, "k"), "e");
  EXPECT_EQ(db_->list(empty, {})->size(), 1u);
}

TEST_F(SqliteStorageTest, RoomsWithNamesThatConcatenateAlikeStaySeparate) {
  // ("ab", "c") and ("a", "bc") would collide if party and room were joined into one string.
  ASSERT_TRUE(db_->put({"ab", "c"}, "k", "1").ok());
  ASSERT_TRUE(db_->put({"a", "bc"}, "k", "2").ok());
  ASSERT_TRUE(db_->put({"a", "b\0c"s}, "k", "3").ok());
  EXPECT_EQ(**db_->get({"ab", "c"}, "k"), "1");
  EXPECT_EQ(**db_->get({"a", "bc"}, "k"), "2");
  EXPECT_EQ(**db_->get({"a", "b\0c"s}, "k"), "3");
  EXPECT_FALSE(db_->get({"a", "b"}, "k")->has_value());
}

// ---- list() -------------------------------------------------------------------------------------

TEST_F(SqliteStorageTest, ListWithNoOptionsReturnsEveryKeyAscendingWithValues) {
  putAll(kAbcd);
  auto entries = db_->list(kRoom, {});
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(keysOf(entries), kAbcd);
  EXPECT_EQ((*entries)[2].second, "v:c/1");
}

TEST_F(SqliteStorageTest, ListStartIsInclusiveAndEndExclusive) {
  putAll(kAbcd);
  EXPECT_EQ(list({.start = "b", .end = "d"}), (Keys{"b", "c/1", "c/2"}));
  // Bounds that are not keys.
  EXPECT_EQ(list({.start = "bb", .end = "c/2"}), (Keys{"c/1"}));
}

TEST_F(SqliteStorageTest, ListStartAfterWithLimit) {
  putAll(kAbcd);
  EXPECT_EQ(list({.startAfter = "b", .limit = 2}), (Keys{"c/1", "c/2"}));
  EXPECT_EQ(list({.startAfter = "d"}), Keys{});
}

TEST_F(SqliteStorageTest, ListReverseWithLimitTakesFromTheEnd) {
  putAll(kAbcd);
  EXPECT_EQ(list({.reverse = true, .limit = 2}), (Keys{"d", "c/2"}));
}

TEST_F(SqliteStorageTest, ListReverseKeepsTheMeaningOfStartAndEnd) {
  putAll(kAbcd);
  EXPECT_EQ(list({.start = "b", .end = "d", .reverse = true}), (Keys{"c/2", "c/1", "b"}));
  EXPECT_EQ(list({.startAfter = "b", .end = "d", .reverse = true, .limit = 1}), (Keys{"c/2"}));
  EXPECT_EQ(list({.startAfter = "b", .reverse = true}), (Keys{"d", "c/2", "c/1"}));
  EXPECT_EQ(list({.end = "b", .reverse = true}), (Keys{"a"}));
}

TEST_F(SqliteStorageTest, ListWithStartAfterEndIsEmpty) {
  putAll(kAbcd);
  EXPECT_EQ(list({.start = "d", .end = "b"}), Keys{});
  EXPECT_EQ(list({.startAfter = "c/2", .end = "c/1", .reverse = true}), Keys{});
  EXPECT_EQ(list({.start = "b", .end = "b"}), Keys{});
}

TEST_F(SqliteStorageTest, ListPrefixSelectsKeysStartingWithIt) {
  putAll({"a", "b", "c", "c/1", "c/2", "c0", "d"});
  EXPECT_EQ(list({.prefix = "c/"}), (Keys{"c/1", "c/2"}));
  EXPECT_EQ(list({.prefix = "c"}), (Keys{"c", "c/1", "c/2", "c0"}));
  EXPECT_EQ(list({.prefix = "c/", .reverse = true, .limit = 1}), (Keys{"c/2"}));
  EXPECT_EQ(list({.prefix = "x"}), Keys{});
}

TEST_F(SqliteStorageTest, ListEmptyPrefixMatchesEverything) {
  putAll(kAbcd);
  EXPECT_EQ(list({.prefix = ""}), kAbcd);
}

TEST_F(SqliteStorageTest, ListPrefixEndingInFFBytesCarriesIntoTheByteBefore) {
  // The upper bound of "a\xFF" is "b", not "a\x100": the 0xFF is dropped and 'a' incremented.
  putAll({"a", "a\xFE", "a\xFF", "a\xFF\0"s, "a\xFF\xFF", "a\xFF\xFF\xFF\x01", "b", "b\0"s});
  EXPECT_EQ(list({.prefix = "a\xFF"}),
            (Keys{"a\xFF", "a\xFF\0"s, "a\xFF\xFF", "a\xFF\xFF\xFF\x01"}));
  EXPECT_EQ(list({.prefix = "a\xFF\xFF", .reverse = true}),
            (Keys{"a\xFF\xFF\xFF\x01", "a\xFF\xFF"}));
}

TEST_F(SqliteStorageTest, ListPrefixOfOnlyFFBytesHasNoUpperBound) {
  putAll({"\xFE\xFF", "\xFF", "\xFF\xFF", "\xFF\xFF\xFF", "\xFF\xFF\x00"s, "\xFF\x00"s});
  EXPECT_EQ(list({.prefix = "\xFF\xFF"}), (Keys{"\xFF\xFF", "\xFF\xFF\x00"s, "\xFF\xFF\xFF"}));
  EXPECT_EQ(list({.prefix = "\xFF"}).size(), 5u);
}

TEST_F(SqliteStorageTest, ListPrefixCombinesWithStartEndAndStartAfter) {
  putAll({"a", "c/1", "c/2", "c/3", "c/4", "d"});
  EXPECT_EQ(list({.start = "a", .end = "c/3", .prefix = "c/"}), (Keys{"c/1", "c/2"}));
  EXPECT_EQ(list({.startAfter = "c/2", .end = "z", .prefix = "c/"}), (Keys{"c/3", "c/4"}));
  EXPECT_EQ(list({.start = "c/2", .prefix = "c/", .reverse = true, .limit = 2}),
            (Keys{"c/4", "c/3"}));
  // An end beyond the prefix does not widen it, and a start beyond it empties it.
  EXPECT_EQ(list({.end = "d", .prefix = "c/"}).size(), 4u);
  EXPECT_EQ(list({.start = "c0", .prefix = "c/"}), Keys{});
}

TEST_F(SqliteStorageTest, ListStartAfterEqualToPrefixExcludesThatKey) {
  putAll({"c", "c/1", "d"});
  EXPECT_EQ(list({.startAfter = "c", .prefix = "c"}), (Keys{"c/1"}));
  EXPECT_EQ(list({.start = "c", .prefix = "c"}), (Keys{"c", "c/1"}));
}

TEST_F(SqliteStorageTest, ListIsConfinedToTheRoom) {
  putAll(kAbcd);
  putAll({"a", "zz"}, {"main", "room-2"});
  putAll({"b"}, {"other", "room-1"});
  EXPECT_EQ(list({}), kAbcd);
  EXPECT_EQ(list({.startAfter = "d"}), Keys{});
  EXPECT_EQ(keysOf(db_->list({"main", "room-2"}, {.reverse = true})), (Keys{"zz", "a"}));
}

TEST_F(SqliteStorageTest, ListToleratesOptionsTheJsLayerRejects) {
  putAll(kAbcd);
  EXPECT_EQ(list({.limit = 0}), Keys{});
  // Both start and startAfter: start wins.
  EXPECT_EQ(list({.start = "b", .startAfter = "b", .limit = 1}), (Keys{"b"}));
}

// Checks the plans of the statements that the connection has prepared: every list() variant
// seeks into the primary key for its bounds and none sorts.
TEST_F(SqliteStorageTest, ListUsesIndexRangeScansWithoutSorting) {
  putAll(kAbcd);
  sqlite3* raw = db_->rawHandleForTesting();
  int listStatements = 0;
  for (sqlite3_stmt* s = sqlite3_next_stmt(raw, nullptr); s; s = sqlite3_next_stmt(raw, s)) {
    const std::string sql = sqlite3_sql(s);
    if (!sql.starts_with("SELECT key, value FROM kv")) continue;
    ++listStatements;
    sqlite3_stmt* plan = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &plan, nullptr),
              SQLITE_OK);
    std::string details;
    while (sqlite3_step(plan) == SQLITE_ROW) {
      details += reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
      details += "; ";
    }
    sqlite3_finalize(plan);
    SCOPED_TRACE(sql + " => " + details);
    EXPECT_EQ(details.find("TEMP B-TREE"), std::string::npos);
    EXPECT_NE(details.find("SEARCH kv USING PRIMARY KEY (party=? AND room=?"), std::string::npos);
    if (sql.find("key >") != std::string::npos || sql.find("key <") != std::string::npos) {
      EXPECT_NE(details.find("AND key"), std::string::npos);
    }
  }
  EXPECT_EQ(listStatements, 12);
}

TEST_F(SqliteStorageTest, StatementsArePreparedOnceAndReused) {
  sqlite3* raw = db_->rawHandleForTesting();
  auto countStatements = [&] {
    int n = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(raw, nullptr); s; s = sqlite3_next_stmt(raw, s)) ++n;
    return n;
  };
  const int before = countStatements();
  for (int i = 0; i < 50; ++i) {
    const std::string k = std::to_string(i);
    ASSERT_TRUE(db_->put(kRoom, k, k).ok());
    ASSERT_TRUE(db_->get(kRoom, k).ok());
    ASSERT_TRUE(db_->list(kRoom, {.prefix = "1", .reverse = (i % 2 == 0)}).ok());
    ASSERT_TRUE(db_->getMany(kRoom, {k, "x"}).ok());
    ASSERT_TRUE(db_->setAlarm(kRoom, i).ok());
    ASSERT_TRUE(db_->commit().ok());
  }
  EXPECT_EQ(countStatements(), before);
  for (sqlite3_stmt* s = sqlite3_next_stmt(raw, nullptr); s; s = sqlite3_next_stmt(raw, s)) {
    EXPECT_EQ(sqlite3_stmt_status(s, SQLITE_STMTSTATUS_REPREPARE, 0), 0) << sqlite3_sql(s);
    // A statement left un-reset would hold a read snapshot and block checkpoints.
    EXPECT_FALSE(sqlite3_stmt_busy(s)) << sqlite3_sql(s);
  }
}

// ---- getMany, delete, deleteAll -----------------------------------------------------------------

TEST_F(SqliteStorageTest, GetManyReturnsExistingEntriesInKeyOrder) {
  putAll({"b", "a", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF"});
  auto got = db_->getMany(kRoom, {"\xF0\x9F\x98\x80", "missing", "b", "a", "b", "\xEF\xBF\xBF"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(keysOf(got), (Keys{"a", "b", "\xEF\xBF\xBF", "\xF0\x9F\x98\x80"}));
  EXPECT_EQ((*got)[1].second, "v:b");
  EXPECT_TRUE(db_->getMany(kRoom, {})->empty());
  EXPECT_TRUE(db_->getMany({"main", "elsewhere"}, {"a", "b"})->empty());
}

TEST_F(SqliteStorageTest, DeleteReportsWhetherTheKeyExisted) {
  putAll({"a"});
  EXPECT_TRUE(*db_->del(kRoom, "a"));
  EXPECT_FALSE(*db_->del(kRoom, "a"));
  EXPECT_FALSE(*db_->del(kRoom, "never"));
  EXPECT_FALSE(db_->get(kRoom, "a")->has_value());
}

TEST_F(SqliteStorageTest, DeleteAllClearsOnlyThatRoomsKeysAndKeepsItsAlarm) {
  const RoomKey sibling{"main", "room-10"}, otherParty{"other", "room-1"};
  putAll(kAbcd);
  putAll({"a"}, sibling);
  putAll({"a"}, otherParty);
  ASSERT_TRUE(db_->setAlarm(kRoom, 42).ok());
  ASSERT_TRUE(db_->deleteAll(kRoom).ok());
  EXPECT_EQ(list({}), Keys{});
  EXPECT_EQ(keysOf(db_->list(sibling, {})), Keys{"a"});
  EXPECT_EQ(keysOf(db_->list(otherParty, {})), Keys{"a"});
  EXPECT_EQ(*db_->getAlarm(kRoom), 42);
  ASSERT_TRUE(db_->deleteAll({"main", "no-such-room"}).ok());
}

// ---- alarms -------------------------------------------------------------------------------------

TEST_F(SqliteStorageTest, AlarmSetGetReplaceDelete) {
  EXPECT_FALSE(db_->getAlarm(kRoom)->has_value());
  ASSERT_TRUE(db_->setAlarm(kRoom, 1'700'000'000'000).ok());
  EXPECT_EQ(*db_->getAlarm(kRoom), 1'700'000'000'000);
  ASSERT_TRUE(db_->setAlarm(kRoom, -5).ok());
  EXPECT_EQ(*db_->getAlarm(kRoom), -5);
  ASSERT_TRUE(db_->deleteAlarm(kRoom).ok());
  EXPECT_FALSE(db_->getAlarm(kRoom)->has_value());
  ASSERT_TRUE(db_->deleteAlarm(kRoom).ok());
}

TEST_F(SqliteStorageTest, AllAlarmsListsOneAlarmPerRoom) {
  ASSERT_TRUE(db_->setAlarm({"p", "r1"}, 10).ok());
  ASSERT_TRUE(db_->setAlarm({"p", "r2"}, 20).ok());
  ASSERT_TRUE(db_->setAlarm({"p", "r1"}, 11).ok());
  ASSERT_TRUE(db_->setAlarm({"q", "r1"}, 30).ok());
  ASSERT_TRUE(db_->commit().ok());
  auto all = db_->allAlarms();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].room, (RoomKey{"p", "r1"}));
  EXPECT_EQ((*all)[0].timeMs, 11);
  EXPECT_EQ((*all)[2].room, (RoomKey{"q", "r1"}));
}

// ---- transactions -------------------------------------------------------------------------------

TEST_F(SqliteStorageTest, DirtyFromFirstWriteUntilCommit) {
  EXPECT_FALSE(db_->dirty());
  ASSERT_TRUE(db_->get(kRoom, "a").ok());
  ASSERT_TRUE(db_->list(kRoom, {}).ok());
  EXPECT_FALSE(db_->dirty()) << "reads do not open a write transaction";
  ASSERT_TRUE(db_->put(kRoom, "a", "1").ok());
  EXPECT_TRUE(db_->dirty());
  ASSERT_TRUE(db_->commit().ok());
  EXPECT_FALSE(db_->dirty());
  ASSERT_TRUE(db_->commit().ok()) << "commit when clean is a no-op";
  ASSERT_TRUE(db_->deleteAlarm(kRoom).ok());
  EXPECT_TRUE(db_->dirty());
  db_->rollback();
  EXPECT_FALSE(db_->dirty());
}

TEST_F(SqliteStorageTest, UncommittedWritesAreVisibleToReads) {
  putAll({"a", "b"});
  ASSERT_TRUE(db_->setAlarm(kRoom, 7).ok());
  ASSERT_TRUE(*db_->del(kRoom, "a"));
  EXPECT_EQ(list({}), Keys{"b"});
  EXPECT_EQ(*db_->getAlarm(kRoom), 7);
  EXPECT_EQ(db_->allAlarms()->size(), 1u);
}

TEST_F(SqliteStorageTest, RollbackDiscardsEveryKindOfWriteSinceCommit) {
  putAll({"a", "b"});
  ASSERT_TRUE(db_->setAlarm(kRoom, 1).ok());
  ASSERT_TRUE(db_->commit().ok());

  ASSERT_TRUE(db_->put(kRoom, "c", "new").ok());
  ASSERT_TRUE(db_->put(kRoom, "a", "changed").ok());
  ASSERT_TRUE(*db_->del(kRoom, "b"));
  ASSERT_TRUE(db_->deleteAll({"main", "whatever"}).ok());
  ASSERT_TRUE(db_->setAlarm(kRoom, 2).ok());
  db_->rollback();

  EXPECT_EQ(list({}), (Keys{"a", "b"}));
  EXPECT_EQ(**db_->get(kRoom, "a"), "v:a");
  EXPECT_EQ(*db_->getAlarm(kRoom), 1);
  ASSERT_TRUE(db_->deleteAll(kRoom).ok());
  ASSERT_TRUE(db_->deleteAlarm(kRoom).ok());
  db_->rollback();
  EXPECT_EQ(list({}), (Keys{"a", "b"}));
  EXPECT_EQ(*db_->getAlarm(kRoom), 1);
}

TEST_F(SqliteStorageTest, ReopenAfterCommitKeepsDataAndCloseWithoutCommitLosesOnlyTheOpenTurn) {
  const fs::path file = dir_.path() / "shard-0.db";
  putAll({"a", "b"});
  ASSERT_TRUE(db_->setAlarm(kRoom, 5).ok());
  ASSERT_TRUE(db_->commit().ok());
  ASSERT_TRUE(db_->put(kRoom, "c", "lost").ok());
  ASSERT_TRUE(*db_->del(kRoom, "a"));
  ASSERT_TRUE(db_->setAlarm(kRoom, 6).ok());
  db_.reset();  // as if the process died before commit()

  db_ = openOrDie(file);
  EXPECT_EQ(list({}), (Keys{"a", "b"}));
  EXPECT_EQ(*db_->getAlarm(kRoom), 5);
}

TEST_F(SqliteStorageTest, FailedCommitRollsBackAndLeavesTheStorageUsable) {
  putAll({"kept"});
  ASSERT_TRUE(db_->commit().ok());
  // A commit hook that refuses turns COMMIT into a rollback with an error, which stands in for a
  // disk that fails at commit time.
  bool refuse = true;
  sqlite3_commit_hook(
      db_->rawHandleForTesting(), [](void* arg) { return *static_cast<bool*>(arg) ? 1 : 0; },
      &refuse);
  putAll({"doomed"});
  auto r = db_->commit();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("commit"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("constraint failed"), std::string::npos) << r.error().message;
  EXPECT_FALSE(db_->dirty());
  EXPECT_EQ(list({}), Keys{"kept"});

  refuse = false;
  putAll({"later"});
  ASSERT_TRUE(db_->commit().ok());
  EXPECT_EQ(list({}), (Keys{"kept", "later"}));
}

TEST_F(SqliteStorageTest, ExclusiveFileCannotBeOpenedTwice) {
  auto second = SqliteStorage::open(dir_.path() / "shard-0.db",
                                    {.busyTimeout = std::chrono::milliseconds(20)});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("database is locked"), std::string::npos)
      << second.error().message;
  // The first handle is unaffected.
  ASSERT_TRUE(db_->put(kRoom, "a", "1").ok());
  ASSERT_TRUE(db_->commit().ok());
  // Closing releases the file.
  db_.reset();
  db_ = openOrDie(dir_.path() / "shard-0.db");
  EXPECT_EQ(list({}), Keys{"a"});
}

TEST(SqliteStorage, SharedWriteWhileAnotherConnectionWritesFailsWithSqlitesMessage) {
  TempDir dir;
  const fs::path file = dir.path() / "shard-0.db";
  auto db = openOrDie(file, {.sharing = FileSharing::kShared});
  auto other = openOrDie(
      file, {.sharing = FileSharing::kShared, .busyTimeout = std::chrono::milliseconds(20)});
  ASSERT_TRUE(db->put(kRoom, "a", "1").ok());  // holds the write lock until commit
  auto r = other->put(kRoom, "b", "2");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("database is locked"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("shard-0.db: put: "), std::string::npos) << r.error().message;
  EXPECT_FALSE(other->dirty());
  // Reads go on from the last committed state.
  EXPECT_FALSE(other->get(kRoom, "a")->has_value());
  ASSERT_TRUE(db->commit().ok());
  ASSERT_TRUE(other->put(kRoom, "b", "2").ok());
  ASSERT_TRUE(other->commit().ok());
  EXPECT_EQ(keysOf(db->list(kRoom, {})), (Keys{"a", "b"}));
}

// ---- opening ------------------------------------------------------------------------------------

int pragmaInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  PARTYD_CHECK(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK, sql);
  PARTYD_CHECK(sqlite3_step(s) == SQLITE_ROW, sql);
  int v = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return v;
}

std::string pragmaText(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  PARTYD_CHECK(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK, sql);
  PARTYD_CHECK(sqlite3_step(s) == SQLITE_ROW, sql);
  std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return v;
}

TEST_F(SqliteStorageTest, OpensInWalModeWithTheRequestedSynchronousLevel) {
  EXPECT_EQ(pragmaText(db_->rawHandleForTesting(), "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragmaText(db_->rawHandleForTesting(), "PRAGMA locking_mode"), "exclusive");
  EXPECT_EQ(pragmaInt(db_->rawHandleForTesting(), "PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(pragmaInt(db_->rawHandleForTesting(), "PRAGMA busy_timeout"), 5000);
  auto full = openOrDie(dir_.path() / "full.db", {.durability = Durability::kFull});
  EXPECT_EQ(pragmaInt(full->rawHandleForTesting(), "PRAGMA synchronous"), 2);  // FULL
}

TEST(SqliteStorage, OpenOfAnUnreachablePathFailsWithAClearMessage) {
  auto s = SqliteStorage::open("/nonexistent-partyd-dir/x/shard-0.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/nonexistent-partyd-dir/x/shard-0.db"), std::string::npos);
  EXPECT_NE(s.error().message.find("unable to open database file"), std::string::npos)
      << s.error().message;
}

TEST(SqliteStorage, OpenRefusesAFileWithANewerSchema) {
  TempDir dir;
  const fs::path file = dir.path() / "shard-0.db";
  { openOrDie(file); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto s = SqliteStorage::open(file);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer"), std::string::npos) << s.error().message;
}

TEST(SqliteStorage, OpenRefusesAFileThatIsNotADatabase) {
  TempDir dir;
  const fs::path file = dir.path() / "shard-0.db";
  {
    FILE* f = std::fopen(file.c_str(), "w");
    std::fputs(std::string(8192, 'x').c_str(), f);
    std::fclose(f);
  }
  auto s = SqliteStorage::open(file);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not a database"), std::string::npos) << s.error().message;
}

TEST(SqliteStorage, InMemoryStorageCommitsRollsBackAndKeepsNothingOnDisk) {
  auto mem = SqliteStorage::openInMemory();
  ASSERT_TRUE(mem.ok()) << mem.error().message;
  auto& db = **mem;
  EXPECT_EQ(db.name(), ":memory:");
  ASSERT_TRUE(db.put(kRoom, "a", "1").ok());
  ASSERT_TRUE(db.commit().ok());
  ASSERT_TRUE(db.put(kRoom, "b", "2").ok());
  ASSERT_TRUE(db.setAlarm(kRoom, 3).ok());
  db.rollback();
  EXPECT_EQ(keysOf(db.list(kRoom, {})), Keys{"a"});
  EXPECT_FALSE(db.getAlarm(kRoom)->has_value());
  // Two in-memory storages are separate databases.
  auto other = SqliteStorage::openInMemory();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)->get(kRoom, "a")->has_value());
}

// ---- crash ------------------------------------------------------------------------------------

// A child process writes two keys per turn and commits, then reports the turn's number through a
// pipe; the parent kills it with SIGKILL at a random moment. Every reported turn must be on disk
// with both its keys (a commit is durable once it returns, and atomic), and the turn after the last
// reported one may or may not be.
TEST(SqliteStorage, SurvivesKillNineWithEveryReportedCommitPresent) {
  std::mt19937 rng(std::random_device{}());
  for (int iteration = 0; iteration < 10; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    TempDir dir;
    const fs::path file = dir.path() / "shard-0.db";
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      auto s = SqliteStorage::open(file);
      if (!s.ok()) ::_exit(2);
      for (std::uint64_t turn = 0;; ++turn) {
        const std::string n = std::to_string(turn);
        if (!(*s)->put(kRoom, "a" + n, n).ok() || !(*s)->put(kRoom, "b" + n, n).ok() ||
            !(*s)->put(kRoom, "last", n).ok() || !(*s)->commit().ok()) {
          ::_exit(3);
        }
        if (::write(fds[1], &turn, sizeof turn) != sizeof turn) ::_exit(4);
      }
    }
    ::close(fds[1]);

    // Reads reports until a random deadline, kills, then reads what was reported before the kill.
    std::int64_t lastReported = -1;
    auto readReports = [&](int timeoutMs) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, timeoutMs) <= 0) return false;
      std::uint64_t turn;
      ssize_t n = ::read(fds[0], &turn, sizeof turn);
      if (n != sizeof turn) return false;
      EXPECT_EQ(static_cast<std::int64_t>(turn), lastReported + 1);
      lastReported = static_cast<std::int64_t>(turn);
      return true;
    };
    // The first report is awaited so that every iteration kills a child that is committing.
    for (int tries = 0; lastReported < 0 && tries < 1000; ++tries) readReports(10);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(std::uniform_int_distribution(0, 100)(rng));
    while (std::chrono::steady_clock::now() < deadline) readReports(5);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    while (readReports(0)) {
    }
    ::close(fds[0]);

    auto db = openOrDie(file);
    auto last = db->get(kRoom, "last");
    ASSERT_TRUE(last.ok());
    ASSERT_GE(lastReported, 0) << "the child never committed";
    ASSERT_TRUE(last->has_value());
    const std::int64_t lastOnDisk = std::stoll(**last);
    EXPECT_GE(lastOnDisk, lastReported);
    EXPECT_LE(lastOnDisk, lastReported + 1) << "at most the unreported turn was committed";
    auto entries = db->list(kRoom, {});
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ(entries->size(), static_cast<std::size_t>(2 * (lastOnDisk + 1) + 1));
    for (std::int64_t turn = 0; turn <= lastOnDisk; ++turn) {
      const std::string n = std::to_string(turn);
      ASSERT_TRUE(db->get(kRoom, "a" + n)->has_value()) << n;
      ASSERT_TRUE(db->get(kRoom, "b" + n)->has_value()) << n;
    }
  }
}

}  // namespace
}  // namespace partyd::storage
