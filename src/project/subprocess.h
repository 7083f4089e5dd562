// runProcess starts a program with posix_spawn (no shell, so no quoting problems), waits for it and
// returns its exit status with everything it wrote to stdout and stderr, interleaved as written.
// It is how the bundler runs esbuild. It blocks the calling thread until the child exits, so call
// it off any event loop.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"

namespace partyd::project {

struct ProcessResult {
  int exitCode = 0;    // the exit status, or 128 + signal number if a signal ended it
  std::string output;  // stdout and stderr together
};

// argv[0] must be a path to the program (no PATH search). stdin is /dev/null. The child inherits
// the environment. Fails only when the program cannot be started or waited for.
Result<ProcessResult> runProcess(const std::vector<std::string>& argv,
                                 const std::filesystem::path& workingDir);

}  // namespace partyd::project
