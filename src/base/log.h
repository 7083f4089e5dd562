// Logging for partyd: one line per event on stderr, safe to call from any shard thread.
#pragma once

#include <functional>
#include <string_view>

namespace partyd::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void setLevel(Level level);
bool enabled(Level level);
// Writes "[partyd:<lvl>] <msg>" as one line (a single write, so lines from shards never mix).
void write(Level level, std::string_view msg);

// A shard thread may hold its info and debug lines and write them together, so that a busy
// shard makes one write(2) per loop pass rather than one per request. `schedule` is called when
// a line is held into an empty buffer; it must make flushHeld() run on this thread soon (the
// shard posts it to its loop). Warnings and errors are written at once, after what is held.
void holdLines(std::function<void()> schedule);
void flushHeld();

void debug(std::string_view msg);
void info(std::string_view msg);
void warn(std::string_view msg);
void error(std::string_view msg);

}  // namespace partyd::log
