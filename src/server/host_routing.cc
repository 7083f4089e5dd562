#include "server/host_routing.h"

#include <cctype>

namespace partyd::server {

namespace {

std::string lowerHost(std::string_view host) {
  // [v6]:port, name:port, name
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    host = host.substr(0, close == std::string_view::npos ? host.size() : close + 1);
  } else if (std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> labels(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t dot = s.find('.', i);
    if (dot == std::string_view::npos) dot = s.size();
    out.push_back(s.substr(i, dot - i));
    i = dot + 1;
  }
  return out;
}

}  // namespace

std::string ProjectId::key() const {
  return team + "/" + name + (preview.empty() ? "" : "~" + preview);
}

bool validName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<ProjectId> parseProjectKey(std::string_view key) {
  std::size_t slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ProjectId id;
  id.team = std::string(key.substr(0, slash));
  std::string_view rest = key.substr(slash + 1);
  std::size_t tilde = rest.find('~');
  id.name = std::string(rest.substr(0, tilde));
  if (tilde != std::string_view::npos) {
    id.preview = std::string(rest.substr(tilde + 1));
    if (!validName(id.preview)) return std::nullopt;
  }
  if (!validName(id.team) || !validName(id.name)) return std::nullopt;
  return id;
}

std::optional<std::size_t> resolveHost(std::string_view host, std::string_view domain,
                                       const std::vector<RouteEntry>& projects,
                                       std::string_view defaultProject) {
  std::string h = lowerHost(host);
  auto same = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  };
  for (std::size_t i = 0; i < projects.size(); ++i) {
    if (!projects[i].domain.empty() && projects[i].id.preview.empty() &&
        same(projects[i].domain, h)) {
      return i;
    }
  }
  std::string d = lowerHost(domain);
  if (!d.empty() && h.size() > d.size() + 1 && h.compare(h.size() - d.size(), d.size(), d) == 0 &&
      h[h.size() - d.size() - 1] == '.') {
    auto parts = labels(std::string_view(h).substr(0, h.size() - d.size() - 1));
    ProjectId want;
    if (parts.size() == 2) {
      want = {std::string(parts[1]), std::string(parts[0]), ""};
    } else if (parts.size() == 3) {
      want = {std::string(parts[2]), std::string(parts[1]), std::string(parts[0])};
    } else {
      return std::nullopt;
    }
    for (std::size_t i = 0; i < projects.size(); ++i) {
      const ProjectId& id = projects[i].id;
      if (same(id.team, want.team) && same(id.name, want.name) && same(id.preview, want.preview)) {
        return i;
      }
    }
    return std::nullopt;  // a name under our domain that is not deployed
  }
  if (!defaultProject.empty()) {
    for (std::size_t i = 0; i < projects.size(); ++i) {
      if (projects[i].id.key() == defaultProject) return i;
    }
    return std::nullopt;
  }
  std::optional<std::size_t> only;
  for (std::size_t i = 0; i < projects.size(); ++i) {
    if (!projects[i].id.preview.empty()) continue;
    if (only) return std::nullopt;
    only = i;
  }
  return only;
}

}  // namespace partyd::server
