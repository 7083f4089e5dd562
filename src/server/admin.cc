#include "server/admin.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <pthread.h>
#include <unistd.h>

#include "base/log.h"
#include "http/route.h"

namespace partyd::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr std::string_view kCookie = "partyd_admin";

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(i, end - i));
    i = end;
  }
  return out;
}

// The token a request offers: its Bearer credentials, else the inspector's cookie.
std::optional<std::string_view> offeredToken(const http::Request& request) {
  auto auth = request.find(bhttp::field::authorization);
  if (auth != request.end()) {
    std::string_view v(auth->value().data(), auth->value().size());
    if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
      return v.substr(7);
    }
    return std::nullopt;
  }
  auto cookie = request.find(bhttp::field::cookie);
  if (cookie == request.end()) return std::nullopt;
  std::string_view v(cookie->value().data(), cookie->value().size());
  while (!v.empty()) {
    std::size_t semi = v.find(';');
    std::string_view pair = v.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > kCookie.size() && pair.substr(0, kCookie.size()) == kCookie &&
        pair[kCookie.size()] == '=') {
      return pair.substr(kCookie.size() + 1);
    }
    if (semi == std::string_view::npos) break;
    v.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

std::optional<std::string> AdminRequest::query(std::string_view name) const {
  return http::queryParam(std::string_view(request.target().data(), request.target().size()),
                          name);
}

void AdminRequest::respond(http::Response response) const {
  asio::post(*io, [s = session, r = std::move(response)]() mutable { s->respond(std::move(r)); });
}

void AdminRequest::respondJson(unsigned status, std::string json) const {
  http::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "application/json");
  r.body = std::move(json);
  respond(std::move(r));
}

void AdminRequest::fail(unsigned status, std::string_view message) const {
  respondJson(status, "{\"error\":" + log::jsonQuoted(message) + "}");
}

AdminServer::AdminServer(AdminOptions options) : options_(std::move(options)) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::route(bhttp::verb method, std::string pattern, Handler handler, Access access) {
  PARTYD_CHECK(!started_, "admin routes are added before start()");
  routes_.push_back({method, splitPath(pattern), std::move(handler), access});
}

bool AdminServer::authorized(const http::Request& request) const {
  if (!options_.token) return true;
  auto offered = offeredToken(request);
  return offered && constantTimeEquals(*offered, *options_.token);
}

void AdminServer::serve(net::Socket s) {
  auto session = std::make_shared<http::Session>(
      std::move(s), std::string(), options_.limits,
      [this](std::shared_ptr<http::Session> session, http::Request&& request) {
        dispatch(std::move(session), std::move(request));
      });
  session->start();
}

Result<void> AdminServer::start() {
  if (options_.tls) {
    tlsFront_ = std::make_unique<net::TlsFront>(options_.tls, 1, [this](std::size_t, int fd) {
      asio::post(io_, [this, fd] {
        net::Socket socket(io_);
        boost::system::error_code ec;
        socket.assign(tcp::v6(), fd, ec);
        if (ec) {
          ::close(fd);
          return;
        }
        serve(std::move(socket));
      });
    });
    if (auto r = tlsFront_->listen(options_.address, options_.port, inherited_); !r) {
      return makeError("cannot listen for the admin API on " + options_.address + ":" +
                       std::to_string(options_.port) + ": " + r.error().message);
    }
    port_ = tlsFront_->port();
    listenFds_ = tlsFront_->listenFds();
  } else {
    auto onAccept = [this](net::Accepted a) { serve(std::move(a).socket(io_)); };
    // A takeover passes the one admin socket; any further one would have nobody accepting.
    for (std::size_t i = 1; i < inherited_.size(); ++i) ::close(inherited_[i]);
    auto listener = inherited_.empty()
                        ? net::Listener::open(io_, options_.address, options_.port, onAccept)
                        : net::Listener::adopt(io_, inherited_[0], onAccept);
    if (!listener) {
      return makeError("cannot listen for the admin API on " + options_.address + ":" +
                       std::to_string(options_.port) + ": " + listener.error().message);
    }
    listener_ = *listener;
    port_ = listener_->port();
    listenFds_ = {listener_->nativeHandle()};
    listener_->start();
  }
  inherited_.clear();
  started_ = true;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "admin");
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
  return {};
}

void AdminServer::closeListeners() {
  if (tlsFront_) tlsFront_->closeListeners();
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    if (listener_) listener_->close();
  });
}

void AdminServer::stop() {
  if (tlsFront_) tlsFront_->stop();
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    if (listener_) listener_->close();
    io_.stop();
  });
  thread_.join();
  listener_.reset();
}

void AdminServer::dispatch(std::shared_ptr<http::Session> session, http::Request&& request) {
  AdminRequest req;
  req.session = std::move(session);
  req.io = &io_;
  std::string_view target(request.target().data(), request.target().size());
  std::vector<std::string> parts = splitPath(http::pathOf(target));
  bool pathMatched = false;
  for (Route& route : routes_) {
    std::map<std::string, std::string, std::less<>> params;
    bool match = true;
    std::size_t i = 0;
    for (; i < route.segments.size(); ++i) {
      const std::string& seg = route.segments[i];
      if (seg == "*") {
        std::string rest;
        for (std::size_t j = i; j < parts.size(); ++j) {
          if (j > i) rest += '/';
          rest += http::percentDecode(parts[j]);
        }
        params["*"] = std::move(rest);
        i = parts.size();
        break;
      }
      if (i >= parts.size()) {
        match = false;
        break;
      }
      if (!seg.empty() && seg[0] == ':') {
        params[seg.substr(1)] = http::percentDecode(parts[i]);
      } else if (seg != parts[i]) {
        match = false;
        break;
      }
    }
    if (!match || i != parts.size()) continue;
    pathMatched = true;
    if (route.method != bhttp::verb::unknown && route.method != request.method()) continue;
    if (route.access == Access::kToken && !authorized(request)) {
      http::Response r;
      r.status = 401;
      r.headers.emplace_back("content-type", "application/json");
      r.headers.emplace_back("www-authenticate", "Bearer realm=\"partyd\"");
      r.body = "{\"error\":\"Unauthorized: this partyd's admin API needs its token (Authorization: "
               "Bearer TOKEN; for the partykit CLI, GITHUB_TOKEN=TOKEN)\"}";
      req.session->respond(std::move(r));
      return;
    }
    req.request = std::move(request);
    req.params = std::move(params);
    try {
      route.handler(req);
    } catch (const std::exception& e) {
      log::error(std::string("admin: a handler failed: ") + e.what());
      req.fail(500, std::string("internal error: ") + e.what());
    }
    return;
  }
  // Nothing is said about which routes exist to a caller without the token.
  if (!authorized(request)) {
    http::Response r;
    r.status = 401;
    r.headers.emplace_back("content-type", "application/json");
    r.body = "{\"error\":\"Unauthorized\"}";
    req.session->respond(std::move(r));
    return;
  }
  req.fail(pathMatched ? 405 : 404,
           pathMatched ? "method not allowed" : "no such admin route: " + std::string(target));
}

}  // namespace partyd::server
