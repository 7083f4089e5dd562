// The client TLS setup shared by the outgoing HTTP and WebSocket clients: the system CA store,
// peer verification, TLS 1.2 at least, and ALPN http/1.1 (both speak HTTP/1.1 on the wire, so a
// server must not pick h2).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <string>

namespace partyd::net {

struct TlsContext {
  std::shared_ptr<boost::asio::ssl::context> ctx;
  std::string error;  // set when the CA store could not be loaded
};

// A fresh context (tests add a CA to their own copy).
TlsContext makeTlsContext();

// One context for the process, shared by every shard's clients (an SSL_CTX may create SSL objects
// on several threads). Loading the system CA bundle takes tens of milliseconds, so it happens
// once, on first use (shard start), never on a loop handling requests.
const TlsContext& systemTlsContext();

// Readies one client connection's TLS stream for `host`: SNI (for a host name, never for an
// address literal, RFC 6066 §3) and host name verification, whose failure is named as a hostname
// mismatch rather than left "unspecified".
void prepareClientTls(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& tls,
                      const std::string& host, bool ipv6);

}  // namespace partyd::net
