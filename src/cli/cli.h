// The partyd command line: `partyd dev [options] [DIR]`, `--version`, `--help`. Thin over
// server/: it parses flags, loads and bundles the project, and runs a Server until a signal.
#pragma once

namespace partyd::cli {

int run(int argc, char** argv);

}  // namespace partyd::cli
