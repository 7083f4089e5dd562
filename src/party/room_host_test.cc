// RoomHost and Turn with a fake engine (FakeCode records every call and acts as a party would)
// and a fake clock: activation once per id, the output gate, a throwing handler, a handler past
// its deadline, hibernate and wake, eviction, alarm retries, slow consumers. Sockets are real
// loopback TCP; the loop is driven with poll(), never with sleeps.
#include "party/room_host.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <gtest/gtest.h>

#include "storage/sqlite_storage.h"

namespace partyd::party {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct FakeCode : UserCode {
  RoomHost* host = nullptr;
  std::vector<std::string> calls;
  int creates = 0, drops = 0;
  bool hibernating = false;     // createRoom asks for hibernation
  bool timeOutNext = false;     // the next run passes its deadline
  bool answerRequests = true;   // request(): write storage, then respond 200
  bool acceptSockets = true;    // connect(): accept at once
  bool alarmFails = false;
  std::optional<RestoredSockets> lastRestore;
  std::vector<std::uint64_t> conns;

  void beginRun(std::int64_t) override {}
  bool endRun() override {
    bool t = timeOutNext;
    timeOutNext = false;
    return t;
  }
  void createRoom(const Room& room, std::optional<RestoredSockets> restore) override {
    ++creates;
    calls.push_back("create " + room.key.room);
    lastRestore = std::move(restore);
    host->setCreatedHibernating(hibernating);
  }
  void dropRoom(std::uint32_t) override {
    ++drops;
    calls.push_back("drop");
  }
  void connect(const Room& room, std::uint64_t conn, std::string_view id,
               const http::Request&) override {
    calls.push_back("connect " + room.key.room);
    conns.push_back(conn);
    if (acceptSockets) host->accept(conn, 0, "");
  }
  void message(const Room& room, std::uint64_t conn, ws::Opcode,
               std::string_view payload) override {
    calls.push_back("message " + std::string(payload));
    host->send(conn, ws::makeFrame(ws::Opcode::kText, "echo " + std::string(payload)));
  }
  void close(const Room&, std::uint64_t, std::uint16_t code, std::string_view, bool) override {
    calls.push_back("close " + std::to_string(code));
  }
  void request(const Room& room, std::uint64_t req, const http::Request&) override {
    calls.push_back("request " + room.key.room);
  }
  void request(const Room& room, std::uint64_t req, const InternalRequest& r) override {
    calls.push_back("request " + room.key.room);
    if (!answerRequests) return;
    (void)host->storage().put(room.key, "k", r.body);
    http::Response response;
    response.status = 200;
    response.body = r.body;
    host->respond(req, std::move(response));
  }
  void alarm(const Room& room, std::uint32_t retries) override {
    calls.push_back("alarm " + std::to_string(retries));
    host->alarmDone(room.handle, !alarmFails);
  }
  void hibernate(const Room& room) override {
    calls.push_back("hibernate");
    for (auto& [conn, socket] : host->findRoom(room.handle)->sockets) {
      host->stash(conn, "meta" + std::to_string(conn));
    }
    host->roomHibernated(room.handle);
  }
  void edge(std::uint64_t, const EdgeCall&) override {}
  void partyFetchDone(std::uint64_t, const http::Response&) override {}
};

class RoomHostTest : public ::testing::Test {
 protected:
  void SetUp() override { make({}); }

  void make(HostConfig config) {
    host.reset();
    auto store = storage::SqliteStorage::openInMemory();
    ASSERT_TRUE(store.ok());
    storage = store->get();
    host = std::make_unique<RoomHost>(io, std::move(*store), code, config, clock);
    code.host = host.get();
    ASSERT_TRUE(host->start().ok());
  }

  // A request from another room; the answer lands in `answers` once it is released.
  void ask(const std::string& room, std::string body = "x") {
    InternalRequest r{"POST", "http://localhost/parties/main/" + room, {}, std::move(body)};
    host->request(RoomKey{"main", room}, std::move(r), [this](http::Response response) {
      answers.push_back(response);
      dirtyAtRelease.push_back(storage->dirty());
    });
  }

  void poll() {
    io.restart();
    io.poll();
  }

  // A real upgraded socket into `room`; returns the client's end.
  tcp::socket connectSocket(const std::string& room) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    tcp::socket server = acceptor.accept();
    auto session = std::make_shared<http::Session>(
        std::move(server), std::string(), http::Limits{},
        [](std::shared_ptr<http::Session>, http::Request&&) {});
    http::Request req{boost::beast::http::verb::get, "/parties/main/" + room, 11};
    req.set(boost::beast::http::field::upgrade, "websocket");
    req.set(boost::beast::http::field::connection, "Upgrade");
    req.set(boost::beast::http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(boost::beast::http::field::sec_websocket_version, "13");
    host->upgrade(session, std::move(req), RoomKey{"main", room});
    poll();
    return client;
  }

  // Reads what the server wrote so far (the socket is blocking; the server has flushed).
  std::string readSome(tcp::socket& client) {
    std::string out(65536, '\0');
    std::size_t n = client.read_some(asio::buffer(out));
    out.resize(n);
    return out;
  }

  void sendText(tcp::socket& client, std::string_view text) {
    std::string frame;
    ws::appendMaskedFrame(frame, ws::Opcode::kText, text, {1, 2, 3, 4});
    asio::write(client, asio::buffer(frame));
  }

  asio::io_context io;
  FakeClock clock;
  FakeCode code;
  storage::Storage* storage = nullptr;
  std::unique_ptr<RoomHost> host;
  std::vector<http::Response> answers;
  std::vector<bool> dirtyAtRelease;
};

TEST_F(RoomHostTest, ActivatesOneInstancePerId) {
  ask("a");
  ask("a");
  ask("b");
  poll();
  EXPECT_EQ(code.creates, 2);
  EXPECT_EQ(host->roomCount(), 2u);
  ASSERT_EQ(answers.size(), 3u);
}

TEST_F(RoomHostTest, NoResponseLeavesBeforeItsWritesCommit) {
  ask("a", "v1");
  EXPECT_TRUE(answers.empty()) << "a response left inside the run that made it";
  EXPECT_TRUE(storage->dirty());
  poll();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_FALSE(dirtyAtRelease[0]) << "the response left before the commit";
  auto stored = storage->get(RoomKey{"main", "a"}, "k");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->value_or(""), "v1");
}

TEST_F(RoomHostTest, RunsOfOnePassShareOneCommit) {
  for (int i = 0; i < 10; ++i) ask("r" + std::to_string(i));
  EXPECT_TRUE(answers.empty());
  poll();
  EXPECT_EQ(answers.size(), 10u);
  EXPECT_EQ(host->turn().commitFailures(), 0u);
}

TEST_F(RoomHostTest, AHandlerThatThrowsLeavesTheRoomServing) {
  // A throw inside user code ends the run without an answer; the runtime answers 500 itself,
  // which is the engine's business. The room goes on taking events.
  code.answerRequests = false;
  ask("a");
  poll();
  EXPECT_TRUE(answers.empty());
  code.answerRequests = true;
  ask("a");
  poll();
  EXPECT_EQ(answers.size(), 1u);
  EXPECT_EQ(code.creates, 1);
}

TEST_F(RoomHostTest, AHandlerPastItsDeadlineResetsItsRoom) {
  code.answerRequests = false;
  ask("slow");  // waits for an answer
  code.timeOutNext = true;
  ask("slow");  // this run passes its deadline
  poll();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 500u);
  EXPECT_NE(answers[0].body.find("ran longer than"), std::string::npos);
  EXPECT_EQ(code.drops, 1);
  code.answerRequests = true;
  ask("slow");
  poll();
  EXPECT_EQ(code.creates, 2) << "the next event builds a new object";
  EXPECT_EQ(answers.back().status, 200u);
}

TEST_F(RoomHostTest, EvictsAnIdleRoomAfterTheTimeout) {
  HostConfig config;
  config.idleTimeoutMs = 1000;
  make(config);
  ask("a");
  poll();
  clock.advance(999);
  host->sweep();
  EXPECT_EQ(host->roomCount(), 1u);
  clock.advance(1);
  host->sweep();
  EXPECT_EQ(host->roomCount(), 0u);
  EXPECT_EQ(code.drops, 1);
  ask("a");
  poll();
  EXPECT_EQ(code.creates, 2);
}

TEST_F(RoomHostTest, UpgradeSendsThe101OnlyAfterOnConnect) {
  code.acceptSockets = false;
  tcp::socket client = connectSocket("a");
  ASSERT_EQ(code.conns.size(), 1u);
  client.non_blocking(true);
  boost::system::error_code ec;
  char byte;
  client.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::would_block) << "the 101 left before onConnect accepted";
  client.non_blocking(false);
  // User code accepts later (after an await), in a run of its own, as natives always run.
  host->turn().run(0, [&] { host->accept(code.conns[0], 0, ""); });
  poll();
  EXPECT_EQ(readSome(client).rfind("HTTP/1.1 101", 0), 0u);
}

TEST_F(RoomHostTest, HibernatesAQuietRoomAndWakesItWithItsSockets) {
  HostConfig config;
  config.hibernateAfterMs = 500;
  make(config);
  code.hibernating = true;
  tcp::socket client = connectSocket("h");
  EXPECT_EQ(readSome(client).rfind("HTTP/1.1 101", 0), 0u);
  clock.advance(500);
  host->sweep();
  EXPECT_TRUE(host->findRoom(1)->hibernated);
  EXPECT_EQ(host->socketCount(), 1u) << "a hibernated room keeps its sockets open";

  sendText(client, "hi");
  for (int i = 0; i < 100 && code.creates < 2; ++i) io.run_one();
  poll();
  EXPECT_EQ(code.creates, 2);
  ASSERT_TRUE(code.lastRestore.has_value());
  ASSERT_EQ(code.lastRestore->size(), 1u);
  EXPECT_EQ((*code.lastRestore)[0].second, "meta" + std::to_string(code.conns[0]));
  EXPECT_EQ(code.calls.back(), "message hi");
  std::string frame = readSome(client);
  EXPECT_NE(frame.find("echo hi"), std::string::npos);
}

TEST_F(RoomHostTest, AFailedAlarmRetriesWithBackoffThenSucceeds) {
  ask("a");
  poll();
  Room* room = host->findRoom(1);
  ASSERT_NE(room, nullptr);
  std::int64_t at = clock.wallMs() + 100;
  ASSERT_TRUE(storage->setAlarm(room->key, at).ok());
  host->setAlarm(*room, at);
  code.alarmFails = true;
  clock.advance(100);
  host->fireDueAlarms();
  EXPECT_EQ(code.calls.back(), "alarm 0");
  clock.advance(1999);
  host->fireDueAlarms();
  EXPECT_EQ(code.calls.back(), "alarm 0") << "retried before its 2 s backoff";
  clock.advance(1);
  code.alarmFails = false;
  host->fireDueAlarms();
  EXPECT_EQ(code.calls.back(), "alarm 1");
  poll();
  auto stored = storage->getAlarm(room->key);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value()) << "a delivered alarm is deleted";
}

TEST_F(RoomHostTest, AnAlarmRetriedAfterItsRoomWasEvictedIsStillDeletedOnSuccess) {
  HostConfig config;
  config.idleTimeoutMs = 1000;
  make(config);
  ask("a");
  poll();
  RoomKey key{"main", "a"};
  std::int64_t at = clock.wallMs() + 100;
  ASSERT_TRUE(storage->setAlarm(key, at).ok());
  host->setAlarm(*host->findRoom(1), at);
  code.alarmFails = true;
  clock.advance(100);
  host->fireDueAlarms();
  poll();
  clock.advance(1000);
  host->sweep();
  ASSERT_EQ(host->roomCount(), 0u) << "the room should have been evicted between retries";
  code.alarmFails = false;
  clock.advance(1000);
  host->fireDueAlarms();
  EXPECT_EQ(code.calls.back(), "alarm 0") << "a new Room object starts its retry count again";
  poll();
  auto stored = storage->getAlarm(key);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
}

TEST_F(RoomHostTest, ASlowConsumerIsClosedWith1008AndCounted) {
  HostConfig config;
  config.wsLimits.maxQueuedBytes = 64 * 1024;
  make(config);
  tcp::socket client = connectSocket("s");
  readSome(client);
  std::string big(16 * 1024, 'x');
  ws::SendStatus last = ws::SendStatus::kQueued;
  host->turn().run(0, [&] {
    for (int i = 0; i < 8 && last == ws::SendStatus::kQueued; ++i) {
      last = host->send(code.conns[0], ws::makeFrame(ws::Opcode::kText, big));
    }
  });
  EXPECT_EQ(last, ws::SendStatus::kOverflow);
  EXPECT_EQ(host->slowConsumerCloses(), 1u);
  poll();
  // The client, reading at last, finds a close frame with 1008 after what was already queued.
  std::string all;
  client.non_blocking(true);
  for (int i = 0; i < 200; ++i) {
    poll();
    boost::system::error_code ec;
    std::string chunk(65536, '\0');
    std::size_t n = client.read_some(asio::buffer(chunk), ec);
    if (n) all.append(chunk.data(), n);
    if (ec && ec != asio::error::would_block) break;
  }
  std::size_t close = all.find(std::string("\x88", 1));
  ASSERT_NE(close, std::string::npos);
  ASSERT_GE(all.size(), close + 4);
  EXPECT_EQ((static_cast<unsigned char>(all[close + 2]) << 8) |
                static_cast<unsigned char>(all[close + 3]),
            1008);
}

// The engine replaced its isolate: no room's object exists any more. A hibernated room keeps its
// socket and its stash, and wakes with them; a live room's socket is closed with 1011; no
// dropRoom reaches the new engine.
TEST_F(RoomHostTest, ANewEngineKeepsTheSocketsOfHibernatedRoomsOnly) {
  HostConfig config;
  config.hibernateAfterMs = 500;
  make(config);
  code.hibernating = true;
  tcp::socket sleeper = connectSocket("h");
  EXPECT_EQ(readSome(sleeper).rfind("HTTP/1.1 101", 0), 0u);
  clock.advance(500);
  host->sweep();
  code.hibernating = false;
  tcp::socket awake = connectSocket("l");
  EXPECT_EQ(readSome(awake).rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_EQ(host->socketCount(), 2u);
  const int drops = code.drops;

  host->resetForNewEngine("the heap was full", 1011, 500);
  poll();
  EXPECT_EQ(code.drops, drops);
  EXPECT_EQ(host->socketCount(), 1u);
  std::string closeFrame = readSome(awake);
  ASSERT_GE(closeFrame.size(), 4u);
  EXPECT_EQ(static_cast<unsigned char>(closeFrame[0]), 0x88);
  EXPECT_EQ((static_cast<unsigned char>(closeFrame[2]) << 8) | static_cast<unsigned char>(closeFrame[3]),
            1011);

  sendText(sleeper, "hi");
  for (int i = 0; i < 100 && code.calls.back() != "message hi"; ++i) io.run_one();
  poll();
  ASSERT_TRUE(code.lastRestore.has_value());
  ASSERT_EQ(code.lastRestore->size(), 1u);
  EXPECT_EQ((*code.lastRestore)[0].second, "meta" + std::to_string(code.conns[0]));
  EXPECT_NE(readSome(sleeper).find("echo hi"), std::string::npos);
}

TEST_F(RoomHostTest, AConnectionPastTheRoomLimitIsClosedWith1013) {
  HostConfig config;
  config.maxRoomConnections = 1;
  make(config);
  tcp::socket first = connectSocket("a");
  EXPECT_EQ(readSome(first).rfind("HTTP/1.1 101", 0), 0u);
  tcp::socket second = connectSocket("a");
  poll();
  std::string out = readSome(second);
  EXPECT_EQ(out.rfind("HTTP/1.1 101", 0), 0u);
  if (out.find("\r\n\r\n") + 4 >= out.size()) out += readSome(second);
  std::string frame = out.substr(out.find("\r\n\r\n") + 4);
  ASSERT_GE(frame.size(), 4u);
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x88);
  EXPECT_EQ((static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]), 1013);
  EXPECT_EQ(host->socketCount(), 1u);
  EXPECT_EQ(code.conns.size(), 1u) << "the room's code never saw the refused socket";
  EXPECT_EQ(host->limitRefusals(), 1u);
}

}  // namespace
}  // namespace partyd::party
