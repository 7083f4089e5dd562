// HttpClient is the outbound HTTP/1.1 client of one shard, behind the fetch() of party code. It
// resolves, connects (plain TCP, or TLS verified against the system CA store), writes the request,
// reads and decodes the response and follows redirects, all asynchronously on the shard's
// io_context, and keeps a small pool of idle keep-alive connections per origin. It owns its
// sockets and its TLS context; it knows nothing of JS (api/ maps Request/Response onto these
// structs, strips forbidden headers and validates URLs with the WHATWG parser first).
// Not thread-safe: call it only on the thread that runs its io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace partyd::net {

struct FetchRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL; the fragment is ignored
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  enum class Redirect { kFollow, kManual, kError } redirect = Redirect::kFollow;
  // The outgoing socket binds to this IP address before connecting (cluster nodes: so that a
  // peer knows the request comes from a node); empty: the kernel's choice.
  std::string sourceAddress;
  // The whole request, redirects included. Zero or less means no deadline.
  std::chrono::milliseconds timeout{30000};
  // Limit on the body, after chunked and after gzip/deflate decoding.
  std::size_t maxResponseBytes = 64 * 1024 * 1024;
};

struct FetchResponse {
  unsigned status = 0;
  std::string statusText;
  std::vector<std::pair<std::string, std::string>> headers;  // in order received, names lowercased
  // Decoded from chunked, and from gzip/deflate (content-encoding is left in `headers`). Other
  // encodings (br, zstd) are never asked for and come through as received.
  std::string body;
  std::string url;  // final URL after redirects, without fragment
  bool redirected = false;
};

class HttpClient {
 public:
  using Callback = std::function<void(Result<FetchResponse>)>;

  explicit HttpClient(boost::asio::io_context& io);
  // Cancels in-flight requests and closes pooled connections. Callbacks of cancelled requests are
  // NOT called (they are destroyed here), nor are callbacks already queued on the io_context.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a request and returns an id for abort(). `done` is called exactly once (unless the
  // client is destroyed first), always from the io_context and never from inside fetch() or
  // abort(). Errors are messages such as "fetch failed: connection refused to 127.0.0.1:1",
  // "fetch timed out after 30000 ms" or "fetch failed: certificate verify failed for a.com: ...".
  std::uint64_t fetch(FetchRequest request, Callback done);

  // Cancels a request: its callback gets Error{"The operation was aborted"}. Unknown or finished
  // ids are ignored.
  void abort(std::uint64_t id);

  // Also trusts the CA certificates in the PEM file at `path` (tests use a self-signed one).
  Result<void> trustCaFileForTesting(const std::string& path);

  // Idle keep-alive connections currently pooled, over all origins.
  std::size_t idleConnectionCount() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace partyd::net
