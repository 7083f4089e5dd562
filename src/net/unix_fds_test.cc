#include "net/unix_fds.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

namespace partyd::net {
namespace {

TEST(UnixFds, PassesDescriptorsWithTheirLine) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  UniqueFd a(pair[0]), b(pair[1]);
  int pipeFds[2];
  ASSERT_EQ(::pipe(pipeFds), 0);
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  ASSERT_TRUE(sendWithFds(a.get(), "FDS 1\n", {writeEnd.get()}));
  ASSERT_TRUE(sendLine(a.get(), "NEXT"));
  auto got = receiveLine(b.get(), 1000);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->line, "FDS 1");
  ASSERT_EQ(got->fds.size(), 1u);
  // The copy writes into the same pipe.
  ASSERT_EQ(::write(got->fds[0].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(readEnd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  auto next = receiveLine(b.get(), 1000);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->line, "NEXT");
  EXPECT_TRUE(next->fds.empty());
}

TEST(UnixFds, ReceiveTimesOutAndSeesEof) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  UniqueFd a(pair[0]), b(pair[1]);
  auto none = receiveLine(b.get(), 20);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no answer"), std::string::npos);
  a.reset();
  auto eof = receiveLine(b.get(), 1000);
  ASSERT_FALSE(eof);
  EXPECT_NE(eof.error().message.find("closed"), std::string::npos);
}

TEST(UnixFds, ListenRefusesALivePathAndReplacesAStaleOne) {
  auto dir = std::filesystem::temp_directory_path() / ("unix-fds-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "ctl.sock").string();
  auto first = listenUnix(path);
  ASSERT_TRUE(first) << first.error().message;
  auto second = listenUnix(path);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("another partyd"), std::string::npos);
  first->reset();  // the file stays, nobody answers
  auto third = listenUnix(path);
  EXPECT_TRUE(third) << third.error().message;
  auto conn = connectUnix(path);
  ASSERT_TRUE(conn);
  auto accepted = acceptUnix(third->get(), 1000);
  ASSERT_TRUE(accepted);
  EXPECT_TRUE(accepted->valid());
  EXPECT_FALSE(listenUnix(std::string(200, 'x')));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace partyd::net
