#include "net/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <zlib.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/optional/optional.hpp>
#include <boost/url/authority_view.hpp>
#include <boost/url/host_type.hpp>
#include <cctype>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "base/strings.h"
#include "net/tls_context.h"

namespace partyd::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr int kMaxRedirects = 20;
constexpr std::size_t kMaxIdlePerOrigin = 6;
constexpr std::size_t kMaxIdleTotal = 64;
// Below the 5 s keep-alive of Node servers, so we rarely pick a connection the server is closing.
constexpr std::chrono::seconds kIdleTimeout{4};
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
// Longer deadlines are clamped, so that adding them to now() cannot overflow.
constexpr std::chrono::hours kLongestDeadline{24 * 365};
constexpr std::string_view kAborted = "The operation was aborted";

// ---- URLs -----------------------------------------------------------------------------------
// api/ hands us URLs already serialized by the WHATWG parser; Location headers can hold anything.
// Boost.URL reads the authority (userinfo, an IPv4, IPv6 or named host, the port). The path and
// query are taken as WHATWG serializes them, with '|', '^', '{', '}' and '`' left raw, which an
// RFC 3986 parser refuses, so they are cut here, cleared of dot segments and sent as they are
// (only bytes no request target may hold are escaped); Location headers are resolved against
// the URL that answered (RFC 3986 section 5.2) the same way.

struct Url {
  bool tls = false;
  std::string host;  // lowercased; an IPv6 literal without brackets
  bool ipv6 = false;
  unsigned short port = 0;
  std::string target;  // path and query, never empty

  bool defaultPort() const { return port == (tls ? 443 : 80); }
  std::string hostPort() const {
    std::string h = ipv6 ? "[" + host + "]" : host;
    return defaultPort() ? h : h + ":" + std::to_string(port);
  }
  std::string origin() const { return (tls ? "https://" : "http://") + hostPort(); }
  std::string href() const { return origin() + target; }
  // Pool key and the "host:port" of error messages.
  std::string endpoint() const {
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

bool isTokenChar(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return isTokenChar(c); });
}

// Percent-encodes what may not appear raw in a request target.
std::string encodeTarget(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string removeDotSegments(std::string_view path) {
  std::vector<std::string_view> segs;
  std::size_t pos = 1;  // path starts with '/'
  while (true) {
    std::size_t slash = path.find('/', pos);
    bool last = slash == std::string_view::npos;
    std::string_view seg = path.substr(pos, last ? std::string_view::npos : slash - pos);
    if (seg == "." || iequals(seg, "%2e")) {
      if (last) segs.push_back("");
    } else if (seg == ".." || iequals(seg, ".%2e") || iequals(seg, "%2e.") ||
               iequals(seg, "%2e%2e")) {
      if (!segs.empty()) segs.pop_back();
      if (last) segs.push_back("");
    } else {
      segs.push_back(seg);
    }
    if (last) break;
    pos = slash + 1;
  }
  std::string out;
  for (auto seg : segs) {
    out += '/';
    out += seg;
  }
  return out.empty() ? "/" : out;
}

std::size_t schemeEnd(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return std::string_view::npos;
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == ':') return i;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') break;
  }
  return std::string_view::npos;
}

std::string_view trimUrl(std::string_view s) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) s.remove_suffix(1);
  return s;
}

Result<Url> parseUrl(std::string_view input) {
  std::string s;
  for (char c : trimUrl(input)) {
    if (c != '\t' && c != '\n' && c != '\r') s += c;
  }
  std::size_t colon = schemeEnd(s);
  if (colon == std::string::npos) return makeError("fetch failed: invalid URL '" + s + "'");
  std::string scheme = asciiLower(std::string_view(s).substr(0, colon));
  if (scheme != "http" && scheme != "https") {
    return makeError("fetch failed: unsupported URL scheme '" + scheme + ":'");
  }
  Url url;
  url.tls = scheme == "https";
  std::size_t i = colon + 1;
  while (i < s.size() && (s[i] == '/' || s[i] == '\\')) ++i;
  std::size_t authEnd = s.find_first_of("/\\?#", i);
  if (authEnd == std::string::npos) authEnd = s.size();
  std::string_view auth = std::string_view(s).substr(i, authEnd - i);
  auto parsed = boost::urls::parse_authority(auth);
  if (!parsed) return makeError("fetch failed: invalid URL '" + s + "'");
  const boost::urls::authority_view& authority = *parsed;
  if (authority.has_userinfo()) {
    return makeError("fetch failed: URL includes credentials: '" + s + "'");
  }
  switch (authority.host_type()) {
    case boost::urls::host_type::ipv6:
      url.ipv6 = true;
      url.host = asciiLower(authority.host_address());
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      url.host = asciiLower(authority.host_address());
      for (unsigned char c : url.host) {
        if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') {
          return makeError("fetch failed: invalid host in URL '" + s + "'");
        }
      }
      break;
    default:  // IPvFuture ("[v1.x]")
      return makeError("fetch failed: invalid IPv6 host in '" + s + "'");
  }
  if (url.host.empty()) return makeError("fetch failed: URL has no host: '" + s + "'");
  url.port = url.tls ? 443 : 80;
  // Boost.URL's port is any run of digits; "host:" means the default port, as in WHATWG.
  std::string_view portText = authority.port();
  if (!portText.empty()) {
    unsigned long port = 0;
    for (char c : portText) {
      if ((port = port * 10 + static_cast<unsigned long>(c - '0')) > 65535) break;
    }
    if (port == 0 || port > 65535) {
      return makeError("fetch failed: invalid port in URL '" + s + "'");
    }
    url.port = static_cast<unsigned short>(port);
  }
  std::string_view rest = std::string_view(s).substr(authEnd);
  rest = rest.substr(0, rest.find('#'));
  std::size_t q = rest.find('?');
  std::string path(rest.substr(0, q));
  std::replace(path.begin(), path.end(), '\\', '/');
  if (path.empty()) path = "/";
  url.target = encodeTarget(removeDotSegments(path));
  if (q != std::string_view::npos) url.target += encodeTarget(rest.substr(q));
  return url;
}

// Resolves a Location header against the URL that answered with it.
Result<Url> resolveUrl(const Url& base, std::string_view ref) {
  std::string r(trimUrl(ref));
  if (schemeEnd(r) != std::string::npos) return parseUrl(r);
  std::size_t qf = r.find_first_of("?#");
  std::replace(r.begin(), r.begin() + (qf == std::string::npos ? r.size() : qf), '\\', '/');
  if (r.rfind("//", 0) == 0) return parseUrl((base.tls ? "https:" : "http:") + r);
  if (!r.empty() && r[0] == '/') return parseUrl(base.origin() + r);
  std::string_view basePath = std::string_view(base.target).substr(0, base.target.find('?'));
  if (r.empty() || r[0] == '#') return parseUrl(base.href());
  if (r[0] == '?') return parseUrl(base.origin() + std::string(basePath) + r);
  std::string merged(basePath.substr(0, basePath.rfind('/') + 1));
  return parseUrl(base.origin() + merged + r);
}

// ---- Content decoding ---------------------------------------------------------------------

// Inflates `in` with zlib; windowBits selects the wrapper (15 zlib, -15 raw, 31 gzip).
Result<std::string> inflateBody(std::string_view in, int windowBits, std::size_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, windowBits) != Z_OK) return makeError("fetch failed: zlib init failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char chunk[16384];
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (out.size() > limit) {
      inflateEnd(&zs);
      return makeError("fetch failed: response body exceeds the limit of " + std::to_string(limit) +
                       " bytes");
    }
    if (rc == Z_STREAM_END) {
      // gzip allows several members one after another.
      if (windowBits > 15 && zs.avail_in > 0 && inflateReset(&zs) == Z_OK) continue;
      break;
    }
    if (rc != Z_OK || (zs.avail_in == 0 && zs.avail_out != 0)) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return makeError("fetch failed: cannot decode the compressed body");
  return out;
}

// Undoes content-encoding in reverse order. Encodings we cannot decode leave the body as is.
Result<void> decodeBody(const std::vector<std::string>& encodings, std::string& body,
                        std::size_t limit) {
  for (const auto& e : encodings) {
    if (e != "gzip" && e != "x-gzip" && e != "deflate" && e != "identity") return {};
  }
  for (auto it = encodings.rbegin(); it != encodings.rend(); ++it) {
    if (*it == "identity" || body.empty()) continue;
    int bits = 31;
    if (*it == "deflate") {
      // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
      auto b0 = static_cast<unsigned char>(body[0]);
      auto b1 = body.size() > 1 ? static_cast<unsigned char>(body[1]) : 0u;
      bits = (b0 & 0x0f) == 8 && ((b0 << 8) | b1) % 31 == 0 ? 15 : -15;
    }
    auto out = inflateBody(body, bits, limit);
    if (!out) return out.error();
    body = std::move(*out);
  }
  return {};
}

std::vector<std::string> contentEncodings(const FetchResponse& r) {
  std::vector<std::string> out;
  for (const auto& [name, value] : r.headers) {
    if (name != "content-encoding") continue;
    std::size_t pos = 0;
    while (pos <= value.size()) {
      std::size_t comma = std::min(value.find(',', pos), value.size());
      std::string_view item = trimUrl(std::string_view(value).substr(pos, comma - pos));
      if (!item.empty()) out.push_back(asciiLower(item));
      pos = comma + 1;
    }
  }
  return out;
}

// ---- Response parsing --------------------------------------------------------------------

// Collects a response the way FetchResponse wants it: fields in the order received (Beast's own
// fields container moves a repeated name next to its first occurrence) and the body as a string.
class ResponseParser : public bhttp::basic_parser<false> {
 public:
  unsigned status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, beast::string_view text, int, error_code&) override {
    status = static_cast<unsigned>(code);
    reason = std::string(text);
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     error_code&) override {
    if (is_header_done()) return;  // a chunked trailer: fetch() does not expose those
    headers.emplace_back(asciiLower(name), std::string(value));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    // The parser has checked the length against the body limit already; cap the reservation
    // anyway, since a server can announce a large body and send nothing.
    if (length) body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 1 << 20)));
  }
  std::size_t on_body_impl(beast::string_view s, error_code&) override {
    body.append(s.data(), s.size());
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, error_code&) override {
    body.append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(error_code&) override {}
};

}  // namespace

// ---- Connections and the pool ----------------------------------------------------------------

namespace {

using TlsStream = ssl::stream<tcp::socket>;

std::variant<tcp::socket, TlsStream> makeStream(asio::io_context& io, ssl::context* tls) {
  if (tls) return std::variant<tcp::socket, TlsStream>(std::in_place_type<TlsStream>, io, *tls);
  return std::variant<tcp::socket, TlsStream>(std::in_place_type<tcp::socket>, io);
}

// Handlers of operations on a connection hold a shared_ptr to it: the stream and its buffer must
// outlive the operation even when the fetch has let go of the connection (closed on abort).
struct Connection {
  Connection(asio::io_context& io, ssl::context* tls, std::string key)
      : stream(makeStream(io, tls)), idleTimer(io), key(std::move(key)) {}

  tcp::socket& socket() {
    return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s); }, stream);
  }
  template <typename F>
  void visit(F&& f) {
    std::visit(std::forward<F>(f), stream);
  }
  // No TLS close_notify: the peer sees a plain close, as with browsers dropping idle sockets.
  void close() {
    error_code ec;
    socket().close(ec);
    idleTimer.cancel();
  }

  std::variant<tcp::socket, TlsStream> stream;
  beast::flat_buffer buffer;
  asio::steady_timer idleTimer;
  std::string key;
  bool idle = false;
  std::uint64_t idleEpoch = 0;
  bool reused = false;
};

class Fetch;

}  // namespace

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  explicit Impl(asio::io_context& io) : io(io), tls(systemTlsContext()) {}

  std::shared_ptr<Connection> checkout(const std::string& key);
  void checkin(std::shared_ptr<Connection> c);
  void evict(const std::shared_ptr<Connection>& c);
  void shutdown();

  asio::io_context& io;
  TlsContext tls;
  bool alive = true;
  std::uint64_t nextId = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<Fetch>> inflight;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Connection>>> idle;
  std::size_t idleCount = 0;
};

using Impl = HttpClient::Impl;

std::shared_ptr<Connection> Impl::checkout(const std::string& key) {
  auto it = idle.find(key);
  if (it == idle.end()) return nullptr;
  std::shared_ptr<Connection> c;
  while (!c && !it->second.empty()) {
    c = std::move(it->second.back());
    it->second.pop_back();
    --idleCount;
    c->idle = false;
    c->idleTimer.cancel();
    error_code ec;
    c->socket().cancel(ec);  // the readability watch
    if (!c->socket().is_open()) c.reset();
  }
  if (it->second.empty()) idle.erase(it);
  if (c) c->reused = true;
  return c;
}

void Impl::checkin(std::shared_ptr<Connection> c) {
  auto& list = idle[c->key];
  if (!alive || list.size() >= kMaxIdlePerOrigin || idleCount >= kMaxIdleTotal) {
    if (list.empty()) idle.erase(c->key);
    c->close();
    return;
  }
  c->idle = true;
  std::uint64_t epoch = ++c->idleEpoch;
  list.push_back(c);
  ++idleCount;
  std::weak_ptr<Impl> weak = shared_from_this();
  auto drop = [weak, c, epoch](error_code ec) {
    if (ec == asio::error::operation_aborted || !c->idle || c->idleEpoch != epoch) return;
    if (auto self = weak.lock()) self->evict(c);
  };
  c->idleTimer.expires_after(kIdleTimeout);
  c->idleTimer.async_wait(drop);
  // An idle socket turning readable means the server closed it (or broke protocol): drop it.
  c->socket().async_wait(tcp::socket::wait_read, drop);
}

void Impl::evict(const std::shared_ptr<Connection>& c) {
  auto it = idle.find(c->key);
  if (it != idle.end()) {
    auto& list = it->second;
    auto pos = std::find(list.begin(), list.end(), c);
    if (pos != list.end()) {
      list.erase(pos);
      --idleCount;
    }
    if (list.empty()) idle.erase(it);
  }
  c->idle = false;
  c->close();
}

// ---- One fetch --------------------------------------------------------------------------------

namespace {

class Fetch : public std::enable_shared_from_this<Fetch> {
 public:
  Fetch(std::shared_ptr<Impl> core, std::uint64_t id, FetchRequest request,
        HttpClient::Callback done)
      : core_(std::move(core)),
        id_(id),
        req_(std::move(request)),
        done_(std::move(done)),
        deadline_(core_->io),
        resolver_(core_->io) {}

  void start(Url url);
  void finish(Result<FetchResponse> result);
  // Stops everything without calling back (the client is going away).
  void cancelSilently();

 private:
  bool stale(std::uint64_t attempt) const { return finished_ || attempt != attempt_; }
  Result<void> buildRequest();
  void startHop();
  void connect();
  void onResolved(error_code ec, const tcp::resolver::results_type& results);
  void onConnected(error_code ec);
  void onHandshake(error_code ec);
  void send();
  void onWritten(error_code ec);
  void read();
  void onRead(error_code ec);
  void onResponse();
  bool retryable(error_code ec, bool gotResponseBytes) const;
  void retry();
  void fail(std::string message) { finish(makeError(std::move(message))); }
  std::string tlsVerifyError();

  std::shared_ptr<Impl> core_;
  std::uint64_t id_;
  FetchRequest req_;
  HttpClient::Callback done_;
  asio::steady_timer deadline_;
  tcp::resolver resolver_;
  Url url_;
  int redirects_ = 0;
  bool finished_ = false;
  bool retried_ = false;
  std::uint64_t attempt_ = 0;
  std::shared_ptr<Connection> conn_;
  // The body points into req_.body, which stays put while it is written (and for 307/308).
  bhttp::request<bhttp::span_body<const char>> wire_;
  std::optional<ResponseParser> parser_;
};

void Fetch::start(Url url) {
  url_ = std::move(url);
  if (req_.timeout.count() > 0) {
    deadline_.expires_after(std::min<std::chrono::milliseconds>(req_.timeout, kLongestDeadline));
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->finished_) return;
      self->fail("fetch timed out after " + std::to_string(self->req_.timeout.count()) + " ms");
    });
  }
  startHop();
}

void Fetch::finish(Result<FetchResponse> result) {
  if (finished_) return;
  auto self = shared_from_this();
  finished_ = true;
  deadline_.cancel();
  resolver_.cancel();
  if (conn_) {
    conn_->close();
    conn_.reset();
  }
  core_->inflight.erase(id_);
  asio::post(core_->io, [core = core_, done = std::move(done_), r = std::move(result)]() mutable {
    if (core->alive) done(std::move(r));
  });
  done_ = nullptr;
}

void Fetch::cancelSilently() {
  finished_ = true;
  done_ = nullptr;
  deadline_.cancel();
  resolver_.cancel();
  if (conn_) conn_->close();
  conn_.reset();
}

Result<void> Fetch::buildRequest() {
  wire_ = {};
  wire_.version(11);
  wire_.method_string(req_.method);
  wire_.target(url_.target);
  bool hasUserAgent = false, hasAccept = false, hasEncoding = false;
  for (const auto& [name, value] : req_.headers) {
    if (!isToken(name)) return makeError("fetch failed: invalid header name '" + name + "'");
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return makeError("fetch failed: invalid value for header '" + name + "'");
    }
    // The framing and the host are ours: they must match the body and URL we actually send.
    if (iequals(name, "host") || iequals(name, "content-length") ||
        iequals(name, "transfer-encoding")) {
      continue;
    }
    hasUserAgent |= iequals(name, "user-agent");
    hasAccept |= iequals(name, "accept");
    hasEncoding |= iequals(name, "accept-encoding");
    wire_.insert(name, value);
  }
  wire_.set(bhttp::field::host, url_.hostPort());
  if (!hasUserAgent) wire_.set(bhttp::field::user_agent, "partyd");
  if (!hasAccept) wire_.set(bhttp::field::accept, "*/*");
  if (!hasEncoding) wire_.set(bhttp::field::accept_encoding, "gzip, deflate");
  if (!req_.body.empty() || req_.method == "POST" || req_.method == "PUT") {
    wire_.set(bhttp::field::content_length, std::to_string(req_.body.size()));
  }
  wire_.body() = {req_.body.data(), req_.body.size()};
  return {};
}

void Fetch::startHop() {
  if (auto built = buildRequest(); !built) return fail(built.error().message);
  retried_ = false;
  ++attempt_;
  conn_ = core_->checkout((url_.tls ? "https://" : "http://") + url_.endpoint());
  if (conn_) return send();
  connect();
}

void Fetch::connect() {
  if (url_.tls && !core_->tls.error.empty()) return fail("fetch failed: " + core_->tls.error);
  std::uint64_t attempt = ++attempt_;
  error_code notIp;
  auto ip = asio::ip::make_address(url_.host, notIp);
  if (!notIp) {
    // An address literal needs no resolver (whose getaddrinfo runs on a helper thread).
    auto port = std::to_string(url_.port);
    return onResolved({}, tcp::resolver::results_type::create({ip, url_.port}, url_.host, port));
  }
  resolver_.async_resolve(url_.host, std::to_string(url_.port), tcp::resolver::numeric_service,
                          [self = shared_from_this(), attempt](
                              error_code ec, const tcp::resolver::results_type& results) {
                            if (!self->stale(attempt)) self->onResolved(ec, results);
                          });
}

void Fetch::onResolved(error_code ec, const tcp::resolver::results_type& results) {
  if (ec) return fail("fetch failed: cannot resolve host " + url_.host + ": " + ec.message());
  conn_ = std::make_shared<Connection>(core_->io, url_.tls ? core_->tls.ctx.get() : nullptr,
                                       (url_.tls ? "https://" : "http://") + url_.endpoint());
  if (!req_.sourceAddress.empty()) {
    // Bound: one socket, to the first address (async_connect over a range reopens the socket).
    tcp::endpoint target = results.begin()->endpoint();
    error_code bec;
    auto source = asio::ip::make_address(req_.sourceAddress, bec);
    auto& socket = conn_->socket();
    if (!bec) socket.open(target.protocol(), bec);
    if (!bec) socket.bind(tcp::endpoint(source, 0), bec);
    if (bec) {
      return fail("fetch failed: cannot bind to " + req_.sourceAddress + ": " + bec.message());
    }
    socket.async_connect(target, [self = shared_from_this(), conn = conn_,
                                  attempt = attempt_](error_code ec) {
      if (!self->stale(attempt)) self->onConnected(ec);
    });
    return;
  }
  asio::async_connect(conn_->socket(), results,
                      [self = shared_from_this(), conn = conn_, attempt = attempt_](
                          error_code ec, const tcp::endpoint&) {
                        if (!self->stale(attempt)) self->onConnected(ec);
                      });
}

void Fetch::onConnected(error_code ec) {
  if (ec == asio::error::connection_refused) {
    return fail("fetch failed: connection refused to " + url_.endpoint());
  }
  if (ec) return fail("fetch failed: cannot connect to " + url_.endpoint() + ": " + ec.message());
  error_code ignored;
  conn_->socket().set_option(tcp::no_delay(true), ignored);
  if (!url_.tls) return send();

  auto& tls = std::get<TlsStream>(conn_->stream);
  prepareClientTls(tls, url_.host, url_.ipv6);
  tls.async_handshake(ssl::stream_base::client,
                      [self = shared_from_this(), conn = conn_, attempt = attempt_](error_code ec) {
                        if (!self->stale(attempt)) self->onHandshake(ec);
                      });
}

std::string Fetch::tlsVerifyError() {
  long result = SSL_get_verify_result(std::get<TlsStream>(conn_->stream).native_handle());
  return X509_verify_cert_error_string(result);
}

void Fetch::onHandshake(error_code ec) {
  if (!ec) return send();
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    return fail("fetch failed: certificate verify failed for " + url_.host + ": " +
                tlsVerifyError());
  }
  fail("fetch failed: TLS handshake with " + url_.endpoint() + " failed: " + ec.message());
}

void Fetch::send() {
  conn_->visit([this, attempt = attempt_](auto& stream) {
    bhttp::async_write(
        stream, wire_,
        [self = shared_from_this(), conn = conn_, attempt](error_code ec, std::size_t) {
          if (!self->stale(attempt)) self->onWritten(ec);
        });
  });
}

void Fetch::onWritten(error_code ec) {
  if (ec && retryable(ec, false)) return retry();
  if (ec) {
    return fail("fetch failed: cannot send the request to " + url_.endpoint() + ": " +
                ec.message());
  }
  read();
}

void Fetch::read() {
  parser_.emplace();
  parser_->header_limit(kMaxHeaderBytes);
  parser_->body_limit(req_.maxResponseBytes);
  if (req_.method == "HEAD") parser_->skip(true);
  conn_->visit([this, attempt = attempt_](auto& stream) {
    bhttp::async_read(
        stream, conn_->buffer, *parser_,
        [self = shared_from_this(), conn = conn_, attempt](error_code ec, std::size_t) {
          if (!self->stale(attempt)) self->onRead(ec);
        });
  });
}

// A pooled connection the server closed while we picked it: nothing of ours was processed, so
// sending again on a fresh connection is safe, once, whatever the method.
bool Fetch::retryable(error_code ec, bool gotResponseBytes) const {
  if (!conn_->reused || retried_ || gotResponseBytes) return false;
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

void Fetch::retry() {
  conn_->close();
  conn_.reset();
  retried_ = true;
  connect();
}

void Fetch::onRead(error_code ec) {
  bool gotSome = parser_->got_some();
  if (ec == ssl::error::stream_truncated && parser_->is_header_done() && parser_->need_eof()) {
    // The body ends at connection close and the server skipped close_notify: accept, as
    // browsers do.
    parser_->put_eof(ec);
  }
  if (ec && retryable(ec, gotSome)) return retry();
  if (ec == bhttp::error::body_limit) {
    return fail("fetch failed: response body exceeds the limit of " +
                std::to_string(req_.maxResponseBytes) + " bytes");
  }
  if (ec == bhttp::error::header_limit) {
    return fail("fetch failed: response headers from " + url_.endpoint() + " are too large");
  }
  if (ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
      ec == bhttp::error::partial_message || ec == ssl::error::stream_truncated ||
      ec == asio::error::connection_reset) {
    return fail("fetch failed: connection to " + url_.endpoint() + " closed " +
                (gotSome ? "in the middle of the response" : "before a response"));
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    return fail("fetch failed: bad response from " + url_.endpoint() + ": " + ec.message());
  }
  if (ec) {
    return fail("fetch failed: cannot read the response from " + url_.endpoint() + ": " +
                ec.message());
  }
  if (parser_->status == 101) {
    return fail("fetch failed: " + url_.endpoint() + " switched protocols unasked");
  }
  if (parser_->status >= 100 && parser_->status < 200)
    return read();  // 100 Continue, 103 Early Hints
  onResponse();
}

bool isRedirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Headers describing a request body, dropped when a redirect turns the request into a GET.
bool isBodyHeader(std::string_view name) {
  return iequals(name, "content-type") || iequals(name, "content-encoding") ||
         iequals(name, "content-language") || iequals(name, "content-location");
}

void Fetch::onResponse() {
  ResponseParser& res = *parser_;
  bool reusable = res.keep_alive() && wire_.keep_alive() && conn_->buffer.size() == 0;
  auto conn = std::move(conn_);
  if (reusable) {
    conn->reused = false;
    core_->checkin(std::move(conn));
  } else {
    conn->close();
  }

  auto location = std::find_if(res.headers.begin(), res.headers.end(),
                               [](const auto& h) { return h.first == "location"; });
  if (isRedirect(res.status) && location != res.headers.end() &&
      req_.redirect != FetchRequest::Redirect::kManual) {
    if (req_.redirect == FetchRequest::Redirect::kError) {
      return fail("fetch failed: redirect to '" + location->second +
                  "' with redirect mode \"error\"");
    }
    if (redirects_ >= kMaxRedirects) {
      return fail("fetch failed: too many redirects (more than " + std::to_string(kMaxRedirects) +
                  ")");
    }
    auto next = resolveUrl(url_, location->second);
    if (!next) return fail(next.error().message + " (in a redirect from " + url_.href() + ")");
    ++redirects_;
    // Fetch spec, HTTP-redirect fetch step 12: POST becomes GET on 301/302; 303 makes a GET of
    // anything but HEAD; 307/308 keep method and body.
    if (((res.status == 301 || res.status == 302) && req_.method == "POST") ||
        (res.status == 303 && req_.method != "GET" && req_.method != "HEAD")) {
      req_.method = "GET";
      req_.body.clear();
      std::erase_if(req_.headers, [](const auto& h) { return isBodyHeader(h.first); });
    }
    if (next->origin() != url_.origin()) {
      std::erase_if(req_.headers, [](const auto& h) { return iequals(h.first, "authorization"); });
    }
    url_ = std::move(*next);
    parser_.reset();
    return startHop();
  }

  FetchResponse out;
  out.status = res.status;
  out.statusText = std::move(res.reason);
  out.headers = std::move(res.headers);
  out.body = std::move(res.body);
  out.url = url_.href();
  out.redirected = redirects_ > 0;
  parser_.reset();
  if (auto decoded = decodeBody(contentEncodings(out), out.body, req_.maxResponseBytes); !decoded) {
    return fail(decoded.error().message);
  }
  finish(std::move(out));
}

}  // namespace

// ---- HttpClient -------------------------------------------------------------------------------

void Impl::shutdown() {
  alive = false;
  auto fetches = std::move(inflight);
  inflight.clear();
  for (auto& [id, f] : fetches) f->cancelSilently();
  for (auto& [key, list] : idle) {
    for (auto& c : list) {
      c->idle = false;
      c->close();
    }
  }
  idle.clear();
  idleCount = 0;
}

HttpClient::HttpClient(asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {}

HttpClient::~HttpClient() {
  impl_->shutdown();
}

std::uint64_t HttpClient::fetch(FetchRequest request, Callback done) {
  std::uint64_t id = impl_->nextId++;
  // Fetch spec: these method names are normalized to upper case; others are sent as given.
  for (std::string_view m : {"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"}) {
    if (iequals(request.method, m)) request.method = std::string(m);
  }
  std::string badMethod;
  if (!isToken(request.method)) badMethod = "invalid method '" + request.method + "'";
  if (request.method == "CONNECT" || request.method == "TRACE" || request.method == "TRACK") {
    badMethod = "method " + request.method + " is not allowed";
  }
  auto url = parseUrl(request.url);
  if (!badMethod.empty() || !url) {
    Error error = badMethod.empty() ? url.error() : makeError("fetch failed: " + badMethod);
    asio::post(impl_->io, [core = impl_, done = std::move(done), error]() {
      if (core->alive) done(error);
    });
    return id;
  }
  auto f = std::make_shared<Fetch>(impl_, id, std::move(request), std::move(done));
  impl_->inflight.emplace(id, f);
  f->start(std::move(*url));
  return id;
}

void HttpClient::abort(std::uint64_t id) {
  auto it = impl_->inflight.find(id);
  if (it == impl_->inflight.end()) return;
  auto f = it->second;
  f->finish(makeError(std::string(kAborted)));
}

Result<void> HttpClient::trustCaFileForTesting(const std::string& path) {
  // A context of our own: the shared one must not change under the other shards.
  TlsContext tls = makeTlsContext();
  error_code ec;
  tls.ctx->load_verify_file(path, ec);
  if (ec) return makeError("cannot load CA file " + path + ": " + ec.message());
  impl_->tls = std::move(tls);
  return {};
}

std::size_t HttpClient::idleConnectionCount() const {
  return impl_->idleCount;
}

}  // namespace partyd::net
