#include "net/tls_context.h"

#include <openssl/ssl.h>

namespace partyd::net {

namespace ssl = boost::asio::ssl;

TlsContext makeTlsContext() {
  TlsContext out{std::make_shared<ssl::context>(ssl::context::tls_client), {}};
  boost::system::error_code ec;
  out.ctx->set_default_verify_paths(ec);
  if (ec) out.error = "cannot load the system CA store: " + ec.message();
  out.ctx->set_verify_mode(ssl::verify_peer, ec);
  SSL_CTX_set_min_proto_version(out.ctx->native_handle(), TLS1_2_VERSION);
  static constexpr unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(out.ctx->native_handle(), kAlpn, sizeof kAlpn - 1);
  return out;
}

const TlsContext& systemTlsContext() {
  static const TlsContext context = makeTlsContext();
  return context;
}

}  // namespace partyd::net
