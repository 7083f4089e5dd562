// The WebSocket frame codec (RFC 6455 section 5): encoding server frames, and FrameParser, an
// incremental parser of client frames that reassembles fragmented messages. Pure code over bytes:
// it owns its input buffer and nothing else; sockets, write queues and timers belong to the
// connection code. A server frame is encoded once and the same bytes may go to every socket of a
// broadcast, so encoding never depends on the connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ws/utf8.h"

namespace partyd::ws {

enum class Opcode : std::uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

// Whether a frame ends its message (the FIN bit).
enum class Fin : std::uint8_t { kNo, kYes };

// The longest frame header: 2 bytes, 8 of extended length and a 4-byte mask key.
inline constexpr std::size_t kMaxFrameHeaderSize = 14;
// Control frames (close, ping, pong) carry at most this many payload bytes.
inline constexpr std::size_t kMaxControlPayload = 125;
// A close reason fits what is left of a control payload after the 2-byte code.
inline constexpr std::size_t kMaxCloseReason = kMaxControlPayload - 2;

// ---- server frames (unmasked) ----------------------------------------------------------------

// Size of the header of an unmasked frame with this payload length: 2, 4 or 10 bytes.
std::size_t frameHeaderSize(std::size_t payloadLen);
// Writes the header of an unmasked frame with FIN set into buf (room for 10 bytes) and returns its
// length, for a vectored write with the payload in a separate buffer.
std::size_t writeFrameHeader(std::uint8_t* buf, Opcode op, std::size_t payloadLen);
// Appends a complete unmasked frame with FIN set to out.
void appendFrame(std::string& out, Opcode op, std::string_view payload);
// The payload of a close frame: code in network order, then reason cut to at most 123 bytes at a
// UTF-8 character boundary. The caller checks code with isValidCloseCode first.
std::string closePayload(std::uint16_t code, std::string_view reason);

// True for codes that may appear in a close frame on the wire (RFC 6455 7.4 and the IANA
// registry): 1000-1003, 1007-1014 and 3000-4999. 1004-1006 and 1015 are reserved and never sent.
bool isValidCloseCode(std::uint16_t code);

// ---- client frames (masked) ------------------------------------------------------------------

// XORs data with the 4-byte key, the key's byte 0 applying to data[0]. Masking and unmasking are
// the same operation. Works 8 bytes at a time.
void applyMask(char* data, std::size_t len, std::array<std::uint8_t, 4> key);
// Appends a masked frame, as a client sends it: for tests, fuzzing and outgoing client sockets.
void appendMaskedFrame(std::string& out, Opcode op, std::string_view payload,
                       std::array<std::uint8_t, 4> key, Fin fin = Fin::kYes);

// ---- FrameParser -----------------------------------------------------------------------------

// Parses the frames a client sends to the server, one event at a time:
//
//   parser.feed(bytes, n);
//   for (;;) {
//     auto status = parser.next();
//     if (status == FrameParser::Status::kNeedMore) break;
//     ...  // use opcode(), payload(), closeCode(), ... before the next call
//   }
//
// Views returned by payload() and closeReason() stay valid until the next call to next(), feed()
// or shrink(). An unfragmented message is unmasked in place in the input buffer and returned as a
// view of it; a fragmented one is reassembled into a second buffer. Consumed bytes are dropped
// from the input buffer whenever next() runs out of complete frames, and by feed().
//
// Once next() has returned kError, it returns kError forever (the caller sends a close frame with
// errorCode() and drops the socket). Once it has returned kClose, it returns kNeedMore forever and
// feed() discards its input: nothing a client sends after its close frame has meaning.
//
// Deliberately lenient: a length not encoded in the fewest bytes is accepted (RFC 6455 asks it of
// senders, and Autobahn does not test receivers for it).
class FrameParser {
 public:
  enum class Status { kNeedMore, kMessage, kPing, kPong, kClose, kError };

  // Whose frames it reads: a server reads a client's, which must be masked; a client (partyd's
  // outgoing WebSocket) reads a server's, which must not be (RFC 6455 5.1).
  enum class From : std::uint8_t { kClient, kServer };

  // Messages whose total payload (over all fragments) would exceed maxMessageSize fail with 1009.
  explicit FrameParser(std::size_t maxMessageSize, From from = From::kClient);

  // Appends bytes to the input buffer; invalidates views from earlier events.
  void feed(const char* data, std::size_t len);
  // Returns the next event from the bytes fed so far, or kNeedMore.
  Status next();

  // The event last returned by next():
  // kMessage: kText or kBinary. kPing, kPong, kClose: that opcode.
  Opcode opcode() const { return opcode_; }
  // kMessage: the whole unmasked message. kPing, kPong: the control payload.
  std::string_view payload() const { return payload_; }
  // kClose: the code the client sent, or 1005 when its close frame had no payload.
  std::uint16_t closeCode() const { return closeCode_; }
  // kClose: the reason, valid UTF-8, maybe empty.
  std::string_view closeReason() const { return closeReason_; }
  // kError: the close code to send back: 1002 (protocol error), 1007 (invalid UTF-8 in a text
  // message or close reason) or 1009 (message too big).
  std::uint16_t errorCode() const { return errorCode_; }
  // kError: a short text for logs and the close reason.
  std::string_view errorReason() const { return errorReason_; }

  // Bytes held: unconsumed input plus the fragments of an unfinished message. For memory
  // accounting.
  std::size_t buffered() const { return input_.size() - pos_ + message_.size(); }
  // Open, with no unconsumed bytes and no unfinished message: nothing would be lost by starting
  // over with a new parser.
  bool idle() const { return state_ == State::kOpen && !inMessage_ && input_.size() == pos_; }
  // Gives back buffer capacity: all of it when idle, the unused part otherwise. For idle sockets.
  // Invalidates views from earlier events.
  void shrink();

 private:
  enum class State : std::uint8_t { kOpen, kClosed, kFailed };

  Status fail(std::uint16_t code, std::string_view reason);
  Status onClose(std::string_view payload);
  // Checks the text in message_ from utf8Checked_ on; Fin::kYes requires it to be complete.
  bool checkMessageUtf8(Fin fin);
  // Drops consumed bytes from the front of input_.
  void compact();
  // Forgets the fragmented message, once returned.
  void endMessage();
  void releaseAll();

  std::size_t maxMessageSize_;
  From from_;
  State state_ = State::kOpen;

  std::string input_;    // bytes fed, unmasked in place as frames complete
  std::size_t pos_ = 0;  // start of the unconsumed bytes in input_

  // The fragmented message being reassembled, if any.
  std::string message_;
  bool inMessage_ = false;
  bool messageReturned_ = false;  // message_ was handed out by the last event; clear it next time
  Opcode messageOpcode_ = Opcode::kText;
  std::size_t utf8Checked_ = 0;  // prefix of message_ known to be complete, valid UTF-8

  // The last event.
  Opcode opcode_ = Opcode::kText;
  std::string_view payload_;
  std::uint16_t closeCode_ = 0;
  std::string_view closeReason_;
  std::uint16_t errorCode_ = 0;
  std::string_view errorReason_;
};

}  // namespace partyd::ws
