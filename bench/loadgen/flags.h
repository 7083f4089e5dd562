// Flags holds the `--name value` and `--name` arguments of one loadgen subcommand. Workloads read
// what they need with a default; unusedFlag() then names any flag nobody read (a typo must not
// silently run the default).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace partyd::bench {

class Flags {
 public:
  // parse reads argv[first..argc); on a malformed argument it returns false and sets `error`.
  bool parse(int argc, char** argv, int first, std::string& error);

  std::string str(const std::string& name, const std::string& fallback);
  int64_t integer(const std::string& name, int64_t fallback);
  double number(const std::string& name, double fallback);
  bool has(const std::string& name);
  // integers parses a comma-separated list such as "1,1000".
  std::vector<int64_t> integers(const std::string& name, const std::vector<int64_t>& fallback);

  // unusedFlag returns the first flag that was given but never read, or an empty string.
  std::string unusedFlag() const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

}  // namespace partyd::bench
