#include "net/poller.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>

#include "base/result.h"

namespace partyd::net {

namespace asio = boost::asio;
namespace detail = boost::asio::detail;

namespace {
constexpr std::uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP | EPOLLET;
}  // namespace

// Asio's reactor keeps an internal descriptor registered with one operation that is performed on
// every readiness and never completes (so it is never re-armed): this is that operation. Its
// perform runs on the loop's thread, from the reactor's completion of the descriptor, like any
// other handler. It is reached through asio::detail, the same reactor interface that Asio's own
// services use; Boost 1.81 is pinned (DESIGN.md), and poller_test.cc would catch a change.
struct Poller::Watch : detail::reactor_op {
  Watch(Poller* poller, detail::reactor& reactor)
      : detail::reactor_op(boost::system::error_code(), &Watch::perform, &Watch::complete),
        poller(poller),
        reactor(reactor) {}

  static status perform(detail::reactor_op* op) {
    static_cast<Watch*>(op)->poller->poll();
    return not_done;
  }
  // Never completes; destroyed (a null owner) when deregistered or at the reactor's shutdown. The
  // poller owns it.
  static void complete(void*, detail::operation*, const boost::system::error_code&, std::size_t) {}

  Poller* poller;
  detail::reactor& reactor;
  detail::reactor::per_descriptor_data data = nullptr;
};

Poller::Poller(asio::io_context& io) : asio::execution_context::service(io), io_(io) {}

Poller::~Poller() {
  if (epoll_ >= 0) ::close(epoll_);
}

void Poller::shutdown() {
  // Targets still waiting hold themselves; nothing would ever release them (and close their
  // descriptors) once the loop is gone. One that ends here forgets its own slot.
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (PollTarget* target = slots_[i].target) target->onPollerShutdown();
  }
  // Before the reactor's own shutdown (this service is newer): it forgets the descriptor here.
  if (watch_) {
    watch_->reactor.deregister_internal_descriptor(epoll_, watch_->data);
    watch_->reactor.cleanup_descriptor_data(watch_->data);
    watch_.reset();
  }
  work_.reset();
}

// Made on first use, so that a shard that never upgrades a socket has no epoll set; a failure
// (out of descriptors) is the caller's to report, and the next socket tries again.
bool Poller::open() {
  if (epoll_ >= 0) return true;
  const int e = ::epoll_create1(EPOLL_CLOEXEC);
  if (e < 0) return false;
  auto watch = std::make_unique<Watch>(
      this, asio::use_service<detail::reactor>(static_cast<asio::execution_context&>(io_)));
  // The scheduler runs the reactor only once some service asked it to (Asio's socket services do).
  watch->reactor.init_task();
  if (int err = watch->reactor.register_internal_descriptor(detail::reactor::read_op, e,
                                                            watch->data, watch.get())) {
    watch->reactor.deregister_internal_descriptor(e, watch->data);
    watch->reactor.cleanup_descriptor_data(watch->data);
    ::close(e);
    errno = err;
    return false;
  }
  epoll_ = e;
  watch_ = std::move(watch);
  return true;
}

std::uint32_t Poller::add(int fd, PollTarget* target) {
  if (!open()) return kNoSlot;
  std::uint32_t index = freeHead_;
  if (index == kNoSlot) {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    freeHead_ = slots_[index].nextFree;
  }
  Slot& slot = slots_[index];
  epoll_event ev{};
  ev.events = kReadEvents;
  ev.data.u64 = (std::uint64_t{slot.generation} << 32) | index;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    slot.nextFree = freeHead_;
    freeHead_ = index;
    return kNoSlot;
  }
  slot.target = target;
  slot.nextFree = kNoSlot;
  slot.writes = false;
  ++registered_;
  return index;
}

// Once on, writable stays watched: a socket that filled once (a broadcast's slow reader) is
// likely to fill again, and a MOD per full buffer would cost more than the events it saves.
bool Poller::watchWrites(std::uint32_t index, int fd) {
  if (index >= slots_.size() || !slots_[index].target) return false;
  Slot& slot = slots_[index];
  if (slot.writes) return true;
  epoll_event ev{};
  ev.events = kReadEvents | EPOLLOUT;
  ev.data.u64 = (std::uint64_t{slot.generation} << 32) | index;
  if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    const int err = errno;
    ::shutdown(fd, SHUT_RDWR);
    errno = err;
    return false;
  }
  slot.writes = true;
  return true;
}

void Poller::retarget(std::uint32_t index, PollTarget* target) {
  if (index < slots_.size() && slots_[index].target) slots_[index].target = target;
}

void Poller::remove(std::uint32_t index, int fd) {
  if (index >= slots_.size() || !slots_[index].target) return;
  epoll_event ev{};
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, &ev);
  forget(index);
}

void Poller::forget(std::uint32_t index) {
  if (index >= slots_.size() || !slots_[index].target) return;
  Slot& slot = slots_[index];
  slot.target = nullptr;
  ++slot.generation;
  slot.nextFree = freeHead_;
  freeHead_ = index;
  --registered_;
}

// Nobody waiting lets the loop end (a test's run(), a shard's stop), as it could when each socket's
// wait was its own pending operation.
void Poller::startWaiting() {
  if (waiters_++ == 0) work_.emplace(io_.get_executor());
}

void Poller::stopWaiting() {
  PARTYD_CHECK(waiters_ > 0, "net::Poller::stopWaiting without a waiter");
  if (--waiters_ == 0) work_.reset();
}

// One batch at a time. The reactor hears the set only when it becomes readable again, so a full
// batch, which may leave events behind, is followed by another from the loop, after the handlers
// already queued there.
void Poller::poll() {
  std::array<epoll_event, 128> events;
  const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 0);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t data = events[i].data.u64;
    const auto index = static_cast<std::uint32_t>(data);
    const auto generation = static_cast<std::uint32_t>(data >> 32);
    // A socket that an earlier event of this batch closed (or whose slot went to a new socket)
    // hears nothing more.
    if (index >= slots_.size()) continue;
    const Slot& slot = slots_[index];
    if (slot.generation != generation || !slot.target) continue;
    slot.target->onPollEvents(events[i].events);
  }
  if (n == static_cast<int>(events.size()) && !morePosted_) {
    morePosted_ = true;
    asio::post(io_, [this] {
      morePosted_ = false;
      poll();
    });
  }
}

}  // namespace partyd::net
