#include "net/poller.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "base/log.h"
#include "base/result.h"

namespace partyd::net {

namespace asio = boost::asio;

Poller::Poller(asio::io_context& io) : asio::execution_context::service(io), io_(io), epoll_(io) {}

Poller::~Poller() = default;

std::uint32_t Poller::add(int fd, PollTarget* target) {
  if (!epoll_.is_open()) {
    // Made on first use, so that a shard that never upgrades a socket has no epoll set; a failure
    // (out of descriptors) is the caller's to report, and the next socket tries again.
    int e = ::epoll_create1(EPOLL_CLOEXEC);
    if (e < 0) return kNoSlot;
    boost::system::error_code ec;
    epoll_.assign(e, ec);
    if (ec) {
      ::close(e);
      errno = ec.value();
      return kNoSlot;
    }
  }
  std::uint32_t index = freeHead_;
  if (index == kNoSlot) {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    freeHead_ = slots_[index].nextFree;
  }
  Slot& slot = slots_[index];
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = (std::uint64_t{slot.generation} << 32) | index;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    slot.nextFree = freeHead_;
    freeHead_ = index;
    return kNoSlot;
  }
  slot.target = target;
  slot.nextFree = kNoSlot;
  ++registered_;
  return index;
}

void Poller::remove(std::uint32_t index, int fd) {
  if (index >= slots_.size() || !slots_[index].target) return;
  // Explicit, not left to close(): a descriptor that another process inherited would keep the
  // registration (and its events) alive after our close.
  epoll_event ev{};
  ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, &ev);
  Slot& slot = slots_[index];
  slot.target = nullptr;
  ++slot.generation;
  slot.nextFree = freeHead_;
  freeHead_ = index;
  --registered_;
}

void Poller::startWaiting() {
  if (waiters_++ == 0) arm();
}

void Poller::stopWaiting() {
  PARTYD_CHECK(waiters_ > 0, "net::Poller::stopWaiting without a waiter");
  // Nobody waits: the loop must be free to end (a test's run(), a shard's stop), as it was when
  // each socket's wait was its own pending operation.
  if (--waiters_ == 0 && armed_) epoll_.cancel();
}

void Poller::arm() {
  if (armed_ || !epoll_.is_open()) return;
  armed_ = true;
  epoll_.async_wait(asio::posix::stream_descriptor::wait_read,
                    [this](boost::system::error_code ec) {
                      armed_ = false;
                      if (ec && ec != asio::error::operation_aborted) {
                        log::error("net::Poller: waiting on the epoll set failed: " + ec.message());
                        return;
                      }
                      if (!ec) poll();
                      if (waiters_ > 0) arm();
                    });
}

// One batch per wake-up: what is left stays ready in the set, so the re-armed wait fires again
// after the other handlers of this loop pass have run.
void Poller::poll() {
  std::array<epoll_event, 128> events;
  int n = ::epoll_wait(epoll_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
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
}

}  // namespace partyd::net
