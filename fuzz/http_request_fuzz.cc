// libFuzzer target for the HTTP request path as http::Session reads it (src/http/session.cc):
// Boost.Beast's request_parser<string_body> with partyd's header and body limits (http::Limits),
// fed the way async_read feeds it (the bytes that have arrived, again after each need_more), with
// pipelined requests parsed from the bytes left over by the one before. Each request that parses
// is then taken apart as the session and the router do: keep_alive(), the method and target for
// the log line, and http/route.h's pathOf, routeParty and queryParam on the target. The route
// functions also get the raw input as a target, since hand-offs and tests call them on strings
// Beast never checked. It owns nothing but its checks.
//
// Input: byte 0 picks the limits (partyd's defaults, or small ones so that 431 and 413 are
// reachable) and bytes 1-3 seed the chunk sizes; the rest is the wire.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/route.h"
#include "http/session.h"

namespace {

namespace bhttp = boost::beast::http;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The route functions on one target, with what each promises.
void checkRoute(std::string_view target, std::string_view extraName) {
  const std::string_view path = partyd::http::pathOf(target);
  FUZZ_CHECK(startsWith(target, path));
  FUZZ_CHECK(path.find_first_of("?#") == std::string_view::npos);
  if (path.size() < target.size())
    FUZZ_CHECK(target[path.size()] == '?' || target[path.size()] == '#');

  if (auto route = partyd::http::routeParty(target)) {
    FUZZ_CHECK(!route->party.empty());
    FUZZ_CHECK(!route->room.empty());
    FUZZ_CHECK(route->room.find('/') == std::string::npos);
    FUZZ_CHECK(route->party.find('/') == std::string::npos);
    if (route->party == "main" && startsWith(path, "/party/")) {
      FUZZ_CHECK(startsWith(path.substr(7), route->room));
    } else {
      FUZZ_CHECK(startsWith(path, "/parties/" + route->party + "/" + route->room));
    }
  } else {
    // A non-empty room right after /party/ always routes.
    if (startsWith(path, "/party/") && path.size() > 7 && path[7] != '/') FUZZ_CHECK(false);
  }

  const bool hasQuery = target.find('?') != std::string_view::npos;
  for (std::string_view name : {std::string_view("_pk"), std::string_view("id"), extraName}) {
    auto value = partyd::http::queryParam(target, name);
    if (!hasQuery) FUZZ_CHECK(!value);
    // Decoding never grows the text.
    if (value) FUZZ_CHECK(value->size() < target.size());
  }
}

// What Session::onRead and Session::handle do with a parsed request, short of the handler.
void takeApart(bhttp::request<bhttp::string_body>& request, std::string_view extraName) {
  (void)request.keep_alive();
  std::string line(request.method_string());
  line += ' ';
  line.append(request.target().data(), request.target().size());
  FUZZ_CHECK(request.version() == 10 || request.version() == 11);
  for (const auto& field : request) {
    (void)field.name_string();
    (void)field.value();
  }
  (void)request[bhttp::field::upgrade];
  (void)request[bhttp::field::host];
  checkRoute(std::string_view(request.target().data(), request.target().size()), extraName);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  partyd::http::Limits limits;  // partyd's defaults, unless byte 0 asks for small ones
  if (data[0] & 1) {
    limits.maxHeaderBytes = 16 + (data[0] >> 1) * 8;
    limits.maxBodyBytes = (data[0] >> 4) * 16;
  }
  Rng rng{0x9E3779B97F4A7C15ULL ^
          (std::uint64_t{data[1]} << 16 | std::uint64_t{data[2]} << 8 | data[3])};
  const std::string_view wire(reinterpret_cast<const char*>(data + 4), size - 4);

  // A query key from the input, so queryParam has a name that is present.
  std::string_view extraName;
  if (std::size_t q = wire.find('?'); q != std::string_view::npos) {
    extraName = wire.substr(q + 1, wire.find_first_of("=& #\r\n", q + 1) - (q + 1));
  }
  checkRoute(wire.substr(0, wire.find_first_of("\r\n")), extraName);

  // The session's buffer: bytes arrived so far are [consumed, arrived).
  std::size_t consumed = 0;
  std::size_t arrived = 0;
  auto arrive = [&] {
    std::size_t n = rng.next() % 4 == 0 ? 1 + rng.next() % 8 : 1 + rng.next() % 2048;
    arrived = std::min(wire.size(), arrived + n);
  };
  for (int requests = 0; requests < 16; ++requests) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(limits.maxHeaderBytes);
    parser.body_limit(limits.maxBodyBytes);
    boost::system::error_code ec;
    for (;;) {
      if (consumed == arrived) {
        if (arrived == wire.size()) {
          // The peer closed. A request cut short is an error; no request at all is a clean end.
          if (parser.got_some()) {
            parser.put_eof(ec);
            FUZZ_CHECK(ec || parser.is_done());
          }
          return 0;
        }
        arrive();
      }
      ec = {};
      const std::size_t used =
          parser.put(boost::asio::buffer(wire.data() + consumed, arrived - consumed), ec);
      FUZZ_CHECK(used <= arrived - consumed);
      consumed += used;
      if (!ec && used == 0 && !parser.is_done()) {
        // No progress and no error: wait for more, as async_read would.
        if (arrived == wire.size()) return 0;
        arrive();
        continue;
      }
      if (ec == bhttp::error::need_more) {
        if (arrived == wire.size()) {
          // Nothing more will come: what the parser holds is all there is.
          if (consumed == arrived) continue;
          parser.put_eof(ec);
          return 0;
        }
        arrive();
        continue;
      }
      // Any other error ends the session with 431, 413 or 400.
      if (ec) return 0;
      if (parser.is_done()) break;
    }
    bhttp::request<bhttp::string_body> request = parser.release();
    FUZZ_CHECK(request.body().size() <= limits.maxBodyBytes);
    takeApart(request, extraName);
    if (!request.keep_alive()) return 0;
  }
  return 0;
}
