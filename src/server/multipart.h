// A multipart/form-data parser (RFC 7578) for the deploy API: the partykit CLI sends its bundle,
// vars and upload/* files as one form. It takes the whole body (the admin listener has already
// read it within its size limit) and returns the parts, or what is wrong with it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace partyd::server {

struct FormPart {
  std::string name;
  std::optional<std::string> filename;
  std::string contentType;
  std::string body;
};

// The boundary of a `multipart/form-data; boundary=...` content type, if it has one.
std::optional<std::string> multipartBoundary(std::string_view contentType);

// Every part of `body`, in order. An error for a body that does not follow the format: no first
// boundary, a part without a name or headers, or no closing boundary.
Result<std::vector<FormPart>> parseMultipart(std::string_view body, std::string_view boundary);

// The first part named `name`.
const FormPart* findPart(const std::vector<FormPart>& parts, std::string_view name);

}  // namespace partyd::server
