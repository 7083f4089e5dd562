// What the admin listener shows about a running server (issue 11): GET /metrics (Prometheus
// text format, summed over the shards at scrape time), the room inspector's page at / and its
// JSON under /api/. Every figure is read on the shard that owns it (posted to its loop); reading
// never wakes a hibernated room or changes a room's state: storage is read from the shard's
// Storage, not through the room's code.
#pragma once

#include <memory>
#include <string>

#include "net/sharded.h"
#include "party/edge.h"
#include "server/admin.h"

namespace partyd::server {

struct ObserveOptions {
  std::string project;  // the `project` label
  std::string version;  // partyd_build_info's
};

// Adds GET /metrics, GET / (the inspector), GET /login (public: the page that sets the
// partyd_admin cookie) and GET /api/... to `admin`. `shards` must outlive it.
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
