#include "fleet.h"

#include <algorithm>

namespace partyd::bench {

Fleet::Fleet(Loops& loops, const Target& target, Options options)
    : loops_(loops), target_(target), options_(std::move(options)), per_loop_(loops.size()) {
  if (!options_.loop_of) {
    int n = loops.size();
    options_.loop_of = [n](size_t i) { return static_cast<int>(i % n); };
  }
  conns_.reserve(options_.count);
  greeted_.assign(options_.count, 0);
  for (size_t i = 0; i < options_.count; ++i) {
    int loop = options_.loop_of(i);
    conns_.push_back(std::make_unique<WsConn>(loops.at(loop), *this, options_.read_buffer));
    conns_.back()->index = static_cast<uint32_t>(i);
    per_loop_[loop].pending.push_back(i);
  }
  for (auto& per_loop : per_loop_) std::reverse(per_loop.pending.begin(), per_loop.pending.end());
}

// The loops must be stopped before the connections go, so that no handler runs on freed memory.
Fleet::~Fleet() {
  loops_.stop();
}

void Fleet::start() {
  per_loop_concurrency_ = std::max(1, options_.concurrency / loops_.size());
  for (int loop = 0; loop < loops_.size(); ++loop) {
    loops_.post(loop, [this, loop] {
      for (int k = 0; k < per_loop_concurrency_; ++k) openNext(loop);
    });
  }
}

void Fleet::openNext(int loop) {
  auto& pending = per_loop_[loop].pending;
  if (pending.empty()) return;
  size_t i = pending.back();
  pending.pop_back();
  ++per_loop_[loop].in_flight;
  conns_[i]->open(target_, i, options_.path(i));
}

void Fleet::settled(int loop) {
  PerLoop& state = per_loop_[loop];
  --state.in_flight;
  if (!options_.waves) {
    openNext(loop);
  } else if (state.in_flight == 0) {
    for (int k = 0; k < per_loop_concurrency_; ++k) openNext(loop);
  }
}

bool Fleet::waitReady(double timeout_s) {
  bool done = waitProgress([this] { return ready() + failed() >= size(); },
                           [this] { return ready() + failed(); }, timeout_s);
  if (!done) {
    std::lock_guard lock(error_mutex_);
    if (first_error_.empty()) {
      first_error_ = "stalled: " + std::to_string(ready()) + " of " + std::to_string(size()) +
                     " connections ready, none more in " + std::to_string(timeout_s) + " s";
    }
    return false;
  }
  return failed() == 0;
}

std::string Fleet::firstError() const {
  std::lock_guard lock(error_mutex_);
  return first_error_;
}

Histogram Fleet::connectLatency() const {
  Histogram all;
  for (const auto& per_loop : per_loop_) all.merge(per_loop.connect_latency);
  return all;
}

void Fleet::reopen(size_t i) {
  int loop = options_.loop_of(i);
  PerLoop& state = per_loop_[loop];
  Clock::time_point now = Clock::now();
  freeRetired(state, now);
  state.retired.emplace_back(now, std::move(conns_[i]));
  conns_[i] = std::make_unique<WsConn>(loops_.at(loop), *this, options_.read_buffer);
  conns_[i]->index = static_cast<uint32_t>(i);
  greeted_[i] = kWaiting;
  ++state.in_flight;
  conns_[i]->open(target_, i, options_.path(i));
}

void Fleet::freeRetired(PerLoop& state, Clock::time_point now) {
  while (!state.retired.empty()) {
    auto& [since, conn] = state.retired.front();
    if (now - since < std::chrono::seconds(1)) return;
    if (conn->state() != WsConn::State::kClosed || conn->writing()) return;
    state.retired.pop_front();
  }
}

void Fleet::onMessage(WsConn& conn, Opcode opcode, std::string_view payload,
                      Clock::time_point now) {
  if (!current(conn)) return;
  uint8_t& greeting = greeted_[conn.index];
  if (greeting == kGreeted) {
    if (on_message) on_message(conn, opcode, payload, now);
    return;
  }
  if (greeting == kDead) return;
  if (payload != "hi") {
    onFailure(conn, "first frame was '" + std::string(payload.substr(0, 40)) + "', not 'hi'");
    conn.close();
    return;
  }
  greeting = kGreeted;
  int loop = options_.loop_of(conn.index);
  per_loop_[loop].connect_latency.record(nanosSince(conn.connectStart(), now));
  ready_.fetch_add(1);
  settled(loop);
  if (on_ready) on_ready(conn, now);
}

void Fleet::onDrained(WsConn& conn) {
  if (on_drained && current(conn)) on_drained(conn);
}

void Fleet::onFailure(WsConn& conn, std::string_view error) {
  if (!current(conn)) return;
  {
    std::lock_guard lock(error_mutex_);
    if (first_error_.empty()) {
      const char* when = greeted_[conn.index] == kGreeted ? "after its 'hi'" : "before its 'hi'";
      first_error_ = "connection " + std::to_string(conn.index) + " (" + when + ", " +
                     std::to_string(ready()) + " of " + std::to_string(size()) +
                     " ready): " + std::string(error);
    }
  }
  failed_.fetch_add(1);
  uint8_t& greeting = greeted_[conn.index];
  bool before_hi = greeting == kWaiting;
  greeting = kDead;
  if (before_hi) settled(options_.loop_of(conn.index));
  if (on_failure) on_failure(conn, before_hi, error);
}

}  // namespace partyd::bench
