// TLS for partyd's own listeners (`partyd serve --tls-cert FILE --tls-key FILE`).
//
// TLS is terminated in front of the shards, not inside them: a TlsFront runs threads of its own
// that accept on the public port, do the handshake (its CPU cost never holds a shard's loop) and
// then pump bytes between the TLS stream and one end of a Unix socket pair. The other end goes to
// a shard as if it were the accepted TCP socket, so http::Session, the WebSocket code and the
// hand-off of sockets between shards work on it unchanged, and the plain path costs nothing more.
// A Session finds the client's real address (and that it came over TLS) in a registry keyed by
// that socket (pipedPeer below).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "net/listener.h"

namespace partyd::net {

struct TlsFiles {
  std::string cert;  // PEM: the certificate, then any intermediates (a chain)
  std::string key;   // PEM: its private key (not encrypted)
};

// A server context for `files`: TLS 1.2 at least, the chain and key loaded and checked to match.
// The error names the file and what is wrong with it.
Result<std::shared_ptr<boost::asio::ssl::context>> makeServerContext(const TlsFiles& files);

// "subject CN=..., serial 0A1B..., expires 2027-01-01" of the leaf certificate in `ctx`.
std::string describeCertificate(boost::asio::ssl::context& ctx);

// The certificate in use, replaceable while connections are served (SIGHUP): a new connection
// takes the current context; one already open keeps the one it started with.
class TlsCertificate {
 public:
  static Result<std::shared_ptr<TlsCertificate>> load(TlsFiles files);
  // Reads the files again; on an error the old certificate stays and the error says why.
  Result<void> reload();
  std::shared_ptr<boost::asio::ssl::context> current() const;
  std::string describe() const;

 private:
  explicit TlsCertificate(TlsFiles files) : files_(std::move(files)) {}
  TlsFiles files_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::string description_;
};

// Accepts TLS connections on threads of its own and hands each, after its handshake, to
// `deliver` as the descriptor of a plaintext stream socket (on a front thread; `deliver` owns it).
class TlsFront {
 public:
  using Deliver = std::function<void(std::size_t thread, int fd)>;

  TlsFront(std::shared_ptr<TlsCertificate> certificate, std::size_t threads, Deliver deliver);
  ~TlsFront();
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  // Opens a listener per thread on address:port (SO_REUSEPORT) and starts the threads. With
  // `inherited` (a takeover), the threads accept on those descriptors instead (net::spreadFds).
  Result<void> listen(const std::string& address, unsigned short port,
                      const std::vector<int>& inherited = {});
  unsigned short port() const { return port_; }
  // The listening descriptors (owned here), for a takeover; empty once closed.
  std::vector<int> listenFds() const;
  // Stops accepting; connections already open go on.
  void closeListeners();
  // Closes everything and joins the threads.
  void stop();

 private:
  struct Worker;
  std::shared_ptr<TlsCertificate> certificate_;
  Deliver deliver_;
  std::vector<std::unique_ptr<Worker>> workers_;
  unsigned short port_ = 0;
};

// The registry of piped connections: the shard end `fd` of a pipe made for a TLS connection from
// `remote`. Registered before the fd is delivered, removed when the pipe ends (only by the
// registration that made it: the number may have been reused since).
std::uint64_t registerPiped(int fd, const boost::asio::ip::tcp::endpoint& remote);
void unregisterPiped(int fd, std::uint64_t id);
// Whether any pipe was ever registered (one load: the plain-only server pays nothing more).
bool pipesInUse();
// Whether `fd` is the shard end of a pipe; if so *remote is the client's address.
bool pipedPeer(int fd, boost::asio::ip::tcp::endpoint* remote);

}  // namespace partyd::net
