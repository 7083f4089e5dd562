// AdminClient is the client side of `partyd serve`'s admin API for partyd's own verbs (deploy,
// list, info, delete, rollback, env, tail): the same routes and bodies the partykit CLI sends
// (../shared/DEPLOY-API.md), made synchronously on a private io_context. It turns what can go
// wrong (no server, a refused token, an unknown project) into messages a person can act on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "net/http_client.h"

namespace partyd::cli {

struct AdminTarget {
  std::string server;  // http://HOST:PORT of `partyd serve --admin`
  std::string token;   // its --admin-token (may be empty for a loopback admin without one)
};

struct AdminReply {
  unsigned status = 0;
  std::string body;
};

class AdminClient {
 public:
  explicit AdminClient(AdminTarget target);
  ~AdminClient();

  // One request to `path` (from the API's root, e.g. "/parties/team/name"). A 2xx answer is
  // returned; any other status, or no answer at all, is an error whose message says why (the
  // server's own "error" text for a 4xx, what to check for a 401 or a refused connection).
  Result<AdminReply> call(const std::string& method, const std::string& path, std::string body = {},
                          std::vector<std::pair<std::string, std::string>> headers = {});

  const AdminTarget& target() const { return target_; }
  boost::asio::io_context& io() { return io_; }

 private:
  AdminTarget target_;
  boost::asio::io_context io_;
  std::unique_ptr<net::HttpClient> http_;
};

// A multipart/form-data body (RFC 7578) of text fields, in order, and its content type.
struct Form {
  std::vector<std::pair<std::string, std::string>> fields;
  std::pair<std::string, std::string> encode() const;  // (content type, body)
};

// The "error" string of a JSON error body, else the body itself (trimmed, cut short).
std::string errorText(const std::string& body);

}  // namespace partyd::cli
