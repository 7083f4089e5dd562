// ClientGeo: what `--geoip FILE` and `--trusted-proxy CIDR` give a project, for `partyd dev` and
// `partyd serve` alike: the opened MaxMind databases that fill request.cf (net/geoip.h) and the
// proxies whose X-Forwarded-For names the client (net/client_address.h). cli/ collects the flags
// into ClientGeoFlags; dev_loop.cc and serve.cc open them once, before any build, and give every
// project the same ClientGeo (applyTo).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/client_address.h"
#include "net/geoip.h"

namespace partyd::server {

struct ProjectOptions;

struct ClientGeoFlags {
  std::vector<std::filesystem::path> geoip;  // --geoip: MaxMind-format databases for request.cf
  std::vector<std::string> trustedProxies;   // --trusted-proxy: CIDRs whose X-Forwarded-For counts
};

struct ClientGeo {
  std::shared_ptr<const net::GeoIp> geoip;  // null without --geoip
  net::TrustedProxies trustedProxies;

  // Opens the databases and parses the CIDRs; the error names the flag and the file or value.
  static Result<ClientGeo> open(const ClientGeoFlags& flags);
  // Gives a project (serve: each deployed one, and DIR's) the databases and the proxies.
  void applyTo(ProjectOptions& project) const;
};

}  // namespace partyd::server
