#include "server/multipart.h"

#include <cctype>

namespace partyd::server {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `key` in a header's parameters (`form-data; name="code"; filename="x"`).
std::optional<std::string> headerParam(std::string_view header, std::string_view key) {
  std::size_t i = 0;
  while (i < header.size()) {
    std::size_t semi = header.find(';', i);
    if (semi == std::string_view::npos) return std::nullopt;
    i = semi + 1;
    while (i < header.size() && header[i] == ' ') ++i;
    std::size_t eq = header.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string name = lower(trim(header.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i++];
      }
      ++i;
    } else {
      std::size_t end = header.find(';', i);
      if (end == std::string_view::npos) end = header.size();
      value = std::string(trim(header.substr(i, end - i)));
      i = end;
    }
    if (name == key) return value;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> multipartBoundary(std::string_view contentType) {
  std::size_t semi = contentType.find(';');
  if (lower(trim(contentType.substr(0, semi))) != "multipart/form-data") return std::nullopt;
  auto b = headerParam(contentType, "boundary");
  if (!b || b->empty() || b->size() > 70) return std::nullopt;
  return b;
}

Result<std::vector<FormPart>> parseMultipart(std::string_view body, std::string_view boundary) {
  const std::string delim = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  std::size_t pos = body.find(delim);
  if (pos == std::string_view::npos) {
    return makeError("the multipart body has no boundary \"" + std::string(boundary) + "\"");
  }
  pos += delim.size();
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing boundary
    if (body.substr(pos, 2) != "\r\n") {
      return makeError("the multipart body is corrupt: a boundary is not followed by CRLF");
    }
    pos += 2;
    std::size_t headersEnd = body.find("\r\n\r\n", pos);
    if (headersEnd == std::string_view::npos) {
      return makeError("the multipart body is corrupt: a part's headers never end");
    }
    FormPart part;
    bool named = false;
    std::string_view headers = body.substr(pos, headersEnd - pos);
    while (!headers.empty()) {
      std::size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        return makeError("the multipart body is corrupt: a part header has no colon");
      }
      std::string name = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        if (lower(value.substr(0, value.find(';'))) != "form-data") {
          return makeError("the multipart body is corrupt: a part is not form-data");
        }
        if (auto n = headerParam(value, "name")) {
          part.name = *n;
          named = true;
        }
        part.filename = headerParam(value, "filename");
      } else if (name == "content-type") {
        part.contentType = std::string(value);
      }
    }
    if (!named) return makeError("the multipart body is corrupt: a part has no name");
    std::size_t dataStart = headersEnd + 4;
    std::size_t next = body.find("\r\n" + delim, dataStart);
    if (next == std::string_view::npos) {
      return makeError("the multipart body is corrupt or cut short: the part \"" + part.name +
                       "\" has no closing boundary");
    }
    part.body = std::string(body.substr(dataStart, next - dataStart));
    parts.push_back(std::move(part));
    pos = next + 2 + delim.size();
  }
}

const FormPart* findPart(const std::vector<FormPart>& parts, std::string_view name) {
  for (const auto& p : parts) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace partyd::server
