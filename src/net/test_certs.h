// Test support for the TLS tests of the outgoing clients (net/http_client_test.cc and
// ws/ws_client_test.cc): a self-signed certificate made on the fly for the test server, loaded
// into its ssl::context, and written to a PEM file the client under test can be told to trust.
// Header-only, and included by tests only.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace partyd::net::test {

struct TestCert {
  std::string certPem;
  std::string keyPem;
};

namespace detail {
inline std::string drainBio(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}
}  // namespace detail

// A self-signed CA:TRUE certificate (P-256, valid from an hour ago for a day) for `altNames`,
// in subjectAltName syntax: "DNS:localhost,IP:127.0.0.1".
inline TestCert makeSelfSignedCert(const char* altNames = "DNS:localhost,IP:127.0.0.1") {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("partyd test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_subject_alt_name, altNames}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  BIO* cert = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert, x);
  BIO* pkey = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(pkey, key, nullptr, nullptr, 0, nullptr, nullptr);
  X509_free(x);
  EVP_PKEY_free(key);
  return {detail::drainBio(cert), detail::drainBio(pkey)};
}

// Makes `server` present `cert`.
inline void useCert(boost::asio::ssl::context& server, const TestCert& cert) {
  server.use_certificate_chain(boost::asio::buffer(cert.certPem));
  server.use_private_key(boost::asio::buffer(cert.keyPem), boost::asio::ssl::context::pem);
}

// The certificate as a PEM file in the temp directory, for trustCaFileForTesting; removed when
// this goes away. Empty until write() is called.
class CaFile {
 public:
  CaFile() = default;
  ~CaFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  CaFile(const CaFile&) = delete;
  CaFile& operator=(const CaFile&) = delete;

  void write(const TestCert& cert) {
    static std::atomic<int> next{0};
    if (path_.empty()) {
      path_ =
          (std::filesystem::temp_directory_path() /
           ("partyd_test_ca_" + std::to_string(::getpid()) + "_" + std::to_string(next++) + ".pem"))
              .string();
    }
    std::ofstream(path_, std::ios::trunc) << cert.certPem;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace partyd::net::test
