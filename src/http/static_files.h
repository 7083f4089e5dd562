// StaticFiles serves a project's static assets (`serve` in partykit.json) the way PartyKit's dev
// asset server does: the path is percent-decoded, "/" and "/dir/" mean index.html, a single-page
// app falls back to /index.html for navigations, and every hit carries a content type, an ETag
// and caching headers. Paths that leave the root are refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "http/session.h"

namespace partyd::http {

struct StaticOptions {
  std::filesystem::path root;
  bool singlePageApp = false;
  std::optional<std::int64_t> browserTtlSeconds;
};

class StaticFiles {
 public:
  explicit StaticFiles(StaticOptions options) : options_(std::move(options)) {}

  // The asset for a GET or HEAD of `target`, or nothing when there is none.
  std::optional<Response> serve(const Request& request) const;
  // Reads an asset by path (for lobby.assets.fetch); nothing when it does not exist.
  std::optional<Response> serveFile(std::string_view path) const;
  // The 404 answer: /404.html with status 404 when the project has one, else "Not found".
  Response notFound() const;

 private:
  std::optional<std::filesystem::path> resolve(std::string_view decodedPath) const;
  std::optional<Response> load(const std::filesystem::path& file, const Request* request) const;

  StaticOptions options_;
};

std::string_view contentTypeFor(const std::filesystem::path& file);

}  // namespace partyd::http
