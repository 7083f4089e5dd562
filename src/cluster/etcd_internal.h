// The insides of Etcd shared by etcd.cc (connections, unary calls) and watch.cc (the watch
// stream): not for use outside src/cluster/etcd*.cc and watch.cc.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd.h"

namespace partyd::cluster {

struct Endpoint {
  std::string url;
  std::string host;
  std::uint16_t port = 0;
  std::optional<boost::asio::ip::address> address;  // when host is an IP literal
};

struct Conn {
  explicit Conn(boost::asio::io_context& io) : stream(io) {}
  void close() {
    boost::system::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    stream.close();
  }
  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;
  std::size_t endpoint = 0;
  bool reused = false;
};

struct Etcd::Impl : std::enable_shared_from_this<Etcd::Impl> {
  using OpenCallback = std::function<void(Result<std::shared_ptr<Conn>>)>;
  using JsonCallback = std::function<void(Result<boost::json::value>)>;
  struct Call;

  Impl(boost::asio::io_context& io, EtcdOptions options, std::vector<Endpoint> endpoints,
       std::optional<boost::asio::ip::address> source);

  void shutdown();
  // A connected socket to the current endpoint, or to the next ones when it refuses.
  void open(std::chrono::steady_clock::time_point deadline, OpenCallback done);
  // POSTs `body` to `path`; the reply's JSON object, or the error etcd (or the wire) gave.
  void call(std::string path, boost::json::object body, JsonCallback done);

  void openFrom(std::size_t first, std::size_t attempt,
                std::chrono::steady_clock::time_point deadline, std::string errors,
                OpenCallback done);
  void track(const std::shared_ptr<Conn>& conn);
  void endpointFailed(std::size_t ep);
  void start(const std::shared_ptr<Call>& c);
  void exchange(const std::shared_ptr<Call>& c, const std::shared_ptr<Conn>& conn);
  void transportError(const std::shared_ptr<Call>& c, const std::shared_ptr<Conn>& conn,
                      boost::system::error_code ec);
  void finish(const std::shared_ptr<Call>& c, Result<boost::json::value> result);
  static Result<boost::json::value> parseReply(unsigned status, std::string_view body);

  boost::asio::io_context& io;
  EtcdOptions options;
  std::vector<Endpoint> endpoints;
  std::optional<boost::asio::ip::address> source;
  std::size_t current = 0;
  bool closed = false;
  std::vector<std::shared_ptr<Conn>> idle;
  std::vector<std::weak_ptr<Conn>> active;
};

std::int64_t int64Field(const boost::json::object& o, std::string_view name);
bool boolField(const boost::json::object& o, std::string_view name);
const boost::json::object* objectField(const boost::json::object& o, std::string_view name);
Result<KeyValue> parseKv(const boost::json::object& o);
Result<RangeResult> parseRange(const boost::json::object& o);
std::string b64(std::string_view bytes);
void addRange(boost::json::object& o, std::string_view key, Etcd::Range kind);

}  // namespace partyd::cluster
