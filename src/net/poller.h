// net::Poller is a shard's own epoll set, for sockets that it reads and writes without Asio's
// reactor (http::Session, ws::Connection). Each socket is registered once, edge-triggered, for as
// long as it is open (also when it passes from its HTTP session to its WebSocket), and costs one
// 16-byte slot here: no per-descriptor state in Asio's reactor (whose pool
// never gives its entries back) and no pending operation while it waits, which is most of what an
// idle socket used to hold (W4). The epoll descriptor is the one thing Asio's reactor watches, as
// an internal descriptor (the way Asio watches its own signal pipe): one registration whose
// operation never completes, so a wake-up costs no re-arming epoll_ctl, and poll() hands each
// ready socket its events right there. While any socket waits, the poller holds work on the
// io_context, so the loop runs on; otherwise it may end. One per io_context (an Asio service), so
// every socket of a shard finds the same one.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace partyd::net {

// What a registered socket hears. `events` are epoll's bits (EPOLLIN, EPOLLOUT, EPOLLRDHUP,
// EPOLLHUP, EPOLLERR). Calls come on the loop's thread, from poll(), never from inside add().
class PollTarget {
 public:
  virtual void onPollEvents(std::uint32_t events) = 0;
  // The io_context is going away: no event will come again. A target that keeps itself alive
  // while it waits (as a pending Asio operation kept its handler) lets go here, and may end.
  virtual void onPollerShutdown() {}

 protected:
  ~PollTarget() = default;
};

// A socket registered with a poller, as it passes from one owner to the next (Poller::retarget):
// its slot, and what its last owner knew of it, edge-triggered: whether a read may still find
// bytes, and a write room, without waiting for another event.
struct Polled {
  class Poller* poller = nullptr;
  int fd = -1;                             // -1: there is no socket (it was gone)
  std::uint32_t slot = ~std::uint32_t{0};  // none: not registered yet (the new owner adds it)
  bool readReady = false;
  bool writeReady = true;
};

class Poller final : public boost::asio::execution_context::service {
 public:
  using key_type = Poller;
  static inline boost::asio::execution_context::id id;
  static constexpr std::uint32_t kNoSlot = ~std::uint32_t{0};

  explicit Poller(boost::asio::io_context& io);
  ~Poller() override;

  // The io_context's poller, made on first use.
  static Poller& of(boost::asio::io_context& io) { return boost::asio::use_service<Poller>(io); }
  boost::asio::io_context& context() { return io_; }

  // Registers `fd` for readable and hang-up, edge-triggered; the events that are already true come
  // at the next poll. Writable is not watched until watchWrites(): a socket that has room (nearly
  // all of them, nearly always) would otherwise wake the loop once for nothing when it is added.
  // Returns its slot, or kNoSlot when epoll refused it (errno says why).
  std::uint32_t add(int fd, PollTarget* target);
  // Watches the socket for writable too, from now on; the call's caller found it full. If it has
  // room again by now, the event comes at the next poll. When epoll refuses (false; errno says
  // why), the socket is shut down instead: its hang-up ends the wait that would never see writable.
  bool watchWrites(std::uint32_t slot, int fd);
  // Gives the registration to a new target (a socket that changes hands, such as an HTTP
  // connection that becomes a WebSocket): no system call, and its events go on as they were.
  void retarget(std::uint32_t slot, PollTarget* target);
  // Unregisters a descriptor that stays open (it goes to Asio, or to another shard): events for it
  // that were already taken from the kernel in the current poll are dropped, even if its slot is
  // given to another socket meanwhile.
  void remove(std::uint32_t slot, int fd);
  // The same for a descriptor that the caller closes right after, without an epoll_ctl: close(2)
  // takes it out of the set. A duplicate that outlives the close (a child process between fork and
  // exec) keeps the registration alive a while; its events are dropped as stale, since the slot's
  // generation has moved on.
  void forget(std::uint32_t slot);

  // Sockets that wait for an event keep the loop running, as a pending Asio operation on each did:
  // the epoll descriptor is watched while the count is above zero, and the loop may end otherwise.
  void startWaiting();
  void stopWaiting();

  std::size_t registered() const { return registered_; }

 private:
  struct Slot {
    PollTarget* target = nullptr;
    std::uint32_t generation = 0;  // bumped by remove(): an event of an older one is stale
    std::uint32_t nextFree = kNoSlot;
    bool writes = false;  // EPOLLOUT is in its registration
  };

  struct Watch;  // the reactor's side: its registration of epoll_ and the operation in it

  bool open();
  void shutdown() override;
  void poll();

  boost::asio::io_context& io_;
  int epoll_ = -1;
  std::unique_ptr<Watch> watch_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<Slot> slots_;
  std::uint32_t freeHead_ = kNoSlot;
  std::size_t registered_ = 0;
  std::size_t waiters_ = 0;
  bool morePosted_ = false;
};

}  // namespace partyd::net
