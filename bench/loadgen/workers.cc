#include "workers.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace partyd::bench {

namespace {

constexpr std::string_view kReady = "ready\n";

using SteadyClock = std::chrono::steady_clock;

// readSome appends what `fd` has to `into`; it returns false at EOF or on an error.
bool readSome(int fd, std::string& into) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    into.append(buffer, static_cast<size_t>(n));
    return true;
  }
}

struct Child {
  pid_t pid = -1;
  int result_fd = -1;  // the parent's read end
  int go_fd = -1;      // the parent's write end
  std::string text;
  bool eof = false;
  bool reaped = false;
  int status = 0;
};

void reap(Child& child) {
  if (child.reaped) return;
  while (::waitpid(child.pid, &child.status, 0) < 0 && errno == EINTR) {
  }
  child.reaped = true;
}

void killAll(std::vector<Child>& children) {
  for (Child& child : children) {
    if (!child.reaped) ::kill(child.pid, SIGKILL);
  }
  for (Child& child : children) reap(child);
}

// firstLine is the text up to its first newline.
std::string firstLine(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// pumpUntil reads from the children's result pipes until done() holds or every pipe is at EOF.
// onEof runs for each child whose pipe ends; it returns false to stop pumping.
bool pumpUntil(std::vector<Child>& children, const std::function<bool()>& done,
               const std::function<bool(Child&)>& onEof) {
  while (!done()) {
    std::vector<pollfd> fds;
    std::vector<Child*> owners;
    for (Child& child : children) {
      if (child.eof) continue;
      fds.push_back({child.result_fd, POLLIN, 0});
      owners.push_back(&child);
    }
    if (fds.empty()) return true;
    int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Child& child = *owners[i];
      if (!readSome(child.result_fd, child.text)) {
        child.eof = true;
        ::close(child.result_fd);
        if (!onEof(child)) return false;
      }
    }
  }
  return true;
}

}  // namespace

bool writeAll(int fd, const std::string& text) {
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool WorkerExit::ok() const {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::optional<SteadyClock::time_point> WorkerLink::awaitStart() {
  if (!writeAll(result_fd_, std::string(kReady))) return std::nullopt;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    if (!readSome(go_fd_, line)) return std::nullopt;
  }
  int64_t ns = 0;
  if (line.compare(0, 3, "go ") != 0) return std::nullopt;
  auto [end, ec] = std::from_chars(line.data() + 3, line.data() + line.size(), ns);
  if (ec != std::errc{} || *end != '\n') return std::nullopt;
  return SteadyClock::time_point(std::chrono::nanoseconds(ns));
}

bool WorkerLink::send(const std::string& text) {
  return writeAll(result_fd_, text);
}

std::vector<WorkerExit> runWorkers(int n, const std::function<int(WorkerLink&)>& body,
                                   std::chrono::milliseconds lead, std::string& error) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  std::vector<Child> children(static_cast<size_t>(n));
  for (int w = 0; w < n; ++w) {
    int result[2], go[2];
    if (::pipe(result) != 0 || ::pipe(go) != 0) {
      error = "pipe() failed";
      killAll(children);
      return {};
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      error = "fork() failed";
      killAll(children);
      return {};
    }
    if (pid == 0) {
      // The worker: die with the parent (and if it is already gone, now), keep only its ends.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) std::_Exit(1);
      for (int k = 0; k < w; ++k) {
        ::close(children[k].result_fd);
        ::close(children[k].go_fd);
      }
      ::close(result[0]);
      ::close(go[1]);
      WorkerLink link(w, result[1], go[0]);
      const int code = body(link);
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(code);
    }
    ::close(result[1]);
    ::close(go[0]);
    children[w].pid = pid;
    children[w].result_fd = result[0];
    children[w].go_fd = go[1];
  }

  // The barrier: every worker says "ready" (or fails first, and then all are killed).
  auto ready = [](const Child& child) { return child.text.compare(0, kReady.size(), kReady) == 0; };
  auto allReady = [&] {
    for (const Child& child : children) {
      if (!ready(child)) return false;
    }
    return true;
  };
  std::string failure;
  pumpUntil(
      children,
      [&] {
        for (const Child& child : children) {
          // A first line that is not "ready" is the worker's error.
          if (!ready(child) && child.text.find('\n') != std::string::npos) return true;
        }
        return allReady();
      },
      [&](Child&) { return false; });
  if (!allReady()) {
    // The worker that said why comes first; then one that ended without a word. (A worker that
    // is merely not ready yet is neither: the others' failure stopped the wait.)
    for (size_t w = 0; w < children.size() && failure.empty(); ++w) {
      const Child& child = children[w];
      if (!ready(child) && !child.text.empty()) failure = firstLine(child.text);
    }
    for (size_t w = 0; w < children.size() && failure.empty(); ++w) {
      if (children[w].eof && !ready(children[w])) {
        failure = "worker " + std::to_string(w) + " exited before it was ready";
      }
    }
    killAll(children);
    error = failure.empty() ? "a worker failed before it was ready" : failure;
    return {};
  }

  // Release them together, a little ahead so that every worker is waiting when the time comes.
  const auto start = SteadyClock::now() + lead;
  const std::string go =
      "go " +
      std::to_string(
          std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count()) +
      "\n";
  for (Child& child : children) {
    writeAll(child.go_fd, go);
    ::close(child.go_fd);
    child.text.erase(0, kReady.size());
  }

  // The run: collect every outcome; a worker that fails ends the others' runs too.
  pumpUntil(
      children, [] { return false; },
      [&](Child& child) {
        reap(child);
        if (WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0) return true;
        for (Child& other : children) {
          if (!other.reaped) ::kill(other.pid, SIGKILL);
        }
        return true;  // keep reading: the others' pipes end as they die
      });
  std::vector<WorkerExit> exits;
  for (Child& child : children) {
    if (!child.eof) ::close(child.result_fd);
    reap(child);
    exits.push_back({child.status, std::move(child.text)});
  }
  return exits;
}

}  // namespace partyd::bench
