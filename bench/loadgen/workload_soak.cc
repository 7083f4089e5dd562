// W7 soak: storage-backed chat under connection churn, for minutes, against bench/party-storage
// (each message is first written with `await storage.put` and only then broadcast, so the
// sender's own copy of the broadcast is its put → ack). --rooms rooms × --clients slots per room;
// a slot holds one connection at a time. For --duration seconds:
//   - --rate messages/s in all are sent, open loop, each from the next live slot in turn, and
//     stamped with the time it was due (a lagging client shows up as latency);
//   - --churn slots/s leave and come back: a leaving slot stops sending, waits for its own acks
//     and for every message it is owed, closes, and reconnects at once (connects/s = churn);
//   - the main thread samples the server's RSS and open fds every --sample seconds.
// A payload is the stamp, the sender's slot and the room's message number (8 hex digits each),
// padded to --size. Checks (any failure fails the run): every message comes back to its sender
// exactly once; a client receives exactly once every message of its room sent after its "hi" and
// before it began to leave (all clients of a room live on one loop, so "after" is exact: the
// server had the client in the room before it sent "hi"); no frame from another room, or of a
// message not sent yet. A connection that fails before its "hi" (a refused or reset handshake) is
// counted and retried, up to --max-errors; one that fails after it fails the run.
//
// --procs N runs the soak in N worker processes (fork), each with its own loops: worker w takes the
// rooms r with r % N == w (all clients of a room stay in one process, so the checks above hold),
// and --rate/N and --churn/N of the schedules. Each worker hands its counters, its server samples
// and its latency histograms to the parent through a pipe; the parent sums the counters, merges
// the histograms bucket by bucket (exact, as if one process had recorded every value) and prints
// the one result line, with each worker's own CPU. The workers connect, then wait at a barrier
// (workers.h) and start together. Server CPU, RSS and fds are those worker 0 sampled.
#include <sys/prctl.h>

#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "fleet.h"
#include "report.h"
#include "stamp.h"
#include "workers.h"
#include "workloads.h"

namespace partyd::bench {

namespace {

constexpr size_t kSenderAt = kStampBytes;  // 8 hex digits: the sender's slot
constexpr size_t kSeqAt = kSenderAt + 8;   // 8 hex digits: the message's number in its room
constexpr size_t kHeaderBytes = kSeqAt + 8;

struct Slot {
  enum class State : uint8_t { kConnecting, kLive, kLeaving, kGone };
  State state = State::kConnecting;
  uint32_t outstanding = 0;        // its messages not back yet
  uint64_t first_owed = 0;         // the room's message number at its "hi"
  uint64_t end_owed = UINT64_MAX;  // the room's message number when it began to leave
  std::vector<bool> got;           // owed messages received, from first_owed
  uint64_t got_count = 0;

  uint64_t owed(uint64_t room_sent) const {
    return std::min(end_owed, room_sent) - std::min(first_owed, room_sent);
  }
};

struct alignas(64) PerLoop {
  std::vector<size_t> slots;  // the slots whose rooms live on this loop
  size_t send_cursor = 0;
  size_t leave_cursor = 0;
  uint64_t sends = 0;  // position in this loop's send schedule
  uint64_t leaves = 0;
  Histogram ack_latency;
  Histogram ack_latency_warm;  // messages due after --warmup: the steady state
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> connects{0};  // after the start; the first connections do not count
  std::atomic<uint64_t> left{0};
  std::atomic<uint64_t> skipped{0};  // sends due when no slot of the loop was live
  Clock::time_point last_receipt{};
  std::unique_ptr<asio::steady_timer> timer;
};

struct Sample {
  double t;
  uint64_t rss_kib;
  uint64_t fds;
};

// Outcome is what one run (or one worker of --procs) measured: what report() prints.
struct Outcome {
  uint64_t sent = 0, acked = 0, delivered = 0, connects = 0, left = 0, skipped = 0;
  uint64_t connect_errors = 0;
  uint64_t rss_base = 0, server_cpu_ns = 0, client_cpu_ns = 0;
  double seconds = 0;  // the run, or longer if deliveries went on after it
  Histogram latency, warm_latency, connect_latency;
  std::vector<Sample> samples;
  std::vector<uint64_t> proc_cpu_ns;  // each worker's client_cpu_ns (the parent fills it)

  // encode/decode carry an Outcome from a worker to the parent (lines of text).
  std::string encode() const {
    std::ostringstream out;
    out.precision(17);
    out << "counts " << sent << ' ' << acked << ' ' << delivered << ' ' << connects << ' ' << left
        << ' ' << skipped << ' ' << connect_errors << ' ' << rss_base << ' ' << server_cpu_ns << ' '
        << client_cpu_ns << ' ' << seconds << '\n';
    out << "latency " << latency.encode() << '\n';
    out << "warm " << warm_latency.encode() << '\n';
    out << "connect " << connect_latency.encode() << '\n';
    out << "samples";
    for (const Sample& sample : samples) {
      out << ' ' << sample.t << ' ' << sample.rss_kib << ' ' << sample.fds;
    }
    out << '\n';
    return out.str();
  }

  static bool decode(const std::string& text, Outcome& out) {
    std::istringstream in(text);
    std::string tag, rest;
    in >> tag;
    if (tag != "counts") return false;
    in >> out.sent >> out.acked >> out.delivered >> out.connects >> out.left >> out.skipped >>
        out.connect_errors >> out.rss_base >> out.server_cpu_ns >> out.client_cpu_ns >> out.seconds;
    for (Histogram* h : {&out.latency, &out.warm_latency, &out.connect_latency}) {
      in >> tag;
      std::getline(in, rest);
      if (!in || rest.empty() || !Histogram::decode(std::string_view(rest).substr(1), *h)) {
        return false;
      }
    }
    in >> tag;
    if (tag != "samples") return false;
    std::getline(in, rest);
    std::istringstream series(rest);
    Sample sample{};
    while (series >> sample.t >> sample.rss_kib >> sample.fds) out.samples.push_back(sample);
    return !out.samples.empty();
  }

  // add folds in another worker's outcome: counters add up, histograms merge; the server's
  // figures (CPU, RSS, fds) stay this one's.
  void add(const Outcome& other) {
    sent += other.sent;
    acked += other.acked;
    delivered += other.delivered;
    connects += other.connects;
    left += other.left;
    skipped += other.skipped;
    connect_errors += other.connect_errors;
    client_cpu_ns += other.client_cpu_ns;
    seconds = std::max(seconds, other.seconds);
    latency.merge(other.latency);
    warm_latency.merge(other.warm_latency);
    connect_latency.merge(other.connect_latency);
  }
};

class Soak {
 public:
  Soak(Flags& flags, Target& target) : target_(target) {
    procs_ = static_cast<int>(std::max<int64_t>(1, flags.integer("procs", 1)));
    rooms_ = static_cast<size_t>(flags.integer("rooms", 1000));
    clients_ = static_cast<size_t>(flags.integer("clients", 2));
    churn_ = flags.number("churn", 200);
    rate_ = flags.number("rate", 1000);
    duration_s_ = flags.number("duration", 180);
    warmup_s_ = flags.number("warmup", std::min(30.0, duration_s_ / 3));
    sample_s_ = flags.number("sample", 5);
    size_ = std::max<size_t>(kHeaderBytes, static_cast<size_t>(flags.integer("size", 64)));
    concurrency_ = static_cast<int>(flags.integer("connect-concurrency", 64));
    max_errors_ = static_cast<uint64_t>(flags.integer("max-errors", 100));
    phase_ = std::to_string(rooms_) + "x" + std::to_string(clients_) + "@" +
             std::to_string(static_cast<int64_t>(churn_)) + "c/s";
    total_rooms_ = rooms_;
  }

  int procs() const { return procs_; }
  size_t rooms() const { return total_rooms_; }

  // becomeWorker makes this Soak worker `w` of --procs: the rooms r with r % procs == w, and its
  // share of the rate and the churn. It starts at the barrier, and its outcome goes to the parent
  // instead of stdout.
  void becomeWorker(WorkerLink& link) {
    const int w = link.index();
    worker_ = w;
    link_ = &link;
    rooms_ = (total_rooms_ - static_cast<size_t>(w) + procs_ - 1) / procs_;
    rate_ /= procs_;
    churn_ /= procs_;
  }

  // report prints the result line of an outcome (the whole run's, or the merged workers').
  void report(const Outcome& outcome) const;

  const std::string& phase() const { return phase_; }

  int run() {
    if (target_.server.empty()) return failed("--server-pid is required");
    Loops loops(target_.threads);
    loops_ = &loops;
    const int n_loops = loops.size();
    per_loop_ = std::vector<PerLoop>(n_loops);
    slots_.assign(rooms_ * clients_, Slot{});
    room_sent_.assign(rooms_, 0);
    for (size_t i = 0; i < slots_.size(); ++i) per_loop_[loopOf(i)].slots.push_back(i);

    Fleet::Options options;
    options.count = slots_.size();
    options.path = [this](size_t i) {
      // Room names are global: local room j of worker w is room j * procs + w.
      return target_.roomPath("k" + std::to_string(roomOf(i) * procs_ + worker_));
    };
    options.loop_of = [this](size_t i) { return loopOf(i); };
    options.read_buffer = 1024;
    options.concurrency = concurrency_;
    Fleet fleet(loops, target_, options);
    fleet_ = &fleet;
    fleet.on_ready = [this](WsConn& conn, Clock::time_point) { onReady(conn.index); };
    fleet.on_message = [this](WsConn& conn, Opcode, std::string_view payload,
                              Clock::time_point now) { onReceipt(conn.index, payload, now); };
    fleet.on_failure = [this](WsConn& conn, bool before_hi, std::string_view error) {
      onFailure(conn.index, before_hi, error);
    };

    const uint64_t rss_base = target_.server.rssKiB();
    fleet.start();
    // Failed handshakes are retried, so "ready" means every slot has had its "hi" once.
    waitProgress([&] { return fleet.ready() >= slots_.size() || fatal(); },
                 [&] { return fleet.ready() + connect_errors_.load(); }, target_.timeout_s);
    if (fatal()) return failed(firstError());
    if (fleet.ready() < slots_.size()) {
      return failed("stalled: " + std::to_string(fleet.ready()) + " of " +
                    std::to_string(slots_.size()) + " connections ready");
    }

    if (link_ != nullptr) {
      // The barrier: every worker is connected; all start at the parent's one start time.
      std::optional<Clock::time_point> start = link_->awaitStart();
      if (!start) return failed("no start time from the parent (another worker failed?)");
      std::this_thread::sleep_until(*start);
      start_ = *start;
    } else {
      start_ = Clock::now();
    }
    const uint64_t server_cpu_start = target_.server.cpuNs();
    const uint64_t client_cpu_start = selfCpuNs();
    warm_from_ns_ = nowNs(start_) + static_cast<uint64_t>(warmup_s_ * 1e9);
    started_.store(true);
    for (int loop = 0; loop < n_loops; ++loop) {
      loops.post(loop, [this, loop] { startLoop(loop); });
    }
    std::vector<Sample> samples = sampleUntilEnd();
    stopping_.store(true);
    const uint64_t server_cpu_end = target_.server.cpuNs();
    const uint64_t client_cpu_end = selfCpuNs();

    // Every message sent must come back to its sender; then a grace period for the rest of the
    // room's copies (and for duplicates to show).
    bool complete =
        fatal() ||
        waitProgress([&] { return total(&PerLoop::acked) >= total(&PerLoop::sent) || fatal(); },
                     [&] { return total(&PerLoop::acked); }, target_.timeout_s);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    loops.stop();
    for (auto& state : per_loop_) state.timer.reset();  // before their io_context goes
    if (fatal()) return failed(firstError());
    if (std::string error = checkOwed(complete); !error.empty()) {
      return failed(error);
    }
    Outcome outcome = collect(samples, rss_base, server_cpu_end - server_cpu_start,
                              client_cpu_end - client_cpu_start);
    if (link_ != nullptr) return link_->send(outcome.encode()) ? 0 : 1;
    report(outcome);
    return 0;
  }

 private:
  size_t roomOf(size_t slot) const { return slot % rooms_; }
  int loopOf(size_t slot) const {
    return static_cast<int>(roomOf(slot) % static_cast<size_t>(loops_->size()));
  }
  bool fatal() const { return errors_.load() > 0; }

  // failed reports a broken run: as the error line, or to the parent when this is a worker.
  int failed(const std::string& why) {
    if (link_ == nullptr) return fail("soak", phase_, why);
    link_->send("error worker " + std::to_string(worker_) + ": " + why + "\n");
    return 1;
  }

  uint64_t total(std::atomic<uint64_t> PerLoop::*counter) const {
    uint64_t sum = 0;
    for (const auto& state : per_loop_) sum += (state.*counter).load(std::memory_order_relaxed);
    return sum;
  }

  void error(const std::string& what) {
    std::lock_guard lock(error_mutex_);
    if (errors_.fetch_add(1) == 0) first_error_ = what;
  }
  std::string firstError() {
    std::lock_guard lock(error_mutex_);
    return first_error_ + " (" + std::to_string(errors_.load()) + " errors)";
  }

  // ---- the main thread: samples --------------------------------------------------------------

  // sampleUntilEnd samples RSS and fds at 0, every --sample s, and at --duration; it stops early
  // when the run has already failed. Under --procs only worker 0 reads them (the report shows its
  // samples): a sample walks /proc and lists the server's 2,000-odd fds, a few ms of the client's
  // CPU, which N workers would otherwise spend at the same instants.
  std::vector<Sample> sampleUntilEnd() {
    std::vector<Sample> samples;
    for (double next = 0;; next = std::min(next + sample_s_, duration_s_)) {
      std::this_thread::sleep_until(start_ + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(next)));
      if (worker_ == 0) {
        samples.push_back({next, target_.server.rssKiB(), target_.server.openFds()});
      } else {
        samples.push_back({next, 0, 0});
      }
      if (next >= duration_s_ || fatal()) return samples;
    }
  }

  // ---- the loops: schedule ---------------------------------------------------------------------

  void startLoop(int loop) {
    // Timers fire up to 50 µs late by default (timer slack); that lateness would count as latency.
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    per_loop_[loop].timer = std::make_unique<asio::steady_timer>(loops_->at(loop));
    tick(loop);
  }

  // dueAt returns when event k of a schedule of `rate` per second (on one loop) is due.
  Clock::time_point dueAt(uint64_t k, double rate) const {
    if (rate <= 0) return Clock::time_point::max();
    return start_ +
           std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(k) * 1e9 / rate));
  }
  static uint64_t dueBy(double rate, double elapsed) {
    return rate <= 0 ? 0 : static_cast<uint64_t>(rate * elapsed) + 1;
  }

  // tick sends the messages and starts the leaves that have come due on this loop, then sleeps
  // until the next one is due. Both schedules are split evenly over the loops.
  void tick(int loop) {
    PerLoop& state = per_loop_[loop];
    const double send_rate = rate_ / loops_->size();
    const double leave_rate = churn_ / loops_->size();
    const Clock::time_point now = Clock::now();
    const double elapsed = secondsSince(start_, now);
    if (elapsed >= duration_s_ || stopping_.load()) return;
    for (uint64_t due = dueBy(send_rate, elapsed); state.sends < due; ++state.sends) {
      sendOne(state, dueAt(state.sends, send_rate));
    }
    for (uint64_t due = dueBy(leave_rate, elapsed); state.leaves < due; ++state.leaves) {
      leaveOne(state);
    }
    state.timer->expires_at(
        std::min(dueAt(state.sends, send_rate), dueAt(state.leaves, leave_rate)));
    state.timer->async_wait([this, loop](const boost::system::error_code& ec) {
      if (!ec) tick(loop);
    });
  }

  // nextLive returns the next live slot of the loop after `cursor`, or SIZE_MAX.
  size_t nextLive(PerLoop& state, size_t& cursor) {
    for (size_t tries = 0; tries < state.slots.size(); ++tries) {
      size_t i = state.slots[cursor];
      cursor = (cursor + 1) % state.slots.size();
      if (slots_[i].state == Slot::State::kLive) return i;
    }
    return SIZE_MAX;
  }

  void sendOne(PerLoop& state, Clock::time_point due) {
    size_t i = nextLive(state, state.send_cursor);
    if (i == SIZE_MAX) {
      state.skipped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::string payload(size_, 'x');
    writeStamp(payload.data(), nowNs(due));
    writeHex(payload.data() + kSenderAt, i, 8);
    writeHex(payload.data() + kSeqAt, room_sent_[roomOf(i)]++, 8);
    fleet_->conn(i).sendText(payload);
    ++slots_[i].outstanding;
    state.sent.fetch_add(1, std::memory_order_relaxed);
  }

  void leaveOne(PerLoop& state) {
    size_t i = nextLive(state, state.leave_cursor);
    if (i == SIZE_MAX) return;
    Slot& slot = slots_[i];
    slot.state = Slot::State::kLeaving;
    slot.end_owed = room_sent_[roomOf(i)];
    maybeLeave(i);
  }

  // maybeLeave closes a leaving slot once it has what it is owed, and reconnects it (until the
  // run stops).
  void maybeLeave(size_t i) {
    Slot& slot = slots_[i];
    if (slot.state != Slot::State::kLeaving || slot.outstanding > 0 ||
        slot.got_count < slot.owed(room_sent_[roomOf(i)])) {
      return;
    }
    fleet_->conn(i).close();
    slot.state = Slot::State::kGone;
    per_loop_[loopOf(i)].left.fetch_add(1, std::memory_order_relaxed);
    if (!stopping_.load()) {
      slot.state = Slot::State::kConnecting;
      fleet_->reopen(i);
    }
  }

  // ---- the loops: events -----------------------------------------------------------------------

  void onReady(size_t i) {
    Slot& slot = slots_[i];
    slot = Slot{};
    slot.state = Slot::State::kLive;
    slot.first_owed = room_sent_[roomOf(i)];
    if (started_.load()) per_loop_[loopOf(i)].connects.fetch_add(1, std::memory_order_relaxed);
  }

  void onFailure(size_t i, bool before_hi, std::string_view why) {
    if (!before_hi) {
      error("connection " + std::to_string(i) + " failed after its 'hi': " + std::string(why));
      return;
    }
    if (connect_errors_.fetch_add(1) + 1 > max_errors_) {
      error("more than " + std::to_string(max_errors_) +
            " failed handshakes; the last: " + std::string(why));
      return;
    }
    slots_[i].state = Slot::State::kConnecting;
    fleet_->reopen(i);
  }

  void onReceipt(size_t i, std::string_view payload, Clock::time_point now) {
    uint64_t stamp = 0, sender = 0, seq = 0;
    if (!readStamp(payload, stamp) || !readHex(payload, kSenderAt, 8, sender) ||
        !readHex(payload, kSeqAt, 8, seq)) {
      error("a frame without a stamp: '" + std::string(payload.substr(0, 40)) + "'");
      return;
    }
    const size_t room = roomOf(i);
    if (sender >= slots_.size() || roomOf(sender) != room) {
      error("slot " + std::to_string(i) + " (room " + std::to_string(room) +
            ") got a message of room " + std::to_string(roomOf(sender)));
      return;
    }
    if (seq >= room_sent_[room]) {
      error("room " + std::to_string(room) + ": message " + std::to_string(seq) +
            " arrived before it was sent");
      return;
    }
    PerLoop& state = per_loop_[loopOf(i)];
    state.delivered.fetch_add(1, std::memory_order_relaxed);
    state.last_receipt = now;
    Slot& slot = slots_[i];
    if (seq < slot.first_owed || seq >= slot.end_owed) {
      // Sent before its "hi" or after it began to leave: it may come or not. Its own messages
      // all fall inside (it sends only while live, and leaves only once they are back).
      if (sender == i) error("slot " + std::to_string(i) + ": an own message outside its life");
      return;
    }
    const uint64_t k = seq - slot.first_owed;
    if (slot.got.size() <= k) slot.got.resize(k + 1);
    if (slot.got[k]) {
      error("slot " + std::to_string(i) + ": message " + std::to_string(seq) + " of room " +
            std::to_string(room) + " arrived twice");
      return;
    }
    slot.got[k] = true;
    ++slot.got_count;
    if (sender == i) {
      --slot.outstanding;
      state.acked.fetch_add(1, std::memory_order_relaxed);
      const uint64_t now_ns = nowNs(now);
      const uint64_t latency = now_ns > stamp ? now_ns - stamp : 0;
      state.ack_latency.record(latency);
      if (stamp >= warm_from_ns_) state.ack_latency_warm.record(latency);
    }
    maybeLeave(i);
  }

  // ---- results ---------------------------------------------------------------------------------

  // checkOwed verifies, after the loops stopped, that every slot still in a room got all it was
  // owed. It returns what is wrong, or an empty string.
  std::string checkOwed(bool complete) {
    std::string problems;
    if (!complete) {
      problems += "stalled: " + std::to_string(total(&PerLoop::acked)) + " of " +
                  std::to_string(total(&PerLoop::sent)) + " messages back to their senders. ";
    }
    size_t short_slots = 0;
    uint64_t lost = 0;
    std::string example;
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Slot& slot = slots_[i];
      if (slot.state != Slot::State::kLive && slot.state != Slot::State::kLeaving) continue;
      const uint64_t owed = slot.owed(room_sent_[roomOf(i)]);
      if (slot.got_count >= owed) continue;
      lost += owed - slot.got_count;
      if (short_slots++ == 0) {
        example = "slot " + std::to_string(i) + " got " + std::to_string(slot.got_count) + " of " +
                  std::to_string(owed) + " (" + std::to_string(slot.outstanding) + " own)";
      }
    }
    if (short_slots > 0) {
      problems += std::to_string(lost) + " deliveries lost over " + std::to_string(short_slots) +
                  " clients (e.g. " + example + ")";
    }
    return problems;
  }

  // sampleAt returns the first sample at or after `t` (the last one if none is).
  static const Sample& sampleAt(const std::vector<Sample>& samples, double t) {
    for (const Sample& sample : samples) {
      if (sample.t >= t) return sample;
    }
    return samples.back();
  }

  Outcome collect(std::vector<Sample> samples, uint64_t rss_base, uint64_t server_cpu_ns,
                  uint64_t client_cpu_ns) {
    Outcome out;
    Clock::time_point end = start_;
    for (auto& state : per_loop_) {
      out.latency.merge(state.ack_latency);
      out.warm_latency.merge(state.ack_latency_warm);
      end = std::max(end, state.last_receipt);
    }
    out.seconds = std::max(duration_s_, secondsSince(start_, end));
    out.sent = total(&PerLoop::sent);
    out.acked = total(&PerLoop::acked);
    out.delivered = total(&PerLoop::delivered);
    out.connects = total(&PerLoop::connects);
    out.left = total(&PerLoop::left);
    out.skipped = total(&PerLoop::skipped);
    out.connect_errors = connect_errors_.load();
    out.rss_base = rss_base;
    out.server_cpu_ns = server_cpu_ns;
    out.client_cpu_ns = client_cpu_ns;
    out.connect_latency = fleet_->connectLatency();
    out.samples = std::move(samples);
    return out;
  }

  Target& target_;
  int procs_ = 1;
  int worker_ = 0;
  WorkerLink* link_ = nullptr;  // a worker's pipes to the parent
  size_t total_rooms_ = 0;
  size_t rooms_, clients_;
  double churn_, rate_, duration_s_, warmup_s_, sample_s_;
  size_t size_;
  int concurrency_;
  uint64_t max_errors_;
  std::string phase_;

  Loops* loops_ = nullptr;
  Fleet* fleet_ = nullptr;
  std::vector<PerLoop> per_loop_;
  std::vector<Slot> slots_;          // touched only by the slot's loop (and after the stop)
  std::vector<uint64_t> room_sent_;  // messages sent per room; touched only by the room's loop
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  Clock::time_point start_;
  uint64_t warm_from_ns_ = 0;  // set before the loops start sending
  std::atomic<uint64_t> connect_errors_{0};
  std::atomic<uint64_t> errors_{0};
  std::mutex error_mutex_;
  std::string first_error_;
};

void Soak::report(const Outcome& o) const {
  const std::vector<Sample>& samples = o.samples;
  const Histogram& latency = o.latency;
  const Histogram& warm_latency = o.warm_latency;
  const double seconds = o.seconds;
  const Sample& warm = sampleAt(samples, warmup_s_);
  const Sample& last = samples.back();
  uint64_t rss_max = 0, fds_max = 0;
  std::string series = "[";
  for (const Sample& sample : samples) {
    rss_max = std::max(rss_max, sample.rss_kib);
    fds_max = std::max(fds_max, sample.fds);
    if (series.size() > 1) series += ',';
    series += "[" + std::to_string(sample.t) + "," + std::to_string(sample.rss_kib) + "," +
              std::to_string(sample.fds) + "]";
  }
  series += "]";
  const double drift = static_cast<double>(last.rss_kib) - static_cast<double>(warm.rss_kib);

  JsonLine line = resultLine("soak", phase_, target_);
  line.add("procs", procs_);
  line.add("rooms", static_cast<int64_t>(total_rooms_))
      .add("clients", static_cast<int64_t>(clients_));
  line.add("connections", static_cast<int64_t>(total_rooms_ * clients_));
  line.add("churn_per_s", churn_).add("rate", rate_).add("size", static_cast<int64_t>(size_));
  line.add("duration_s", duration_s_).add("warmup_s", warm.t);
  const uint64_t connects = o.connects;
  line.add("sent", o.sent).add("acked", o.acked);
  line.add("deliveries", o.delivered);
  line.add("msgs_per_s", static_cast<double>(o.delivered) / seconds);
  line.add("sent_per_s", static_cast<double>(o.sent) / seconds);
  line.add("connects", connects).add("leaves", o.left);
  line.add("connects_per_s", static_cast<double>(connects) / duration_s_);
  line.add("connect_errors", o.connect_errors);
  line.add("skipped_sends", o.skipped);
  line.addLatency(latency);  // put → ack, over the whole run
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  line.add("warm_samples", warm_latency.count());
  line.add("warm_p50_us", us(warm_latency.percentileNs(50)));
  line.add("warm_p99_us", us(warm_latency.percentileNs(99)));
  line.add("warm_p999_us", us(warm_latency.percentileNs(99.9)));
  line.add("rss_base_kib", o.rss_base).add("rss_warm_kib", warm.rss_kib);
  line.add("rss_end_kib", last.rss_kib).add("rss_max_kib", rss_max);
  line.add("rss_drift_kib", drift);
  line.add("rss_drift_pct",
           100.0 * drift / static_cast<double>(std::max<uint64_t>(1, warm.rss_kib)));
  line.add("fds_warm", warm.fds).add("fds_end", last.fds).add("fds_max", fds_max);
  line.add("server_cpu_pct", 100.0 * static_cast<double>(o.server_cpu_ns) / 1e9 / duration_s_);
  line.add("client_cpu_pct", 100.0 * static_cast<double>(o.client_cpu_ns) / 1e9 / duration_s_);
  // Each worker's own CPU (% of one CPU over the run); with --procs 1, the one process's.
  std::string per_proc = "[";
  for (const uint64_t ns :
       o.proc_cpu_ns.empty() ? std::vector<uint64_t>{o.client_cpu_ns} : o.proc_cpu_ns) {
    if (per_proc.size() > 1) per_proc += ',';
    char value[32];
    std::snprintf(value, sizeof value, "%.2f", 100.0 * static_cast<double>(ns) / 1e9 / duration_s_);
    per_proc += value;
  }
  line.addRaw("client_cpu_pct_procs", per_proc + "]");
  line.add("connect_p50_us", static_cast<double>(o.connect_latency.percentileNs(50)) / 1000.0);
  line.addRaw("samples_t_rss_fds", series);
  line.print();
}

}  // namespace

int runSoak(Flags& flags) {
  Target target = Target::fromFlags(flags);
  const int64_t procs = flags.integer("procs", 1);
  Soak soak(flags, target);
  if (std::string unused = flags.unusedFlag(); !unused.empty()) {
    return fail("soak", soak.phase(), "unknown flag --" + unused);
  }
  if (procs < 1 || procs > 256) {
    return fail("soak", soak.phase(),
                "--procs " + std::to_string(procs) + ": expected 1 to 256 worker processes");
  }
  if (soak.procs() == 1) return soak.run();
  if (soak.rooms() < static_cast<size_t>(soak.procs())) {
    return fail("soak", soak.phase(),
                "--procs " + std::to_string(procs) + " must not exceed --rooms " +
                    std::to_string(soak.rooms()) + " (a room's clients stay in one worker)");
  }
  if (target.server.empty()) return fail("soak", soak.phase(), "--server-pid is required");

  // Fork the workers before any thread exists (the loops start inside run()). 20 ms between the
  // barrier and the start is ample for the parent's pipe writes and the workers' wake-ups.
  std::string error;
  std::vector<WorkerExit> exits = runWorkers(
      soak.procs(),
      [&soak](WorkerLink& link) {
        soak.becomeWorker(link);
        return soak.run();
      },
      std::chrono::milliseconds(20), error);
  auto workerError = [](const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    return line.compare(0, 6, "error ") == 0 ? line.substr(6) : line;
  };
  if (!error.empty()) return fail("soak", soak.phase(), workerError(error));
  // The first worker that failed with a reason, else the first that failed at all.
  for (const bool with_reason : {true, false}) {
    for (size_t w = 0; w < exits.size(); ++w) {
      if (exits[w].ok()) continue;
      const bool has_reason = exits[w].text.compare(0, 6, "error ") == 0;
      if (with_reason && !has_reason) continue;
      return fail("soak", soak.phase(),
                  has_reason ? workerError(exits[w].text)
                             : "worker " + std::to_string(w) + " exited with status " +
                                   std::to_string(exits[w].status));
    }
  }

  Outcome merged;
  std::vector<uint64_t> proc_cpu_ns;
  for (size_t w = 0; w < exits.size(); ++w) {
    Outcome part;
    if (!Outcome::decode(exits[w].text, part)) {
      return fail("soak", soak.phase(), "worker " + std::to_string(w) + ": unreadable outcome");
    }
    proc_cpu_ns.push_back(part.client_cpu_ns);
    if (w == 0) {
      merged = std::move(part);
    } else {
      merged.add(part);
    }
  }
  merged.proc_cpu_ns = std::move(proc_cpu_ns);
  soak.report(merged);
  return 0;
}

}  // namespace partyd::bench
