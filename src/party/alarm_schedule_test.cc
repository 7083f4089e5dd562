#include "party/alarm_schedule.h"

#include <gtest/gtest.h>

namespace partyd::party {

TEST(AlarmSchedule, AlarmsComeDueInTimeOrderAndOncePerRoom) {
  AlarmSchedule alarms;
  alarms.schedule({"main", "b"}, 200);
  alarms.schedule({"main", "a"}, 100);
  alarms.schedule({"main", "a"}, 300);  // replaces the earlier alarm of the same room
  EXPECT_EQ(alarms.next(), 200);
  EXPECT_EQ(alarms.timeOf({"main", "a"}), 300);
  EXPECT_TRUE(alarms.takeDue(150).empty());
  auto due = alarms.takeDue(1000);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].key.room, "b");
  EXPECT_EQ(due[1].key.room, "a");
  EXPECT_EQ(alarms.next(), std::nullopt);
}

TEST(AlarmSchedule, CancelledAlarmNeverFires) {
  AlarmSchedule alarms;
  alarms.schedule({"main", "a"}, 100);
  alarms.cancel({"main", "a"});
  EXPECT_TRUE(alarms.takeDue(1000).empty());
}

TEST(AlarmSchedule, ARetryRemembersTheStoredTime) {
  AlarmSchedule alarms;
  alarms.schedule({"main", "a"}, 5000, 100);
  auto due = alarms.takeDue(5000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].timeMs, 5000);
  EXPECT_EQ(due[0].storedMs, 100);
}

TEST(AlarmSchedule, RetriesBackOffExponentiallyFromTwoSeconds) {
  EXPECT_EQ(AlarmSchedule::retryDelayMs(0), 2000);
  EXPECT_EQ(AlarmSchedule::retryDelayMs(1), 4000);
  EXPECT_EQ(AlarmSchedule::retryDelayMs(5), 64000);
}

}  // namespace partyd::party
