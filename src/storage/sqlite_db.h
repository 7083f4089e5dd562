// The thin layer over the sqlite3 C API that SqliteStorage and rebalanceShards share: an owned
// connection, prepared statements that reset themselves after each use, error messages that carry
// sqlite's own text, and the schema of a shard file. Only src/storage includes this header; the
// rest of partyd sees the Storage interface.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace partyd::storage::sqlite {

// The schema version kept in PRAGMA user_version. A file with a larger one was written by a newer
// partyd and is refused rather than misread.
inline constexpr int kSchemaVersion = 1;

// "what: <sqlite's message> (code N)" (no "what: " when what is empty), with the message of the
// last failure on db.
Error sqliteError(sqlite3* db, int rc, std::string_view what);

// One use of a prepared statement: binds parameters in order, steps, reads columns, and resets the
// statement when it goes out of scope so that no read snapshot stays open between calls.
class Query {
 public:
  explicit Query(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // Binds the next parameter. A failure (a value past SQLITE_MAX_LENGTH, say) is kept and returned
  // by the next step(), so that call sites stay one chain.
  Query& blob(std::string_view bytes);
  Query& int64(std::int64_t value);
  Query& text(std::string_view chars);

  // true: a row is ready to read; false: the statement is done.
  Result<bool> step();
  // Steps to the end, for statements that return no rows.
  Result<void> run();

  // Valid until the next step() or the end of this Query.
  std::string_view columnBlob(int column);
  std::int64_t columnInt64(int column);

 private:
  sqlite3_stmt* stmt_;
  int next_ = 1;
  int bindRc_ = SQLITE_OK;
};

// A prepared statement owned for the life of a connection.
class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Query use() { return Query(stmt_.get()); }
  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

enum class Synchronous { kNormal, kFull };

// kExclusive is PRAGMA locking_mode=EXCLUSIVE: the connection takes the file's lock at its first
// read and keeps it until it closes, and keeps the WAL index in its own memory instead of a -shm
// file. No other connection, in this process or another, can then use the file, and a transaction
// no longer pays for taking and dropping locks.
enum class Locking { kShared, kExclusive };

struct OpenOptions {
  Synchronous synchronous = Synchronous::kNormal;
  Locking locking = Locking::kExclusive;
  std::chrono::milliseconds busyTimeout{5000};
};

// An open database handle. Statements prepared from it must be destroyed before it.
class Connection {
 public:
  // Opens (creating if needed) a file database in WAL mode and creates the schema. ":memory:"
  // opens a private in-memory database (no WAL; the options do not matter).
  static Result<Connection> open(const std::string& path, const OpenOptions& options);

  sqlite3* get() const { return db_.get(); }
  Result<void> exec(const std::string& sql);
  Result<Statement> prepare(std::string_view sql);
  // Whether a transaction is open on this connection (sqlite may end one by itself on some errors).
  bool inTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

 private:
  Result<void> configure(const std::string& path, const OpenOptions& options);

  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

// Creates the kv and alarms tables in the named schema ("main", or an ATTACHed one) unless its
// user_version says they exist, and refuses a schema version newer than kSchemaVersion.
Result<void> createSchema(Connection& db, std::string_view schema);

}  // namespace partyd::storage::sqlite
