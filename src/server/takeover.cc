#include "server/takeover.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "base/log.h"

namespace partyd::server {

namespace {

// How long each side waits for the other's next line. The new process loads every project
// before it asks for the drain, which may take a while for many projects.
constexpr std::int64_t kHelloTimeoutMs = 10'000;
constexpr std::int64_t kLoadTimeoutMs = 300'000;

std::string fdList(const std::vector<int>& fds) {
  std::string out;
  for (int fd : fds) out += (out.empty() ? "" : ",") + std::to_string(fd);
  return out;
}

}  // namespace

// ---- the old process ------------------------------------------------------------------------

Result<std::unique_ptr<TakeoverServer>> TakeoverServer::listen(const std::string& path,
                                                               TakeoverFds fds,
                                                               std::function<void()> onDrain) {
  std::unique_ptr<TakeoverServer> s(new TakeoverServer());
  auto listener = net::listenUnix(path);
  if (!listener) return listener.error();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    s->device_ = st.st_dev;
    s->inode_ = st.st_ino;
  }
  if (::pipe2(s->stopPipe_, O_CLOEXEC) != 0) {
    return makeError(std::string("pipe: ") + std::strerror(errno));
  }
  s->path_ = path;
  s->fds_ = std::move(fds);
  s->onDrain_ = std::move(onDrain);
  s->listener_ = std::move(*listener);
  s->thread_ = std::thread([raw = s.get()] {
    pthread_setname_np(pthread_self(), "takeover");
    raw->run();
  });
  return s;
}

TakeoverServer::~TakeoverServer() {
  if (stopPipe_[1] >= 0) (void)!::write(stopPipe_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  for (int fd : stopPipe_) {
    if (fd >= 0) ::close(fd);
  }
  // A new process binds its own socket at the path; unlink only one that is still ours.
  struct stat st {};
  if (!draining_ && ::stat(path_.c_str(), &st) == 0 && st.st_dev == device_ &&
      st.st_ino == inode_) {
    ::unlink(path_.c_str());
  }
}

void TakeoverServer::run() {
  for (;;) {
    pollfd p[2] = {{listener_.get(), POLLIN, 0}, {stopPipe_[0], POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error(std::string("takeover socket: poll: ") + std::strerror(errno));
      return;
    }
    if (p[1].revents) return;
    auto conn = net::acceptUnix(listener_.get(), 0);
    if (!conn) {
      log::warn("takeover socket: " + conn.error().message);
      continue;
    }
    if (!conn->valid()) continue;
    if (handle(std::move(*conn))) {
      // No second takeover: close the socket, so that the new process can bind its own here.
      listener_.reset();
      return;
    }
  }
}

bool TakeoverServer::handle(net::UniqueFd conn) {
  auto hello = net::receiveLine(conn.get(), kHelloTimeoutMs);
  if (!hello || hello->line.rfind("TAKEOVER ", 0) != 0) {
    log::warn("takeover socket: not a takeover request: " +
              (hello ? hello->line.substr(0, 80) : hello.error().message));
    return false;
  }
  std::string who = "pid " + hello->line.substr(9, 20);
  std::vector<int> all = fds_.publicFds;
  all.insert(all.end(), fds_.adminFds.begin(), fds_.adminFds.end());
  std::string line = "LISTENERS " + std::to_string(::getpid()) + " " +
                     std::to_string(fds_.publicFds.size()) + " " +
                     std::to_string(fds_.adminFds.size()) + "\n";
  if (auto r = net::sendWithFds(conn.get(), line, all); !r) {
    log::warn("takeover by " + who + ": " + r.error().message);
    return false;
  }
  log::info("takeover by " + who + ": handed it the listeners (" + fdList(all) +
            "); serving until it has loaded the projects");
  // Waits for DRAIN, or for a stop of this process.
  std::int64_t waited = 0;
  for (;;) {
    pollfd p[2] = {{conn.get(), POLLIN, 0}, {stopPipe_[0], POLLIN, 0}};
    int n = ::poll(p, 2, 1000);
    if (n < 0 && errno != EINTR) return false;
    if (n > 0 && p[1].revents) return false;
    if (n > 0 && p[0].revents) break;
    waited += 1000;
    if (waited >= kLoadTimeoutMs) {
      log::warn("takeover by " + who + ": no DRAIN within " + std::to_string(kLoadTimeoutMs) +
                " ms; still serving");
      return false;
    }
  }
  auto drain = net::receiveLine(conn.get(), kHelloTimeoutMs);
  if (!drain || drain->line != "DRAIN") {
    log::warn("takeover by " + who + " abandoned (" +
              (drain ? drain->line.substr(0, 80) : drain.error().message) + "); still serving");
    return false;
  }
  conn_ = std::move(conn);
  draining_ = true;
  onDrain_();
  return true;
}

void TakeoverServer::sendDone() {
  if (!conn_.valid()) return;
  if (auto r = net::sendLine(conn_.get(), "DONE"); !r) {
    log::warn("takeover: could not tell the new process that storage is closed: " +
              r.error().message);
  }
  conn_.reset();
}

// ---- the new process ------------------------------------------------------------------------

Result<TakeoverClient> TakeoverClient::connect(const std::string& path, std::int64_t timeoutMs) {
  auto conn = net::connectUnix(path);
  if (!conn) return makeError(conn.error().message + " (is a partyd serve running there?)");
  if (auto r = net::sendLine(conn->get(), "TAKEOVER " + std::to_string(::getpid())); !r)
    return r.error();
  auto got = net::receiveLine(conn->get(), timeoutMs);
  if (!got) return makeError("waiting for the listeners: " + got.error().message);
  std::istringstream in(got->line);
  std::string word;
  long long pid = 0;
  std::size_t nPublic = 0, nAdmin = 0;
  if (!(in >> word >> pid >> nPublic >> nAdmin) || word != "LISTENERS" ||
      nPublic + nAdmin != got->fds.size() || nPublic == 0) {
    return makeError("unexpected answer: " + got->line.substr(0, 80) + " with " +
                     std::to_string(got->fds.size()) + " descriptors");
  }
  TakeoverClient c;
  c.oldPid = static_cast<pid_t>(pid);
  for (std::size_t i = 0; i < got->fds.size(); ++i) {
    (i < nPublic ? c.fds.publicFds : c.fds.adminFds).push_back(got->fds[i].release());
  }
  c.conn_ = std::move(*conn);
  return c;
}

Result<void> TakeoverClient::requestDrain() {
  return net::sendLine(conn_.get(), "DRAIN");
}

Result<void> TakeoverClient::waitDone(std::int64_t timeoutMs) {
  auto got = net::receiveLine(conn_.get(), timeoutMs);
  if (!got) return got.error();
  if (got->line != "DONE") return makeError("unexpected answer: " + got->line.substr(0, 80));
  conn_.reset();
  return {};
}

// ---- SIGUSR2 --------------------------------------------------------------------------------

Result<pid_t> spawnTakeover() {
  // The binary at the path this one was started from: after `install`, the new file there. Not
  // /proc/self/exe itself, which still names the old (deleted) file.
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return makeError(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
  std::string exe(buf, static_cast<std::size_t>(n));
  const std::string deleted = " (deleted)";
  if (exe.size() > deleted.size() && exe.ends_with(deleted)) {
    exe.resize(exe.size() - deleted.size());
  }
  if (::access(exe.c_str(), X_OK) != 0) {
    return makeError("cannot run " + exe + ": " + std::strerror(errno));
  }
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (std::size_t at = 0; at < raw.size();) {
    std::size_t end = raw.find('\0', at);
    if (end == std::string::npos) end = raw.size();
    args.push_back(raw.substr(at, end - at));
    at = end + 1;
  }
  if (args.empty()) return makeError("cannot read /proc/self/cmdline");
  bool has = false;
  for (const auto& a : args) has = has || a == "--takeover";
  if (!has) args.insert(args.begin() + std::min<std::size_t>(2, args.size()), "--takeover");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // posix_spawn, as project/subprocess.cc does: safe in a process with other threads, and no
  // copy of a large heap's page tables. The child starts with no signal blocked, and with no
  // descriptor but stdin/out/err: the listeners come over the control socket, and a client
  // socket kept open there would never close.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if (posix_spawn_file_actions_init(&actions) != 0) return makeError("posix_spawn: no memory");
  if (posix_spawnattr_init(&attr) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return makeError("posix_spawn: no memory");
  }
  sigset_t none;
  sigemptyset(&none);
  int err = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
  if (err == 0) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  if (err == 0) err = posix_spawn(&pid, exe.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return makeError("cannot start " + exe + ": " + std::strerror(err));
  return pid;
}

}  // namespace partyd::server
