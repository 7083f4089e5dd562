// partyd's own deploy verbs: `partyd deploy|list|info|delete|rollback|env|tail`, thin clients of
// `partyd serve`'s admin API (admin_client.h) for users without Node. `partyd deploy` bundles the
// project as `partyd dev` does (project/) and sends the form `partykit deploy` sends.
#pragma once

#include <string_view>
#include <vector>

namespace partyd::cli {

// Whether `verb` is one of the verbs below.
bool isDeployVerb(std::string_view verb);
// Runs one; returns the process exit status (0, 1 for a failure, 2 for bad usage).
int runDeployVerb(std::string_view verb, const std::vector<std::string_view>& args);

extern const char* const kDeployVerbsUsage;

}  // namespace partyd::cli
