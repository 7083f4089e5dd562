#include "net/geoip.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

namespace partyd::net {

namespace ip = boost::asio::ip;

struct GeoIp::Db {
  MMDB_s mmdb{};
  bool open = false;
  ~Db() {
    if (open) MMDB_close(&mmdb);
  }
};

namespace {

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// One value of a record, by path (MMDB_aget_value), when it has the expected kind.
std::optional<std::string> getString(MMDB_entry_s& entry, const char* const* path) {
  MMDB_entry_data_s data;
  if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING) {
    return std::nullopt;
  }
  return std::string(data.utf8_string, data.data_size);
}

std::optional<double> getNumber(MMDB_entry_s& entry, const char* const* path) {
  MMDB_entry_data_s data;
  if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data) return std::nullopt;
  switch (data.type) {
    case MMDB_DATA_TYPE_DOUBLE:
      return data.double_value;
    case MMDB_DATA_TYPE_FLOAT:
      return data.float_value;
    case MMDB_DATA_TYPE_UINT16:
      return data.uint16;
    case MMDB_DATA_TYPE_UINT32:
      return data.uint32;
    case MMDB_DATA_TYPE_INT32:
      return data.int32;
    case MMDB_DATA_TYPE_UINT64:
      return static_cast<double>(data.uint64);
    default:
      return std::nullopt;
  }
}

// An integer field (asn, metro_code): only the unsigned kinds, never a double to cast.
std::optional<std::uint64_t> getUnsigned(MMDB_entry_s& entry, const char* const* path) {
  MMDB_entry_data_s data;
  if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data) return std::nullopt;
  switch (data.type) {
    case MMDB_DATA_TYPE_UINT16:
      return data.uint16;
    case MMDB_DATA_TYPE_UINT32:
      return data.uint32;
    case MMDB_DATA_TYPE_UINT64:
      return data.uint64;
    default:
      return std::nullopt;
  }
}

bool getBool(MMDB_entry_s& entry, const char* const* path) {
  MMDB_entry_data_s data;
  return MMDB_aget_value(&entry, &data, path) == MMDB_SUCCESS && data.has_data &&
         data.type == MMDB_DATA_TYPE_BOOLEAN && data.boolean;
}

struct Fields {
  bool geo = false, network = false;
  std::optional<std::string> country, continent, city, region, regionCode, metroCode, postalCode,
      latitude, longitude, timezone;
  bool eu = false;
  std::optional<std::uint64_t> asn;
  std::optional<std::string> asOrganization;
};

std::string coordinate(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.5f", v);
  return buf;
}

template <typename T>
void fill(std::optional<T>& field, std::optional<T> value) {
  if (!field && value) field = std::move(value);
}

// What one record has; fields an earlier database gave are kept.
void read(MMDB_entry_s& e, Fields& f) {
  static const char* const kCountry[] = {"country", "iso_code", nullptr};
  static const char* const kRegistered[] = {"registered_country", "iso_code", nullptr};
  static const char* const kEu[] = {"country", "is_in_european_union", nullptr};
  static const char* const kContinent[] = {"continent", "code", nullptr};
  static const char* const kCity[] = {"city", "names", "en", nullptr};
  static const char* const kRegion[] = {"subdivisions", "0", "names", "en", nullptr};
  static const char* const kRegionCode[] = {"subdivisions", "0", "iso_code", nullptr};
  static const char* const kMetro[] = {"location", "metro_code", nullptr};
  static const char* const kPostal[] = {"postal", "code", nullptr};
  static const char* const kLat[] = {"location", "latitude", nullptr};
  static const char* const kLon[] = {"location", "longitude", nullptr};
  static const char* const kTz[] = {"location", "time_zone", nullptr};
  static const char* const kAsn[] = {"autonomous_system_number", nullptr};
  static const char* const kAsOrg[] = {"autonomous_system_organization", nullptr};

  std::optional<std::string> country = getString(e, kCountry);
  if (!country) country = getString(e, kRegistered);
  fill(f.country, std::move(country));
  fill(f.continent, getString(e, kContinent));
  fill(f.city, getString(e, kCity));
  fill(f.region, getString(e, kRegion));
  fill(f.regionCode, getString(e, kRegionCode));
  if (auto m = getUnsigned(e, kMetro)) fill(f.metroCode, std::optional(std::to_string(*m)));
  fill(f.postalCode, getString(e, kPostal));
  auto lat = getNumber(e, kLat);
  auto lon = getNumber(e, kLon);
  if (lat && lon) {
    fill(f.latitude, std::optional(coordinate(*lat)));
    fill(f.longitude, std::optional(coordinate(*lon)));
  }
  fill(f.timezone, getString(e, kTz));
  f.eu = f.eu || getBool(e, kEu);
  fill(f.asn, getUnsigned(e, kAsn));
  fill(f.asOrganization, getString(e, kAsOrg));
  f.geo =
      f.country || f.continent || f.city || f.region || f.latitude || f.timezone || f.postalCode;
  f.network = f.asn || f.asOrganization;
}

void member(std::string& out, const char* name, const std::optional<std::string>& v) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += name;
  out += "\":";
  if (v) {
    appendJsonString(out, *v);
  } else {
    out += "null";
  }
}

}  // namespace

Result<std::shared_ptr<const GeoIp>> GeoIp::open(const std::vector<std::filesystem::path>& files) {
  std::shared_ptr<GeoIp> geo(new GeoIp());
  for (const auto& path : files) {
    auto db = std::make_unique<Db>();
    int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db->mmdb);
    if (status != MMDB_SUCCESS) {
      std::string why = MMDB_strerror(status);
      if (status == MMDB_IO_ERROR && errno != 0) why += ": " + std::string(std::strerror(errno));
      return makeError("--geoip " + path.string() + ": " + why);
    }
    db->open = true;
    geo->dbs_.push_back(std::move(db));
  }
  return std::shared_ptr<const GeoIp>(std::move(geo));
}

GeoIp::~GeoIp() = default;

std::string GeoIp::lookup(const ip::address& address) const {
  sockaddr_storage ss{};
  if (address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    auto b = address.to_v4().to_bytes();
    std::memcpy(&sin->sin_addr, b.data(), b.size());
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    auto b = address.to_v6().to_bytes();
    std::memcpy(&sin6->sin6_addr, b.data(), b.size());
  }
  Fields f;
  bool found = false;
  for (const auto& db : dbs_) {
    int error = 0;
    MMDB_lookup_result_s r =
        MMDB_lookup_sockaddr(&db->mmdb, reinterpret_cast<const sockaddr*>(&ss), &error);
    // An IPv6 address in an IPv4-only database, or a corrupt tree: no record here.
    if (error != MMDB_SUCCESS || !r.found_entry) continue;
    found = true;
    read(r.entry, f);
  }
  if (!found || (!f.geo && !f.network)) return "";
  std::string out = "{";
  if (f.geo) {
    member(out, "country", f.country);
    member(out, "isEUCountry", f.eu ? std::optional<std::string>("1") : std::nullopt);
    member(out, "continent", f.continent);
    member(out, "city", f.city);
    member(out, "region", f.region);
    member(out, "regionCode", f.regionCode);
    member(out, "metroCode", f.metroCode);
    member(out, "postalCode", f.postalCode);
    member(out, "latitude", f.latitude);
    member(out, "longitude", f.longitude);
    member(out, "timezone", f.timezone);
  }
  if (f.network) {
    if (out.size() > 1) out += ',';
    out += "\"asn\":";
    out += std::to_string(f.asn.value_or(0));
    member(out, "asOrganization",
           std::optional<std::string>(f.asOrganization.value_or(std::string())));
  }
  out += '}';
  return out;
}

}  // namespace partyd::net
