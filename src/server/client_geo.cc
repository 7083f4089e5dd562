#include "server/client_geo.h"

#include "server/project_host.h"

namespace partyd::server {

Result<ClientGeo> ClientGeo::open(const ClientGeoFlags& flags) {
  ClientGeo out;
  if (!flags.geoip.empty()) {
    auto opened = net::GeoIp::open(flags.geoip);
    if (!opened) return opened.error();
    out.geoip = std::move(*opened);
  }
  for (const auto& cidr : flags.trustedProxies) {
    auto parsed = net::parseCidr(cidr);
    if (!parsed) return makeError("--trusted-proxy: " + parsed.error().message);
    out.trustedProxies.add(*parsed);
  }
  return out;
}

void ClientGeo::applyTo(ProjectOptions& project) const {
  project.runtime.geoip = geoip;
  project.trustedProxies = trustedProxies;
}

}  // namespace partyd::server
