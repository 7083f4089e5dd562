#include "http_conn.h"

#include <netinet/in.h>
#include <strings.h>

#include <boost/asio/write.hpp>
#include <cstdlib>
#include <cstring>

namespace partyd::bench {

namespace {

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

using boost::system::error_code;

// findHeader returns the value of header `name` in `head` (case-insensitive), or an empty view.
std::string_view findHeader(std::string_view head, std::string_view name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (head.size() - pos > name.size() && head[pos + name.size()] == ':' &&
        strncasecmp(head.data() + pos, name.data(), name.size()) == 0) {
      size_t start = pos + name.size() + 1;
      size_t end = head.find("\r\n", start);
      std::string_view value = head.substr(start, end - start);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value;
    }
  }
  return {};
}

}  // namespace

HttpConn::HttpConn(asio::io_context& io, HttpHandler& handler)
    : socket_(io), handler_(handler), read_(4096) {}

void HttpConn::open(const Target& target, size_t n) {
  host_header_ = target.hostHeader();
  error_code ec;
  socket_.open(asio::ip::tcp::v4(), ec);
  if (!ec && target.sources > 1) {
    int on = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    socket_.bind({target.sourceFor(n), 0}, ec);
  }
  if (ec) {
    fail("socket: " + ec.message());
    return;
  }
  socket_.async_connect(target.endpoint(), [this](const error_code& ec) {
    if (ec) {
      fail("connect: " + ec.message());
      return;
    }
    socket_.set_option(asio::ip::tcp::no_delay(true));
    readMore();
    handler_.onConnected(*this);
  });
}

void HttpConn::get(std::string_view path) {
  request_.clear();
  request_ += "GET ";
  request_ += path;
  request_ += " HTTP/1.1\r\nHost: ";
  request_ += host_header_;
  request_ += "\r\n\r\n";
  sent_at_ = Clock::now();
  asio::async_write(socket_, asio::buffer(request_), [this](const error_code& ec, size_t) {
    if (ec) fail("write: " + ec.message());
  });
}

void HttpConn::readMore() {
  if (read_len_ == read_.size()) read_.resize(read_.size() * 2);
  socket_.async_read_some(asio::buffer(read_.data() + read_len_, read_.size() - read_len_),
                          [this](const error_code& ec, size_t n) { onRead(ec, n); });
}

void HttpConn::onRead(const error_code& ec, size_t n) {
  if (failed_) return;
  if (ec) {
    fail(ec == asio::error::eof ? "server closed the connection (EOF)" : "read: " + ec.message());
    return;
  }
  Clock::time_point now = Clock::now();
  read_len_ += n;
  for (;;) {
    int status = 0;
    std::string body;
    std::string error;
    long used = parseResponse(status, body, error);
    if (used < 0) {
      fail(error);
      return;
    }
    if (used == 0) break;
    std::memmove(read_.data(), read_.data() + used, read_len_ - used);
    read_len_ -= used;
    handler_.onResponse(*this, status, body, now);
    if (failed_) return;
  }
  readMore();
}

long HttpConn::parseResponse(int& status, std::string& body, std::string& error) {
  std::string_view data(read_.data(), read_len_);
  size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return 0;
  std::string_view head = data.substr(0, head_end + 2);
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
    error = "malformed status line";
    return -1;
  }
  status = std::atoi(head.data() + 9);
  size_t at = head_end + 4;
  if (findHeader(head, "Connection") == "close") {
    error = "server answered 'Connection: close' (keep-alive expected)";
    return -1;
  }
  std::string_view length = findHeader(head, "Content-Length");
  if (!length.empty()) {
    size_t n = std::strtoul(std::string(length).c_str(), nullptr, 10);
    if (data.size() < at + n) return 0;
    body.assign(data.substr(at, n));
    return static_cast<long>(at + n);
  }
  if (findHeader(head, "Transfer-Encoding").find("chunked") == std::string_view::npos) {
    error = "response has neither Content-Length nor chunked encoding";
    return -1;
  }
  for (;;) {
    size_t line_end = data.find("\r\n", at);
    if (line_end == std::string_view::npos) return 0;
    size_t chunk = std::strtoul(std::string(data.substr(at, line_end - at)).c_str(), nullptr, 16);
    at = line_end + 2;
    if (data.size() < at + chunk + 2) return 0;
    body.append(data.substr(at, chunk));
    at += chunk + 2;
    if (chunk == 0) return static_cast<long>(at);
  }
}

void HttpConn::fail(std::string_view error) {
  if (failed_) return;
  failed_ = true;
  error_code ignored;
  socket_.close(ignored);
  handler_.onFailure(*this, error);
}

}  // namespace partyd::bench
