// GeoIp: Cloudflare's request.cf geography for a client address, from MaxMind-format databases
// (`--geoip FILE`, GeoIP2/GeoLite2 City or Country, and ASN), read with libmaxminddb. The files
// are mmapped once at start-up and shared read-only by every shard; a lookup walks the mmapped
// search tree and reads a handful of values, with no allocation but the JSON it returns.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace partyd::net {

class GeoIp {
 public:
  // Opens every file (a City or Country database and an ASN one may be given together); a
  // missing, unreadable or corrupt file is an error that names it.
  static Result<std::shared_ptr<const GeoIp>> open(const std::vector<std::filesystem::path>& files);
  ~GeoIp();
  GeoIp(const GeoIp&) = delete;
  GeoIp& operator=(const GeoIp&) = delete;

  // A JSON object of Cloudflare's field names for what the databases know of `address`, or ""
  // when none has a record for it (request.cf then stays partykit dev's placeholder). Two groups,
  // each filled only when some database had data for it:
  //  - geography: country, isEUCountry ("1" or null), continent, city, region, regionCode,
  //    metroCode, postalCode, latitude, longitude (strings, 5 decimals, as Cloudflare gives them)
  //    and timezone. A field the record lacks is null: Cloudflare leaves out what it does not
  //    know, and so does request.cf.
  //  - network: asn (a number) and asOrganization (a string, "" when unknown).
  // Thread-safe: the databases are only read.
  std::string lookup(const boost::asio::ip::address& address) const;

 private:
  struct Db;
  GeoIp() = default;
  std::vector<std::unique_ptr<Db>> dbs_;
};

}  // namespace partyd::net
