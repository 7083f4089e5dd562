// The watch stream of Etcd: list, then POST /v3/watch and read its chunked body of
// newline-delimited JSON messages; after a drop, resume from the last revision delivered + 1; when
// that revision was compacted, list again.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include "cluster/etcd_internal.h"

namespace partyd::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
constexpr std::size_t kMaxLine = 64 * 1024 * 1024;
}  // namespace

struct Watch::Impl : std::enable_shared_from_this<Watch::Impl> {
  Impl(std::shared_ptr<Etcd::Impl> etcd, std::string key, Etcd::Range kind, WatchHandlers h)
      : etcd(std::move(etcd)),
        key(std::move(key)),
        kind(kind),
        h(std::move(h)),
        retry(this->etcd->io) {
    chunkCb = [this](std::uint64_t, std::string_view body, error_code&) {
      pending.append(body.data(), body.size());
      return body.size();
    };
  }

  bool dead() const { return stopped || etcd->closed; }

  void begin() {
    if (dead()) return;
    std::uint64_t gen = ++generation;
    if (needList) {
      list(gen);
    } else {
      stream(gen);
    }
  }

  void list(std::uint64_t gen) {
    json::object b;
    addRange(b, key, kind);
    etcd->call("/v3/kv/range", std::move(b), [self = shared_from_this(), gen](auto r) {
      if (self->dead() || gen != self->generation) return;
      if (!r) return self->drop(gen, r.error(), false);
      auto range = parseRange(r->as_object());
      if (!range) return self->drop(gen, range.error(), false);
      self->needList = false;
      self->revision = range->revision;
      if (self->h.onSnapshot) self->h.onSnapshot(*range);
      if (self->dead() || gen != self->generation) return;
      self->stream(gen);
    });
  }

  void stream(std::uint64_t gen) {
    etcd->open(Clock::now() + etcd->options.timeout,
               [self = shared_from_this(), gen](Result<std::shared_ptr<Conn>> c) {
                 if (self->dead() || gen != self->generation) return;
                 if (!c) return self->drop(gen, c.error(), false);
                 self->conn = *c;
                 self->send(gen);
               });
  }

  void send(std::uint64_t gen) {
    json::object create;
    addRange(create, key, kind);
    create["start_revision"] = std::to_string(revision + 1);
    create["prev_kv"] = true;
    json::object b;
    b["create_request"] = std::move(create);
    auto req =
        std::make_shared<bhttp::request<bhttp::string_body>>(bhttp::verb::post, "/v3/watch", 11);
    const Endpoint& e = etcd->endpoints[conn->endpoint];
    req->set(bhttp::field::host, e.host + ":" + std::to_string(e.port));
    req->set(bhttp::field::content_type, "application/json");
    req->body() = json::serialize(b);
    req->prepare_payload();
    parser = std::make_unique<bhttp::response_parser<bhttp::string_body>>();
    parser->body_limit(boost::none);
    parser->on_chunk_body(chunkCb);
    pending.clear();
    conn->stream.expires_after(etcd->options.timeout);
    bhttp::async_write(
        conn->stream, *req,
        [self = shared_from_this(), gen, req, c = conn](error_code ec, std::size_t) {
          if (self->dead() || gen != self->generation) return;
          if (ec) return self->drop(gen, makeError("etcd watch: " + ec.message()), false);
          bhttp::async_read_header(
              c->stream, c->buffer, *self->parser, [self, gen, c](error_code ec, std::size_t) {
                if (self->dead() || gen != self->generation) return;
                if (ec) return self->drop(gen, makeError("etcd watch: " + ec.message()), false);
                unsigned status = self->parser->get().result_int();
                if (status != 200)
                  return self->drop(gen, makeError("etcd watch: HTTP " + std::to_string(status)),
                                    false);
                c->stream.expires_never();
                self->readMore(gen);
              });
        });
  }

  void readMore(std::uint64_t gen) {
    bhttp::async_read_some(
        conn->stream, conn->buffer, *parser,
        [self = shared_from_this(), gen, c = conn](error_code ec, std::size_t) {
          if (self->dead() || gen != self->generation) return;
          self->lines(gen);
          if (self->dead() || gen != self->generation) return;
          if (ec || self->parser->is_done()) {
            return self->drop(
                gen, makeError("etcd watch: " + (ec ? ec.message() : std::string("stream ended"))),
                false);
          }
          self->readMore(gen);
        });
  }

  // Handles each complete line in `pending`.
  void lines(std::uint64_t gen) {
    std::size_t start = 0;
    for (;;) {
      std::size_t nl = pending.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(pending.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && !message(gen, line)) return;
      if (dead() || gen != generation) return;
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLine) drop(gen, makeError("etcd watch: a message is too long"), false);
  }

  // One message of the stream; false when it ended the stream.
  bool message(std::uint64_t gen, std::string_view line) {
    error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      drop(gen, makeError("etcd watch: a message is not JSON"), false);
      return false;
    }
    const json::object& o = v.as_object();
    if (auto it = o.find("error"); it != o.end()) {
      drop(gen, makeError("etcd watch: " + json::serialize(it->value())), false);
      return false;
    }
    const json::object* res = objectField(o, "result");
    if (!res) return true;
    if (boolField(*res, "created")) {
      connected = true;
      backoff = kFirstBackoff;
    }
    if (boolField(*res, "canceled")) {
      std::int64_t compacted = int64Field(*res, "compact_revision");
      if (compacted > 0) {
        needList = true;
        drop(gen,
             makeError("etcd watch: revision " + std::to_string(revision + 1) +
                       " was compacted (at " + std::to_string(compacted) + "): re-listing"),
             true);
      } else {
        drop(gen, makeError("etcd watch: canceled by the server"), false);
      }
      return false;
    }
    auto it = res->find("events");
    if (it == res->end() || !it->value().is_array()) return true;
    std::vector<WatchEvent> events;
    for (const json::value& ev : it->value().as_array()) {
      if (!ev.is_object()) continue;
      const json::object& e = ev.as_object();
      WatchEvent out;
      if (auto t = e.find("type");
          t != e.end() && t->value().is_string() && t->value().as_string() == "DELETE")
        out.type = WatchEvent::Type::kDelete;
      if (const json::object* kv = objectField(e, "kv")) {
        auto parsed = parseKv(*kv);
        if (!parsed) {
          drop(gen, parsed.error(), false);
          return false;
        }
        out.kv = std::move(*parsed);
      }
      if (const json::object* prev = objectField(e, "prev_kv")) {
        auto parsed = parseKv(*prev);
        if (parsed) out.prevKv = std::move(*parsed);
      }
      revision = std::max(revision, out.kv.modRevision);
      events.push_back(std::move(out));
    }
    if (!events.empty() && h.onEvents) h.onEvents(events);
    return true;
  }

  void drop(std::uint64_t gen, const Error& why, bool now) {
    if (gen != generation) return;
    ++generation;
    connected = false;
    if (conn) conn->close();
    conn.reset();
    if (dead()) return;
    if (h.onDisconnected) h.onDisconnected(why);
    if (dead()) return;
    retry.expires_after(now ? std::chrono::milliseconds(0) : backoff);
    if (!now) backoff = std::min(backoff * 2, kMaxBackoff);
    retry.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->dead()) return;
      self->begin();
    });
  }

  void stop() {
    stopped = true;
    ++generation;
    retry.cancel();
    if (conn) conn->close();
    conn.reset();
  }

  std::shared_ptr<Etcd::Impl> etcd;
  std::string key;
  Etcd::Range kind;
  WatchHandlers h;
  asio::steady_timer retry;
  std::function<std::size_t(std::uint64_t, std::string_view, error_code&)> chunkCb;
  std::unique_ptr<bhttp::response_parser<bhttp::string_body>> parser;
  std::shared_ptr<Conn> conn;
  std::string pending;
  std::int64_t revision = 0;
  std::uint64_t generation = 0;
  std::chrono::milliseconds backoff = kFirstBackoff;
  bool needList = true;
  bool connected = false;
  bool stopped = false;
};

Watch::~Watch() {
  impl_->stop();
}
std::int64_t Watch::revision() const {
  return impl_->revision;
}
bool Watch::connected() const {
  return impl_->connected;
}
void Watch::reconnect() {
  if (impl_->stopped) return;
  impl_->drop(impl_->generation, makeError("etcd watch: reconnect asked"), true);
}

std::unique_ptr<Watch> Etcd::watch(std::string key, Range kind, WatchHandlers handlers) {
  auto impl = std::make_shared<Watch::Impl>(impl_, std::move(key), kind, std::move(handlers));
  asio::post(impl_->io, [impl] { impl->begin(); });
  return std::make_unique<Watch>(impl);
}

}  // namespace partyd::cluster
