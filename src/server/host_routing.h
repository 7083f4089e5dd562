// Which deployed project a request's Host header names, the way PartyKit names deployments:
// `<name>.<team>.<domain>`, a preview `<preview>.<name>.<team>.<domain>`, a project's own
// `domain`, or else the default project (--default-project, or the only one deployed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace partyd::server {

struct ProjectId {
  std::string team;
  std::string name;
  std::string preview;  // empty: the production deploy

  // "team/name" or "team/name~preview": the key in maps, logs and --default-project.
  std::string key() const;
  bool operator==(const ProjectId&) const = default;
};

// Parses "team/name" or "team/name~preview".
std::optional<ProjectId> parseProjectKey(std::string_view key);

// Whether `s` may be a team, project or preview name: 1 to 64 of [a-z0-9_-] (also dots are
// refused, so a name is one DNS label and one path segment).
bool validName(std::string_view s);

struct RouteEntry {
  ProjectId id;
  std::string domain;  // its own `domain` from the deploy, or empty
};

// The index in `projects` that serves `host` (a Host header, with or without a port).
std::optional<std::size_t> resolveHost(std::string_view host, std::string_view domain,
                                       const std::vector<RouteEntry>& projects,
                                       std::string_view defaultProject);

}  // namespace partyd::server
