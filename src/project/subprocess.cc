// posix_spawn with a pipe for stdout+stderr. posix_spawn (vfork-like in glibc) is safe to call from
// a process that has other threads, where fork() followed by anything but exec is not.
#include "project/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace partyd::project {
namespace {

std::string errnoText(int err) {
  return std::strerror(err);
}

// Owns the file actions so every return path destroys them.
class SpawnActions {
 public:
  SpawnActions() { ok_ = posix_spawn_file_actions_init(&actions_) == 0; }
  ~SpawnActions() {
    if (ok_) posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  bool ok() const { return ok_; }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
  bool ok_ = false;
};

}  // namespace

Result<ProcessResult> runProcess(const std::vector<std::string>& argv,
                                 const std::filesystem::path& workingDir) {
  if (argv.empty()) return makeError("runProcess: no program given");
  const std::string& program = argv[0];

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return makeError("could not start " + program + ": pipe: " + errnoText(errno));
  }
  int readEnd = fds[0];
  int writeEnd = fds[1];

  SpawnActions actions;
  std::string dir = workingDir.string();
  bool prepared =
      actions.ok() &&
      posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0) == 0 &&
      posix_spawn_file_actions_adddup2(actions.get(), writeEnd, 1) == 0 &&
      posix_spawn_file_actions_adddup2(actions.get(), writeEnd, 2) == 0 &&
      (dir.empty() || posix_spawn_file_actions_addchdir_np(actions.get(), dir.c_str()) == 0);
  if (!prepared) {
    ::close(readEnd);
    ::close(writeEnd);
    return makeError("could not start " + program + ": posix_spawn_file_actions failed");
  }

  // The child gets default signal dispositions and an empty mask, whatever this process uses.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = 0;
  int err = posix_spawn(&pid, program.c_str(), actions.get(), &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  ::close(writeEnd);
  if (err != 0) {
    ::close(readEnd);
    std::string why = errnoText(err);
    if (err == ENOENT && !dir.empty() && !std::filesystem::is_directory(workingDir)) {
      why = "working directory " + dir + " does not exist";
    }
    return makeError("could not start " + program + ": " + why);
  }

  ProcessResult result;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(readEnd, buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(readEnd);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return makeError("could not wait for " + program + ": " + errnoText(errno));
    }
  }
  if (WIFEXITED(status)) {
    result.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exitCode = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace partyd::project
