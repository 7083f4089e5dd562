#include "storage/shard_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "storage/sqlite_db.h"

namespace partyd::storage {

namespace fs = std::filesystem;

std::uint64_t roomHash(std::string_view party, std::string_view room) {
  constexpr std::uint64_t kOffset = 14695981039346656037ull;
  constexpr std::uint64_t kPrime = 1099511628211ull;
  std::uint64_t h = kOffset;
  auto mix = [&](unsigned char byte) {
    h ^= byte;
    h *= kPrime;
  };
  for (char c : party) mix(static_cast<unsigned char>(c));
  mix(0);
  for (char c : room) mix(static_cast<unsigned char>(c));
  return h;
}

std::size_t shardOf(std::uint64_t hash, std::size_t shardCount) {
  PARTYD_CHECK(shardCount > 0, "shardOf needs at least one shard");
  // Jump consistent hash, as published: a linear congruential step per jump, and the next bucket
  // drawn from the high bits. Integer and IEEE double arithmetic only, so it is the same on every
  // machine.
  std::int64_t b = -1;
  std::int64_t j = 0;
  const auto n = static_cast<std::int64_t>(shardCount);
  while (j < n) {
    b = j;
    hash = hash * 2862933555777941757ull + 1;
    j = static_cast<std::int64_t>(
        static_cast<double>(b + 1) *
        (static_cast<double>(std::int64_t{1} << 31) / static_cast<double>((hash >> 33) + 1)));
  }
  return static_cast<std::size_t>(b);
}

fs::path shardFile(const fs::path& dir, std::size_t index) {
  return dir / ("shard-" + std::to_string(index) + ".db");
}

namespace {

using sqlite::Connection;
using sqlite::Query;

constexpr std::string_view kCountFile = "shard-count";
constexpr std::chrono::milliseconds kBusyTimeout{5000};

Error fileError(std::string_view what, const fs::path& path, int err) {
  return makeError(std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

// ---- the directory and the shard-count record -------------------------------------------------

// The index in a name of the form "shard-<i>.db" (no sign, no leading zero), if it is one.
std::optional<std::size_t> shardIndex(std::string_view name) {
  constexpr std::string_view kHead = "shard-", kTail = ".db";
  if (name.size() <= kHead.size() + kTail.size() || !name.starts_with(kHead) ||
      !name.ends_with(kTail)) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(kHead.size(), name.size() - kHead.size() - kTail.size());
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  std::size_t index = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return index;
}

Result<std::vector<std::size_t>> existingShards(const fs::path& dir) {
  std::vector<std::size_t> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (auto index = shardIndex(it->path().filename().string())) out.push_back(*index);
  }
  if (ec) return makeError("listing " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// Makes the directory's entries (created, renamed, removed files) durable.
Result<void> syncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fileError("opening", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return fileError("syncing", dir, err);
  return {};
}

// The recorded count, or none when the record is missing or unreadable (then a full rebalance
// runs, which is always safe).
std::optional<std::size_t> readCount(const fs::path& dir) {
  int fd = ::open((dir / kCountFile).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[32];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 1 || buf[n - 1] != '\n') return std::nullopt;
  std::size_t count = 0;
  auto [end, ec] = std::from_chars(buf, buf + n - 1, count);
  if (ec != std::errc() || end != buf + n - 1) return std::nullopt;
  return count;
}

Result<void> removeCount(const fs::path& dir) {
  const fs::path path = dir / kCountFile;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return fileError("removing", path, errno);
  }
  return syncDir(dir);
}

// Writes the record through a temporary file and a rename, so it is whole or absent.
Result<void> writeCount(const fs::path& dir, std::size_t count) {
  const fs::path tmp = dir / (std::string(kCountFile) + ".tmp");
  const fs::path path = dir / kCountFile;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fileError("creating", tmp, errno);
  const std::string text = std::to_string(count) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return fileError("writing", tmp, err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fileError("renaming", tmp, errno);
  return syncDir(dir);
}

Result<void> removeIfPresent(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fileError("removing", path, errno);
  return {};
}

// ---- moving rows ------------------------------------------------------------------------------

using RoomName = std::pair<std::string, std::string>;  // party, room

Error rebalanceError(std::size_t index, std::string_view what, const Error& e) {
  return makeError("rebalancing shard-" + std::to_string(index) + ".db: " + std::string(what) +
                   ": " + e.message);
}

// Every room of the source file that the shard count assigns to another file, by destination.
Result<std::map<std::size_t, std::set<RoomName>>> strayRooms(Connection& db, std::size_t index,
                                                             std::size_t shardCount) {
  std::map<std::size_t, std::set<RoomName>> out;
  auto consider = [&](std::string_view party, std::string_view room) {
    std::size_t owner = shardOf(roomHash(party, room), shardCount);
    if (owner != index) out[owner].emplace(party, room);
  };
  // Visits each distinct (party, room) of kv with one index seek per room rather than reading
  // every row: a room may hold many keys.
  auto first = db.prepare("SELECT party, room FROM kv ORDER BY party, room LIMIT 1");
  auto next = db.prepare(
      "SELECT party, room FROM kv WHERE (party, room) > (?, ?) ORDER BY party, room LIMIT 1");
  auto alarms = db.prepare("SELECT party, room FROM alarms");
  if (!first) return first.error();
  if (!next) return next.error();
  if (!alarms) return alarms.error();
  std::optional<RoomName> cursor;
  for (;;) {
    sqlite::Statement& stmt = cursor ? *next : *first;
    Query q = stmt.use();
    if (cursor) q.blob(cursor->first).blob(cursor->second);
    auto row = q.step();
    if (!row) return row.error();
    if (!*row) break;
    cursor.emplace(q.columnBlob(0), q.columnBlob(1));
    consider(cursor->first, cursor->second);
  }
  Query q = alarms->use();
  for (;;) {
    auto row = q.step();
    if (!row) return row.error();
    if (!*row) break;
    consider(q.columnBlob(0), q.columnBlob(1));
  }
  return out;
}

// Copies the rooms' rows from the source (main) into destination file dest, in one transaction.
Result<void> copyRooms(Connection& db, const fs::path& dest, const std::set<RoomName>& rooms) {
  auto attach = db.prepare("ATTACH DATABASE ? AS dst");
  if (!attach) return attach.error();
  if (auto r = attach->use().text(dest.string()).run(); !r) return r;
  // The statements are finalized before DETACH, which refuses while they exist.
  Result<void> result = [&]() -> Result<void> {
    if (auto r = db.exec("PRAGMA dst.journal_mode=WAL; PRAGMA dst.synchronous=FULL"); !r) return r;
    if (auto r = sqlite::createSchema(db, "dst"); !r) return r;
    auto copyKv = db.prepare(
        "INSERT OR REPLACE INTO dst.kv (party, room, key, value) "
        "SELECT party, room, key, value FROM main.kv WHERE party = ? AND room = ?");
    auto copyAlarm = db.prepare(
        "INSERT OR REPLACE INTO dst.alarms (party, room, time_ms) "
        "SELECT party, room, time_ms FROM main.alarms WHERE party = ? AND room = ?");
    if (!copyKv) return copyKv.error();
    if (!copyAlarm) return copyAlarm.error();
    if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r;
    for (const auto& [party, room] : rooms) {
      auto r = copyKv->use().blob(party).blob(room).run();
      if (r) r = copyAlarm->use().blob(party).blob(room).run();
      if (!r) {
        (void)db.exec("ROLLBACK");
        return r;
      }
    }
    if (auto r = db.exec("COMMIT"); !r) {
      if (db.inTransaction()) (void)db.exec("ROLLBACK");
      return r;
    }
    return {};
  }();
  auto detached = db.exec("DETACH DATABASE dst");
  if (!result) return result;
  return detached;
}

Result<void> deleteRooms(Connection& db, const std::vector<const RoomName*>& rooms) {
  auto delKv = db.prepare("DELETE FROM main.kv WHERE party = ? AND room = ?");
  auto delAlarm = db.prepare("DELETE FROM main.alarms WHERE party = ? AND room = ?");
  if (!delKv) return delKv.error();
  if (!delAlarm) return delAlarm.error();
  if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r;
  for (const RoomName* name : rooms) {
    auto r = delKv->use().blob(name->first).blob(name->second).run();
    if (r) r = delAlarm->use().blob(name->first).blob(name->second).run();
    if (!r) {
      (void)db.exec("ROLLBACK");
      return r;
    }
  }
  if (auto r = db.exec("COMMIT"); !r) {
    if (db.inTransaction()) (void)db.exec("ROLLBACK");
    return r;
  }
  return {};
}

Result<bool> isEmpty(Connection& db) {
  auto stmt =
      db.prepare("SELECT NOT EXISTS (SELECT 1 FROM kv) AND NOT EXISTS (SELECT 1 FROM alarms)");
  if (!stmt) return stmt.error();
  Query q = stmt->use();
  auto row = q.step();
  if (!row) return row.error();
  return *row && q.columnInt64(0) != 0;
}

// Moves the stray rooms of shard-<index>.db to their owners, and removes the file if its shard is
// past the new count.
Result<void> rebalanceFile(const fs::path& dir, std::size_t index, std::size_t shardCount) {
  const fs::path file = shardFile(dir, index);
  {
    // Exclusive: a partyd that is already running on this directory makes the rebalance fail
    // rather than move rooms under its feet.
    auto db = Connection::open(file.string(), {.synchronous = sqlite::Synchronous::kFull,
                                               .locking = sqlite::Locking::kExclusive,
                                               .busyTimeout = kBusyTimeout});
    if (!db) return rebalanceError(index, "open", db.error());
    auto stray = strayRooms(*db, index, shardCount);
    if (!stray) return rebalanceError(index, "listing rooms", stray.error());
    std::vector<const RoomName*> moved;
    for (const auto& [dest, rooms] : *stray) {
      if (auto r = copyRooms(*db, shardFile(dir, dest), rooms); !r) {
        return rebalanceError(index, "copying to shard-" + std::to_string(dest) + ".db", r.error());
      }
      // A destination file that this copy created must stay in the directory before the source
      // forgets the rows.
      if (auto r = syncDir(dir); !r) return r;
      for (const auto& name : rooms) moved.push_back(&name);
    }
    if (!moved.empty()) {
      if (auto r = deleteRooms(*db, moved); !r) return rebalanceError(index, "deleting", r.error());
    }
    if (index < shardCount) return {};
    auto empty = isEmpty(*db);
    if (!empty) return rebalanceError(index, "checking", empty.error());
    PARTYD_CHECK(*empty, "a shard past the count still holds rows after its rooms moved");
  }  // closing the last connection checkpoints the WAL into the file and removes the WAL
  for (const char* suffix : {"-wal", "-shm", ""}) {
    if (auto r = removeIfPresent(file.string() + suffix); !r) return r;
  }
  return syncDir(dir);
}

}  // namespace

Result<void> rebalanceShards(const fs::path& dir, std::size_t shardCount) {
  if (shardCount == 0) return makeError("rebalancing " + dir.string() + ": shard count is 0");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError("creating " + dir.string() + ": " + ec.message());

  auto shards = existingShards(dir);
  if (!shards) return shards.error();
  const bool strayFiles = !shards->empty() && shards->back() >= shardCount;
  if (readCount(dir) == shardCount && !strayFiles) return {};

  // From here until the new record is written, the files may hold rooms in the wrong place; with
  // no record, a crash leads the next start-up to a full rebalance whatever its count.
  if (auto r = removeCount(dir); !r) return r;
  for (std::size_t index : *shards) {
    if (auto r = rebalanceFile(dir, index, shardCount); !r) return r;
  }
  return writeCount(dir, shardCount);
}

}  // namespace partyd::storage
