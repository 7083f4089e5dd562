// HttpConn is one HTTP/1.1 keep-alive client connection on one Loops thread: it sends one GET at
// a time and parses the response (Content-Length or chunked). Events go to an HttpHandler.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "target.h"

namespace partyd::bench {

class HttpConn;

class HttpHandler {
 public:
  // onConnected runs once the TCP connection is up.
  virtual void onConnected(HttpConn& conn) = 0;
  // onResponse runs for each complete response; `now` is when its last read completed.
  virtual void onResponse(HttpConn& conn, int status, std::string_view body,
                          Clock::time_point now) = 0;
  virtual void onFailure(HttpConn& conn, std::string_view error) = 0;

 protected:
  ~HttpHandler() = default;
};

class HttpConn {
 public:
  HttpConn(asio::io_context& io, HttpHandler& handler);
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  void open(const Target& target, size_t n);
  // get sends `GET path`; the previous response must have arrived.
  void get(std::string_view path);
  Clock::time_point sentAt() const { return sent_at_; }

  uint32_t index = 0;  // for the workload
  uint64_t done = 0;   // for the workload: responses counted so far

 private:
  void readMore();
  void onRead(const boost::system::error_code& ec, size_t n);
  // parseResponse returns the bytes of one whole response at the start of the buffer, 0 if more
  // are needed, or -1 on a malformed response (then `error` says why).
  long parseResponse(int& status, std::string& body, std::string& error);
  void fail(std::string_view error);

  asio::ip::tcp::socket socket_;
  HttpHandler& handler_;
  std::string host_header_;
  std::string request_;
  std::vector<char> read_;
  size_t read_len_ = 0;
  bool failed_ = false;
  Clock::time_point sent_at_;
};

}  // namespace partyd::bench
