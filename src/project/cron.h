// CronSchedule is one parsed `crons` entry of partykit.json: a standard 5-field cron expression
// (minute hour day-of-month month day-of-week) as Cloudflare Workers accept it, and the search
// for the next time it fires. Times are UTC Unix seconds; the calendar math is done here
// (days-from-civil), so nothing depends on the local time zone. It owns no timers and runs no
// code: the server layer asks next() and arms its own timer.
//
// Accepted syntax, per field: numbers, `*`, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (which
// means `a-max/n`, as in Vixie cron), and lists `a,b,c` of any of these. Month names JAN-DEC and
// day names SUN-SAT are case-insensitive; day-of-week is 0-7, where 0 and 7 are both Sunday. When
// both day-of-month and day-of-week are restricted (neither is exactly `*`), a day matches if
// EITHER matches; otherwise both must match, so `*` leaves the decision to the other field. The
// macros @yearly @annually @monthly @weekly @daily @midnight @hourly stand for their usual
// expressions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace partyd::project {

class CronSchedule {
 public:
  // Errors name the expression, the field and the bad token, e.g.
  // `cron "61 * * * *": minute 61 is out of range 0-59`.
  static Result<CronSchedule> parse(std::string_view expr);

  // The first time strictly after `afterUnixSeconds` that matches (its seconds are always 0), or
  // nullopt if there is none within 5 years (e.g. "0 0 30 2 *"), or if the search would leave
  // the years 0001-9999.
  std::optional<std::int64_t> next(std::int64_t afterUnixSeconds) const;

  // The expression as given to parse(), without surrounding whitespace.
  std::string_view expression() const { return expression_; }

 private:
  // Whether a day must match both day fields, or either one (when both are restricted).
  enum class DayRule { kBoth, kEither };

  CronSchedule() = default;
  bool dayMatches(std::int64_t daysSinceEpoch, int dayOfMonth) const;

  std::string expression_;
  std::uint64_t minutes_ = 0;      // bits 0-59
  std::uint64_t hours_ = 0;        // bits 0-23
  std::uint64_t daysOfMonth_ = 0;  // bits 1-31
  std::uint64_t months_ = 0;       // bits 1-12
  std::uint64_t daysOfWeek_ = 0;   // bits 0-6, 0 is Sunday
  DayRule dayRule_ = DayRule::kBoth;
};

}  // namespace partyd::project
