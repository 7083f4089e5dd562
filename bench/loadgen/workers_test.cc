#include "workers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

namespace partyd::bench {
namespace {

using namespace std::chrono_literals;

// Every worker gets the same start time, and only once all are ready (the slow one included).
TEST(Workers, ReleaseAllTogetherAfterTheLastIsReady) {
  std::string error;
  const auto before = std::chrono::steady_clock::now();
  std::vector<WorkerExit> exits = runWorkers(
      3,
      [](WorkerLink& link) {
        if (link.index() == 2) std::this_thread::sleep_for(100ms);  // the slow connector
        const auto start = link.awaitStart();
        if (!start) return 3;
        return link.send(std::to_string(start->time_since_epoch().count())) ? 0 : 4;
      },
      5ms, error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(exits.size(), 3u);
  for (const WorkerExit& exit : exits) {
    EXPECT_TRUE(exit.ok()) << exit.status;
    EXPECT_EQ(exit.text, exits[0].text);
  }
  const auto start = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(std::stoll(exits[0].text)));
  EXPECT_GE(start - before, 100ms);
}

// A worker that fails before it is ready ends the run at once: the others, waiting at the
// barrier, are killed, and the error is the failed worker's first line.
TEST(Workers, FailureBeforeTheBarrierKillsTheOthers) {
  std::string error;
  const auto before = std::chrono::steady_clock::now();
  std::vector<WorkerExit> exits = runWorkers(
      3,
      [](WorkerLink& link) {
        if (link.index() == 1) {
          link.send("error worker 1: refused\n");
          return 1;
        }
        link.awaitStart();
        std::this_thread::sleep_for(10s);  // never reached: killed at the barrier
        return 0;
      },
      5ms, error);
  EXPECT_TRUE(exits.empty());
  EXPECT_EQ(error, "error worker 1: refused");
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
}

// A worker that fails during the run ends the others' runs too; its text reaches the parent.
TEST(Workers, FailureDuringTheRunKillsTheOthers) {
  std::string error;
  const auto before = std::chrono::steady_clock::now();
  std::vector<WorkerExit> exits = runWorkers(
      2,
      [](WorkerLink& link) {
        if (!link.awaitStart()) return 3;
        if (link.index() == 0) {
          link.send("error worker 0: lost a message\n");
          return 1;
        }
        std::this_thread::sleep_for(10s);
        return 0;
      },
      5ms, error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_FALSE(exits[0].ok());
  EXPECT_EQ(exits[0].text, "error worker 0: lost a message\n");
  EXPECT_FALSE(exits[1].ok());
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
}

}  // namespace
}  // namespace partyd::bench
