#include "storage/deferred_storage.h"

#include <gtest/gtest.h>

#include <thread>

#include "storage/sqlite_storage.h"

namespace partyd::storage {
namespace {

DeferredStorage::Opener inMemory(int* opens) {
  return [opens]() -> Result<std::unique_ptr<Storage>> {
    ++*opens;
    auto s = SqliteStorage::openInMemory();
    if (!s) return s.error();
    return std::unique_ptr<Storage>(std::move(*s));
  };
}

TEST(DeferredStorage, FailsWithAClearErrorWhileTheGateStaysShut) {
  auto gate = std::make_shared<StorageGate>();
  int opens = 0;
  DeferredStorage s(gate, inMemory(&opens), 20);
  auto alarms = s.allAlarms();
  ASSERT_TRUE(alarms);
  EXPECT_TRUE(alarms->empty());
  EXPECT_TRUE(s.commit());
  EXPECT_FALSE(s.dirty());
  auto got = s.get({"main", "r"}, "k");
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("not open yet"), std::string::npos);
  EXPECT_EQ(opens, 0);
}

TEST(DeferredStorage, AWaitingCallGoesOnOnceTheGateOpens) {
  auto gate = std::make_shared<StorageGate>();
  int opens = 0;
  bool beforeRan = false;
  gate->addBeforeOpen([&] { beforeRan = true; });
  DeferredStorage s(gate, inMemory(&opens), 10'000);
  std::thread opener([gate] { gate->open(); });
  ASSERT_TRUE(s.put({"main", "r"}, "k", "v"));  // waits for the gate, if it is not open yet
  opener.join();
  EXPECT_TRUE(beforeRan);
  EXPECT_TRUE(s.dirty());
  ASSERT_TRUE(s.commit());
  auto got = s.get({"main", "r"}, "k");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->value_or(""), "v");
  EXPECT_EQ(opens, 1);
}

}  // namespace
}  // namespace partyd::storage
