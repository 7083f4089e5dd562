#include "http/static_files.h"

#include <sys/stat.h>

#include <boost/beast/http/field.hpp>
#include <fstream>
#include <sstream>

#include "base/strings.h"
#include "http/route.h"

namespace partyd::http {

namespace fs = std::filesystem;
namespace bhttp = boost::beast::http;

std::string_view contentTypeFor(const fs::path& file) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".xml", "application/xml"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".avif", "image/avif"},
      {".ico", "image/x-icon"},
      {".wasm", "application/wasm"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".otf", "font/otf"},
      {".mp3", "audio/mpeg"},
      {".mp4", "video/mp4"},
      {".webm", "video/webm"},
      {".pdf", "application/pdf"},
      {".zip", "application/zip"},
  };
  std::string ext = asciiLower(file.extension().string());
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return type;
  }
  return "application/octet-stream";
}

std::optional<fs::path> StaticFiles::resolve(std::string_view decoded) const {
  if (options_.root.empty() || decoded.empty() || decoded[0] != '/') return std::nullopt;
  if (decoded.find('\0') != std::string_view::npos) return std::nullopt;
  std::string rel(decoded.substr(1));
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  // Refuse any ".." segment rather than normalise it: a request never needs one.
  std::stringstream parts(rel);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part == "..") return std::nullopt;
  }
  // Only "/dir/" means dir/index.html; "/dir" is not an asset, as on PartyKit.
  fs::path file = options_.root / rel;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  return file;
}

std::optional<Response> StaticFiles::load(const fs::path& file, const Request* request) const {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  std::ostringstream tag;
  tag << '"' << std::hex << st.st_size << '-' << st.st_mtim.tv_sec << '-'
      << st.st_mtim.tv_nsec / 1000 << '"';
  Response r;
  r.headers.emplace_back("content-type", std::string(contentTypeFor(file)));
  r.headers.emplace_back("etag", tag.str());
  r.headers.emplace_back("access-control-allow-origin", "*");
  r.headers.emplace_back("cache-control",
                         options_.browserTtlSeconds
                             ? "public, max-age=" + std::to_string(*options_.browserTtlSeconds)
                             : std::string("no-cache"));
  if (request) {
    auto inm = (*request)[bhttp::field::if_none_match];
    if (!inm.empty() && std::string_view(inm.data(), inm.size()) == tag.str()) {
      r.status = 304;
      return r;
    }
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (request && request->method() == bhttp::verb::head) {
    r.headers.emplace_back("content-length", std::to_string(r.body.size()));
    r.body.clear();
  }
  return r;
}

std::optional<Response> StaticFiles::serve(const Request& request) const {
  if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
    return std::nullopt;
  }
  std::string_view target(request.target().data(), request.target().size());
  std::string path = percentDecode(target.substr(0, target.find_first_of("?#")));
  std::optional<Response> hit;
  if (auto file = resolve(path)) {
    hit = load(*file, &request);
  } else if (options_.singlePageApp) {
    auto mode = request["sec-fetch-mode"];
    if (std::string_view(mode.data(), mode.size()) == "navigate") {
      if (auto index = resolve("/index.html")) hit = load(*index, &request);
    }
  }
  if (hit) hit->asset = true;
  return hit;
}

std::optional<Response> StaticFiles::serveFile(std::string_view path) const {
  if (auto file = resolve(percentDecode(path))) return load(*file, nullptr);
  return std::nullopt;
}

Response StaticFiles::notFound() const {
  if (auto page = serveFile("/404.html")) {
    page->status = 404;
    return *page;
  }
  return textResponse(404, "Not found");
}

}  // namespace partyd::http
