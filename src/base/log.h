// Logging for partyd: one line per event on stderr, safe to call from any shard thread.
#pragma once

#include <string_view>

namespace partyd::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void setLevel(Level level);
bool enabled(Level level);
// Writes "[partyd:<lvl>] <msg>" as one line (a single write, so lines from shards never mix).
void write(Level level, std::string_view msg);

void debug(std::string_view msg);
void info(std::string_view msg);
void warn(std::string_view msg);
void error(std::string_view msg);

}  // namespace partyd::log
