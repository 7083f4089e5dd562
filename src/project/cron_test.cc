#include "project/cron.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "project/test_support.h"

namespace partyd::project {
namespace {

// Expected epoch seconds below were computed independently with Python's datetime, e.g.
// python3 -c 'from datetime import *;
// print(int(datetime(2026,3,14,10,7,30,tzinfo=timezone.utc).timestamp()))'

constexpr std::int64_t kSat20260314At100730 = 1773482850;  // 2026-03-14T10:07:30Z, a Saturday

CronSchedule parseOk(std::string_view expr) {
  Result<CronSchedule> schedule = CronSchedule::parse(expr);
  if (!schedule) ADD_FAILURE() << "parse(\"" << expr << "\"): " << schedule.error().message;
  return schedule ? *schedule : *CronSchedule::parse("* * * * *");
}

std::string parseError(std::string_view expr) {
  Result<CronSchedule> schedule = CronSchedule::parse(expr);
  if (schedule) return "<parsed>";
  return schedule.error().message;
}

// The first `count` fire times after `after`.
std::vector<std::int64_t> fires(const CronSchedule& schedule, std::int64_t after, int count) {
  std::vector<std::int64_t> out;
  for (int i = 0; i < count; ++i) {
    std::optional<std::int64_t> at = schedule.next(after);
    if (!at) break;
    out.push_back(*at);
    after = *at;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// next()
// ---------------------------------------------------------------------------------------------

TEST(CronSchedule, EveryMinuteFiresAtTheNextWholeMinute) {
  CronSchedule every = parseOk("* * * * *");
  EXPECT_EQ(every.next(kSat20260314At100730), 1773482880);  // 10:08:00
  // Strictly after: a whole minute moves on to the following one.
  EXPECT_EQ(every.next(1773482880), 1773482940);
  EXPECT_EQ(every.next(1773482879), 1773482880);
}

TEST(CronSchedule, EveryFifteenMinutesFiresOnTheQuarterHour) {
  CronSchedule quarter = parseOk("*/15 * * * *");
  EXPECT_EQ(quarter.next(kSat20260314At100730), 1773483300);  // 10:15
  EXPECT_EQ(quarter.next(1773485100), 1773486000);            // 10:45 -> 11:00
}

TEST(CronSchedule, DailyAtMidnightFiresAtTheNextUtcMidnight) {
  CronSchedule daily = parseOk("0 0 * * *");
  EXPECT_EQ(daily.next(kSat20260314At100730), 1773532800);  // 2026-03-15T00:00Z
  EXPECT_EQ(daily.next(1773532800), 1773532800 + 86400);
}

TEST(CronSchedule, WeekdaysOnlySkipsTheWeekend) {
  CronSchedule weekdays = parseOk("30 9 * * MON-FRI");
  // Friday 2026-03-13 09:30 fires, then the weekend is skipped to Monday 2026-03-16 09:30.
  EXPECT_EQ(weekdays.next(1773394200 - 1), 1773394200);
  EXPECT_EQ(weekdays.next(1773394200), 1773653400);
  EXPECT_EQ(weekdays.next(kSat20260314At100730), 1773653400);
}

TEST(CronSchedule, FirstOfMonthCrossesMonthEndsYearEndsAndLeapFebruary) {
  CronSchedule monthly = parseOk("0 0 1 * *");
  EXPECT_EQ(monthly.next(1828828800), 1830297600);  // 2027-12-15 -> 2028-01-01
  EXPECT_EQ(monthly.next(1832932800), 1832976000);  // 2028-01-31 12:00 -> 2028-02-01
  // February 2028 has 29 days: 2028-02-01 -> 2028-03-01 (29 days later).
  EXPECT_EQ(monthly.next(1832976000), 1835481600);
  EXPECT_EQ(1835481600 - 1832976000, 29 * 86400);
}

TEST(CronSchedule, LeapDayFindsTheNextFebruaryTwentyNinth) {
  CronSchedule leapDay = parseOk("0 0 29 2 *");
  EXPECT_EQ(leapDay.next(kSat20260314At100730), 1835395200);  // 2028-02-29
  EXPECT_EQ(leapDay.next(1835395200), 1961625600);            // 2032-02-29
}

TEST(CronSchedule, ImpossibleDateGivesNullopt) {
  EXPECT_EQ(parseOk("0 0 30 2 *").next(kSat20260314At100730), std::nullopt);
  EXPECT_EQ(parseOk("0 0 31 4,6,9,11 *").next(kSat20260314At100730), std::nullopt);
}

TEST(CronSchedule, SearchStopsAfterFiveYears) {
  // 2100 is not a leap year: from 2099-03-01 the next leap day, 2104-02-29, is just within five
  // years, but from 2096-03-01 it is eight years away.
  EXPECT_EQ(parseOk("0 0 29 2 *").next(4076006400), 4233686400);
  EXPECT_EQ(parseOk("0 0 29 2 *").next(3981398400), std::nullopt);
}

TEST(CronSchedule, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // Mondays 03-16, 03-23, 03-30, then Wednesday 04-01 because it is the 1st.
  EXPECT_EQ(fires(parseOk("0 0 1 * MON"), kSat20260314At100730, 4),
            (std::vector<std::int64_t>{1773619200, 1774224000, 1774828800, 1775001600}));
}

TEST(CronSchedule, StarredDayFieldLeavesTheChoiceToTheOtherField) {
  // `*` in day-of-month: only Mondays. `*` in day-of-week: only the 1st.
  EXPECT_EQ(parseOk("0 0 * * MON").next(1774828800), 1774828800 + 7 * 86400);
  EXPECT_EQ(parseOk("0 0 1 * *").next(1773619200), 1775001600);
}

TEST(CronSchedule, SevenAndZeroAreBothSunday) {
  // 2026-03-15 is a Sunday.
  EXPECT_EQ(parseOk("0 12 * * 7").next(kSat20260314At100730), 1773576000);
  EXPECT_EQ(parseOk("0 12 * * 0").next(kSat20260314At100730), 1773576000);
  EXPECT_EQ(parseOk("0 12 * * SUN").next(kSat20260314At100730), 1773576000);
  // 5-7 is Friday to Sunday: Saturday noon today, then Sunday noon.
  EXPECT_EQ(fires(parseOk("0 12 * * 5-7"), kSat20260314At100730, 2),
            (std::vector<std::int64_t>{1773489600, 1773576000}));
}

TEST(CronSchedule, MonthAndDayNamesAreCaseInsensitive) {
  // Noon on weekend days of January and July: Saturday 2026-07-04, then Sunday 2026-07-05.
  EXPECT_EQ(fires(parseOk("0 12 * JAN,jul sat,Sun"), kSat20260314At100730, 2),
            (std::vector<std::int64_t>{1783166400, 1783252800}));
}

TEST(CronSchedule, ListsRangesAndStepsCombine) {
  // Minutes {5, 10, 15, 20, 50}, hours {0, 6, 12, 18}: from 10:07 the next is 12:05.
  EXPECT_EQ(fires(parseOk("5,10-20/5,50 */6 * * *"), kSat20260314At100730, 6),
            (std::vector<std::int64_t>{1773489900, 1773490200, 1773490500, 1773490800, 1773492600,
                                       1773511500}));
  // `a/n` means `a-max/n`: 50 and 55 past the hour.
  EXPECT_EQ(fires(parseOk("50/5 10 * * *"), kSat20260314At100730, 2),
            (std::vector<std::int64_t>{1773485400, 1773485700}));
}

TEST(CronSchedule, MacrosExpandToTheirExpressions) {
  EXPECT_EQ(parseOk("@yearly").next(kSat20260314At100730), 1798761600);    // 2027-01-01
  EXPECT_EQ(parseOk("@annually").next(kSat20260314At100730), 1798761600);  // 2027-01-01
  EXPECT_EQ(parseOk("@monthly").next(kSat20260314At100730), 1775001600);   // 2026-04-01
  EXPECT_EQ(parseOk("@weekly").next(kSat20260314At100730), 1773532800);    // Sun 2026-03-15
  EXPECT_EQ(parseOk("@daily").next(kSat20260314At100730), 1773532800);
  EXPECT_EQ(parseOk("@midnight").next(kSat20260314At100730), 1773532800);
  EXPECT_EQ(parseOk("@HOURLY").next(kSat20260314At100730), 1773486000);  // 11:00
  EXPECT_EQ(parseOk("@hourly").expression(), "@hourly");
}

TEST(CronSchedule, ToleratesExtraWhitespaceBetweenAndAroundFields) {
  CronSchedule spaced = parseOk("  */15 \t *  *   * *\n");
  EXPECT_EQ(spaced.expression(), "*/15 \t *  *   * *");
  EXPECT_EQ(spaced.next(kSat20260314At100730), 1773483300);
}

TEST(CronSchedule, WorksBeforeTheEpoch) {
  EXPECT_EQ(parseOk("* * * * *").next(-30), 0);  // 1969-12-31T23:59:30Z -> 1970-01-01T00:00Z
  EXPECT_EQ(parseOk("0 0 * * THU").next(-86400 * 3), 0);  // 1970-01-01 was a Thursday
}

TEST(CronSchedule, GivesNulloptOutsideYearsOneToNineThousandNineHundredNinetyNine) {
  EXPECT_EQ(parseOk("* * * * *").next(253402300740 - 1), 253402300740);  // 9999-12-31 23:59
  EXPECT_EQ(parseOk("* * * * *").next(253402300740), std::nullopt);
  EXPECT_EQ(parseOk("* * * * *").next(INT64_MAX), std::nullopt);
  EXPECT_EQ(parseOk("* * * * *").next(INT64_MIN), std::nullopt);
}

// A minute-by-minute reference built on std::chrono's calendar, for a spread of expressions:
// next() must agree with it everywhere.
bool inList(const std::vector<int>& list, int v) {
  for (int x : list) {
    if (x == v) return true;
  }
  return false;
}

struct Reference {
  std::vector<int> minutes, hours, daysOfMonth, months, daysOfWeek;
  bool either;
  bool matches(std::int64_t unixSeconds) const {
    using namespace std::chrono;
    sys_seconds t{seconds{unixSeconds}};
    sys_days day = floor<days>(t);
    year_month_day ymd{day};
    hh_mm_ss hms{t - day};
    int weekday = static_cast<int>(year_month_weekday{day}.weekday().c_encoding());
    bool dom = inList(daysOfMonth, static_cast<int>(static_cast<unsigned>(ymd.day())));
    bool dow = inList(daysOfWeek, weekday);
    return inList(minutes, static_cast<int>(hms.minutes().count())) &&
           inList(hours, static_cast<int>(hms.hours().count())) &&
           inList(months, static_cast<int>(static_cast<unsigned>(ymd.month()))) &&
           (either ? (dom || dow) : (dom && dow));
  }
};

std::vector<int> span(int low, int high, int step = 1) {
  std::vector<int> out;
  for (int v = low; v <= high; v += step) out.push_back(v);
  return out;
}

TEST(CronSchedule, AgreesWithAMinuteByMinuteReference) {
  struct Case {
    std::string expr;
    Reference reference;
  };
  const std::vector<Case> cases = {
      {"*/7 1-3 * * *", {span(0, 59, 7), span(1, 3), span(1, 31), span(1, 12), span(0, 6), false}},
      {"0 */5 1,15,31 * *", {{0}, span(0, 23, 5), {1, 15, 31}, span(1, 12), span(0, 6), false}},
      {"15 3 * FEB,MAR 2-4", {{15}, {3}, span(1, 31), {2, 3}, {2, 3, 4}, false}},
      {"45 23 28-31 * 0", {{45}, {23}, span(28, 31), span(1, 12), {0}, true}},
      // 1/2 is 1-7/2, and 7 is Sunday.
      {"0 0 */10 * 1/2", {{0}, {0}, span(1, 31, 10), span(1, 12), {0, 1, 3, 5}, true}},
  };
  // 2028-02-20T00:00Z, so that the window crosses a leap day and a month end.
  const std::int64_t start = 1834963200;
  for (const Case& c : cases) {
    CronSchedule schedule = parseOk(c.expr);
    std::int64_t after = start - 17;
    for (int i = 0; i < 40; ++i) {
      std::optional<std::int64_t> got = schedule.next(after);
      std::optional<std::int64_t> want;
      for (std::int64_t t = (after / 60 + 1) * 60; t < start + 120LL * 86400; t += 60) {
        if (c.reference.matches(t)) {
          want = t;
          break;
        }
      }
      if (!want) break;
      ASSERT_EQ(got, want) << c.expr << " after " << after;
      after = *got + (i % 2 == 0 ? 0 : 29);  // alternately exactly on and mid-minute
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

TEST(CronSchedule, RejectsTheWrongNumberOfFields) {
  EXPECT_EQ(parseError("* * * *"),
            "cron \"* * * *\": expected 5 fields (minute hour day-of-month month day-of-week), "
            "got 4");
  EXPECT_CONTAINS(parseError("0 * * * * *"), "expected 5 fields");
}

TEST(CronSchedule, RejectsOutOfRangeValuesNamingTheFieldAndToken) {
  EXPECT_EQ(parseError("61 * * * *"), "cron \"61 * * * *\": minute 61 is out of range 0-59");
  EXPECT_EQ(parseError("0 24 * * *"), "cron \"0 24 * * *\": hour 24 is out of range 0-23");
  EXPECT_EQ(parseError("0 0 0 * *"), "cron \"0 0 0 * *\": day-of-month 0 is out of range 1-31");
  EXPECT_EQ(parseError("0 0 * 13 *"), "cron \"0 0 * 13 *\": month 13 is out of range 1-12");
  EXPECT_EQ(parseError("0 0 * * 8"), "cron \"0 0 * * 8\": day-of-week 8 is out of range 0-7");
  EXPECT_CONTAINS(parseError("0-99999999999 * * * *"), "minute 99999999999 is out of range 0-59");
}

TEST(CronSchedule, RejectsAStepOfZero) {
  EXPECT_EQ(parseError("*/0 * * * *"), "cron \"*/0 * * * *\": minute step 0 is out of range 1-60");
  EXPECT_CONTAINS(parseError("* * * * */"), "day-of-week step \"\" is not a number");
  EXPECT_CONTAINS(parseError("* */x * * *"), "hour step \"x\" is not a number");
}

TEST(CronSchedule, RejectsAReversedRange) {
  EXPECT_EQ(parseError("0 5-2 * * *"),
            "cron \"0 5-2 * * *\": hour range 5-2 is reversed (write the smaller value first)");
  EXPECT_CONTAINS(parseError("0 0 * * FRI-MON"), "day-of-week range FRI-MON is reversed");
}

TEST(CronSchedule, RejectsUnknownNames) {
  EXPECT_EQ(parseError("0 0 * FOO *"),
            "cron \"0 0 * FOO *\": month \"FOO\" is not a number or a name JAN-DEC");
  EXPECT_EQ(parseError("0 0 * * MONDAY"),
            "cron \"0 0 * * MONDAY\": day-of-week \"MONDAY\" is not a number or a name SUN-SAT");
  EXPECT_EQ(parseError("MON * * * *"), "cron \"MON * * * *\": minute \"MON\" is not a number");
  EXPECT_CONTAINS(parseError("0 0 * JAN MAR"), "day-of-week \"MAR\"");
  EXPECT_CONTAINS(parseError("-5 * * * *"), "minute has an empty value");
  EXPECT_CONTAINS(parseError("@often"), "unknown macro \"@often\"");
}

TEST(CronSchedule, RejectsEmptyExpressionsAndListItems) {
  EXPECT_EQ(parseError(""), "cron \"\": expression is empty");
  EXPECT_EQ(parseError(" \t "), "cron \"\": expression is empty");
  EXPECT_EQ(parseError("1,,2 * * * *"), "cron \"1,,2 * * * *\": minute has an empty list item");
  EXPECT_CONTAINS(parseError("* * * * 1,"), "day-of-week has an empty list item");
}

}  // namespace
}  // namespace partyd::project
