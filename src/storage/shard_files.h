// Where a room's rows live on disk: partyd runs N shards, shard i owns the SQLite file
// <state dir>/shard-<i>.db, and a room belongs to shard shardOf(roomHash(party, room), N). The
// hash is fixed here (not std::hash), so a room finds its file again after a restart or an
// upgrade. When N changes between runs, rebalanceShards() moves rooms to their new files before
// any shard opens its own. This unit owns the file names and the "shard-count" file in the state
// directory; the rows themselves are SqliteStorage's (see sqlite_storage.h for the schema).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "base/result.h"

namespace partyd::storage {

// FNV-1a 64 over the bytes of party, one 0 byte, then the bytes of room.
std::uint64_t roomHash(std::string_view party, std::string_view room);

// The shard in [0, shardCount) that owns a room with this hash. It is jump consistent hashing
// (Lamping and Veach, 2014): when the count grows from n to n+1 only 1/(n+1) of the rooms move,
// and when it shrinks only the rooms of the removed shards move. shardCount must be positive.
std::size_t shardOf(std::uint64_t hash, std::size_t shardCount);

// dir/shard-<index>.db
std::filesystem::path shardFile(const std::filesystem::path& dir, std::size_t index);

// Run at start-up, before any shard opens its file: moves every room's rows (keys and alarm) into
// the file of the shard that owns it under shardCount, removes the files of shards past the new
// count once they are empty, and records the count in dir/shard-count (creating dir if needed).
// When that record already says shardCount and no file past it exists, it returns at once.
//
// Crash safety: rows move in two transactions per (source, destination) pair, copy into the
// destination and commit, then delete from the source and commit, both with synchronous=FULL. A
// kill between them leaves a room in two files, never in none, and the record is removed before
// the first move, so the next start-up rebalances again and the copy (INSERT OR REPLACE of the
// same rows) is idempotent.
Result<void> rebalanceShards(const std::filesystem::path& dir, std::size_t shardCount);

}  // namespace partyd::storage
