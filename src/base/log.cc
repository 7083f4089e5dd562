#include "base/log.h"

#include <limits.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace partyd::log {
namespace {
std::atomic<int> gLevel{static_cast<int>(Level::kInfo)};

thread_local std::function<void()> tSchedule;  // set: this thread holds info and debug lines
thread_local std::string tHeld;
constexpr std::size_t kMaxHeld = 64 * 1024;

void writeOut(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t rc = ::write(STDERR_FILENO, bytes.data(), bytes.size());
    if (rc <= 0) return;  // nowhere to log to: drop it rather than stall the shard
    bytes.remove_prefix(static_cast<std::size_t>(rc));
  }
}
}  // namespace

void holdLines(std::function<void()> schedule) { tSchedule = std::move(schedule); }

// Writes of up to PIPE_BUF bytes to a pipe are atomic, so the held lines go out in whole-line
// chunks of at most that size: lines from several shards never mix.
void flushHeld() {
  std::string_view rest = tHeld;
  while (!rest.empty()) {
    std::size_t cut = rest.size();
    if (cut > PIPE_BUF) {
      std::size_t nl = rest.rfind('\n', PIPE_BUF - 1);
      cut = nl == std::string_view::npos ? rest.find('\n') + 1 : nl + 1;
      if (cut == 0) cut = rest.size();  // no newline at all: cannot happen, every line has one
    }
    writeOut(rest.substr(0, cut));
    rest.remove_prefix(cut);
  }
  tHeld.clear();
  if (tHeld.capacity() > kMaxHeld) std::string().swap(tHeld);
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
  if (tSchedule && level < Level::kWarn) {
    const bool first = tHeld.empty();
    tHeld += line;
    if (tHeld.size() >= kMaxHeld) {
      flushHeld();
    } else if (first) {
      tSchedule();
    }
    return;
  }
  if (!tHeld.empty()) flushHeld();
  // One write(2) per line keeps lines whole when several shards log at once.
  writeOut(line);
}

void debug(std::string_view msg) { write(Level::kDebug, msg); }
void info(std::string_view msg) { write(Level::kInfo, msg); }
void warn(std::string_view msg) { write(Level::kWarn, msg); }
void error(std::string_view msg) { write(Level::kError, msg); }

}  // namespace partyd::log
