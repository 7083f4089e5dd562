// Logging for partyd: one line per event on stderr, safe to call from any shard thread. Lines are
// either the default text ("[partyd:inf] GET /parties/main/x 200 1.2ms", as `partykit dev` has
// them) or, with setFormat(kJson), one JSON object per line with the fields time, level, project,
// party, room, event, status, duration (ms) and message.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace partyd::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

void setLevel(Level level);
bool enabled(Level level);
// Before the shards start: how lines are written, and the project that JSON lines name.
void setFormat(Format format);
Format format();
void setProject(std::string project);

// What a line is about, for JSON lines and the inspector's room log. Empty or negative: unknown.
struct Fields {
  std::string_view party, room;
  std::string_view event;   // "request", "connect", "close", "reset", "alarm", ...
  int status = -1;          // an HTTP status or a WebSocket close code
  double durationMs = -1;
};

// Writes "[partyd:<lvl>] <msg>" (or its JSON object) as one line (a single write, so lines from
// shards never mix). Without `fields`, the thread's context (setContext) says what it is about.
void write(Level level, std::string_view msg);
void write(Level level, std::string_view msg, const Fields& fields);

// A shard thread may name what the lines it writes are about, when they do not say (the room
// whose handler runs); it is asked only when a line is written.
void setContext(std::function<Fields()> context);
// A shard thread may see each line it writes (after the level filter): the inspector's room log.
// Taps are called only once keepRoomLines(true) (an admin listener that shows them is up), so
// that a server without one pays nothing for them.
void setTap(std::function<void(Level, const Fields&, std::string_view msg)> tap);
void keepRoomLines(bool on);
bool roomLinesKept();
// Whether a line's Fields would be used (JSON lines, or a tap that keeps room lines): callers
// that must work to fill them in (parse a URL) ask first.
bool fieldsWanted();

// A shard thread may hold its info and debug lines and write them together, so that a busy
// shard makes one write(2) per loop pass rather than one per request. `schedule` is called when
// a line is held into an empty buffer; it must make flushHeld() run on this thread soon (the
// shard posts it to its loop). Warnings and errors are written at once, after what is held.
void holdLines(std::function<void()> schedule);
void flushHeld();
bool anyHeld();  // this thread holds lines that flushHeld() would write

void debug(std::string_view msg);
void info(std::string_view msg);
void warn(std::string_view msg);
void error(std::string_view msg);

// `s` as the contents of a JSON string (quotes, backslashes and control characters escaped).
void appendJsonEscaped(std::string& out, std::string_view s);
// `s` as a JSON string, quotes included.
std::string jsonQuoted(std::string_view s);

}  // namespace partyd::log
