#include "proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace partyd::bench {

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// parentOf reads the ppid from /proc/<pid>/stat, whose comm field may hold spaces and parens.
pid_t parentOf(pid_t pid) {
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 > stat.size()) return -1;
  // After ") " come the state and then the ppid.
  return static_cast<pid_t>(std::atol(stat.c_str() + close + 4));
}

std::vector<pid_t> numericEntries(const std::string& dir) {
  std::vector<pid_t> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* entry = readdir(d)) {
    pid_t pid = 0;
    const char* name = entry->d_name;
    auto [end, ec] = std::from_chars(name, name + std::char_traits<char>::length(name), pid);
    if (ec == std::errc() && *end == '\0') out.push_back(pid);
  }
  closedir(d);
  return out;
}

uint64_t statusKiB(pid_t pid, std::string_view field) {
  std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find(field);
  if (at == std::string::npos) return 0;
  return std::strtoull(status.c_str() + at + field.size(), nullptr, 10);
}

}  // namespace

ProcessTree ProcessTree::parse(std::string_view pids) {
  std::vector<pid_t> roots;
  while (!pids.empty()) {
    size_t comma = pids.find(',');
    std::string_view item = pids.substr(0, comma);
    pid_t pid = 0;
    std::from_chars(item.data(), item.data() + item.size(), pid);
    if (pid > 0) roots.push_back(pid);
    if (comma == std::string_view::npos) break;
    pids.remove_prefix(comma + 1);
  }
  return ProcessTree(std::move(roots));
}

std::vector<pid_t> ProcessTree::pids() const {
  if (roots_.empty()) return {};
  std::multimap<pid_t, pid_t> children;
  for (pid_t pid : numericEntries("/proc")) children.emplace(parentOf(pid), pid);
  std::vector<pid_t> out;
  std::vector<pid_t> todo = roots_;
  while (!todo.empty()) {
    pid_t pid = todo.back();
    todo.pop_back();
    out.push_back(pid);
    auto [begin, end] = children.equal_range(pid);
    for (auto it = begin; it != end; ++it) todo.push_back(it->second);
  }
  return out;
}

uint64_t ProcessTree::cpuNs() const {
  uint64_t total = 0;
  for (pid_t pid : pids()) {
    std::string tasks = "/proc/" + std::to_string(pid) + "/task/";
    for (pid_t tid : numericEntries(tasks)) {
      std::string schedstat = readFile(tasks + std::to_string(tid) + "/schedstat");
      total += std::strtoull(schedstat.c_str(), nullptr, 10);
    }
  }
  return total;
}

uint64_t ProcessTree::rssKiB() const {
  uint64_t total = 0;
  for (pid_t pid : pids()) total += statusKiB(pid, "VmRSS:");
  return total;
}

uint64_t ProcessTree::openFds() const {
  uint64_t total = 0;
  for (pid_t pid : pids()) total += numericEntries("/proc/" + std::to_string(pid) + "/fd").size();
  return total;
}

uint64_t selfCpuNs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1'000'000'000 +
           static_cast<uint64_t>(tv.tv_usec) * 1000;
  };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

uint64_t selfRssKiB() {
  return statusKiB(getpid(), "VmRSS:");
}

}  // namespace partyd::bench
