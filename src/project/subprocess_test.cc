#include "project/subprocess.h"

#include <gtest/gtest.h>

#include "project/test_support.h"

namespace partyd::project {
namespace {

TEST(Subprocess, CapturesStdoutAndStderrAndTheExitStatus) {
  auto run = runProcess({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, "/");
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->exitCode, 3);
  EXPECT_EQ(run->output, "out\nerr\n");
}

TEST(Subprocess, RunsInTheGivenDirectoryWithStdinClosed) {
  TempDir dir;
  auto run = runProcess({"/bin/sh", "-c", "pwd; cat; echo done"}, dir.path());
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->exitCode, 0);
  EXPECT_EQ(run->output, dir.path().string() + "\ndone\n");
}

TEST(Subprocess, ArgumentsAreNotInterpretedByAShell) {
  auto run = runProcess({"/bin/echo", "$HOME", "a b", "*"}, "/");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->output, "$HOME a b *\n");
}

TEST(Subprocess, ASignalShowsAs128PlusItsNumber) {
  auto run = runProcess({"/bin/sh", "-c", "kill -9 $$"}, "/");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->exitCode, 128 + 9);
}

TEST(Subprocess, AMissingProgramOrDirectoryIsAnError) {
  auto missing = runProcess({"/nonexistent/program"}, "/");
  ASSERT_FALSE(missing.ok());
  EXPECT_CONTAINS(missing.error().message, "could not start /nonexistent/program");
  auto badDir = runProcess({"/bin/true"}, "/nonexistent/dir");
  ASSERT_FALSE(badDir.ok());
  EXPECT_CONTAINS(badDir.error().message, "working directory /nonexistent/dir does not exist");
}

}  // namespace
}  // namespace partyd::project
