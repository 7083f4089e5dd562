#include "net/tls_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "base/log.h"

namespace partyd::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

// ---- certificates ---------------------------------------------------------------------------

namespace {

// The reason OpenSSL left on its error queue (and empties it), or `fallback`.
std::string opensslReason(const std::string& fallback) {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : fallback;
}

bool readable(const std::string& path, std::string* why) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    *why = std::strerror(errno);
    return false;
  }
  std::fclose(f);
  return true;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> makeServerContext(const TlsFiles& files) {
  std::string why;
  if (!readable(files.cert, &why)) {
    return makeError("cannot read the TLS certificate " + files.cert + ": " + why);
  }
  if (!readable(files.key, &why)) {
    return makeError("cannot read the TLS key " + files.key + ": " + why);
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // An encrypted key must fail here, never prompt on a terminal nobody watches.
  ctx->set_password_callback([](std::size_t, ssl::context::password_purpose) { return ""; });
  ERR_clear_error();
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(files.cert, ec);
  if (ec) {
    return makeError("bad TLS certificate " + files.cert + ": " + opensslReason(ec.message()) +
                     " (need PEM: the certificate, then any "
                     "intermediates)");
  }
  ctx->use_private_key_file(files.key, ssl::context::pem, ec);
  if (ec) {
    std::string reason = opensslReason(ec.message());
    if (reason.find("mismatch") != std::string::npos) {
      return makeError("the TLS key " + files.key + " does not match the certificate " +
                       files.cert);
    }
    return makeError("bad TLS key " + files.key + ": " + reason +
                     " (need an unencrypted PEM private key)");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return makeError("the TLS key " + files.key + " does not match the certificate " + files.cert +
                     ": " + opensslReason("key values mismatch"));
  }
  static const unsigned char kSessionContext[] = "partyd";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  // Both ends speak HTTP/1.1 (WebSockets upgrade from it): never let a client pick h2.
  SSL_CTX_set_alpn_select_cb(
      native,
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
         unsigned int inlen, void*) -> int {
        static const unsigned char kHttp11[] = "\x08http/1.1";
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) ==
            OPENSSL_NPN_NEGOTIATED) {
          *out = selected;
          return SSL_TLSEXT_ERR_OK;
        }
        return SSL_TLSEXT_ERR_NOACK;
      },
      nullptr);
  return ctx;
}

std::string describeCertificate(ssl::context& ctx) {
  X509* x = SSL_CTX_get0_certificate(ctx.native_handle());
  if (!x) return "no certificate";
  std::string out;
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
  out += "subject ";
  out += buf;
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      out += ", serial ";
      out += hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (ASN1_TIME_print(bio, X509_get0_notAfter(x)) == 1) {
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      out += ", expires ";
      out.append(data, static_cast<std::size_t>(n));
    }
    BIO_free(bio);
  }
  return out;
}

Result<std::shared_ptr<TlsCertificate>> TlsCertificate::load(TlsFiles files) {
  std::shared_ptr<TlsCertificate> c(new TlsCertificate(std::move(files)));
  if (auto r = c->reload(); !r) return r.error();
  return c;
}

Result<void> TlsCertificate::reload() {
  auto ctx = makeServerContext(files_);
  if (!ctx) return ctx.error();
  std::string description = describeCertificate(**ctx);
  std::lock_guard lock(mutex_);
  ctx_ = std::move(*ctx);
  description_ = std::move(description);
  return {};
}

std::shared_ptr<ssl::context> TlsCertificate::current() const {
  std::lock_guard lock(mutex_);
  return ctx_;
}

std::string TlsCertificate::describe() const {
  std::lock_guard lock(mutex_);
  return description_;
}

// ---- the registry of piped connections ------------------------------------------------------

namespace {

struct PipedEntry {
  std::uint64_t id;
  tcp::endpoint remote;
};

std::atomic<bool> gPipesInUse{false};
std::mutex gPipedMutex;
std::unordered_map<int, PipedEntry>& pipedTable() {
  static auto* table = new std::unordered_map<int, PipedEntry>();
  return *table;
}

}  // namespace

std::uint64_t registerPiped(int fd, const tcp::endpoint& remote) {
  static std::atomic<std::uint64_t> next{1};
  std::uint64_t id = next++;
  gPipesInUse.store(true, std::memory_order_relaxed);
  std::lock_guard lock(gPipedMutex);
  pipedTable()[fd] = PipedEntry{id, remote};
  return id;
}

void unregisterPiped(int fd, std::uint64_t id) {
  std::lock_guard lock(gPipedMutex);
  auto it = pipedTable().find(fd);
  if (it != pipedTable().end() && it->second.id == id) pipedTable().erase(it);
}

bool pipesInUse() {
  return gPipesInUse.load(std::memory_order_relaxed);
}

bool pipedPeer(int fd, tcp::endpoint* remote) {
  // A TCP socket that took the number of a pipe that just ended is not one.
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.ss_family != AF_UNIX) {
    return false;
  }
  std::lock_guard lock(gPipedMutex);
  auto it = pipedTable().find(fd);
  if (it == pipedTable().end()) return false;
  *remote = it->second.remote;
  return true;
}

// ---- one connection: handshake, then bytes both ways ----------------------------------------

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// After one direction has ended, how long the other may go on before the pipe is closed.
constexpr auto kHalfClosedTimeout = std::chrono::seconds(30);

class TlsPipe : public std::enable_shared_from_this<TlsPipe> {
 public:
  TlsPipe(asio::io_context& io, tcp::socket socket, std::shared_ptr<ssl::context> ctx)
      : ctx_(std::move(ctx)), tls_(std::move(socket), *ctx_), plain_(io), timer_(io) {}

  void start(std::size_t thread, const TlsFront::Deliver& deliver) {
    boost::system::error_code ec;
    remote_ = tls_.next_layer().remote_endpoint(ec);
    if (ec) return;
    timer_.expires_after(kHandshakeTimeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->closeAll();
    });
    tls_.async_handshake(ssl::stream_base::server, [self = shared_from_this(), thread,
                                                    deliver](boost::system::error_code e) {
      self->timer_.cancel();
      if (e) {
        log::debug("TLS handshake with " + self->remote_.address().to_string() +
                   " failed: " + e.message());
        self->closeAll();
        return;
      }
      self->connected(thread, deliver);
    });
  }

 private:
  void connected(std::size_t thread, const TlsFront::Deliver& deliver) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
      log::warn(std::string("TLS: cannot make a socket pair: ") + std::strerror(errno));
      closeAll();
      return;
    }
    boost::system::error_code ec;
    plain_.assign(asio::local::stream_protocol(), fds[0], ec);
    if (ec) {
      ::close(fds[0]);
      ::close(fds[1]);
      closeAll();
      return;
    }
    shardFd_ = fds[1];
    registration_ = registerPiped(shardFd_, remote_);
    deliver(thread, fds[1]);
    readTls();
    readPlain();
  }

  // Client → shard.
  void readTls() {
    tls_.async_read_some(asio::buffer(up_),
                         [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                           if (self->closed_) return;
                           if (ec) {
                             // The client closed (or broke) its side: the shard's session reads the
                             // end.
                             boost::system::error_code ignored;
                             self->plain_.shutdown(asio::socket_base::shutdown_send, ignored);
                             self->upDone_ = true;
                             self->halfClosed();
                             return;
                           }
                           asio::async_write(self->plain_, asio::buffer(self->up_.data(), n),
                                             [self](boost::system::error_code e, std::size_t) {
                                               if (self->closed_) return;
                                               if (e) return self->closeAll();
                                               self->readTls();
                                             });
                         });
  }

  // Shard → client.
  void readPlain() {
    plain_.async_read_some(asio::buffer(down_), [self = shared_from_this()](
                                                    boost::system::error_code ec, std::size_t n) {
      if (self->closed_) return;
      if (ec) {
        // The session closed the connection: everything it wrote went out before this read.
        // A FIN without close_notify, which HTTP/1.1 and WebSocket clients accept (each
        // message carries its own length).
        boost::system::error_code ignored;
        self->tls_.next_layer().shutdown(asio::socket_base::shutdown_send, ignored);
        self->downDone_ = true;
        self->halfClosed();
        return;
      }
      asio::async_write(self->tls_, asio::buffer(self->down_.data(), n),
                        [self](boost::system::error_code e, std::size_t) {
                          if (self->closed_) return;
                          if (e) return self->closeAll();
                          self->readPlain();
                        });
    });
  }

  void halfClosed() {
    if (upDone_ && downDone_) return closeAll();
    timer_.expires_after(kHalfClosedTimeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->closeAll();
    });
  }

  void closeAll() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    tls_.next_layer().close(ignored);
    plain_.close(ignored);
    if (registration_) unregisterPiped(shardFd_, registration_);
  }

  std::shared_ptr<ssl::context> ctx_;  // kept while the connection lives (a reload swaps it)
  ssl::stream<tcp::socket> tls_;
  asio::local::stream_protocol::socket plain_;
  asio::steady_timer timer_;
  tcp::endpoint remote_;
  int shardFd_ = -1;
  std::uint64_t registration_ = 0;
  bool upDone_ = false;
  bool downDone_ = false;
  bool closed_ = false;
  std::array<char, 16 * 1024> up_;
  std::array<char, 16 * 1024> down_;
};

}  // namespace

// ---- the front: threads and listeners -------------------------------------------------------

struct TlsFront::Worker {
  asio::io_context io{1};
  std::vector<std::shared_ptr<Listener>> listeners;
  std::thread thread;
};

TlsFront::TlsFront(std::shared_ptr<TlsCertificate> certificate, std::size_t threads,
                   Deliver deliver)
    : certificate_(std::move(certificate)), deliver_(std::move(deliver)) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, threads); ++i) {
    workers_.push_back(std::make_unique<Worker>());
  }
}

TlsFront::~TlsFront() {
  stop();
}

Result<void> TlsFront::listen(const std::string& address, unsigned short port,
                              const std::vector<int>& inherited) {
  std::vector<std::vector<int>> spread = spreadFds(inherited, workers_.size());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    auto onAccept = [this, i, &w](Accepted accepted) {
      tcp::socket socket(std::move(accepted).socket(w.io));
      auto ctx = certificate_->current();
      std::make_shared<TlsPipe>(w.io, std::move(socket), std::move(ctx))->start(i, deliver_);
    };
    for (int fd : spread[i]) {
      auto listener = Listener::adopt(w.io, fd, onAccept);
      if (!listener) return listener.error();
      w.listeners.push_back(*listener);
      port = port_ = (*listener)->port();
    }
    if (!w.listeners.empty()) continue;
    auto listener = Listener::open(w.io, address, port, onAccept);
    if (!listener) return listener.error();
    w.listeners.push_back(*listener);
    port = (*listener)->port();  // port 0: the first picks one, the rest share it
    port_ = port;
  }
  for (auto& w : workers_) {
    for (auto& l : w->listeners) l->start();
    w->thread = std::thread([io = &w->io] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  return {};
}

std::vector<int> TlsFront::listenFds() const {
  std::vector<int> out;
  for (const auto& w : workers_) {
    for (const auto& l : w->listeners) {
      if (int fd = l->nativeHandle(); fd >= 0) out.push_back(fd);
    }
  }
  return out;
}

void TlsFront::closeListeners() {
  for (auto& w : workers_) {
    for (auto& l : w->listeners) asio::post(w->io, [l] { l->close(); });
  }
}

void TlsFront::stop() {
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
    w->listeners.clear();
  }
}

}  // namespace partyd::net
