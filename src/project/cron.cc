#include "project/cron.h"

#include <array>
#include <bit>
#include <cctype>
#include <vector>

namespace partyd::project {
namespace {

// ---------------------------------------------------------------------------------------------
// Calendar math (proleptic Gregorian, UTC), after Howard Hinnant's days_from_civil algorithms.
// ---------------------------------------------------------------------------------------------

struct CivilDate {
  std::int64_t year;
  int month;  // 1-12
  int day;    // 1-31
};

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t daysFromCivil(std::int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = floorDiv(year, 400);
  const std::int64_t yearOfEra = year - era * 400;
  const std::int64_t dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const std::int64_t dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

CivilDate civilFromDays(std::int64_t days) {
  days += 719468;
  const std::int64_t era = floorDiv(days, 146097);
  const std::int64_t dayOfEra = days - era * 146097;
  const std::int64_t yearOfEra =
      (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
  const std::int64_t dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const std::int64_t shiftedMonth = (5 * dayOfYear + 2) / 153;  // 0 is March
  const int day = static_cast<int>(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1);
  const int month = static_cast<int>(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9);
  return {yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

// 0 is Sunday; 1970-01-01 was a Thursday.
int weekdayFromDays(std::int64_t days) {
  const std::int64_t weekday = (days + 4) % 7;
  return static_cast<int>(weekday < 0 ? weekday + 7 : weekday);
}

// The lowest set bit of `mask` at or above `from`, or -1.
int nextBit(std::uint64_t mask, int from) {
  if (from >= 64) return -1;
  const std::uint64_t rest = mask >> from;
  return rest == 0 ? -1 : from + std::countr_zero(rest);
}

// Whole days searched by next(): 5 years, leap days included.
constexpr std::int64_t kSearchDays = 5 * 365 + 2;
// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
constexpr std::int64_t kEarliestUnixSeconds = -62135596800;
constexpr std::int64_t kLatestUnixSeconds = 253402300799;

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  // Three-letter names for min, min+1, ...; empty when the field takes numbers only.
  std::vector<std::string_view> names;
};

const std::array<FieldSpec, 5>& fieldSpecs() {
  static const std::array<FieldSpec, 5> specs = {{
      {"minute", 0, 59, {}},
      {"hour", 0, 23, {}},
      {"day-of-month", 1, 31, {}},
      {"month",
       1,
       12,
       {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
      // 7 is Sunday too; it is folded onto bit 0 after parsing.
      {"day-of-week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
  }};
  return specs;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Digits only; anything longer than 9 digits saturates so that the range check rejects it.
int parseDigits(std::string_view s) {
  if (s.size() > 9) return 1'000'000'000;
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

// Builds `cron "<expr>": <what>` errors.
class ErrorFor {
 public:
  explicit ErrorFor(std::string_view expr) : prefix_("cron \"" + std::string(expr) + "\": ") {}
  Error operator()(std::string_view what) const { return makeError(prefix_ + std::string(what)); }

 private:
  std::string prefix_;
};

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

Result<int> parseValue(std::string_view token, const FieldSpec& spec, const ErrorFor& error) {
  if (token.empty()) return error(std::string(spec.name) + " has an empty value");
  int value;
  if (allDigits(token)) {
    value = parseDigits(token);
  } else {
    int found = -1;
    for (std::size_t i = 0; i < spec.names.size(); ++i) {
      if (equalsIgnoreCase(token, spec.names[i])) found = spec.min + static_cast<int>(i);
    }
    if (found < 0) {
      if (spec.names.empty()) {
        return error(std::string(spec.name) + " " + quoted(token) + " is not a number");
      }
      return error(std::string(spec.name) + " " + quoted(token) + " is not a number or a name " +
                   std::string(spec.names.front()) + "-" + std::string(spec.names.back()));
    }
    value = found;
  }
  if (value < spec.min || value > spec.max) {
    return error(std::string(spec.name) + " " + std::string(token) + " is out of range " +
                 std::to_string(spec.min) + "-" + std::to_string(spec.max));
  }
  return value;
}

// One list item: `*`, `a`, `a-b`, each optionally followed by `/step`.
Result<std::uint64_t> parseItem(std::string_view item, const FieldSpec& spec,
                                const ErrorFor& error) {
  if (item.empty()) return error(std::string(spec.name) + " has an empty list item");
  std::string_view base = item;
  std::optional<int> step;
  if (std::size_t slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    std::string_view stepText = item.substr(slash + 1);
    const int span = spec.max - spec.min + 1;
    if (!allDigits(stepText)) {
      return error(std::string(spec.name) + " step " + quoted(stepText) + " is not a number");
    }
    step = parseDigits(stepText);
    if (*step < 1 || *step > span) {
      return error(std::string(spec.name) + " step " + std::string(stepText) +
                   " is out of range 1-" + std::to_string(span));
    }
  }
  int low;
  int high;
  if (base == "*") {
    low = spec.min;
    high = spec.max;
  } else if (std::size_t dash = base.find('-'); dash != std::string_view::npos) {
    Result<int> from = parseValue(base.substr(0, dash), spec, error);
    if (!from) return from.error();
    Result<int> to = parseValue(base.substr(dash + 1), spec, error);
    if (!to) return to.error();
    low = *from;
    high = *to;
    if (low > high) {
      return error(std::string(spec.name) + " range " + std::string(base) +
                   " is reversed (write the smaller value first)");
    }
  } else {
    Result<int> value = parseValue(base, spec, error);
    if (!value) return value.error();
    low = *value;
    high = step ? spec.max : *value;  // `a/n` means `a-max/n`
  }
  std::uint64_t bits = 0;
  for (int v = low; v <= high; v += step.value_or(1)) bits |= std::uint64_t{1} << v;
  return bits;
}

Result<std::uint64_t> parseField(std::string_view text, const FieldSpec& spec,
                                 const ErrorFor& error) {
  std::uint64_t bits = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    Result<std::uint64_t> itemBits = parseItem(item, spec, error);
    if (!itemBits) return itemBits.error();
    bits |= *itemBits;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return bits;
}

bool isSpace(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> splitFields(std::string_view s) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isSpace(s[i])) ++i;
    std::size_t begin = i;
    while (i < s.size() && !isSpace(s[i])) ++i;
    if (i > begin) fields.push_back(s.substr(begin, i - begin));
  }
  return fields;
}

std::optional<std::string_view> expandMacro(std::string_view macro) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kMacros = {{
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  }};
  for (const auto& [name, expansion] : kMacros) {
    if (equalsIgnoreCase(macro, name)) return expansion;
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CronSchedule
// ---------------------------------------------------------------------------------------------

Result<CronSchedule> CronSchedule::parse(std::string_view expr) {
  const std::string_view given = trim(expr);
  const ErrorFor error(given);
  if (given.empty()) return error("expression is empty");

  std::string_view body = given;
  if (given.front() == '@') {
    std::optional<std::string_view> expansion = expandMacro(given);
    if (!expansion) {
      return error("unknown macro " + quoted(given) +
                   " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
                   "@hourly)");
    }
    body = *expansion;
  }

  std::vector<std::string_view> fields = splitFields(body);
  if (fields.size() != 5) {
    return error("expected 5 fields (minute hour day-of-month month day-of-week), got " +
                 std::to_string(fields.size()));
  }

  std::array<std::uint64_t, 5> bits{};
  for (std::size_t i = 0; i < 5; ++i) {
    Result<std::uint64_t> field = parseField(fields[i], fieldSpecs()[i], error);
    if (!field) return field.error();
    bits[i] = *field;
  }
  constexpr std::uint64_t kSundayAsSeven = std::uint64_t{1} << 7;
  if (bits[4] & kSundayAsSeven) bits[4] = (bits[4] & ~kSundayAsSeven) | 1;

  CronSchedule schedule;
  schedule.expression_ = std::string(given);
  schedule.minutes_ = bits[0];
  schedule.hours_ = bits[1];
  schedule.daysOfMonth_ = bits[2];
  schedule.months_ = bits[3];
  schedule.daysOfWeek_ = bits[4];
  schedule.dayRule_ = (fields[2] != "*" && fields[4] != "*") ? DayRule::kEither : DayRule::kBoth;
  return schedule;
}

bool CronSchedule::dayMatches(std::int64_t daysSinceEpoch, int dayOfMonth) const {
  const bool domMatches = (daysOfMonth_ >> dayOfMonth) & 1;
  const bool dowMatches = (daysOfWeek_ >> weekdayFromDays(daysSinceEpoch)) & 1;
  return dayRule_ == DayRule::kEither ? (domMatches || dowMatches) : (domMatches && dowMatches);
}

std::optional<std::int64_t> CronSchedule::next(std::int64_t afterUnixSeconds) const {
  if (afterUnixSeconds < kEarliestUnixSeconds || afterUnixSeconds > kLatestUnixSeconds) {
    return std::nullopt;
  }
  const std::int64_t firstMinute = floorDiv(afterUnixSeconds, 60) + 1;
  std::int64_t day = floorDiv(firstMinute, 1440);
  int minuteOfDay = static_cast<int>(firstMinute - day * 1440);
  const std::int64_t lastDay = day + kSearchDays;
  CivilDate date = civilFromDays(day);

  while (day <= lastDay) {
    if (((months_ >> date.month) & 1) == 0) {
      // Skip the rest of a month that cannot match.
      date = date.month == 12 ? CivilDate{date.year + 1, 1, 1}
                              : CivilDate{date.year, date.month + 1, 1};
      day = daysFromCivil(date.year, date.month, 1);
      minuteOfDay = 0;
      continue;
    }
    if (dayMatches(day, date.day)) {
      const int hour = minuteOfDay / 60;
      int foundHour = nextBit(hours_, hour);
      int foundMinute = -1;
      if (foundHour == hour) {
        foundMinute = nextBit(minutes_, minuteOfDay % 60);
        if (foundMinute < 0) foundHour = nextBit(hours_, hour + 1);
      }
      if (foundHour >= 0 && foundMinute < 0) foundMinute = nextBit(minutes_, 0);
      if (foundHour >= 0) {
        const std::int64_t at = (day * 1440 + foundHour * 60 + foundMinute) * 60;
        if (at > kLatestUnixSeconds) return std::nullopt;
        return at;
      }
    }
    ++day;
    minuteOfDay = 0;
    date = civilFromDays(day);
  }
  return std::nullopt;
}

}  // namespace partyd::project
