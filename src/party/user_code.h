// UserCode is the party layer's one window onto the user's JavaScript: build a room's object,
// deliver an event to it, drop it, run a worker hook. api/ implements it with V8; the party tests
// implement it with a fake that records calls. Every call happens inside a Turn run (see turn.h),
// which brackets it with beginRun/endRun; none of these calls commits or writes anything itself.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "http/route.h"
#include "http/session.h"
#include "party/room.h"
#include "ws/frame.h"

namespace partyd::party {

// A request that does not come from a socket: a party stub's fetch() from another room.
struct InternalRequest {
  std::string method, url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A worker hook call: kind is "connect" (onBeforeConnect), "request" (onBeforeRequest), "fetch"
// (static onFetch) or "cron" (onCron); `extra` is the cron expression.
struct EdgeCall {
  const char* kind;
  std::string_view party, room;
  const http::Request& request;
  std::string_view extra;
};

// Sockets that a hibernated room kept open: (connection handle, the engine's stash of its id,
// uri, tags and state).
using RestoredSockets = std::vector<std::pair<std::uint64_t, std::string>>;

// One live connection as the inspector reads it from a room's object (UserCode::peekConnections):
// the engine-serialized [id, uri, tags, state, attachment] (a hibernated socket's stash has the
// same shape, with null tags when they are only the id), or why it could not be serialized.
struct PeekedSocket {
  std::uint64_t conn = 0;
  std::string bytes;
  std::string error;
};

// One build of the project: what a code update (a dev rebuild, a deploy, a rollback) swaps in.
struct CodeBundle {
  std::string code;                     // the bundled ES module (sets __partyd_parties)
  std::string name = "party.js";        // its name in stack traces
  std::string envJson = "{}";           // room.env
  std::vector<std::string> partyNames;  // "main" first
};

// How hard UserCode::hibernate tries. kQuiet: the sweep's hibernation, and kIdle: a code update,
// both refused while an event waits in the room's queue or a handler awaits something. kForce: a
// code update past its delay; the object goes whatever it was doing.
enum class HibernateMode { kQuiet, kIdle, kForce };

class UserCode {
 public:
  virtual ~UserCode() = default;

  // ---- one run of user code (the Turn brackets every event with these) ----
  virtual void beginRun(std::int64_t budgetMs) = 0;  // arms the deadline
  // Runs the microtasks the call left, then disarms; true when the run was stopped at its
  // deadline (its JS state may be half updated).
  virtual bool endRun() = 0;
  virtual void afterTimeout() {}
  // Why the last stopped run was stopped (its CPU budget, or the heap limit), for the log line,
  // the 500 body and the 1011 reason.
  virtual std::string stopReason(std::int64_t budgetMs) {
    return "a handler ran longer than " + std::to_string(budgetMs) + " ms and was stopped";
  }
  // The room whose run was stopped has been reset (RoomHost::resetRoom): the engine may collect,
  // and replace itself if its heap stays over the limit.
  virtual void afterRoomReset() {}
  // The engine's own queued tasks (GC steps, the memory reducer); run inside a run.
  virtual void runTasks() {}
  // Gives memory back to the system after rooms left; the shard is quiet.
  virtual void releaseMemory() {}

  // ---- events ----
  // Builds the room's object: its constructor, then onStart (awaited by the runtime before other
  // events). When it wakes (after hibernation or a reset) `restore` hands back the sockets it
  // kept; for a new room there is none.
  virtual void createRoom(const Room& room, std::optional<RestoredSockets> restore) = 0;
  virtual void dropRoom(std::uint32_t room) = 0;
  virtual void connect(const Room& room, std::uint64_t conn, std::string_view id,
                       const http::Request& request) = 0;
  virtual void message(const Room& room, std::uint64_t conn, ws::Opcode op,
                       std::string_view payload) = 0;
  virtual void close(const Room& room, std::uint64_t conn, std::uint16_t code,
                     std::string_view reason, bool clean) = 0;
  virtual void request(const Room& room, std::uint64_t req, const http::Request& request) = 0;
  virtual void request(const Room& room, std::uint64_t req, const InternalRequest& request) = 0;
  virtual void alarm(const Room& room, std::uint32_t retries) = 0;
  // Asks the room's object to stash its sockets (when its party hibernates) and confirm
  // (RoomHost::roomHibernated); a room that is not idle enough for `mode` stays awake.
  virtual void hibernate(const Room& room, HibernateMode mode) = 0;
  // For the inspector: each connection of a live room's object, read without calling the room's
  // handlers (a getter on a connection's state does run: serializing reads it).
  virtual std::vector<PeekedSocket> peekConnections(const Room& room) {
    (void)room;
    return {};
  }

  // ---- code updates (RoomHost::prepareUpdate / commitUpdate) ----
  // Loads `next` beside the code that serves: evaluates its module and checks its parties. On an
  // error nothing has changed and the old code keeps serving. Not inside a run.
  virtual Result<void> prepareCode(const CodeBundle& next) = 0;
  // Switches to the prepared code: rooms built from now on (and the worker hooks) run it; objects
  // alive keep the code they were built from until RoomHost drops them.
  virtual void commitCode() = 0;
  // Forgets the prepared code.
  virtual void abandonCode() = 0;

  // ---- the edge ----
  virtual void edge(std::uint64_t call, const EdgeCall& hook) = 0;
  virtual void partyFetchDone(std::uint64_t call, const http::Response& response) = 0;
};

}  // namespace partyd::party
