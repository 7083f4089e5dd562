// For cluster_test only: a real etcd started on loopback with a free port and a temp data dir
// (stopped by pid), a TCP relay that a test can cut, and a loop driver.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <thread>

namespace partyd::cluster::testing {

inline std::string etcdBinary() {
  const char* env = std::getenv("ETCD");
  std::string path = env && *env ? env : "/usr/bin/etcd";
  return access(path.c_str(), X_OK) == 0 ? path : std::string();
}

inline int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// One etcd member on 127.0.0.1, its own data dir under $TMPDIR, stopped and removed at the end.
class EtcdProcess {
 public:
  EtcdProcess() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "partyd-etcd-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data()) ? tmpl : std::string();
    clientPort_ = freePort();
    peerPort_ = freePort();
  }
  ~EtcdProcess() {
    stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(clientPort_); }
  int port() const { return clientPort_; }
  pid_t pid() const { return pid_; }

  // Starts etcd (on the same data dir and ports each time) and waits until it answers /health.
  bool start() {
    std::string bin = etcdBinary();
    if (bin.empty() || dir_.empty()) return false;
    std::string peer = "http://127.0.0.1:" + std::to_string(peerPort_);
    std::string log = dir_ + "/etcd.log";
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "a");
      if (f) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      std::string data = dir_ + "/data";
      execl(bin.c_str(), bin.c_str(), "--name", "t", "--data-dir", data.c_str(),
            "--listen-client-urls", url().c_str(), "--advertise-client-urls", url().c_str(),
            "--listen-peer-urls", peer.c_str(), "--initial-advertise-peer-urls", peer.c_str(),
            "--initial-cluster", ("t=" + peer).c_str(), "--log-level", "warn",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
      if (healthy()) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void stop() { signalAndReap(SIGTERM); }
  void kill9() { signalAndReap(SIGKILL); }
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

 private:
  void signalAndReap(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, sig);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  bool healthy() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(clientPort_));
    bool ok = false;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const char req[] = "GET /health HTTP/1.0\r\n\r\n";
      if (write(fd, req, sizeof req - 1) == static_cast<ssize_t>(sizeof req - 1)) {
        std::string got;
        char buf[512];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
        ok = got.find("\"health\":\"true\"") != std::string::npos;
      }
    }
    close(fd);
    return ok;
  }

  std::string dir_;
  int clientPort_ = 0;
  int peerPort_ = 0;
  pid_t pid_ = -1;
};

// A TCP relay on 127.0.0.1 in front of a target port, on the test's io_context: cut() closes every
// relayed connection and stops listening (new connections are refused) until open() again.
// Remembers the peer address of every connection it accepted.
class Relay {
 public:
  Relay(boost::asio::io_context& io, int target) : io_(io), target_(target) {}
  ~Relay() { cut(); }

  void open() {
    using boost::asio::ip::tcp;
    acceptor_ = std::make_unique<tcp::acceptor>(io_);
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_));
    acceptor_->open(ep.protocol());
    acceptor_->set_option(tcp::acceptor::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen();
    port_ = acceptor_->local_endpoint().port();
    accept();
  }
  void cut() {
    if (acceptor_) acceptor_->close();
    acceptor_.reset();
    for (auto& p : pairs_) {
      boost::system::error_code ec;
      p->a.close(ec);
      p->b.close(ec);
    }
    pairs_.clear();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::vector<std::string>& peers() const { return peers_; }

 private:
  struct Pair {
    explicit Pair(boost::asio::io_context& io) : a(io), b(io) {}
    boost::asio::ip::tcp::socket a, b;
    char bufA[16384], bufB[16384];
  };
  void accept() {
    auto pair = std::make_shared<Pair>(io_);
    acceptor_->async_accept(pair->a, [this, pair](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ec2;
      auto remote = pair->a.remote_endpoint(ec2);
      if (!ec2) peers_.push_back(remote.address().to_string());
      pair->b.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(target_)},
                      ec2);
      if (ec2) {
        pair->a.close(ec2);
      } else {
        pairs_.push_back(pair);
        pump(pair, pair->a, pair->b, pair->bufA);
        pump(pair, pair->b, pair->a, pair->bufB);
      }
      accept();
    });
  }
  void pump(std::shared_ptr<Pair> pair, boost::asio::ip::tcp::socket& from,
            boost::asio::ip::tcp::socket& to, char* buf) {
    from.async_read_some(
        boost::asio::buffer(buf, 16384),
        [this, pair, &from, &to, buf](boost::system::error_code ec, std::size_t n) {
          if (ec) {
            boost::system::error_code e;
            to.close(e);
            from.close(e);
            return;
          }
          boost::asio::async_write(
              to, boost::asio::buffer(buf, n),
              [this, pair, &from, &to, buf](boost::system::error_code ec, std::size_t) {
                if (!ec) pump(pair, from, to, buf);
              });
        });
  }

  boost::asio::io_context& io_;
  int target_;
  int port_ = 0;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::list<std::shared_ptr<Pair>> pairs_;
  std::vector<std::string> peers_;
};

// Runs `io` until `done()` or the timeout; true if done.
inline bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds timeout) {
  if (io.stopped()) io.restart();  // a work count that reached zero stopped it
  auto guard = boost::asio::make_work_guard(io);
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs `io` for `d`.
inline void runFor(boost::asio::io_context& io, std::chrono::milliseconds d) {
  if (io.stopped()) io.restart();
  auto guard = boost::asio::make_work_guard(io);
  auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) io.run_for(std::chrono::milliseconds(5));
}

// Waits for one async result: runs `io` until the callback made by `cb()` has been called.
template <typename T>
struct Waiter {
  std::optional<T> value;
  std::function<void(T)> cb() {
    return [this](T v) { value.emplace(std::move(v)); };
  }
  bool wait(boost::asio::io_context& io,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    return runUntil(
        io, [this] { return value.has_value(); }, timeout);
  }
};

}  // namespace partyd::cluster::testing
