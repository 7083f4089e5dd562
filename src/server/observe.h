// What the admin listener shows about a running server (issue 11): GET /metrics (Prometheus
// text format, summed over the shards at scrape time), the room inspector's page at / and its
// JSON under /api/. Every figure is read on the shard that owns it (posted to its loop); reading
// never wakes a hibernated room or changes a room's state: storage is read from the shard's
// Storage, not through the room's code.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "net/sharded.h"
#include "party/edge.h"
#include "server/admin.h"

namespace partyd::server {

struct ObserveOptions {
  std::string project;  // the `project` label
  std::string version;  // partyd_build_info's
};

// One project the admin listener shows: its name (the `project` label; TEAM/NAME under serve)
// and its table of Edges, which a scrape reaches each shard of through invokeOn.
struct ObservedProject {
  std::string name;
  std::shared_ptr<net::Sharded<party::Edge>> edges;
};
// The projects live now, asked for on the admin thread at each request (Deployments::observed
// under serve; the one project under dev).
using ProjectSource = std::function<std::vector<ObservedProject>()>;

// Families of the node rather than of a project (cluster mode's), written after the projects'.
using NodeMetrics = std::function<void(metrics::TextWriter&)>;

// Adds GET /metrics, GET / (the inspector), GET /login (public: the page that sets the
// partyd_admin cookie) and GET /api/... to `admin`, over every project `projects` names.
void addObservabilityRoutes(AdminServer& admin, ProjectSource projects, std::string version,
                            NodeMetrics node = {});
// The same for one project; `shards` must outlive `admin`.
void addObservabilityRoutes(AdminServer& admin, net::Sharded<party::Edge>& shards,
                            ObserveOptions options);

// `partyd dev --admin ADDR` (ADDR: PORT or HOST:PORT; the host defaults to 127.0.0.1): an
// AdminServer without a token, with the routes above, started.
Result<std::unique_ptr<AdminServer>> startDevAdmin(const std::string& addr,
                                                   net::Sharded<party::Edge>& shards,
                                                   ObserveOptions options);

// The inspector's page and its login page (inspector_page.cc).
extern const char* const kInspectorHtml;
extern const char* const kLoginHtml;

}  // namespace partyd::server
