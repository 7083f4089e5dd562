#include "cli/cli.h"

int main(int argc, char** argv) { return partyd::cli::run(argc, argv); }
