#include "flags.h"

#include <cstdio>
#include <cstdlib>

namespace partyd::bench {

namespace {

[[noreturn]] void badValue(const std::string& name, const std::string& value) {
  std::fprintf(stderr, "loadgen: --%s: not a number: '%s'\n", name.c_str(), value.c_str());
  std::exit(2);
}

}  // namespace

bool Flags::parse(int argc, char** argv, int first, std::string& error) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      error = "expected --flag, got '" + arg + "'";
      return false;
    }
    std::string name = arg.substr(2);
    std::string value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc && std::string(argv[i + 1]).compare(0, 2, "--") != 0) {
      value = argv[++i];
    } else {
      value = "1";
    }
    values_[name] = value;
  }
  return true;
}

std::string Flags::str(const std::string& name, const std::string& fallback) {
  used_.insert(name);
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int64_t Flags::integer(const std::string& name, int64_t fallback) {
  used_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  int64_t value = std::strtoll(it->second.c_str(), &end, 10);
  if (end == it->second.c_str() || *end != '\0') badValue(name, it->second);
  return value;
}

double Flags::number(const std::string& name, double fallback) {
  used_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  double value = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || *end != '\0') badValue(name, it->second);
  return value;
}

bool Flags::has(const std::string& name) {
  used_.insert(name);
  return values_.count(name) != 0;
}

std::vector<int64_t> Flags::integers(const std::string& name,
                                     const std::vector<int64_t>& fallback) {
  used_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::vector<int64_t> out;
  const char* p = it->second.c_str();
  while (*p != '\0') {
    char* end = nullptr;
    out.push_back(std::strtoll(p, &end, 10));
    if (end == p || (*end != ',' && *end != '\0')) badValue(name, it->second);
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

std::string Flags::unusedFlag() const {
  for (const auto& [name, value] : values_) {
    if (used_.count(name) == 0) return name;
  }
  return {};
}

}  // namespace partyd::bench
