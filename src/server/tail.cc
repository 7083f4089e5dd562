#include "server/tail.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <optional>

#include "base/log.h"
#include "base/random.h"
#include "base/strings.h"
#include "ws/handshake.h"

namespace partyd::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randomBytes(raw.data(), raw.size());
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// A tail socket after its 101: partyd only writes (unmasked server frames, encoded by ws/) and
// reads to notice the close. The CLI sends its {"debug":…} frame unmasked, which ws::Connection
// rightly refuses from a client, so the tail does not parse what it reads.
class TailSocket : public std::enable_shared_from_this<TailSocket> {
 public:
  explicit TailSocket(boost::asio::ip::tcp::socket s) : socket_(std::move(s)) {}
  void start(std::string handshake) {
    write(std::make_shared<const std::string>(std::move(handshake)));
    read();
  }
  void write(ws::Frame frame) {
    if (closed_) return;
    queue_.push_back(std::move(frame));
    if (queue_.size() == 1) writeNext();
  }
  void close(std::uint16_t code, const std::string& reason) {
    write(ws::makeCloseFrame(code, reason));
    closeAfterWrite_ = true;
  }
  bool closed() const { return closed_; }

 private:
  void writeNext() {
    if (queue_.empty() || closed_) return;
    asio::async_write(socket_, asio::buffer(*queue_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->shut();
                        self->queue_.pop_front();
                        if (self->queue_.empty() && self->closeAfterWrite_) return self->shut();
                        if (self->queue_.size() > 10000) return self->shut();  // not reading
                        self->writeNext();
                      });
  }
  void read() {
    socket_.async_read_some(asio::buffer(buf_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (ec) return self->shut();
                              self->read();
                            });
  }
  void shut() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  boost::asio::ip::tcp::socket socket_;
  std::deque<ws::Frame> queue_;
  char buf_[4096];
  bool closed_ = false;
  bool closeAfterWrite_ = false;
};

const char* levelName(int level) {
  static const char* kLevels[] = {"debug", "log", "warn", "error"};
  return kLevels[level < 0 ? 0 : level > 3 ? 3 : level];
}

// An error line with a stack (what the runtime logs for an uncaught exception) as a trace
// event's exception {name, message, timestamp}, appended to *out; false for other lines.
bool exceptionOf(int level, std::string_view text, std::string* out) {
  if (level < 3 || text.find("Error") == std::string_view::npos ||
      text.find('\n') == std::string_view::npos) {
    return false;
  }
  std::string_view first = text.substr(0, text.find('\n'));
  // "onAlarm failed: Error: boom" → name Error, message boom
  if (std::size_t failed = first.find(" failed: "); failed != std::string_view::npos) {
    first = first.substr(failed + 9);
  }
  std::size_t colon = first.find(": ");
  *out += "{\"name\":" +
          log::jsonQuoted(colon == std::string_view::npos ? "Error" : first.substr(0, colon)) +
          ",\"message\":" +
          log::jsonQuoted(colon == std::string_view::npos ? first : first.substr(colon + 2)) +
          ",\"timestamp\":" + std::to_string(nowMs()) + "}";
  return true;
}

}  // namespace

struct TailHub::Filter {
  double samplingRate = 1;
  std::vector<std::string> outcomes, methods, clientIps;
  std::string query;
  std::optional<std::pair<std::string, std::string>> header;  // key, query (may be empty)

  bool matches(const std::string& event, const Facts& f) const {
    if (!outcomes.empty() && std::find(outcomes.begin(), outcomes.end(), f.outcome) == outcomes.end())
      return false;
    if (!methods.empty()) {
      if (f.method.empty()) return false;
      bool any = false;
      for (const auto& m : methods) any = any || iequals(m, f.method);
      if (!any) return false;
    }
    if (!query.empty() && event.find(query) == std::string::npos) return false;
    if (header) {
      bool any = false;
      for (const auto& [k, v] : f.headers) {
        if (iequals(k, header->first) &&
            (header->second.empty() || v.find(header->second) != std::string::npos)) {
          any = true;
        }
      }
      if (!any) return false;
    }
    if (samplingRate < 1) {
      std::uint32_t r = 0;
      randomBytes(&r, sizeof r);
      if (static_cast<double>(r) / 4294967296.0 >= samplingRate) return false;
    }
    return true;
  }
};

struct TailHub::Tail {
  Filter filter;
  std::string secret;
  std::int64_t expiresAtMs = 0;
  std::shared_ptr<TailSocket> conn;  // admin thread only
};

TailHub::TailHub(asio::io_context& adminIo, std::string scriptName)
    : io_(adminIo), scriptName_(std::move(scriptName)) {}

TailHub::~TailHub() = default;

namespace {

bool stringList(const json::value& v, std::vector<std::string>* out) {
  if (v.is_string()) {
    out->emplace_back(v.as_string());
    return true;
  }
  if (!v.is_array()) return false;
  for (const auto& x : v.as_array()) {
    if (!x.is_string()) return false;
    out->emplace_back(x.as_string());
  }
  return true;
}

}  // namespace

Result<TailHub::Ticket> TailHub::create(std::string_view filterJson) {
  Filter filter;
  bool blank = filterJson.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (!blank) {
    boost::system::error_code ec;
    json::value v = json::parse(filterJson, ec);
    const json::value* list = !ec && v.is_object() ? v.as_object().if_contains("filters") : nullptr;
    if (ec || !v.is_object() || (list && !list->is_array())) {
      return makeError("a tail's body is {\"filters\":[…]} (what `partykit tail` sends)");
    }
    for (const auto& f : list ? list->as_array() : json::array()) {
      const json::object* o = f.if_object();
      if (!o) return makeError("each tail filter is an object");
      bool ok = true;
      if (auto* x = o->if_contains("sampling_rate")) {
        ok = x->is_number() && x->to_number<double>() > 0 && x->to_number<double>() <= 1;
        if (ok) filter.samplingRate = x->to_number<double>();
      } else if (auto* x = o->if_contains("outcome")) {
        ok = stringList(*x, &filter.outcomes);
      } else if (auto* x = o->if_contains("method")) {
        ok = stringList(*x, &filter.methods);
      } else if (auto* x = o->if_contains("client_ip")) {
        ok = stringList(*x, &filter.clientIps);
      } else if (auto* x = o->if_contains("query")) {
        ok = x->is_string();
        if (ok) filter.query = std::string(x->as_string());
      } else if (auto* x = o->if_contains("header")) {
        const json::object* h = x->if_object();
        ok = h && h->contains("key") && h->at("key").is_string();
        if (ok) {
          const json::value* q = h->if_contains("query");
          filter.header = {std::string(h->at("key").as_string()),
                           q && q->is_string() ? std::string(q->as_string()) : ""};
        }
      } else {
        ok = false;
      }
      if (!ok) return makeError("a tail filter partyd does not know: " + json::serialize(f));
    }
  }
  Ticket t{hex(16), hex(24), nowMs() + 3600 * 1000};
  auto tail = std::make_shared<Tail>();
  tail->filter = std::move(filter);
  tail->secret = t.secret;
  tail->expiresAtMs = t.expiresAtMs;
  std::lock_guard lock(mutex_);
  tails_[t.id] = std::move(tail);
  return t;
}

bool TailHub::remove(const std::string& id) {
  std::shared_ptr<Tail> tail;
  {
    std::lock_guard lock(mutex_);
    auto it = tails_.find(id);
    if (it == tails_.end()) return false;
    tail = it->second;
    tails_.erase(it);
  }
  asio::post(io_, [self = shared_from_this(), tail] {
    if (tail->conn) {
      tail->conn->close(1000, "tail closed");
      --self->open_;
    }
  });
  return true;
}

void TailHub::closeAll(std::uint16_t code, std::string reason) {
  std::map<std::string, std::shared_ptr<Tail>> all;
  {
    std::lock_guard lock(mutex_);
    all.swap(tails_);
  }
  for (auto& [id, tail] : all) {
    if (tail->conn) {
      auto conn = tail->conn;
      asio::post(io_, [conn, code, reason] { conn->close(code, reason); });
    }
  }
  open_ = 0;
}

void TailHub::attach(const std::string& id, const std::string& secret,
                     std::shared_ptr<http::Session> session, http::Request&& request) {
  std::shared_ptr<Tail> tail;
  {
    std::lock_guard lock(mutex_);
    auto it = tails_.find(id);
    if (it != tails_.end()) tail = it->second;
  }
  auto refuse = [&](unsigned status, std::string msg) {
    http::Response r;
    r.status = status;
    r.headers.emplace_back("content-type", "application/json");
    r.body = "{\"error\":" + log::jsonQuoted(msg) + "}";
    session->respond(std::move(r), false);
  };
  if (!tail || tail->conn || tail->secret.size() != secret.size() || tail->secret != secret ||
      tail->expiresAtMs < nowMs()) {
    return refuse(404, "no such tail (it expired, was deleted, or is already connected)");
  }
  auto key = request[bhttp::field::sec_websocket_key];
  std::string_view keyView(key.data(), key.size());
  if (!ws::isValidClientKey(keyView)) return refuse(400, "a tail is a WebSocket (trace-v1)");
  auto conn = std::make_shared<TailSocket>(session->takeSocket());
  tail->conn = conn;
  conn->start(ws::buildSwitchingProtocols(ws::acceptKey(keyView), "trace-v1"));
  ++open_;
}

void TailHub::publish(std::string event, Facts facts) {
  if (open_.load(std::memory_order_relaxed) == 0) return;
  asio::post(io_, [self = shared_from_this(), event = std::move(event),
                   facts = std::move(facts)] {
    ws::Frame frame;
    std::lock_guard lock(self->mutex_);
    for (auto& [id, tail] : self->tails_) {
      if (!tail->conn || tail->conn->closed() || !tail->filter.matches(event, facts)) continue;
      if (!frame) frame = ws::makeFrame(ws::Opcode::kText, event);
      tail->conn->write(frame);
    }
  });
}

void TailHub::request(std::string_view method, std::string_view url, unsigned status,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  if (open_.load(std::memory_order_relaxed) == 0) return;
  // As in Workers' trace events, the outcome is the invocation's, not the HTTP status's (that is
  // event.response.status): "ok" once an answer went out, whatever its status; "canceled" when
  // the client left before any (status 0, no response).
  const char* outcome = status ? "ok" : "canceled";
  std::string e = "{\"outcome\":\"" + std::string(outcome) + "\",\"scriptName\":" +
                  log::jsonQuoted(scriptName_) +
                  ",\"exceptions\":[],\"logs\":[],\"eventTimestamp\":" + std::to_string(nowMs()) +
                  ",\"event\":{\"request\":{\"method\":" + log::jsonQuoted(method) +
                  ",\"url\":" + log::jsonQuoted(url) + ",\"headers\":{},\"cf\":{}}" +
                  (status ? ",\"response\":{\"status\":" + std::to_string(status) + "}" : "") +
                  "}}";
  publish(std::move(e), {outcome, std::string(method), headers});
}

void TailHub::log(int level, std::string_view where, std::string_view text) {
  if (open_.load(std::memory_order_relaxed) == 0) return;
  const char* lv = levelName(level);
  std::string exceptions;
  bool exception = exceptionOf(level, text, &exceptions);
  std::string e = "{\"outcome\":" + std::string(exception ? "\"exception\"" : "\"ok\"") +
                  ",\"scriptName\":" + log::jsonQuoted(scriptName_) + ",\"exceptions\":[" +
                  exceptions;
  e += "],\"logs\":[{\"level\":\"" + std::string(lv) + "\",\"message\":[" + log::jsonQuoted(text) +
       "],\"timestamp\":" + std::to_string(nowMs()) +
       "}],\"eventTimestamp\":" + std::to_string(nowMs()) +
       ",\"event\":{\"request\":{\"method\":\"ROOM\",\"url\":" +
       log::jsonQuoted(where.empty() ? std::string("partyd://") + scriptName_
                                : "partyd://" + std::string(where)) +
       ",\"headers\":{},\"cf\":{}}}}";
  publish(std::move(e), {exception ? "exception" : "ok", "", {}});
}

void TailHub::scheduled(bool cron, std::string_view where, std::string_view cronName,
                        std::string_view cronExpr, std::int64_t scheduledTimeMs, bool ok,
                        const std::vector<std::pair<int, std::string>>& logs) {
  if (open_.load(std::memory_order_relaxed) == 0) return;
  std::string exceptions, lines;
  for (const auto& [level, text] : logs) {
    std::string one;
    if (exceptionOf(level, text, &one)) {
      if (!exceptions.empty()) exceptions += ',';
      exceptions += one;
    }
    if (!lines.empty()) lines += ',';
    lines += "{\"level\":\"" + std::string(levelName(level)) + "\",\"message\":[" +
             log::jsonQuoted(text) + "],\"timestamp\":" + std::to_string(nowMs()) + "}";
  }
  const char* outcome = ok ? "ok" : "exception";
  std::string e = "{\"outcome\":\"" + std::string(outcome) + "\",\"scriptName\":" +
                  log::jsonQuoted(scriptName_) + ",\"exceptions\":[" + exceptions +
                  "],\"logs\":[" + lines + "],\"eventTimestamp\":" + std::to_string(nowMs()) +
                  ",\"event\":{";
  if (cron) {
    e += "\"cron\":" + log::jsonQuoted(cronExpr) + ",\"name\":" + log::jsonQuoted(cronName) + ",";
  } else {
    e += "\"room\":" + log::jsonQuoted(where) + ",";
  }
  e += "\"scheduledTime\":" + std::to_string(scheduledTimeMs) + "}}";
  publish(std::move(e), {outcome, "", {}});
}

}  // namespace partyd::server
