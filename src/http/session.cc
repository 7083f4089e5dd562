#include "http/session.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <atomic>

#include "base/log.h"
#include "http/route.h"
#include "net/tls_server.h"

namespace partyd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {
std::atomic<bool> closeAfterResponses_{false};
std::atomic<std::int64_t> liveSessions_{0};
}  // namespace

void Session::closeAfterResponses() {
  closeAfterResponses_ = true;
}

std::int64_t Session::liveCount() {
  return liveSessions_.load();
}

Session::Session(tcp::socket socket, std::string leftover, const Limits& limits, Handler handler)
    : stream_(std::move(socket)), limits_(limits), handler_(std::move(handler)) {
  ++liveSessions_;
  if (net::pipesInUse()) secure_ = net::pipedPeer(stream_.socket().native_handle(), &pipedRemote_);
  if (!leftover.empty()) {
    auto buf = buffer_.prepare(leftover.size());
    asio::buffer_copy(buf, asio::buffer(leftover));
    buffer_.commit(leftover.size());
  }
}

void Session::start() {
  parser_.emplace();
  parser_->header_limit(limits_.maxHeaderBytes);
  parser_->body_limit(limits_.maxBodyBytes);
  stream_.expires_after(limits_.idleTimeout);
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      self->onRead(ec);
                    });
}

void Session::onRead(boost::system::error_code ec) {
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::operation_aborted || ec == beast::error::timeout ||
      ec == asio::error::connection_reset) {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return;
  }
  if (ec == bhttp::error::header_limit) return fail(431, "Request Header Fields Too Large\n");
  if (ec == bhttp::error::body_limit) {
    if (limits_.jsonErrors) {
      return fail(413, "{\"error\":\"Payload Too Large: the request body is over this partyd's "
                       "limit of " + std::to_string(limits_.maxBodyBytes) + " bytes\"}");
    }
    return fail(413, "Payload Too Large\n");
  }
  if (ec) return fail(400, "Bad Request: " + ec.message() + "\n");
  stream_.expires_never();
  Request request = parser_->release();
  parser_.reset();
  if (secure_) request.set("x-forwarded-proto", "https");
  handle(std::move(request));
}

void Session::handle(Request&& request) {
  keepAlive_ = request.keep_alive();
  noteRequest(request);
  handler_(shared_from_this(), std::move(request));
}

void Session::fail(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("content-type", limits_.jsonErrors && !body.empty() && body[0] == '{'
                                             ? "application/json"
                                             : "text/plain;charset=UTF-8");
  r.body = std::move(body);
  respond(std::move(r), /*keepAlive=*/false);
}

void Session::noteRequest(const Request& request) {
  keepAlive_ = request.keep_alive();
  started_ = std::chrono::steady_clock::now();
  std::string_view target(request.target().data(), request.target().size());
  if (request.find(bhttp::field::upgrade) != request.end()) {
    kind_ = RequestKind::kUpgrade;
  } else if (target.starts_with("/parties/") || target.starts_with("/party/")) {
    kind_ = RequestKind::kParty;
  } else {
    kind_ = RequestKind::kFetch;
  }
  if (log::enabled(log::Level::kInfo)) {
    requestLine_.assign(request.method_string().data(), request.method_string().size());
    requestLine_ += ' ';
    requestLine_.append(target.data(), target.size());
  }
}

void Session::respond(Response response, bool keepAlive) {
  if (released_) return;
  if (auto hook = takeResponseHook()) hook(response.status);
  if (counts_) {
    RequestKind kind = response.asset && kind_ == RequestKind::kFetch ? RequestKind::kAsset : kind_;
    counts_->count(kind, response.status, std::chrono::steady_clock::now() - started_);
  }
  if (!requestLine_.empty()) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started_)
                  .count();
    // " 200 0.4ms", in integers: printf's float formatting showed in W6's profile.
    const long long tenths = (us + 50) / 100;
    std::string tail = " " + std::to_string(response.status) + " " + std::to_string(tenths / 10);
    tail += '.';
    tail += static_cast<char>('0' + tenths % 10);
    tail += "ms";
    log::Fields fields;
    fields.event = "request";
    fields.status = static_cast<int>(response.status);
    fields.durationMs = us / 1000.0;
    std::optional<PartyRoute> route;
    if (log::fieldsWanted()) {
      std::string_view target = requestLine_;
      target.remove_prefix(std::min(target.size(), target.find(' ') + 1));
      route = routeParty(target);
      if (route) {
        fields.party = route->party;
        fields.room = route->room;
      }
    }
    log::write(log::Level::kInfo, requestLine_ + tail, fields);
    requestLine_.clear();
  }
  auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
  msg->version(11);
  msg->result(response.status);
  bool hasLength = false;
  for (auto& [name, value] : response.headers) {
    if (beast::iequals(name, "content-length")) hasLength = true;
    if (beast::iequals(name, "transfer-encoding") || beast::iequals(name, "connection")) continue;
    msg->insert(name, value);
  }
  (void)hasLength;  // the body is complete here, so the length is always ours to set
  msg->body() = std::move(response.body);
  bool again = keepAlive && keepAlive_ && !closeAfterResponses_.load(std::memory_order_relaxed);
  msg->keep_alive(again);
  msg->prepare_payload();
  stream_.expires_after(limits_.idleTimeout);
  bhttp::async_write(stream_, *msg,
                     [self = shared_from_this(), msg, again](boost::system::error_code ec,
                                                             std::size_t) {
                       if (ec) return;
                       if (again) {
                         self->start();
                       } else {
                         boost::system::error_code ignored;
                         self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                       }
                     });
}

Session::~Session() {
  --liveSessions_;
  if (hook_) hook_(0);
}

tcp::socket Session::takeSocket() {
  if (auto hook = takeResponseHook()) hook(101);
  released_ = true;
  stream_.expires_never();
  return stream_.release_socket();
}

std::string Session::takeLeftover() {
  std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.consume(buffer_.size());
  return out;
}

tcp::endpoint Session::remote() const {
  if (secure_) return pipedRemote_;
  boost::system::error_code ec;
  return stream_.socket().remote_endpoint(ec);
}

}  // namespace partyd::http
