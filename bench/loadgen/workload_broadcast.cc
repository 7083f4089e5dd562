// W3 broadcast: R rooms × C clients. Every message a client sends, the server broadcasts to the
// whole room (sender included), so each client must receive exactly C × M messages; anything else
// fails the run. A payload is "m" + 16 hex digits of the send time (steady clock, ns) + padding,
// so latency is measured from send to receipt on every delivery.
//   back to back (default): each client sends its M messages as fast as writes complete,
//     --batch frames per write.
//   open loop (--rate X): each room sends X msgs/s in total for --duration s, from its clients in
//     turn; a message is stamped with the time it was due, not when it was written, so a client
//     that falls behind shows up as latency (no coordinated omission).
// Rooms are spread over the loadgen threads; all clients of a room live on one thread.
#include <sys/prctl.h>

#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <thread>

#include "fleet.h"
#include "report.h"
#include "stamp.h"
#include "workloads.h"

namespace partyd::bench {

namespace {

struct Client {
  uint64_t received = 0;
  uint32_t sent = 0;
  bool finished_sending = false;
};

struct alignas(64) PerLoop {
  Histogram latency;
  Clock::time_point last_receipt{};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> bad_frames{0};
  std::atomic<bool> sending_done{false};
  int finished_senders = 0;
  std::vector<int> rooms;           // rooms whose clients live on this loop
  std::vector<uint64_t> room_sent;  // open loop: messages sent so far, per entry of `rooms`
  std::unique_ptr<asio::steady_timer> timer;
};

class Broadcast {
 public:
  Broadcast(Flags& flags, Target& target) : target_(target) {
    rooms_ = static_cast<int>(flags.integer("rooms", 10));
    clients_ = static_cast<int>(flags.integer("clients", 10));
    messages_ = static_cast<uint32_t>(flags.integer("messages", 200));
    size_ = static_cast<size_t>(std::max<int64_t>(17, flags.integer("size", 32)));
    batch_ = static_cast<int>(std::max<int64_t>(1, flags.integer("batch", 1)));
    rate_ = flags.number("rate", 0);
    duration_s_ = flags.number("duration", 5);
    concurrency_ = static_cast<int>(flags.integer("connect-concurrency", 256));
    char phase[64];
    std::snprintf(phase, sizeof phase, "%dx%d", rooms_, clients_);
    phase_ = phase;
    if (rate_ > 0) phase_ += "@" + std::to_string(static_cast<int64_t>(rate_));
  }

  const std::string& phase() const { return phase_; }

  int run() {
    Loops loops(target_.threads);
    loops_ = &loops;
    const int n_loops = loops.size();
    per_loop_ = std::vector<PerLoop>(n_loops);
    for (int r = 0; r < rooms_; ++r) per_loop_[r % n_loops].rooms.push_back(r);
    for (auto& state : per_loop_) state.room_sent.assign(state.rooms.size(), 0);
    clients_state_.assign(static_cast<size_t>(rooms_) * clients_, Client{});

    Fleet::Options options;
    options.count = clients_state_.size();
    options.path = [this](size_t i) {
      return target_.roomPath("r" + std::to_string(i / clients_));
    };
    options.loop_of = [this, n_loops](size_t i) {
      return static_cast<int>(i / clients_) % n_loops;
    };
    options.concurrency = concurrency_;
    Fleet fleet(loops, target_, options);
    fleet_ = &fleet;
    fleet.on_message = [this](WsConn& conn, Opcode, std::string_view payload,
                              Clock::time_point now) { onReceipt(conn, payload, now); };
    fleet.on_drained = [this](WsConn& conn) {
      if (rate_ <= 0 && started_.load(std::memory_order_relaxed)) sendBatch(conn);
    };
    fleet.start();
    if (!fleet.waitReady(target_.timeout_s)) return fail("broadcast", phase_, fleet.firstError());

    const uint64_t server_cpu_start = target_.server.cpuNs();
    const uint64_t client_cpu_start = selfCpuNs();
    start_ = Clock::now();
    started_.store(true);
    for (int loop = 0; loop < n_loops; ++loop) {
      loops.post(loop, [this, loop] { startLoop(loop); });
    }

    // Completion: every loop has stopped sending and the deliveries add up.
    auto delivered = [this] {
      uint64_t total = 0;
      for (auto& state : per_loop_) total += state.delivered.load(std::memory_order_relaxed);
      return total;
    };
    auto expected = [this] {
      if (rate_ <= 0) return static_cast<uint64_t>(rooms_) * clients_ * clients_ * messages_;
      uint64_t total = 0;
      for (auto& state : per_loop_) {
        for (uint64_t sent : state.room_sent) total += sent * static_cast<uint64_t>(clients_);
      }
      return total;
    };
    auto sending_done = [this] {
      for (auto& state : per_loop_) {
        if (!state.sending_done.load()) return false;
      }
      return true;
    };
    // Open loop: the sending phase counts as progress even if nothing arrives.
    auto progress = [&] {
      double elapsed = secondsSince(start_, Clock::now());
      return delivered() + (elapsed < duration_s_ ? static_cast<uint64_t>(elapsed * 1000) : 0);
    };
    bool complete = waitProgress(
        [&] { return fleet.failed() > 0 || (sending_done() && delivered() >= expected()); },
        progress, target_.timeout_s);
    const uint64_t server_cpu_end = target_.server.cpuNs();
    const uint64_t client_cpu_end = selfCpuNs();
    // A grace period, so that duplicated deliveries show up in the per-client counts.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    loops.stop();

    if (fleet.failed() > 0) return fail("broadcast", phase_, fleet.firstError());
    if (std::string error = checkCounts(complete, delivered(), expected()); !error.empty()) {
      return fail("broadcast", phase_, error);
    }

    Histogram latency;
    Clock::time_point end = start_;
    for (auto& state : per_loop_) {
      latency.merge(state.latency);
      end = std::max(end, state.last_receipt);
    }
    const double seconds = secondsSince(start_, end);
    const uint64_t deliveries = delivered();
    JsonLine line = resultLine("broadcast", phase_, target_);
    line.add("mode", rate_ > 0 ? "open-loop" : "back-to-back");
    line.add("rooms", rooms_).add("clients", clients_).add("size", static_cast<int64_t>(size_));
    if (rate_ > 0) {
      line.add("rate_per_room", rate_).add("duration_s", duration_s_);
    } else {
      line.add("messages", static_cast<int64_t>(messages_)).add("batch", batch_);
    }
    line.add("deliveries", deliveries).add("seconds", seconds);
    line.add("msgs_per_s", static_cast<double>(deliveries) / seconds);
    line.add("sent_per_s", static_cast<double>(deliveries) / clients_ / seconds);
    line.addLatency(latency);
    if (!target_.server.empty()) {
      double cpu_us = static_cast<double>(server_cpu_end - server_cpu_start) / 1000.0;
      line.add("server_cpu_us_per_delivery", cpu_us / static_cast<double>(deliveries));
      line.add("server_cpu_pct", 100.0 * cpu_us / 1e6 / seconds);
    }
    line.add("client_cpu_pct",
             100.0 * static_cast<double>(client_cpu_end - client_cpu_start) / 1e9 / seconds);
    Histogram connect = fleet.connectLatency();
    line.add("connect_p50_us", static_cast<double>(connect.percentileNs(50)) / 1000.0);
    line.print();
    return 0;
  }

 private:
  void startLoop(int loop) {
    PerLoop& state = per_loop_[loop];
    if (state.rooms.empty()) {
      state.sending_done.store(true);
      return;
    }
    if (rate_ <= 0) {
      for (int room : state.rooms) {
        for (int k = 0; k < clients_; ++k)
          sendBatch(fleet_->conn(static_cast<size_t>(room) * clients_ + k));
      }
      return;
    }
    // Timers fire up to 50 µs late by default (timer slack); that lateness would count as latency.
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    state.timer = std::make_unique<asio::steady_timer>(loops_->at(loop));
    tick(loop);
  }

  int loopOf(const WsConn& conn) const {
    return (static_cast<int>(conn.index) / clients_) % static_cast<int>(per_loop_.size());
  }

  // sendBatch sends the client's next --batch messages (back-to-back mode).
  void sendBatch(WsConn& conn) {
    Client& client = clients_state_[conn.index];
    if (client.sent >= messages_) {
      if (!client.finished_sending) {
        client.finished_sending = true;
        markSendingDone(conn);
      }
      return;
    }
    std::string payload(size_, 'x');
    uint64_t now = nowNs(Clock::now());
    for (int k = 0; k < batch_ && client.sent < messages_; ++k, ++client.sent) {
      writeStamp(payload.data(), now);
      conn.queueText(payload);
    }
    conn.flush();
  }

  void markSendingDone(WsConn& conn) {
    // Each loop counts its clients that have sent everything; the last one marks the loop done.
    PerLoop& state = per_loop_[loopOf(conn)];
    if (++state.finished_senders == static_cast<int>(state.rooms.size()) * clients_) {
      state.sending_done.store(true);
    }
  }

  // dueAt returns when a room's message number k is due (open-loop mode).
  Clock::time_point dueAt(uint64_t k) const {
    return start_ +
           std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(k) * 1e9 / rate_));
  }

  // tick sends the messages that have come due in each room of this loop, then sleeps until the
  // next one is due (open-loop mode). All rooms run the same schedule.
  void tick(int loop) {
    PerLoop& state = per_loop_[loop];
    Clock::time_point now = Clock::now();
    double elapsed = secondsSince(start_, now);
    const uint64_t total = static_cast<uint64_t>(rate_ * duration_s_);
    const uint64_t due = std::min(total, static_cast<uint64_t>(rate_ * elapsed) + 1);
    std::string payload(size_, 'x');
    for (size_t j = 0; j < state.rooms.size(); ++j) {
      size_t first_client = static_cast<size_t>(state.rooms[j]) * clients_;
      uint64_t& sent = state.room_sent[j];
      const uint64_t first = sent;
      for (; sent < due; ++sent) {
        writeStamp(payload.data(), nowNs(dueAt(sent)));
        fleet_->conn(first_client + sent % clients_).queueText(payload);
      }
      const uint64_t touched = std::min<uint64_t>(sent - first, clients_);
      for (uint64_t k = 0; k < touched; ++k)
        fleet_->conn(first_client + (first + k) % clients_).flush();
    }
    if (due >= total) {
      state.sending_done.store(true);
      return;
    }
    state.timer->expires_at(dueAt(due));
    state.timer->async_wait([this, loop](const boost::system::error_code& ec) {
      if (!ec) tick(loop);
    });
  }

  void onReceipt(WsConn& conn, std::string_view payload, Clock::time_point now) {
    PerLoop& state = per_loop_[loopOf(conn)];
    uint64_t sent_ns;
    if (!readStamp(payload, sent_ns)) {
      state.bad_frames.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    uint64_t now_ns = nowNs(now);
    state.latency.record(now_ns > sent_ns ? now_ns - sent_ns : 0);
    state.last_receipt = now;
    ++clients_state_[conn.index].received;
    state.delivered.fetch_add(1, std::memory_order_relaxed);
  }

  // checkCounts verifies, after the loops stopped, that every client got exactly its room's
  // messages. It returns a description of what is wrong, or an empty string.
  std::string checkCounts(bool complete, uint64_t delivered, uint64_t expected) {
    uint64_t bad = 0;
    for (auto& state : per_loop_) bad += state.bad_frames.load();
    std::string problems;
    if (!complete) {
      problems += "stalled: " + std::to_string(delivered) + " of " + std::to_string(expected) +
                  " deliveries, none more in " + std::to_string(target_.timeout_s) + " s. ";
    }
    if (bad > 0) problems += std::to_string(bad) + " frames without a timestamp. ";
    size_t wrong = 0;
    uint64_t low = UINT64_MAX, high = 0;
    std::string example;
    for (size_t i = 0; i < clients_state_.size(); ++i) {
      int room = static_cast<int>(i / clients_);
      PerLoop& state = per_loop_[room % per_loop_.size()];
      uint64_t room_sent = rate_ > 0 ? 0 : static_cast<uint64_t>(clients_) * messages_;
      if (rate_ > 0) {
        for (size_t j = 0; j < state.rooms.size(); ++j) {
          if (state.rooms[j] == room) room_sent = state.room_sent[j];
        }
      }
      uint64_t got = clients_state_[i].received;
      low = std::min(low, got);
      high = std::max(high, got);
      if (got != room_sent) {
        if (wrong++ == 0) {
          example = "client " + std::to_string(i) + " (room " + std::to_string(room) + ") got " +
                    std::to_string(got) + " of " + std::to_string(room_sent);
        }
      }
    }
    if (wrong > 0) {
      problems += std::to_string(wrong) + " clients received the wrong number of messages (min " +
                  std::to_string(low) + ", max " + std::to_string(high) + "; e.g. " + example + ")";
    }
    return problems;
  }

  Target& target_;
  int rooms_, clients_;
  uint32_t messages_;
  size_t size_;
  int batch_;
  double rate_, duration_s_;
  int concurrency_;
  std::string phase_;
  std::vector<PerLoop> per_loop_;
  std::vector<Client> clients_state_;
  Loops* loops_ = nullptr;
  Fleet* fleet_ = nullptr;
  std::atomic<bool> started_{false};
  Clock::time_point start_;
};

}  // namespace

int runBroadcast(Flags& flags) {
  Target target = Target::fromFlags(flags);
  Broadcast broadcast(flags, target);
  if (std::string unused = flags.unusedFlag(); !unused.empty()) {
    return fail("broadcast", broadcast.phase(), "unknown flag --" + unused);
  }
  return broadcast.run();
}

}  // namespace partyd::bench
