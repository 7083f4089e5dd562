// WsClient is the outgoing WebSocket client of one shard, behind `new WebSocket(url)` in party
// code. It resolves, connects (plain TCP for ws://, TLS verified against the system CA store for
// wss://), performs the opening handshake and checks the answer (101, Sec-WebSocket-Accept, the
// chosen subprotocol, no extensions), then exchanges masked client frames and unmasked server
// frames: fragmented messages are reassembled, text is checked as UTF-8, pings get pongs, and
// either side may start the closing handshake. It owns its sockets and timers; it knows nothing of
// JS (api/ validates URLs and close codes first, and maps these events onto the WebSocket class).
// It lives in ws/ because it uses the codec (frame.h, handshake.h, utf8.h).
// Not thread-safe: call it only on the thread that runs its io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace partyd::ws {

class WsClient {
 public:
  struct Options {
    // From connect() to the end of the opening handshake (resolve, TCP, TLS, HTTP upgrade).
    std::chrono::milliseconds connectTimeout{30000};
    // From sending our close frame to receiving the server's; then the socket is dropped and the
    // close is unclean (1006).
    std::chrono::milliseconds closeTimeout{5000};
    // Total payload of one message, over all its fragments; larger ones fail the socket (1009).
    std::size_t maxMessageSize = 32 * 1024 * 1024;
  };

  // Called on the io_context, never from inside a WsClient method, and never after the client is
  // destroyed. For each connection: onOpen at most once, then any number of onMessage, then
  // onError at most once if the connection failed, then onClose exactly once.
  struct Events {
    std::function<void(std::string protocol)> onOpen;
    std::function<void(bool binary, std::string data)> onMessage;
    // code is what the server's close frame said (1005 when it carried none), or 1006 when the
    // connection ended without a closing handshake; wasClean tells the two apart.
    std::function<void(std::uint16_t code, std::string reason, bool wasClean)> onClose;
    // A message such as "WebSocket connection to 'ws://127.0.0.1:1/' failed: connection refused".
    std::function<void(std::string message)> onError;
  };

  enum class SendResult {
    kQueued,   // framed and queued for writing; counted in bufferedAmount() until written
    kDropped,  // not open (connecting, closing, closed or unknown id): nothing was sent
  };

  explicit WsClient(boost::asio::io_context& io) : WsClient(io, Options{}) {}
  WsClient(boost::asio::io_context& io, Options options);
  // Drops every socket without a closing handshake. No callback runs after this, not even those
  // already queued on the io_context.
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Starts a connection to a ws://, wss://, http:// or https:// URL (the latter two as ws and
  // wss) and returns its id. protocols are offered in Sec-WebSocket-Protocol; headers are added to
  // the upgrade request, except those the handshake owns (Host, Upgrade, Connection,
  // Sec-WebSocket-*), which are skipped. A bad URL or header fails through onError and onClose.
  std::uint64_t connect(std::string url, std::vector<std::string> protocols,
                        std::vector<std::pair<std::string, std::string>> headers, Events events);

  // Sends one message in one frame. Dropped unless the connection is open and we have not sent a
  // close frame: the JS layer throws before calling in those cases.
  SendResult send(std::uint64_t id, bool binary, std::string_view data);

  // Starts the closing handshake with code (0 sends a close frame without a code) and reason (cut
  // to 123 bytes at a character boundary); onClose follows when the server answers or after
  // closeTimeout. While connecting, it aborts the connection instead: onError, then onClose(1006).
  // Ignored when already closing or closed. The caller checks the code (1000 or 3000-4999).
  void close(std::uint64_t id, std::uint16_t code, std::string_view reason);

  // Payload bytes of messages queued with send() and not yet handed to the socket (0 for unknown
  // ids).
  std::size_t bufferedAmount(std::uint64_t id) const;

  // Connections not yet closed.
  std::size_t connectionCount() const;

  // Also trusts the CA certificates in the PEM file at `path` (tests use a self-signed one).
  Result<void> trustCaFileForTesting(const std::string& path);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace partyd::ws
