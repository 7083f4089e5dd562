#include "storage/sqlite_storage.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>

#include "storage/sqlite_db.h"

namespace partyd::storage {

namespace {

using sqlite::Query;
using sqlite::Statement;

// The lower bound of a list() range: none, inclusive (start, prefix) or exclusive (startAfter).
enum class Lower { kNone = 0, kInclusive = 1, kExclusive = 2 };

constexpr std::size_t listIndex(Lower lower, bool hasUpper, bool reverse) {
  return static_cast<std::size_t>(lower) * 4 + (hasUpper ? 2 : 0) + (reverse ? 1 : 0);
}

std::string listSql(Lower lower, bool hasUpper, bool reverse) {
  std::string sql = "SELECT key, value FROM kv WHERE party = ? AND room = ?";
  if (lower == Lower::kInclusive) sql += " AND key >= ?";
  if (lower == Lower::kExclusive) sql += " AND key > ?";
  if (hasUpper) sql += " AND key < ?";
  sql += reverse ? " ORDER BY key DESC" : " ORDER BY key";
  sql += " LIMIT ?";
  return sql;
}

// The least byte string greater than every string that starts with prefix, or none when the prefix
// is empty or all 0xFF bytes (then nothing above the prefix can fail to start with it).
std::optional<std::string> prefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

}  // namespace

// The connection and every statement SqliteStorage runs, prepared once at open.
struct SqliteStorage::Db {
  std::string name;
  sqlite::Connection conn;
  bool writing = false;  // this object opened a transaction that is not yet committed

  Statement begin, commit, rollback;
  Statement get, put, del, deleteAll;
  Statement getAlarm, setAlarm, deleteAlarm, allAlarms;
  std::array<Statement, 12> list;
  Statement usage;  // prepared on first use (observation only)

  // Statements are members after conn, so they are finalized before it closes.
};

// ---- opening ----------------------------------------------------------------------------------

SqliteStorage::SqliteStorage(std::unique_ptr<Db> db) : db_(std::move(db)) {}

SqliteStorage::~SqliteStorage() {
  rollback();
}

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const std::filesystem::path& file,
                                                           SqliteOptions options) {
  return openPath(file.string(), options);
}

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::openInMemory() {
  return openPath(":memory:", SqliteOptions{});
}

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::openPath(const std::string& path,
                                                               SqliteOptions options) {
  auto conn = sqlite::Connection::open(
      path, {.synchronous = options.durability == Durability::kFull ? sqlite::Synchronous::kFull
                                                                    : sqlite::Synchronous::kNormal,
             .locking = options.sharing == FileSharing::kExclusive ? sqlite::Locking::kExclusive
                                                                   : sqlite::Locking::kShared,
             .busyTimeout = options.busyTimeout});
  if (!conn) return makeError("sqlite storage: " + conn.error().message);

  auto db = std::make_unique<Db>();
  db->name = path;
  db->conn = std::move(*conn);
  std::optional<Error> error;
  auto prepare = [&](Statement& out, std::string_view sql) {
    if (error) return;
    auto stmt = db->conn.prepare(sql);
    if (stmt) {
      out = std::move(*stmt);
    } else {
      error = makeError("sqlite storage " + path + ": " + stmt.error().message);
    }
  };
  prepare(db->begin, "BEGIN IMMEDIATE");
  prepare(db->commit, "COMMIT");
  prepare(db->rollback, "ROLLBACK");
  prepare(db->get, "SELECT value FROM kv WHERE party = ? AND room = ? AND key = ?");
  prepare(db->put,
          "INSERT INTO kv (party, room, key, value) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (party, room, key) DO UPDATE SET value = excluded.value");
  prepare(db->del, "DELETE FROM kv WHERE party = ? AND room = ? AND key = ?");
  prepare(db->deleteAll, "DELETE FROM kv WHERE party = ? AND room = ?");
  prepare(db->getAlarm, "SELECT time_ms FROM alarms WHERE party = ? AND room = ?");
  prepare(db->setAlarm,
          "INSERT INTO alarms (party, room, time_ms) VALUES (?, ?, ?) "
          "ON CONFLICT (party, room) DO UPDATE SET time_ms = excluded.time_ms");
  prepare(db->deleteAlarm, "DELETE FROM alarms WHERE party = ? AND room = ?");
  prepare(db->allAlarms, "SELECT party, room, time_ms FROM alarms ORDER BY party, room");
  for (Lower lower : {Lower::kNone, Lower::kInclusive, Lower::kExclusive}) {
    for (bool hasUpper : {false, true}) {
      for (bool reverse : {false, true}) {
        prepare(db->list[listIndex(lower, hasUpper, reverse)], listSql(lower, hasUpper, reverse));
      }
    }
  }
  if (error) return *error;
  return std::unique_ptr<SqliteStorage>(new SqliteStorage(std::move(db)));
}

const std::string& SqliteStorage::name() const {
  return db_->name;
}

sqlite3* SqliteStorage::rawHandleForTesting() const {
  return db_->conn.get();
}

// ---- transactions -----------------------------------------------------------------------------

Error SqliteStorage::fail(std::string_view op, const Error& error) {
  std::string message =
      "sqlite storage " + db_->name + ": " + std::string(op) + ": " + error.message;
  // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) make sqlite roll back the whole
  // transaction, not just the statement.
  if (db_->writing && !db_->conn.inTransaction()) {
    db_->writing = false;
    message += "; sqlite rolled back the transaction, so the writes since the last commit are lost";
  }
  return makeError(std::move(message));
}

Result<void> SqliteStorage::beginWrite() {
  if (db_->writing) return {};
  auto r = db_->begin.use().run();
  if (!r) return r;
  db_->writing = true;
  return {};
}

Result<void> SqliteStorage::commit() {
  if (!db_->writing) return {};
  auto r = db_->commit.use().run();
  if (r) {
    db_->writing = false;
    return {};
  }
  // COMMIT can fail and leave the transaction open (SQLITE_BUSY), or fail and end it (an I/O
  // error, a commit hook). Either way the object goes back to the committed state, so that the
  // next turn starts clean; the caller knows from the error that this turn's writes are lost.
  if (db_->conn.inTransaction()) (void)db_->rollback.use().run();
  db_->writing = false;
  return makeError("sqlite storage " + db_->name + ": commit: " + r.error().message +
                   "; the writes since the last commit were rolled back");
}

void SqliteStorage::rollback() {
  if (db_->conn.inTransaction()) (void)db_->rollback.use().run();
  db_->writing = false;
}

bool SqliteStorage::dirty() const {
  return db_->writing;
}

// ---- keys -------------------------------------------------------------------------------------

Result<std::optional<std::string>> SqliteStorage::get(const RoomKey& room, std::string_view key) {
  Query q = db_->get.use();
  auto row = q.blob(room.party).blob(room.room).blob(key).step();
  if (!row) return fail("get", row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(q.columnBlob(0)));
}

Result<std::vector<Entry>> SqliteStorage::getMany(const RoomKey& room,
                                                  const std::vector<std::string>& keys) {
  // Point lookups in key order: at most 128 keys by the Durable Object limit, each one B-tree
  // descent, and the result comes out sorted and free of duplicates without a SQL sort.
  std::vector<const std::string*> sorted;
  sorted.reserve(keys.size());
  for (const auto& k : keys) sorted.push_back(&k);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return *a < *b; });
  sorted.erase(std::unique(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return *a == *b; }),
               sorted.end());

  std::vector<Entry> out;
  for (const std::string* key : sorted) {
    Query q = db_->get.use();
    auto row = q.blob(room.party).blob(room.room).blob(*key).step();
    if (!row) return fail("getMany", row.error());
    if (*row) out.emplace_back(*key, std::string(q.columnBlob(0)));
  }
  return out;
}

Result<void> SqliteStorage::put(const RoomKey& room, std::string_view key, std::string_view value) {
  if (auto b = beginWrite(); !b) return fail("put", b.error());
  auto r = db_->put.use().blob(room.party).blob(room.room).blob(key).blob(value).run();
  if (!r) return fail("put", r.error());
  return {};
}

Result<bool> SqliteStorage::del(const RoomKey& room, std::string_view key) {
  if (auto b = beginWrite(); !b) return fail("delete", b.error());
  auto r = db_->del.use().blob(room.party).blob(room.room).blob(key).run();
  if (!r) return fail("delete", r.error());
  return sqlite3_changes(db_->conn.get()) > 0;
}

Result<std::vector<Entry>> SqliteStorage::list(const RoomKey& room, const ListOptions& options) {
  // Folds start/startAfter/end/prefix into one range [lower, upper) of the room's index. The
  // bounds are the same whichever the direction: reverse only flips the scan.
  std::optional<std::string> lower;
  Lower lowerKind = Lower::kNone;
  if (options.start) {
    lower = *options.start;
    lowerKind = Lower::kInclusive;
  } else if (options.startAfter) {
    lower = *options.startAfter;
    lowerKind = Lower::kExclusive;
  }
  std::optional<std::string> upper = options.end;
  if (options.prefix && !options.prefix->empty()) {
    // When the prefix equals an exclusive startAfter, the exclusive bound is the tighter one.
    if (!lower || *options.prefix > *lower) {
      lower = *options.prefix;
      lowerKind = Lower::kInclusive;
    }
    if (auto pe = prefixEnd(*options.prefix); pe && (!upper || *pe < *upper)) upper = std::move(pe);
  }

  Query q = db_->list[listIndex(lowerKind, upper.has_value(), options.reverse)].use();
  q.blob(room.party).blob(room.room);
  if (lower) q.blob(*lower);
  if (upper) q.blob(*upper);
  q.int64(options.limit ? static_cast<std::int64_t>(*options.limit) : -1);

  std::vector<Entry> out;
  for (;;) {
    auto row = q.step();
    if (!row) return fail("list", row.error());
    if (!*row) break;
    out.emplace_back(std::string(q.columnBlob(0)), std::string(q.columnBlob(1)));
  }
  return out;
}

Result<void> SqliteStorage::deleteAll(const RoomKey& room) {
  if (auto b = beginWrite(); !b) return fail("deleteAll", b.error());
  auto r = db_->deleteAll.use().blob(room.party).blob(room.room).run();
  if (!r) return fail("deleteAll", r.error());
  return {};
}

// ---- alarms -----------------------------------------------------------------------------------

Result<std::optional<std::int64_t>> SqliteStorage::getAlarm(const RoomKey& room) {
  Query q = db_->getAlarm.use();
  auto row = q.blob(room.party).blob(room.room).step();
  if (!row) return fail("getAlarm", row.error());
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(q.columnInt64(0));
}

Result<void> SqliteStorage::setAlarm(const RoomKey& room, std::int64_t timeMs) {
  if (auto b = beginWrite(); !b) return fail("setAlarm", b.error());
  auto r = db_->setAlarm.use().blob(room.party).blob(room.room).int64(timeMs).run();
  if (!r) return fail("setAlarm", r.error());
  return {};
}

Result<void> SqliteStorage::deleteAlarm(const RoomKey& room) {
  if (auto b = beginWrite(); !b) return fail("deleteAlarm", b.error());
  auto r = db_->deleteAlarm.use().blob(room.party).blob(room.room).run();
  if (!r) return fail("deleteAlarm", r.error());
  return {};
}

Result<std::vector<Alarm>> SqliteStorage::allAlarms() {
  Query q = db_->allAlarms.use();
  std::vector<Alarm> out;
  for (;;) {
    auto row = q.step();
    if (!row) return fail("allAlarms", row.error());
    if (!*row) break;
    out.push_back(Alarm{RoomKey{std::string(q.columnBlob(0)), std::string(q.columnBlob(1))},
                        q.columnInt64(2)});
  }
  return out;
}

// ---- observation ------------------------------------------------------------------------------

Result<Storage::Usage> SqliteStorage::usage(const RoomKey& room) {
  if (!db_->usage.get()) {
    auto stmt = db_->conn.prepare(
        "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS "
        "BLOB))), 0) FROM kv WHERE party = ? AND room = ?");
    if (!stmt) return makeError("sqlite storage " + db_->name + ": " + stmt.error().message);
    db_->usage = std::move(*stmt);
  }
  Query q = db_->usage.use();
  auto row = q.blob(room.party).blob(room.room).step();
  if (!row) return fail("usage", row.error());
  Usage u;
  if (*row) {
    u.keys = static_cast<std::uint64_t>(q.columnInt64(0));
    u.bytes = static_cast<std::uint64_t>(q.columnInt64(1));
  }
  return u;
}

std::uint64_t SqliteStorage::bytesInUse() {
  auto pragma = [&](const char* sql) -> std::int64_t {
    auto stmt = db_->conn.prepare(sql);
    if (!stmt) return 0;
    Query q = stmt->use();
    auto row = q.step();
    return row.ok() && *row ? q.columnInt64(0) : 0;
  };
  std::int64_t pages = pragma("PRAGMA page_count") - pragma("PRAGMA freelist_count");
  std::int64_t size = pragma("PRAGMA page_size");
  return pages > 0 && size > 0 ? static_cast<std::uint64_t>(pages * size) : 0;
}

}  // namespace partyd::storage
