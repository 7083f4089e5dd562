#include "net/tls_context.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

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

void prepareClientTls(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& tls,
                      const std::string& host, bool ipv6) {
  if (!ipv6) {
    boost::system::error_code notIp;
    boost::asio::ip::make_address_v4(host, notIp);
    if (notIp) SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());
  }
  boost::system::error_code ignored;
  tls.set_verify_callback(
      [check = ssl::host_name_verification(host)](bool preverified, ssl::verify_context& ctx) {
        bool ok = check(preverified, ctx);
        if (preverified && !ok) {
          X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
        }
        return ok;
      },
      ignored);
}

}  // namespace partyd::net
