// RoomHost and Turn with a fake engine (FakeCode records every call and acts as a party would)
// and a fake clock: activation once per id, the output gate, a throwing handler, a handler past
// its deadline, hibernate and wake, eviction, alarm retries, slow consumers. Sockets are real
// loopback TCP; the loop is driven with poll(), never with sleeps.
#include "party/room_host.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <map>
#include <set>

#include "storage/sqlite_storage.h"

namespace partyd::party {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct FakeCode : UserCode {
  RoomHost* host = nullptr;
  std::vector<std::string> calls;
  int creates = 0, drops = 0;
  bool hibernating = false;    // createRoom asks for hibernation
  bool timeOutNext = false;    // the next run passes its deadline
  bool answerRequests = true;  // request(): write storage, then respond 200
  bool acceptSockets = true;   // connect(): accept at once
  bool alarmFails = false;
  std::optional<RestoredSockets> lastRestore;
  std::vector<std::uint64_t> conns;
  std::vector<std::uint64_t> reqs;  // internal requests, in order
  // Code updates: the build that serves, one prepared, the build of each room's object, and
  // rooms whose handlers still await something (they refuse to move until then).
  std::string serving = "v1";
  std::optional<std::string> candidate;
  std::map<std::uint32_t, std::string> roomCode;
  std::set<std::uint32_t> awaiting;

  void beginRun(std::int64_t) override {}
  bool endRun() override {
    bool t = timeOutNext;
    timeOutNext = false;
    return t;
  }
  void createRoom(const Room& room, std::optional<RestoredSockets> restore) override {
    ++creates;
    calls.push_back("create " + room.key.room);
    roomCode[room.handle] = serving;
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
    host->send(conn, ws::makeFrame(ws::Opcode::kText, "echo " + std::string(payload) + " from " +
                                                          roomCode[room.handle]));
  }
  void close(const Room&, std::uint64_t, std::uint16_t code, std::string_view, bool) override {
    calls.push_back("close " + std::to_string(code));
  }
  void request(const Room& room, std::uint64_t req, const http::Request&) override {
    calls.push_back("request " + room.key.room);
  }
  void request(const Room& room, std::uint64_t req, const InternalRequest& r) override {
    calls.push_back("request " + room.key.room);
    reqs.push_back(req);
    if (!answerRequests) return;
    (void)host->storage().put(room.key, "k", r.body);
    http::Response response;
    response.status = 200;
    response.body = r.body + " from " + roomCode[room.handle];
    host->respond(req, std::move(response));
  }
  void alarm(const Room& room, std::uint32_t retries) override {
    calls.push_back("alarm " + std::to_string(retries));
    host->alarmDone(room.handle, !alarmFails);
  }
  void hibernate(const Room& room, HibernateMode mode) override {
    calls.push_back("hibernate");
    if (mode == HibernateMode::kIdle && awaiting.count(room.handle)) return;
    if (room.hibernate) {
      for (auto& [conn, socket] : host->findRoom(room.handle)->sockets) {
        host->stash(conn, "meta" + std::to_string(conn));
      }
    }
    host->roomHibernated(room.handle);
  }
  Result<void> prepareCode(const CodeBundle& next) override {
    calls.push_back("prepare " + next.code);
    if (next.code.find("throw") != std::string::npos) return makeError("the bundle threw");
    candidate = next.code;
    return {};
  }
  void commitCode() override {
    calls.push_back("commit");
    if (candidate) serving = *candidate;
    candidate.reset();
  }
  void abandonCode() override { candidate.reset(); }
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
    auto session =
        std::make_shared<http::Session>(std::move(server), std::string(), http::Limits{},
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
  EXPECT_EQ(host->metrics().party("main").handlerTimeouts, 1u);
  EXPECT_EQ(host->metrics().party("main").roomResets, 1u);
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

// The figures /metrics reads: plain counters on the shard, gauges filled in by metrics().
TEST_F(RoomHostTest, CountsConnectionsMessagesAndHibernationForMetrics) {
  HostConfig config;
  config.hibernateAfterMs = 500;
  make(config);
  code.hibernating = true;
  tcp::socket client = connectSocket("m");
  EXPECT_EQ(readSome(client).rfind("HTTP/1.1 101", 0), 0u);
  PartyCounters p = host->metrics().party("main");
  EXPECT_EQ(p.roomsActivated, 1u);
  EXPECT_EQ(p.roomsActive, 1u);
  EXPECT_EQ(p.connectionsOpened, 1u);
  EXPECT_EQ(p.connectionsOpen, 1u);

  sendText(client, "hi");
  for (int i = 0; i < 100 && code.calls.back() != "message hi"; ++i) io.run_one();
  poll();
  EXPECT_NE(readSome(client).find("echo hi"), std::string::npos);
  ShardMetrics m = host->metrics();
  p = m.party("main");
  EXPECT_EQ(p.messagesIn, 1u);
  EXPECT_EQ(p.bytesIn, 2u);
  EXPECT_EQ(p.messagesOut, 1u);
  std::string sent = "echo hi from " + code.roomCode[host->findRoom(RoomKey{"main", "m"})->handle];
  EXPECT_EQ(p.bytesOut, sent.size() + 2) << "the echo and its 2-byte frame header";
  EXPECT_GE(m.handlerSeconds.count(), 2u) << "create, connect and the message ran";
  EXPECT_EQ(host->findRoom(RoomKey{"main", "m"})->messagesIn, 1u);

  clock.advance(500);
  host->sweep();
  p = host->metrics().party("main");
  EXPECT_EQ(p.roomsHibernated, 1u);
  EXPECT_EQ(p.roomsAsleep, 1u);
  EXPECT_EQ(p.roomsActive, 0u);
  EXPECT_EQ(p.connectionsOpen, 1u) << "a hibernated room's sockets stay open";
  EXPECT_EQ(p.roomsActivated, 1u) << "reading the figures wakes nothing";
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
  PartyCounters p = host->metrics().party("main");
  EXPECT_EQ(p.alarmRuns, 2u);
  EXPECT_EQ(p.alarmRetries, 1u);
  EXPECT_EQ(p.alarmFailures, 0u);
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
  EXPECT_EQ(host->metrics().party("main").slowConsumerCloses, 1u);
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

// ---- code updates ---------------------------------------------------------------------------

class CodeUpdateTest : public RoomHostTest {
 protected:
  // Everything the server wrote to `client` so far, without blocking.
  std::string readAvailable(tcp::socket& client) {
    std::string all;
    client.non_blocking(true);
    for (int i = 0; i < 50; ++i) {
      poll();
      boost::system::error_code ec;
      std::string chunk(65536, '\0');
      std::size_t n = client.read_some(asio::buffer(chunk), ec);
      if (n) all.append(chunk.data(), n);
      if (ec && ec != asio::error::would_block) break;
    }
    client.non_blocking(false);
    return all;
  }

  // The close code of the first close frame in `bytes` (unmasked, from the server), or 0.
  static int closeCode(const std::string& bytes) {
    std::size_t at = bytes.find(std::string("\x88", 1));
    if (at == std::string::npos || bytes.size() < at + 4) return 0;
    return (static_cast<unsigned char>(bytes[at + 2]) << 8) |
           static_cast<unsigned char>(bytes[at + 3]);
  }

  // Sends `text` and returns what the server wrote back once the loop has run.
  std::string roundTrip(tcp::socket& client, std::string_view text) {
    sendText(client, text);
    return readAvailable(client);
  }

  Result<void> update(const std::string& code) {
    return host->updateCode(CodeBundle{code, "party.js", "{}", {"main"}});
  }
};

TEST_F(CodeUpdateTest, HibernatedSocketsStayOpenAndTheirNextMessageRunsTheNewCode) {
  HostConfig config;
  config.hibernateAfterMs = 500;
  make(config);
  code.hibernating = true;
  tcp::socket a = connectSocket("h");
  tcp::socket b = connectSocket("h");
  EXPECT_EQ(readAvailable(a).rfind("HTTP/1.1 101", 0), 0u);
  EXPECT_EQ(readAvailable(b).rfind("HTTP/1.1 101", 0), 0u);
  clock.advance(500);
  host->sweep();
  ASSERT_TRUE(host->findRoom(1)->hibernated);

  ASSERT_TRUE(update("v2").ok());
  EXPECT_EQ(host->roomsOnOldCode(), 0u) << "a hibernated room has no code to move";
  EXPECT_EQ(readAvailable(a), "") << "a hibernated socket got something from the update";
  EXPECT_EQ(host->socketCount(), 2u);

  std::string reply = roundTrip(a, "hi");
  EXPECT_NE(reply.find("echo hi from v2"), std::string::npos) << reply;
  EXPECT_EQ(code.creates, 2);
  ASSERT_TRUE(code.lastRestore.has_value());
  EXPECT_EQ(code.lastRestore->size(), 2u) << "both sockets come back with what they carried";
  EXPECT_NE(roundTrip(b, "yo").find("echo yo from v2"), std::string::npos);
  EXPECT_EQ(closeCode(readAvailable(a)), 0);
}

TEST_F(CodeUpdateTest, ALiveHibernatingRoomMovesAtItsIdlePointWithItsSockets) {
  code.hibernating = true;
  tcp::socket client = connectSocket("h");
  readAvailable(client);
  Room* room = host->findRoom(1);
  ASSERT_FALSE(room->hibernated);
  code.awaiting.insert(room->handle);  // a handler awaits something: not idle

  ASSERT_TRUE(update("v2").ok());
  poll();
  EXPECT_FALSE(room->hibernated);
  EXPECT_EQ(host->roomsOnOldCode(), 1u);
  // Its sockets' events still reach the object they belong to, on the old code.
  EXPECT_NE(roundTrip(client, "a").find("echo a from v1"), std::string::npos);
  // A request for it waits until it has moved, then runs on the new code.
  ask("h", "r");
  poll();
  EXPECT_TRUE(answers.empty()) << "a request reached a room that waits to move";

  code.awaiting.clear();  // the handler settled: the next sweep finds it idle
  host->sweep();
  EXPECT_TRUE(room->hibernated);
  EXPECT_EQ(host->roomsOnOldCode(), 0u);
  EXPECT_EQ(host->socketCount(), 1u) << "its socket stays open";
  poll();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 200u);
  EXPECT_EQ(answers[0].body, "r from v2");
  ASSERT_TRUE(code.lastRestore.has_value());
  ASSERT_EQ(code.lastRestore->size(), 1u);
  EXPECT_EQ((*code.lastRestore)[0].second, "meta" + std::to_string(code.conns[0]))
      << "the socket's id, tags, state and attachment come back";
  std::string reply = roundTrip(client, "b");
  EXPECT_NE(reply.find("echo b from v2"), std::string::npos) << reply;
  EXPECT_EQ(closeCode(reply), 0);
}

TEST_F(CodeUpdateTest, AnIdleLiveHibernatingRoomMovesAtOnce) {
  code.hibernating = true;
  tcp::socket client = connectSocket("h");
  readAvailable(client);
  ASSERT_TRUE(update("v2").ok());
  EXPECT_TRUE(host->findRoom(1)->hibernated);
  EXPECT_NE(roundTrip(client, "x").find("echo x from v2"), std::string::npos);
}

TEST_F(CodeUpdateTest, APlainRoomFinishesItsRequestThenClosesItsSocketsWith1012) {
  tcp::socket client = connectSocket("p");
  readAvailable(client);
  code.answerRequests = false;
  ask("p", "slow");  // in flight across the update
  poll();
  ASSERT_EQ(code.reqs.size(), 1u);

  ASSERT_TRUE(update("v2").ok());
  EXPECT_EQ(closeCode(readAvailable(client)), 0) << "closed before its request finished";
  EXPECT_EQ(host->roomsOnOldCode(), 1u);

  // The handler answers (after an await, in a run of its own), on the old code.
  host->turn().run(0, [&] {
    http::Response r;
    r.status = 200;
    r.body = "done";
    host->respond(code.reqs[0], std::move(r));
  });
  std::string bytes = readAvailable(client);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 200u) << "an in-flight request finishes, not 503";
  EXPECT_EQ(closeCode(bytes), 1012);
  EXPECT_EQ(host->socketCount(), 0u);
  EXPECT_EQ(host->roomsOnOldCode(), 0u);

  code.answerRequests = true;
  ask("p", "again");
  poll();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1].body, "again from v2");
}

TEST_F(CodeUpdateTest, AnUpgradeForARoomWaitingToMoveConnectsOnTheNewCode) {
  tcp::socket first = connectSocket("p");
  readAvailable(first);
  code.answerRequests = false;
  ask("p", "slow");
  poll();
  ASSERT_TRUE(update("v2").ok());
  tcp::socket second = connectSocket("p");
  EXPECT_EQ(code.conns.size(), 1u) << "an upgrade reached a room that waits to move";
  EXPECT_EQ(readAvailable(second), "");

  host->turn().run(0, [&] {
    http::Response r;
    r.status = 200;
    host->respond(code.reqs[0], std::move(r));
  });
  EXPECT_EQ(closeCode(readAvailable(first)), 1012);
  EXPECT_EQ(readAvailable(second).rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_EQ(code.conns.size(), 2u);
  EXPECT_EQ(code.roomCode[host->findRoom(1)->handle], "v2");
  EXPECT_NE(roundTrip(second, "m").find("echo m from v2"), std::string::npos);
}

TEST_F(CodeUpdateTest, APlainRoomStillBusyPastTheDelayIsReset) {
  HostConfig config;
  config.codeUpdateDelayMs = 1000;
  make(config);
  tcp::socket client = connectSocket("p");
  readAvailable(client);
  code.answerRequests = false;
  ask("p", "stuck");
  poll();
  ASSERT_TRUE(update("v2").ok());
  clock.advance(999);
  host->sweep();
  EXPECT_EQ(closeCode(readAvailable(client)), 0);
  EXPECT_TRUE(answers.empty());
  clock.advance(1);
  host->sweep();
  std::string bytes = readAvailable(client);
  EXPECT_EQ(closeCode(bytes), 1012);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 503u);
}

TEST_F(CodeUpdateTest, AHibernatingRoomStillBusyPastTheDelayKeepsItsSockets) {
  HostConfig config;
  config.codeUpdateDelayMs = 1000;
  make(config);
  code.hibernating = true;
  tcp::socket client = connectSocket("h");
  readAvailable(client);
  code.awaiting.insert(1);
  ASSERT_TRUE(update("v2").ok());
  clock.advance(1000);
  host->sweep();
  EXPECT_TRUE(host->findRoom(1)->hibernated);
  EXPECT_EQ(host->socketCount(), 1u);
  std::string reply = roundTrip(client, "z");
  EXPECT_NE(reply.find("echo z from v2"), std::string::npos) << reply;
  EXPECT_EQ(closeCode(reply), 0);
}

TEST_F(CodeUpdateTest, ABundleThatFailsToLoadChangesNothing) {
  code.hibernating = true;
  tcp::socket hib = connectSocket("h");
  readAvailable(hib);
  code.hibernating = false;
  tcp::socket plain = connectSocket("p");
  readAvailable(plain);
  const int creates = code.creates;
  const std::size_t calls = code.calls.size();

  auto r = update("throw at load");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("threw"), std::string::npos);
  EXPECT_EQ(host->codeVersion(), 0u);
  EXPECT_EQ(host->roomsOnOldCode(), 0u);
  poll();
  ASSERT_EQ(code.calls.size(), calls + 1) << "something ran besides the load";
  EXPECT_EQ(code.calls.back(), "prepare throw at load");
  EXPECT_EQ(host->socketCount(), 2u);
  EXPECT_NE(roundTrip(hib, "a").find("echo a from v1"), std::string::npos);
  EXPECT_NE(roundTrip(plain, "b").find("echo b from v1"), std::string::npos);
  EXPECT_EQ(code.creates, creates);
  ask("new", "n");
  poll();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].body, "n from v1") << "a new room starts on the code that serves";
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
  EXPECT_EQ(
      (static_cast<unsigned char>(closeFrame[2]) << 8) | static_cast<unsigned char>(closeFrame[3]),
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
  EXPECT_EQ((static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]),
            1013);
  EXPECT_EQ(host->socketCount(), 1u);
  EXPECT_EQ(code.conns.size(), 1u) << "the room's code never saw the refused socket";
  EXPECT_EQ(host->limitRefusals(), 1u);
}

// ---- the output gate with an asynchronous commit (PostgresStorage's mode) ----

// SQLite underneath, but commits complete only when the test says so, as a commit over the
// network would; `fenced` is what the storage reports for a refused commit.
struct AsyncStorage final : storage::Storage {
  std::unique_ptr<storage::SqliteStorage> db = std::move(*storage::SqliteStorage::openInMemory());
  std::vector<std::function<void(Result<void>)>> inFlight;
  std::vector<storage::RoomKey> fenced;

  Result<std::optional<std::string>> get(const RoomKey& r, std::string_view k) override {
    return db->get(r, k);
  }
  Result<std::vector<storage::Entry>> getMany(const RoomKey& r,
                                              const std::vector<std::string>& k) override {
    return db->getMany(r, k);
  }
  Result<void> put(const RoomKey& r, std::string_view k, std::string_view v) override {
    return db->put(r, k, v);
  }
  Result<bool> del(const RoomKey& r, std::string_view k) override { return db->del(r, k); }
  Result<std::vector<storage::Entry>> list(const RoomKey& r,
                                           const storage::ListOptions& o) override {
    return db->list(r, o);
  }
  Result<void> deleteAll(const RoomKey& r) override { return db->deleteAll(r); }
  Result<std::optional<std::int64_t>> getAlarm(const RoomKey& r) override {
    return db->getAlarm(r);
  }
  Result<void> setAlarm(const RoomKey& r, std::int64_t t) override { return db->setAlarm(r, t); }
  Result<void> deleteAlarm(const RoomKey& r) override { return db->deleteAlarm(r); }
  Result<std::vector<storage::Alarm>> allAlarms() override { return db->allAlarms(); }
  Result<void> commit() override { return db->commit(); }
  void rollback() override { db->rollback(); }
  bool dirty() const override { return db->dirty(); }
  bool commitsAsync() const override { return true; }
  void commitAsync(std::function<void(Result<void>)> done) override {
    (void)db->commit();  // later writes go into the next one
    inFlight.push_back(std::move(done));
  }
  std::vector<storage::RoomKey> fencedRooms() override { return fenced; }
  // Completes the oldest commit in flight.
  void complete(Result<void> r) {
    auto done = std::move(inFlight.front());
    inFlight.erase(inFlight.begin());
    done(std::move(r));
  }
};

class AsyncCommitTest : public RoomHostTest {
 protected:
  void SetUp() override {
    auto store = std::make_unique<AsyncStorage>();
    async = store.get();
    storage = store.get();
    host = std::make_unique<RoomHost>(io, std::move(store), code, HostConfig{}, clock);
    code.host = host.get();
    ASSERT_TRUE(host->start().ok());
  }
  AsyncStorage* async = nullptr;
};

TEST_F(AsyncCommitTest, OutputWaitsForTheCommitOfTheWritesBeforeItAndRunsGoOnMeanwhile) {
  tcp::socket client = connectSocket("b");
  EXPECT_NE(readSome(client).find("101"), std::string::npos) << "no commit in flight: at once";

  ask("a", "v1");
  poll();
  ASSERT_EQ(async->inFlight.size(), 1u);
  EXPECT_TRUE(answers.empty()) << "held until the commit is done";
  ask("a", "v2");  // runs while the commit is in flight; its write goes into the next one
  sendText(client, "hi");
  poll();
  EXPECT_EQ(code.calls.back(), "message hi");
  EXPECT_TRUE(answers.empty());
  EXPECT_EQ(async->inFlight.size(), 1u) << "one commit at a time";
  EXPECT_EQ(client.available(), 0u) << "the echo may have read what the commit in flight wrote";

  async->complete({});
  poll();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].body, "v1 from v1");
  ASSERT_EQ(async->inFlight.size(), 1u) << "the second commit started";
  EXPECT_EQ(client.available(), 0u) << "the echo came after v2's write: it waits for its commit";

  async->complete({});
  poll();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1].body, "v2 from v1");
  EXPECT_NE(readSome(client).find("echo hi"), std::string::npos);
}

TEST_F(AsyncCommitTest, AFencedRoomsHeldOutputNeverLeavesAndTheRoomIsDropped) {
  tcp::socket client = connectSocket("a");
  (void)readSome(client);  // the 101
  ask("a", "stale");
  sendText(client, "hi");
  poll();
  ASSERT_EQ(async->inFlight.size(), 1u);
  async->fenced = {RoomKey{"main", "a"}};
  async->complete(makeError("the owner of room(s) main/a changed"));
  poll();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 503u);
  EXPECT_EQ(answers[0].body.find("stale"), std::string::npos);
  EXPECT_EQ(host->roomCount(), 0u) << "dropped from this node";
  std::string got = readSome(client);
  EXPECT_EQ(got.find("echo hi"), std::string::npos) << "its frames were discarded";
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(static_cast<unsigned char>(got[0]), 0x88) << "a close frame";
  EXPECT_EQ((static_cast<unsigned char>(got[2]) << 8) | static_cast<unsigned char>(got[3]), 1012);
}

}  // namespace
}  // namespace partyd::party
