#include "cluster/etcd.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "base/base64.h"
#include "cluster/etcd_internal.h"

namespace partyd::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxIdle = 4;
constexpr std::size_t kMaxResponseBytes = 64 * 1024 * 1024;

Result<Endpoint> parseEndpoint(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return makeError("etcd endpoint '" + std::string(url) + "' is not http://host:port");
  std::string_view rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  Endpoint ep;
  ep.url = std::string(url);
  std::size_t colon;
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return makeError("etcd endpoint '" + ep.url + "' has no port");
    ep.host = std::string(rest.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return makeError("etcd endpoint '" + ep.url + "' has no port");
    ep.host = std::string(rest.substr(0, colon));
  }
  std::string_view port = rest.substr(colon + 1);
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
    return makeError("etcd endpoint '" + ep.url + "' has a bad port");
  ep.port = static_cast<std::uint16_t>(p);
  error_code aec;
  auto addr = asio::ip::make_address(ep.host, aec);
  if (!aec) ep.address = addr;
  return ep;
}

std::string describe(const error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

}  // namespace

// ---- JSON helpers -----------------------------------------------------------------------------

std::int64_t int64Field(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end()) return 0;
  const json::value& v = it->value();
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.as_uint64());
  if (v.is_string()) {
    const json::string& s = v.as_string();
    std::int64_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && end == s.data() + s.size()) return out;
  }
  return 0;
}

bool boolField(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  return it != o.end() && it->value().is_bool() && it->value().as_bool();
}

std::optional<std::string> bytesField(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end()) return std::string();
  if (!it->value().is_string()) return std::nullopt;
  const json::string& s = it->value().as_string();
  return base64Decode(std::string_view(s.data(), s.size()));
}

const json::object* objectField(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_object()) return nullptr;
  return &it->value().as_object();
}

Result<KeyValue> parseKv(const json::object& o) {
  KeyValue kv;
  auto key = bytesField(o, "key");
  auto value = bytesField(o, "value");
  if (!key || !value) return makeError("etcd: a key or value is not base64");
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.createRevision = int64Field(o, "create_revision");
  kv.modRevision = int64Field(o, "mod_revision");
  kv.version = int64Field(o, "version");
  kv.lease = int64Field(o, "lease");
  return kv;
}

Result<RangeResult> parseRange(const json::object& o) {
  RangeResult r;
  if (auto* h = objectField(o, "header")) r.revision = int64Field(*h, "revision");
  auto it = o.find("kvs");
  if (it != o.end() && it->value().is_array()) {
    for (const json::value& v : it->value().as_array()) {
      if (!v.is_object()) return makeError("etcd: a kv is not an object");
      auto kv = parseKv(v.as_object());
      if (!kv) return kv.error();
      r.kvs.push_back(std::move(*kv));
    }
  }
  return r;
}

std::string b64(std::string_view bytes) {
  return base64Encode(bytes);
}

std::string prefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

void addRange(json::object& o, std::string_view key, Etcd::Range kind) {
  o["key"] = b64(key);
  if (kind == Etcd::Range::kPrefix) o["range_end"] = b64(prefixEnd(key));
}

// ---- connections ------------------------------------------------------------------------------

Etcd::Impl::Impl(asio::io_context& io, EtcdOptions options, std::vector<Endpoint> endpoints,
                 std::optional<asio::ip::address> source)
    : io(io), options(std::move(options)), endpoints(std::move(endpoints)), source(source) {}

void Etcd::Impl::shutdown() {
  closed = true;
  for (auto& c : idle) c->close();
  idle.clear();
  for (auto& w : active)
    if (auto c = w.lock()) c->close();
  active.clear();
}

void Etcd::Impl::track(const std::shared_ptr<Conn>& conn) {
  std::erase_if(active, [](const std::weak_ptr<Conn>& w) { return w.expired(); });
  active.push_back(conn);
}

void Etcd::Impl::endpointFailed(std::size_t ep) {
  if (ep == current && endpoints.size() > 1) current = (current + 1) % endpoints.size();
  std::erase_if(idle, [&](const std::shared_ptr<Conn>& c) {
    if (c->endpoint != ep) return false;
    c->close();
    return true;
  });
}

void Etcd::Impl::open(Clock::time_point deadline, OpenCallback done) {
  openFrom(current, 0, deadline, std::string(), std::move(done));
}

void Etcd::Impl::openFrom(std::size_t first, std::size_t attempt, Clock::time_point deadline,
                          std::string errors, OpenCallback done) {
  if (attempt == endpoints.size()) {
    asio::post(io, [self = shared_from_this(), errors = std::move(errors), done = std::move(done)] {
      if (!self->closed) done(makeError("etcd: " + errors));
    });
    return;
  }
  std::size_t ep = (first + attempt) % endpoints.size();
  auto conn = std::make_shared<Conn>(io);
  conn->endpoint = ep;
  track(conn);
  auto fail = [self = shared_from_this(), first, attempt, deadline, errors, ep, done](
                  const std::string& why, bool next) mutable {
    std::string all = errors.empty() ? "" : errors + "; ";
    all += why + " (" + self->endpoints[ep].url + ")";
    if (next && Clock::now() < deadline) {
      self->endpointFailed(ep);
      self->openFrom(first, attempt + 1, deadline, std::move(all), std::move(done));
    } else {
      if (next) self->endpointFailed(ep);
      asio::post(self->io, [self, all = std::move(all), done = std::move(done)] {
        if (!self->closed) done(makeError("etcd: " + all));
      });
    }
  };
  auto connectTo = [self = shared_from_this(), conn, deadline, done,
                    fail](tcp::endpoint target) mutable {
    error_code ec;
    tcp::socket& s = conn->stream.socket();
    s.open(target.protocol(), ec);
    if (!ec && self->source) s.bind(tcp::endpoint(*self->source, 0), ec);
    if (ec) {
      fail("cannot bind to " + (self->source ? self->source->to_string() : "?") + ": " +
               ec.message(),
           false);
      return;
    }
    conn->stream.expires_at(deadline);
    conn->stream.async_connect(target, [self, conn, done, fail](error_code ec) mutable {
      if (self->closed) return;
      if (ec) {
        fail("connect: " + describe(ec), true);
        return;
      }
      done(conn);
    });
  };
  const Endpoint& e = endpoints[ep];
  if (e.address) {
    connectTo(tcp::endpoint(*e.address, e.port));
    return;
  }
  auto resolver = std::make_shared<tcp::resolver>(io);
  resolver->async_resolve(
      e.host, std::to_string(e.port),
      [self = shared_from_this(), resolver, connectTo, fail](
          error_code ec, tcp::resolver::results_type results) mutable {
        if (self->closed) return;
        if (ec || results.empty()) {
          fail("cannot resolve: " + (ec ? ec.message() : std::string("no address")), true);
          return;
        }
        // Keep to the source address's family when there is one.
        for (const auto& r : results) {
          if (!self->source || r.endpoint().address().is_v4() == self->source->is_v4()) {
            connectTo(r.endpoint());
            return;
          }
        }
        fail("no address of the source address's family", true);
      });
}

// ---- unary calls ------------------------------------------------------------------------------

struct Etcd::Impl::Call {
  std::string path;
  std::string body;
  JsonCallback done;
  Clock::time_point deadline;
  bool retriedStale = false;
  std::size_t attempts = 0;
};

void Etcd::Impl::call(std::string path, json::object body, JsonCallback done) {
  auto c = std::make_shared<Call>();
  c->path = std::move(path);
  c->body = json::serialize(body);
  c->done = std::move(done);
  c->deadline = Clock::now() + options.timeout;
  start(c);
}

void Etcd::Impl::start(const std::shared_ptr<Call>& c) {
  for (auto it = idle.rbegin(); it != idle.rend(); ++it) {
    if ((*it)->endpoint != current) continue;
    std::shared_ptr<Conn> conn = *it;
    idle.erase(std::next(it).base());
    conn->reused = true;
    track(conn);
    exchange(c, conn);
    return;
  }
  open(c->deadline, [self = shared_from_this(), c](Result<std::shared_ptr<Conn>> conn) {
    if (!conn) {
      self->finish(c, conn.error());
      return;
    }
    self->exchange(c, *conn);
  });
}

void Etcd::Impl::finish(const std::shared_ptr<Call>& c, Result<json::value> result) {
  if (closed || !c->done) return;
  auto done = std::move(c->done);
  c->done = nullptr;
  done(std::move(result));
}

void Etcd::Impl::exchange(const std::shared_ptr<Call>& c, const std::shared_ptr<Conn>& conn) {
  auto req = std::make_shared<bhttp::request<bhttp::string_body>>(bhttp::verb::post, c->path, 11);
  const Endpoint& e = endpoints[conn->endpoint];
  req->set(bhttp::field::host, e.host + ":" + std::to_string(e.port));
  req->set(bhttp::field::content_type, "application/json");
  req->keep_alive(true);
  req->body() = c->body;
  req->prepare_payload();
  conn->stream.expires_at(c->deadline);
  bhttp::async_write(
      conn->stream, *req, [self = shared_from_this(), c, conn, req](error_code ec, std::size_t) {
        if (self->closed) return;
        if (ec) {
          self->transportError(c, conn, ec);
          return;
        }
        auto parser = std::make_shared<bhttp::response_parser<bhttp::string_body>>();
        parser->body_limit(kMaxResponseBytes);
        bhttp::async_read(conn->stream, conn->buffer, *parser,
                          [self, c, conn, parser](error_code ec, std::size_t) {
                            if (self->closed) return;
                            if (ec) {
                              self->transportError(c, conn, ec);
                              return;
                            }
                            auto& res = parser->get();
                            if (res.keep_alive() && self->idle.size() < kMaxIdle) {
                              conn->stream.expires_never();
                              self->idle.push_back(conn);
                            } else {
                              conn->close();
                            }
                            self->finish(c, parseReply(res.result_int(), res.body()));
                          });
      });
}

Result<json::value> Etcd::Impl::parseReply(unsigned status, std::string_view body) {
  error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return makeError("etcd: HTTP " + std::to_string(status) + " with a body that is not JSON");
  }
  const json::object& o = v.as_object();
  if (auto it = o.find("error"); it != o.end()) {
    std::string msg = it->value().is_string() ? std::string(it->value().as_string()) : "error";
    if (auto m = o.find("message"); m != o.end() && m->value().is_string())
      msg = std::string(m->value().as_string());
    return makeError("etcd: " + msg);
  }
  if (status != 200) return makeError("etcd: HTTP " + std::to_string(status));
  return v;
}

void Etcd::Impl::transportError(const std::shared_ptr<Call>& c, const std::shared_ptr<Conn>& conn,
                                error_code ec) {
  conn->close();
  bool timedOut = ec == beast::error::timeout || Clock::now() >= c->deadline;
  if (timedOut) {
    endpointFailed(conn->endpoint);
    finish(c, makeError("etcd: timed out after " + std::to_string(options.timeout.count()) +
                        " ms (" + endpoints[conn->endpoint].url + ")"));
    return;
  }
  // A pooled connection may have been closed by the server while idle: one fresh try on the
  // same endpoint. Otherwise the endpoint failed: the next one, while any is left.
  if (conn->reused && !c->retriedStale) {
    c->retriedStale = true;
    std::erase_if(idle, [&](const std::shared_ptr<Conn>& i) {
      if (i->endpoint != conn->endpoint) return false;
      i->close();
      return true;
    });
    start(c);
    return;
  }
  endpointFailed(conn->endpoint);
  if (++c->attempts < endpoints.size()) {
    start(c);
    return;
  }
  finish(c, makeError("etcd: " + describe(ec) + " (" + endpoints[conn->endpoint].url + ")"));
}

// ---- the public calls -------------------------------------------------------------------------

Result<std::unique_ptr<Etcd>> Etcd::create(asio::io_context& io, EtcdOptions options) {
  if (options.endpoints.empty()) return makeError("etcd: no endpoints");
  std::vector<Endpoint> eps;
  for (const auto& url : options.endpoints) {
    auto ep = parseEndpoint(url);
    if (!ep) return ep.error();
    eps.push_back(std::move(*ep));
  }
  std::optional<asio::ip::address> source;
  if (!options.sourceAddress.empty()) {
    error_code ec;
    auto a = asio::ip::make_address(options.sourceAddress, ec);
    if (ec) return makeError("etcd: source address '" + options.sourceAddress + "' is not an IP");
    source = a;
  }
  if (options.timeout.count() <= 0) return makeError("etcd: the timeout must be positive");
  auto impl = std::make_shared<Impl>(io, std::move(options), std::move(eps), source);
  return std::unique_ptr<Etcd>(new Etcd(std::move(impl)));
}

Etcd::~Etcd() {
  impl_->shutdown();
}

asio::io_context& Etcd::io() const {
  return impl_->io;
}
const EtcdOptions& Etcd::options() const {
  return impl_->options;
}
std::size_t Etcd::currentEndpoint() const {
  return impl_->current;
}

void Etcd::put(std::string key, std::string value, std::int64_t lease,
               Callback<std::int64_t> done) {
  json::object b;
  b["key"] = b64(key);
  b["value"] = b64(value);
  if (lease != 0) b["lease"] = std::to_string(lease);
  impl_->call("/v3/kv/put", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    const json::object* h = objectField(r->as_object(), "header");
    done(h ? int64Field(*h, "revision") : 0);
  });
}

void Etcd::range(std::string key, Range kind, Callback<RangeResult> done) {
  json::object b;
  addRange(b, key, kind);
  impl_->call("/v3/kv/range", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    done(parseRange(r->as_object()));
  });
}

void Etcd::del(std::string key, Range kind, Callback<std::int64_t> done) {
  json::object b;
  addRange(b, key, kind);
  impl_->call("/v3/kv/deleterange", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    done(int64Field(r->as_object(), "deleted"));
  });
}

void Etcd::createIfAbsent(std::string key, std::string value, std::int64_t lease,
                          Callback<CreateResult> done, std::optional<Put> also) {
  json::object cmp;
  cmp["key"] = b64(key);
  cmp["target"] = "CREATE";
  cmp["result"] = "EQUAL";
  cmp["create_revision"] = "0";
  json::object put;
  put["key"] = b64(key);
  put["value"] = b64(value);
  if (lease != 0) put["lease"] = std::to_string(lease);
  json::object get;
  get["key"] = b64(key);
  json::object b;
  b["compare"] = json::array{cmp};
  json::array success{json::object{{"request_put", put}}};
  if (also) {
    json::object extra;
    extra["key"] = b64(also->key);
    extra["value"] = b64(also->value);
    success.push_back(json::object{{"request_put", extra}});
  }
  b["success"] = std::move(success);
  b["failure"] = json::array{json::object{{"request_range", get}}};
  impl_->call("/v3/kv/txn", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    const json::object& o = r->as_object();
    CreateResult out;
    out.won = boolField(o, "succeeded");
    if (auto* h = objectField(o, "header")) out.revision = int64Field(*h, "revision");
    if (!out.won) {
      auto it = o.find("responses");
      if (it != o.end() && it->value().is_array()) {
        for (const json::value& v : it->value().as_array()) {
          if (!v.is_object()) continue;
          const json::object* rr = objectField(v.as_object(), "response_range");
          if (!rr) continue;
          auto range = parseRange(*rr);
          if (!range) return done(range.error());
          if (!range->kvs.empty()) out.current = std::move(range->kvs.front());
        }
      }
    }
    done(std::move(out));
  });
}

void Etcd::deleteIfCreated(std::string key, std::int64_t createRevision, Callback<bool> done) {
  json::object cmp;
  cmp["key"] = b64(key);
  cmp["target"] = "CREATE";
  cmp["result"] = "EQUAL";
  cmp["create_revision"] = std::to_string(createRevision);
  json::object del;
  del["key"] = b64(key);
  json::object b;
  b["compare"] = json::array{cmp};
  b["success"] = json::array{json::object{{"request_delete_range", del}}};
  impl_->call("/v3/kv/txn", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    done(boolField(r->as_object(), "succeeded"));
  });
}

void Etcd::leaseGrant(std::int64_t ttlSeconds, Callback<LeaseGrant> done) {
  json::object b;
  b["TTL"] = std::to_string(ttlSeconds);
  impl_->call("/v3/lease/grant", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    const json::object& o = r->as_object();
    LeaseGrant g{int64Field(o, "ID"), int64Field(o, "TTL")};
    if (g.id == 0) return done(makeError("etcd: lease grant returned no ID"));
    done(g);
  });
}

void Etcd::leaseKeepAlive(std::int64_t id, Callback<std::int64_t> done) {
  json::object b;
  b["ID"] = std::to_string(id);
  impl_->call("/v3/lease/keepalive", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    // A server stream over the gateway: the one reply comes wrapped in "result".
    const json::object* res = objectField(r->as_object(), "result");
    done(res ? int64Field(*res, "TTL") : 0);
  });
}

void Etcd::leaseRevoke(std::int64_t id, Callback<void> done) {
  json::object b;
  b["ID"] = std::to_string(id);
  impl_->call("/v3/lease/revoke", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    done(Result<void>());
  });
}

void Etcd::compact(std::int64_t revision, Callback<void> done) {
  json::object b;
  b["revision"] = std::to_string(revision);
  b["physical"] = true;
  impl_->call("/v3/kv/compaction", std::move(b), [done = std::move(done)](Result<json::value> r) {
    if (!r) return done(r.error());
    done(Result<void>());
  });
}

}  // namespace partyd::cluster
