// parseDotenv reads the text of a .env file the way the npm `dotenv` package (v16, which
// `partykit dev` uses) does: KEY=VALUE lines, an optional `export ` prefix, `#` comments, and
// values in '...', "..." or `...` quotes that may span lines; in double quotes \n and \r become
// line breaks. It reads no files and never fails: lines it cannot read are skipped, as dotenv skips
// them, and reported as warnings so that the user sees the typo.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace partyd::project {

struct Dotenv {
  // In file order; a key that appears twice keeps its last value, in its first place.
  std::vector<std::pair<std::string, std::string>> vars;
  // "<displayName>:<line>: ..." for each line that was skipped.
  std::vector<std::string> warnings;
};

Dotenv parseDotenv(std::string_view text, std::string_view displayName);

}  // namespace partyd::project
