#include "cli/admin_client.h"

#include <boost/json.hpp>

#include "base/random.h"

#ifndef PARTYD_VERSION
#define PARTYD_VERSION "0.0.0"
#endif

namespace partyd::cli {

namespace json = boost::json;

AdminClient::AdminClient(AdminTarget target)
    : target_(std::move(target)), http_(std::make_unique<net::HttpClient>(io_)) {
  while (!target_.server.empty() && target_.server.back() == '/') target_.server.pop_back();
}

AdminClient::~AdminClient() {
  http_.reset();
}

std::string errorText(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (auto* e = v.as_object().if_contains("error"); e && e->is_string()) {
      return std::string(e->as_string());
    }
  }
  std::string t = body;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r')) t.pop_back();
  if (t.size() > 500) t = t.substr(0, 500) + "…";
  return t;
}

Result<AdminReply> AdminClient::call(const std::string& method, const std::string& path,
                                     std::string body,
                                     std::vector<std::pair<std::string, std::string>> headers) {
  net::FetchRequest req;
  req.method = method;
  req.url = target_.server + path;
  req.headers = std::move(headers);
  req.headers.emplace_back("accept", "application/json");
  req.headers.emplace_back("user-agent", std::string("partyd/") + PARTYD_VERSION);
  if (!target_.token.empty()) req.headers.emplace_back("authorization", "Bearer " + target_.token);
  req.body = std::move(body);
  req.timeout = std::chrono::milliseconds(300'000);  // a deploy bundles and loads on the server
  req.redirect = net::FetchRequest::Redirect::kManual;
  std::optional<Result<net::FetchResponse>> answer;
  http_->fetch(std::move(req), [&answer](Result<net::FetchResponse> r) { answer = std::move(r); });
  while (!answer) {
    if (io_.stopped()) io_.restart();
    io_.run_one();
  }
  if (!*answer) {
    return makeError("cannot reach the partyd admin API at " + target_.server + " (" +
                     answer->error().message +
                     "): is `partyd serve --admin` running there? Set it with --server or "
                     "PARTYD_SERVER.");
  }
  net::FetchResponse& r = **answer;
  if (r.status == 401 || r.status == 403) {
    return makeError("the admin API at " + target_.server + " refused the token (" +
                     std::to_string(r.status) +
                     "): pass the server's --admin-token with --token, --token-file, "
                     "PARTYD_TOKEN or PARTYD_TOKEN_FILE");
  }
  if (r.status < 200 || r.status >= 300) {
    return makeError(errorText(r.body) + " (" + std::to_string(r.status) + " from " +
                     target_.server + ")");
  }
  return AdminReply{r.status, std::move(r.body)};
}

std::pair<std::string, std::string> Form::encode() const {
  std::string boundary = "----partyd" + randomUuid();
  std::string out;
  for (const auto& [name, value] : fields) {
    out += "--" + boundary + "\r\n";
    out += "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n";
    out += value;
    out += "\r\n";
  }
  out += "--" + boundary + "--\r\n";
  return {"multipart/form-data; boundary=" + boundary, std::move(out)};
}

}  // namespace partyd::cli
