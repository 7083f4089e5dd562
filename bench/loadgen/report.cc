#include "report.h"

#include <cstdio>

namespace partyd::bench {

JsonLine resultLine(std::string_view workload, std::string_view phase, const Target& target) {
  JsonLine line;
  line.add("tool", "loadgen").add("workload", workload).add("phase", phase);
  line.add("port", target.port).add("party", target.party).add("threads", target.threads);
  line.add("sources", target.sources);
  return line;
}

int fail(std::string_view workload, std::string_view phase, std::string_view error) {
  JsonLine line;
  line.add("tool", "loadgen").add("workload", workload).add("phase", phase).add("error", error);
  line.print();
  std::fprintf(stderr, "loadgen %.*s: FAILED: %.*s\n", static_cast<int>(workload.size()),
               workload.data(), static_cast<int>(error.size()), error.data());
  return 1;
}

}  // namespace partyd::bench
