#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace partyd::log {
namespace {
std::atomic<int> gLevel{static_cast<int>(Level::kInfo)};
}

void setLevel(Level level) { gLevel.store(static_cast<int>(level)); }
bool enabled(Level level) { return static_cast<int>(level) >= gLevel.load(); }

void write(Level level, std::string_view msg) {
  if (!enabled(level)) return;
  static constexpr std::string_view kTags[] = {"dbg", "inf", "wrn", "err"};
  std::string line;
  line.reserve(msg.size() + 16);
  line += "[partyd:";
  line += kTags[static_cast<int>(level)];
  line += "] ";
  line += msg;
  line += '\n';
  // One write(2) per line keeps lines whole when several shards log at once.
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

void debug(std::string_view msg) { write(Level::kDebug, msg); }
void info(std::string_view msg) { write(Level::kInfo, msg); }
void warn(std::string_view msg) { write(Level::kWarn, msg); }
void error(std::string_view msg) { write(Level::kError, msg); }

}  // namespace partyd::log
