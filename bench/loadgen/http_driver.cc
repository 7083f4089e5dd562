#include "http_driver.h"

namespace partyd::bench {

HttpDriver::HttpDriver(Loops& loops, const Target& target, size_t connections, NextFn next)
    : loops_(loops), target_(target), next_(std::move(next)), per_loop_(loops.size()) {
  for (size_t i = 0; i < connections; ++i) {
    conns_.push_back(
        std::make_unique<HttpConn>(loops.at(static_cast<int>(i % loops.size())), *this));
    conns_.back()->index = static_cast<uint32_t>(i);
  }
}

HttpDriver::~HttpDriver() {
  loops_.stop();
}

void HttpDriver::start() {
  for (size_t i = 0; i < conns_.size(); ++i) {
    loops_.post(static_cast<int>(i % loops_.size()), [this, i] { conns_[i]->open(target_, i); });
  }
}

bool HttpDriver::wait(double timeout_s) {
  bool done = waitUntil([this] { return finished_.load() >= conns_.size(); }, timeout_s);
  if (!done) {
    std::lock_guard lock(error_mutex_);
    if (first_error_.empty()) first_error_ = "timed out waiting for HTTP responses";
  }
  return done && failed() == 0;
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
  if (stopping_.load(std::memory_order_relaxed)) {
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
    onFailure(conn, "answer was " + std::to_string(status) + " '" +
                        std::string(body.substr(0, 60)) + "', not 200 'ok'");
    return;
  }
  PerLoop& state = per_loop_[conn.index % per_loop_.size()];
  state.latency.record(nanosSince(conn.sentAt(), now));
  state.responses.fetch_add(1, std::memory_order_relaxed);
  ++conn.done;
  sendNext(conn);
}

void HttpDriver::onFailure(HttpConn& conn, std::string_view error) {
  {
    std::lock_guard lock(error_mutex_);
    if (first_error_.empty()) {
      first_error_ = "connection " + std::to_string(conn.index) + ": " + std::string(error);
    }
  }
  failed_.fetch_add(1);
  finish();
}

}  // namespace partyd::bench
