// Shared pieces of the workloads' JSON lines: the header every line starts with, and the failure
// line that replaces a result when a run broke (so that no number from it is ever tabulated).
#pragma once

#include <string>
#include <string_view>

#include "json_line.h"
#include "target.h"

namespace partyd::bench {

// resultLine starts a line with tool, workload, phase and the target's common parameters.
JsonLine resultLine(std::string_view workload, std::string_view phase, const Target& target);

// fail prints {"workload":..., "phase":..., "error":...} to stdout, the error to stderr, and
// returns exit code 1.
int fail(std::string_view workload, std::string_view phase, std::string_view error);

}  // namespace partyd::bench
