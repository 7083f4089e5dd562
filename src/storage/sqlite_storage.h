// SqliteStorage is the embedded Storage backend: one SQLite database per shard (shard-<i>.db, see
// shard_files.h), used by that shard's thread only. It owns the connection and its prepared
// statements; it knows nothing of V8 values or of the Durable Object limits, which the JS-facing
// layer checks before calling here.
//
// Schema. Two WITHOUT ROWID tables, so rows live in their primary-key B-tree:
//   kv(party BLOB, room BLOB, key BLOB, value BLOB, PRIMARY KEY (party, room, key))
//   alarms(party BLOB, room BLOB, time_ms INTEGER, PRIMARY KEY (party, room))
// Every column that holds bytes is a BLOB, and BLOBs compare with memcmp, so a room's keys are one
// contiguous range of the index in UTF-8 byte order, the order of Durable Objects. list() and
// deleteAll() are range scans over that index. PRAGMA user_version holds the schema version.
//
// Durability. The file is in WAL mode. The first write after a commit() opens a transaction
// (BEGIN IMMEDIATE); later reads and writes happen inside it and see its writes; commit() ends it.
// With Durability::kProcess (synchronous=NORMAL) a returned commit() has written the WAL frames
// to the OS, so it survives kill -9 of partyd but not a power loss or kernel crash; with
// Durability::kFull (synchronous=FULL) commit() also fsyncs the WAL. A crash, or closing without
// commit(), loses exactly the writes of the open transaction. If commit() fails, the open
// transaction is rolled back, the storage matches what is on disk and stays usable, and the
// caller must treat that turn's writes as lost. A write that fails alone (a value too big for
// sqlite) leaves the transaction and its other writes in place, unless sqlite itself had to roll
// the transaction back, which the error message then says.
//
// Locking. By default the file is opened with locking_mode=EXCLUSIVE (see FileSharing): one
// process, one connection, and no lock calls per transaction.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "base/result.h"
#include "storage/storage.h"

struct sqlite3;

namespace partyd::storage {

enum class Durability {
  kProcess,  // synchronous=NORMAL: survives kill -9 of partyd, not power loss
  kFull,     // synchronous=FULL: survives power loss, at the price of an fsync per commit
};

// Who else may use the file while a SqliteStorage has it open.
enum class FileSharing {
  // Nobody (PRAGMA locking_mode=EXCLUSIVE): the lock is taken at open and held until close, so a
  // second partyd pointed at the same state directory fails to open the file ("database is
  // locked") instead of serving the same rooms, and transactions skip the lock calls they would
  // otherwise make (measured on the dev VM: get() outside a write transaction ~1 µs instead of
  // ~12 µs, put+commit with kProcess ~9 µs instead of ~24 µs).
  kExclusive,
  // Other connections may read and write it: a sqlite3 shell, a test with two handles.
  kShared,
};

struct SqliteOptions {
  Durability durability = Durability::kProcess;
  FileSharing sharing = FileSharing::kExclusive;
  // How long opening or a statement waits on a lock that another connection holds before failing
  // with "database is locked".
  std::chrono::milliseconds busyTimeout{5000};
};

class SqliteStorage final : public Storage {
 public:
  // Opens or creates the database at file.
  static Result<std::unique_ptr<SqliteStorage>> open(const std::filesystem::path& file,
                                                     SqliteOptions options = {});
  // A private in-memory database for --no-persist: commit() and rollback() behave as with a file,
  // and everything is gone when the object is destroyed.
  static Result<std::unique_ptr<SqliteStorage>> openInMemory();

  // Rolls back writes that were not committed.
  ~SqliteStorage() override;

  Result<std::optional<std::string>> get(const RoomKey& room, std::string_view key) override;
  Result<std::vector<Entry>> getMany(const RoomKey& room,
                                     const std::vector<std::string>& keys) override;
  Result<void> put(const RoomKey& room, std::string_view key, std::string_view value) override;
  Result<bool> del(const RoomKey& room, std::string_view key) override;
  // start wins if both start and startAfter are set; limit 0 returns nothing.
  Result<std::vector<Entry>> list(const RoomKey& room, const ListOptions& options) override;
  Result<void> deleteAll(const RoomKey& room) override;

  Result<std::optional<std::int64_t>> getAlarm(const RoomKey& room) override;
  Result<void> setAlarm(const RoomKey& room, std::int64_t timeMs) override;
  Result<void> deleteAlarm(const RoomKey& room) override;
  Result<std::vector<Alarm>> allAlarms() override;

  Result<void> commit() override;
  Result<Usage> usage(const RoomKey& room) override;
  std::uint64_t bytesInUse() override;
  void rollback() override;
  bool dirty() const override;

  // The file name given to open(), or ":memory:".
  const std::string& name() const;
  // For tests that inject faults or inspect query plans; partyd code never uses it.
  sqlite3* rawHandleForTesting() const;

 private:
  struct Db;
  explicit SqliteStorage(std::unique_ptr<Db> db);
  static Result<std::unique_ptr<SqliteStorage>> openPath(const std::string& path,
                                                         SqliteOptions options);

  // Opens the write transaction unless one is open.
  Result<void> beginWrite();
  // Prefixes the file name and the operation, and notices when sqlite ended the transaction by
  // itself on an error (then the writes since the last commit are gone, and the message says so).
  Error fail(std::string_view op, const Error& error);

  std::unique_ptr<Db> db_;
};

}  // namespace partyd::storage
