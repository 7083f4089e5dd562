// The parts of PostgresStorage (postgres_storage.cc) that need no connection: the schema, the
// fence and every statement, and the in-memory room copy with its pending changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "storage/storage.h"

namespace partyd::storage::pgsql {

// The schema (CLUSTER-PLAN.md) and the fence. partyd_fence takes the room's owner row FOR SHARE,
// which conflicts with the takeover's UPDATE (FOR NO KEY UPDATE), so a takeover waits for a fenced
// transaction in flight and a fenced transaction waits for a takeover in flight; FOR KEY SHARE
// would let a stale write land after a takeover (CLUSTER.md §3).
//
// Nodes that start together create it at once, and concurrent catalog updates (CREATE OR REPLACE
// FUNCTION, CREATE TABLE IF NOT EXISTS) fail with "tuple concurrently updated": the first
// statement serialises them. PQexec runs the whole string as one transaction, which holds the lock.
constexpr const char* kSchema = R"sql(
SELECT pg_advisory_xact_lock(7233010600000002);
CREATE TABLE IF NOT EXISTS room_owner (
  project text NOT NULL, party text NOT NULL, room text NOT NULL,
  epoch bigint NOT NULL, owner text NOT NULL, home_region text,
  PRIMARY KEY (project, party, room));
CREATE TABLE IF NOT EXISTS room_kv (
  project text NOT NULL, party text NOT NULL, room text NOT NULL, k bytea NOT NULL, v bytea NOT NULL,
  PRIMARY KEY (project, party, room, k));
CREATE TABLE IF NOT EXISTS room_alarm (
  project text NOT NULL, party text NOT NULL, room text NOT NULL, at_ms bigint NOT NULL,
  PRIMARY KEY (project, party, room));
CREATE OR REPLACE FUNCTION partyd_fence(p text, pa text, r text, e bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM room_owner WHERE project = p AND party = pa AND room = r AND epoch = e FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the owner of room %/% changed: epoch % is no longer current', pa, r, e
      USING ERRCODE = 'PD001';
  END IF;
END $$;
)sql";

constexpr const char* kFenced = "PD001";
constexpr const char* kLockNotAvailable = "55P03";

constexpr const char* kFence = "SELECT partyd_fence($1, $2, $3, $4)";
constexpr const char* kDeleteAll =
    "DELETE FROM room_kv WHERE project = $1 AND party = $2 AND room = $3";
constexpr const char* kPut =
    "INSERT INTO room_kv (project, party, room, k, v) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (project, party, room, k) DO UPDATE SET v = excluded.v";
constexpr const char* kDelete =
    "DELETE FROM room_kv WHERE project = $1 AND party = $2 AND room = $3 AND k = $4";
constexpr const char* kSetAlarm =
    "INSERT INTO room_alarm (project, party, room, at_ms) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (project, party, room) DO UPDATE SET at_ms = excluded.at_ms";
constexpr const char* kDeleteAlarm =
    "DELETE FROM room_alarm WHERE project = $1 AND party = $2 AND room = $3";
// The takeover: the same owner may acquire again with its own epoch (a reload).
constexpr const char* kTakeover =
    "INSERT INTO room_owner (project, party, room, epoch, owner, home_region) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project, party, room) DO UPDATE "
    "SET epoch = excluded.epoch, owner = excluded.owner "
    "WHERE room_owner.epoch < excluded.epoch "
    "OR (room_owner.epoch = excluded.epoch AND room_owner.owner = excluded.owner) "
    "RETURNING epoch, coalesce(home_region, '')";
constexpr const char* kLoadKv =
    "SELECT k, v FROM room_kv WHERE project = $1 AND party = $2 AND room = $3";
constexpr const char* kLoadAlarm =
    "SELECT at_ms FROM room_alarm WHERE project = $1 AND party = $2 AND room = $3";
// Sessions of other nodes that hold the room's owner row: the locker named by the row's xmax, and
// any session of another node idle inside a transaction that locks room_owner.
constexpr const char* kTerminate =
    "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a "
    "WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() "
    "AND a.application_name <> $4 AND ("
    "a.backend_xid IN (SELECT xmax FROM room_owner WHERE project = $1 AND party = $2 AND room = "
    "$3) "
    "OR (a.state LIKE 'idle in transaction%' AND EXISTS (SELECT 1 FROM pg_locks l "
    "WHERE l.pid = a.pid AND l.relation = 'room_owner'::regclass)))";

struct RoomKeyLess {
  bool operator()(const RoomKey& a, const RoomKey& b) const {
    if (int c = a.party.compare(b.party); c != 0) return c < 0;
    return a.room < b.room;
  }
};

// A room's writes since it last went into a commit.
struct Changes {
  bool cleared = false;  // deleteAll, before the kv changes
  std::map<std::string, std::optional<std::string>> kv;
  std::optional<std::optional<std::int64_t>> alarm;  // engaged: set (or deleted when inner empty)
  bool empty() const { return !cleared && kv.empty() && !alarm; }
};

struct RoomData {
  std::int64_t epoch = 0;
  std::string homeRegion;
  std::uint64_t generation = 0;  // tells a re-acquired room from the one a commit was sent for
  std::map<std::string, std::string> kv;
  std::optional<std::int64_t> alarm;
  // What PostgreSQL holds as far as this object knows: the state to go back to on a failed commit.
  std::map<std::string, std::string> committedKv;
  std::optional<std::int64_t> committedAlarm;
  Changes pending;
  bool dirty = false;  // pending is not empty
};

inline void apply(const Changes& c, std::map<std::string, std::string>& kv,
           std::optional<std::int64_t>& alarm) {
  if (c.cleared) kv.clear();
  for (const auto& [k, v] : c.kv) {
    if (v) {
      kv.insert_or_assign(k, *v);
    } else {
      kv.erase(k);
    }
  }
  if (c.alarm) alarm = *c.alarm;
}

}  // namespace partyd::storage::pgsql
