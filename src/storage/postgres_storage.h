// PostgresStorage is the Storage of cluster mode: room data lives in PostgreSQL, shared by every
// node, and each write transaction is fenced by the room's owner epoch (/work/shared/CLUSTER.md
// §3). One object per (project, shard), used from that shard's thread only, with one libpq
// connection.
//
// Rooms. Only an *acquired* room can be read or written. acquire() raises the room's fence in
// PostgreSQL (room_owner.epoch := epoch, unless a newer owner holds it), then loads the room's keys
// and alarm into memory. Reads are answered from that copy (a single owner keeps it coherent);
// writes change the copy and join the pending set. release() forgets the copy.
//
// Commits. commitAsync() sends every pending write, of every room written since the last commit,
// as one transaction (libpq pipeline mode, one round trip): per room, partyd_fence(project, party,
// room, epoch) (a SELECT … FOR SHARE on the room's room_owner row that raises SQLSTATE PD001 when
// the epoch there is not the room's any more), then the room's deletes and upserts. A room that
// fails its fence is dropped from memory, listed by fencedRooms() and counted by
// fencedWritesRejected(); the transaction is rolled back and sent again without it, so the other
// rooms' writes still commit (done() then gets an error naming the fenced rooms). Writes made
// while a commit is in flight go into the next one; commits run one at a time, in order.
// A commit that fails otherwise:
//   - the server answered with an error (lock or statement timeout, …): nothing was stored; each
//     room that wrote goes back to its last committed copy (kept in memory beside the live one);
//   - the connection broke or no answer came within requestTimeout: whether it committed is
//     unknown, so the rooms that wrote are dropped from memory and must be acquired again.
// Either way those rooms are listed by lostRooms() and done() gets the error. The next commit or
// acquire reconnects (asynchronously).
//
// Threads and blocking. open() connects and creates the schema synchronously (start-up). After
// that the connection is non-blocking: queries are sent with PQsendQueryParams in pipeline mode and
// the socket is watched by an Asio descriptor on the shard's io_context, so the shard thread never
// waits on the network; only commit() (the synchronous one: shutdown and tests) polls the socket.
//
// Sessions carry application_name=<nodeId>, lock_timeout, statement_timeout and
// idle_in_transaction_session_timeout. A takeover (acquire) that runs into lock_timeout because
// another node's session holds the room's row (a paused old owner mid-commit) terminates those
// sessions (pg_terminate_backend, found through the row's xmax and through sessions of other nodes
// idle in a transaction that locks room_owner) and tries once more.
#pragma once

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "storage/storage.h"

namespace partyd::storage {

struct PostgresOptions {
  std::string conninfo;  // a libpq URL or key=value string
  std::string project;   // the project column of every row
  std::string nodeId;    // application_name and room_owner.owner
  std::chrono::milliseconds lockTimeout{2000};
  std::chrono::milliseconds idleInTransactionTimeout{5000};
  std::chrono::milliseconds statementTimeout{10000};
  // A request (commit, acquire) with no answer after this long: the connection is dropped and the
  // request fails as "unknown outcome".
  std::chrono::milliseconds requestTimeout{15000};
  bool createSchema = true;
  // Counts the writes refused by the fence (fencedWritesRejected); storages may share one, and
  // any thread may read it. Null: the storage makes its own.
  std::shared_ptr<std::atomic<std::uint64_t>> fencedCounter;
};

class PostgresStorage final : public Storage {
 public:
  // Connects (blocking), creates the schema if missing, and switches to non-blocking mode.
  static Result<std::unique_ptr<PostgresStorage>> open(boost::asio::io_context& io,
                                                       PostgresOptions options);
  ~PostgresStorage() override;

  // Raises the fence to `epoch` and loads the room. Error "a newer owner holds this room" when
  // room_owner has a higher epoch (or the same epoch under another owner). The room's home_region
  // is the first owner's: homeRegion() tells it afterwards. Acquiring an acquired room with the
  // same epoch reloads it (its pending writes are dropped).
  void acquire(const RoomKey& room, std::int64_t epoch, std::string homeRegion,
               std::function<void(Result<void>)> done);
  // Forgets the room's copy and its uncommitted writes (commit first to keep them).
  void release(const RoomKey& room);
  bool acquired(const RoomKey& room) const;
  std::optional<std::string> homeRegion(const RoomKey& room) const;
  std::optional<std::int64_t> epoch(const RoomKey& room) const;
  // Reads options.fencedCounter: shared with every storage given the same one.
  std::uint64_t fencedWritesRejected() const;
  bool connected() const;
  // The backend pid of the current session (0 when not connected), for tests and logs.
  int backendPid() const;

  // Storage
  Result<std::optional<std::string>> get(const RoomKey& room, std::string_view key) override;
  Result<std::vector<Entry>> getMany(const RoomKey& room,
                                     const std::vector<std::string>& keys) override;
  Result<void> put(const RoomKey& room, std::string_view key, std::string_view value) override;
  Result<bool> del(const RoomKey& room, std::string_view key) override;
  Result<std::vector<Entry>> list(const RoomKey& room, const ListOptions& options) override;
  Result<void> deleteAll(const RoomKey& room) override;
  Result<std::optional<std::int64_t>> getAlarm(const RoomKey& room) override;
  Result<void> setAlarm(const RoomKey& room, std::int64_t timeMs) override;
  Result<void> deleteAlarm(const RoomKey& room) override;
  // The alarms of acquired rooms.
  Result<std::vector<Alarm>> allAlarms() override;
  // Runs commitAsync and polls the socket until it is done (shutdown and tests only).
  Result<void> commit() override;
  void rollback() override;
  bool dirty() const override;
  bool commitsAsync() const override { return true; }
  void commitAsync(std::function<void(Result<void>)> done) override;
  std::vector<RoomKey> fencedRooms() override;
  std::vector<RoomKey> lostRooms() override;
  Result<Usage> usage(const RoomKey& room) override;

  struct Impl;

 private:
  explicit PostgresStorage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace partyd::storage
