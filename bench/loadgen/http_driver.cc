#include "http_driver.h"

#include <boost/asio/post.hpp>

namespace partyd::bench {

HttpDriver::HttpDriver(Loops& loops, const Target& target, size_t connections, int64_t max_errors,
                       NextFn next)
    : loops_(loops),
      target_(target),
      max_errors_(max_errors),
      next_(std::move(next)),
      conns_(connections),
      retired_(loops.size()),
      per_loop_(loops.size()) {}

HttpDriver::~HttpDriver() {
  loops_.stop();
}

void HttpDriver::start() {
  for (size_t i = 0; i < conns_.size(); ++i) {
    loops_.post(loopOf(i), [this, i] { open(i, 0); });
  }
}

// open (re)creates connection `conn` on its loop; it resumes at request number `done`.
void HttpDriver::open(size_t conn, uint64_t done) {
  if (conns_[conn]) retired_[loopOf(conn)].push_back(std::move(conns_[conn]));
  conns_[conn] = std::make_unique<HttpConn>(loops_.at(loopOf(conn)), *this);
  conns_[conn]->index = static_cast<uint32_t>(conn);
  conns_[conn]->done = done;
  conns_[conn]->open(target_, conn);
}

bool HttpDriver::wait(double stall_s) {
  bool done =
      waitProgress([this] { return too_many_errors_.load() || finished_.load() >= conns_.size(); },
                   [this] { return responses() + errors(); }, stall_s);
  std::lock_guard lock(error_mutex_);
  if (!done && first_error_.empty()) {
    first_error_ = "stalled: no HTTP response for " + std::to_string(stall_s) + " s";
  }
  return done && !too_many_errors_.load();
}

uint64_t HttpDriver::responses() const {
  uint64_t total = 0;
  for (const auto& state : per_loop_) total += state.responses.load(std::memory_order_relaxed);
  return total;
}

std::string HttpDriver::firstError() const {
  std::lock_guard lock(error_mutex_);
  return first_error_;
}

Histogram HttpDriver::latency() const {
  Histogram all;
  for (const auto& state : per_loop_) all.merge(state.latency);
  return all;
}

void HttpDriver::onConnected(HttpConn& conn) {
  sendNext(conn);
}

void HttpDriver::sendNext(HttpConn& conn) {
  if (stopping_.load(std::memory_order_relaxed) || too_many_errors_.load()) {
    finish();
    return;
  }
  std::string path = next_(conn.index, conn.done);
  if (path.empty()) {
    finish();
    return;
  }
  conn.get(path);
}

void HttpDriver::finish() {
  finished_.fetch_add(1);
}

void HttpDriver::onResponse(HttpConn& conn, int status, std::string_view body,
                            Clock::time_point now) {
  if (status != 200 || body != "ok") {
    noteError(conn.index, "answer was " + std::to_string(status) + " '" +
                              std::string(body.substr(0, 60)) + "', not 200 'ok'");
    sendNext(conn);  // the same request again
    return;
  }
  PerLoop& state = per_loop_[loopOf(conn.index)];
  state.latency.record(nanosSince(conn.sentAt(), now));
  state.responses.fetch_add(1, std::memory_order_relaxed);
  ++conn.done;
  sendNext(conn);
}

void HttpDriver::onFailure(HttpConn& conn, std::string_view error) {
  noteError(conn.index, error);
  if (too_many_errors_.load()) {
    finish();
    return;
  }
  // Not now: `conn` is still on the stack below us.
  size_t index = conn.index;
  uint64_t done = conn.done;
  asio::post(loops_.at(loopOf(index)), [this, index, done] { open(index, done); });
}

void HttpDriver::noteError(size_t conn, std::string_view error) {
  {
    std::lock_guard lock(error_mutex_);
    if (first_error_.empty()) {
      first_error_ = "connection " + std::to_string(conn) + ": " + std::string(error);
    }
  }
  if (static_cast<int64_t>(errors_.fetch_add(1) + 1) > max_errors_) {
    std::lock_guard lock(error_mutex_);
    first_error_ = "more than " + std::to_string(max_errors_) + " errors; first: " + first_error_;
    too_many_errors_.store(true);
  }
}

}  // namespace partyd::bench
