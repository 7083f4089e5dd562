#include "storage/sqlite_db.h"

#include <string>

namespace partyd::storage::sqlite {

Error sqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  if (!message.empty()) message += ": ";
  // sqlite3_errmsg describes the last failure on db; when db is null or the code came from
  // elsewhere (a bind), the generic text for rc is the better one.
  const char* text =
      db != nullptr && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += text;
  message += " (code " + std::to_string(rc) + ")";
  return makeError(std::move(message));
}

// ---- Query ------------------------------------------------------------------------------------

Query::~Query() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Query& Query::blob(std::string_view bytes) {
  // A null pointer would bind SQL NULL; an empty key or value is a zero-length blob.
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  int rc = sqlite3_bind_blob64(stmt_, next_++, data, bytes.size(), SQLITE_STATIC);
  if (bindRc_ == SQLITE_OK) bindRc_ = rc;
  return *this;
}

Query& Query::int64(std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, next_++, value);
  if (bindRc_ == SQLITE_OK) bindRc_ = rc;
  return *this;
}

Query& Query::text(std::string_view chars) {
  const char* data = chars.data() != nullptr ? chars.data() : "";
  int rc = sqlite3_bind_text64(stmt_, next_++, data, chars.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (bindRc_ == SQLITE_OK) bindRc_ = rc;
  return *this;
}

Result<bool> Query::step() {
  sqlite3* db = sqlite3_db_handle(stmt_);
  if (bindRc_ != SQLITE_OK) return sqliteError(nullptr, bindRc_, "binding a parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(db, rc, "");
}

Result<void> Query::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

std::string_view Query::columnBlob(int column) {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return {};
  return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

std::int64_t Query::columnInt64(int column) {
  return sqlite3_column_int64(stmt_, column);
}

// ---- Connection -------------------------------------------------------------------------------

Result<Connection> Connection::open(const std::string& path, const OpenOptions& options) {
  Connection c;
  if (auto r = c.configure(path, options); !r) {
    return makeError("opening " + path + ": " + r.error().message);
  }
  return c;
}

Result<void> Connection::configure(const std::string& path, const OpenOptions& options) {
  sqlite3* raw = nullptr;
  // NOMUTEX: a shard calls its storage from its own thread only.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);  // sqlite allocates a handle even on failure; it must still be closed
  if (rc != SQLITE_OK) return sqliteError(raw, rc, "");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busyTimeout.count()));

  if (path != ":memory:") {
    // Before the first read, so that WAL mode starts with its index in heap memory.
    if (options.locking == Locking::kExclusive) {
      if (auto r = exec("PRAGMA locking_mode=EXCLUSIVE"); !r) return r;
    }
    // journal_mode answers with the mode in force; anything but "wal" means the file could not
    // switch (a read-only directory, a VFS without shared memory), and the durability promised in
    // the header would not hold.
    auto mode = prepare("PRAGMA journal_mode=WAL");
    if (!mode) return mode.error();
    Query q = mode->use();
    auto row = q.step();
    if (!row) return row.error();
    if (!*row || q.columnBlob(0) != "wal") return makeError("the file cannot use WAL mode");
  }
  auto sync = exec(options.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                             : "PRAGMA synchronous=NORMAL");
  if (!sync) return sync;
  // Keeps the WAL file from staying huge after a burst of writes has been checkpointed.
  // TODO(perf): the automatic checkpoint (every 1000 WAL pages) runs inside the commit() that
  // crosses the threshold, on the shard thread; if that shows up as latency spikes, checkpoint
  // from the shard's idle time instead.
  if (auto r = exec("PRAGMA journal_size_limit=67108864"); !r) return r;
  return createSchema(*this, "main");
}

Result<void> Connection::exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return makeError(sql + ": " + text + " (code " + std::to_string(rc) + ")");
}

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return sqliteError(db_.get(), rc, "preparing " + std::string(sql));
  return Statement(stmt);
}

// ---- schema -----------------------------------------------------------------------------------

Result<void> createSchema(Connection& db, std::string_view schema) {
  const std::string s(schema);
  std::int64_t version = 0;
  {
    auto stmt = db.prepare("PRAGMA " + s + ".user_version");
    if (!stmt) return stmt.error();
    Query q = stmt->use();
    auto row = q.step();
    if (!row) return row.error();
    if (*row) version = q.columnInt64(0);
  }
  if (version > kSchemaVersion) {
    return makeError("schema version " + std::to_string(version) + " is newer than this partyd's " +
                     std::to_string(kSchemaVersion));
  }
  if (version == kSchemaVersion) return {};
  // BLOB columns compare with memcmp whatever the collation, which is the Durable Object order of
  // keys. WITHOUT ROWID stores rows in the primary-key B-tree itself, so a room's keys are one
  // contiguous range of it.
  auto created = db.exec(
      "BEGIN IMMEDIATE;"
      "CREATE TABLE IF NOT EXISTS " +
      s +
      ".kv ("
      "party BLOB NOT NULL, room BLOB NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
      "PRIMARY KEY (party, room, key)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS " +
      s +
      ".alarms ("
      "party BLOB NOT NULL, room BLOB NOT NULL, time_ms INTEGER NOT NULL, "
      "PRIMARY KEY (party, room)) WITHOUT ROWID;"
      "PRAGMA " +
      s + ".user_version=" + std::to_string(kSchemaVersion) +
      ";"
      "COMMIT;");
  if (!created && db.inTransaction()) (void)db.exec("ROLLBACK");
  return created;
}

}  // namespace partyd::storage::sqlite
