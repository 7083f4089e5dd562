#include "base/log.h"

#include <limits.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace partyd::log {
namespace {
std::atomic<int> gLevel{static_cast<int>(Level::kInfo)};
std::atomic<int> gFormat{static_cast<int>(Format::kText)};
std::string gProject;  // set once, before the shards start

std::atomic<bool> gKeepRoomLines{false};
thread_local std::function<Fields()> tContext;
thread_local std::function<void(Level, const Fields&, std::string_view)> tTap;

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

bool anyHeld() { return !tHeld.empty(); }

void setLevel(Level level) { gLevel.store(static_cast<int>(level)); }
bool enabled(Level level) { return static_cast<int>(level) >= gLevel.load(); }

void setFormat(Format f) { gFormat.store(static_cast<int>(f)); }
Format format() { return static_cast<Format>(gFormat.load()); }
void setProject(std::string project) { gProject = std::move(project); }
void setContext(std::function<Fields()> context) { tContext = std::move(context); }
void setTap(std::function<void(Level, const Fields&, std::string_view)> tap) {
  tTap = std::move(tap);
}
void keepRoomLines(bool on) { gKeepRoomLines.store(on); }
bool roomLinesKept() { return gKeepRoomLines.load(std::memory_order_relaxed); }
bool fieldsWanted() {
  return format() == Format::kJson || (tTap && gKeepRoomLines.load(std::memory_order_relaxed));
}

void appendJsonEscaped(std::string& out, std::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
}

std::string jsonQuoted(std::string_view s) {
  std::string out = "\"";
  appendJsonEscaped(out, s);
  out += '"';
  return out;
}

namespace {

void appendField(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  if (value.empty()) {
    out += "null";
    return;
  }
  out += '"';
  appendJsonEscaped(out, value);
  out += '"';
}

std::string jsonLine(Level level, std::string_view msg, const Fields& f) {
  static constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
            1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char time[80];
  std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  line.reserve(msg.size() + 160);
  line += "{\"time\":\"";
  line += time;
  line += "\",\"level\":\"";
  line += kNames[static_cast<int>(level)];
  line += '"';
  appendField(line, "project", gProject);
  appendField(line, "party", f.party);
  appendField(line, "room", f.room);
  appendField(line, "event", f.event);
  line += ",\"status\":";
  line += f.status >= 0 ? std::to_string(f.status) : "null";
  line += ",\"duration\":";
  if (f.durationMs >= 0) {
    char d[32];
    std::snprintf(d, sizeof d, "%.3f", f.durationMs);
    line += d;
  } else {
    line += "null";
  }
  appendField(line, "message", msg);
  line += "}\n";
  return line;
}

void writeLine(Level level, std::string line) {
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

}  // namespace

void write(Level level, std::string_view msg) {
  if (!enabled(level)) return;
  if (fieldsWanted() && tContext) {
    Fields context = tContext();
    write(level, msg, context);
    return;
  }
  write(level, msg, Fields{});
}

void write(Level level, std::string_view msg, const Fields& fields) {
  if (!enabled(level)) return;
  if (tTap && gKeepRoomLines.load(std::memory_order_relaxed)) tTap(level, fields, msg);
  if (format() == Format::kJson) {
    writeLine(level, jsonLine(level, msg, fields));
    return;
  }
  static constexpr std::string_view kTags[] = {"dbg", "inf", "wrn", "err"};
  std::string line;
  line.reserve(msg.size() + 16);
  line += "[partyd:";
  line += kTags[static_cast<int>(level)];
  line += "] ";
  line += msg;
  line += '\n';
  writeLine(level, std::move(line));
}

void debug(std::string_view msg) { write(Level::kDebug, msg); }
void info(std::string_view msg) { write(Level::kInfo, msg); }
void warn(std::string_view msg) { write(Level::kWarn, msg); }
void error(std::string_view msg) { write(Level::kError, msg); }

}  // namespace partyd::log
