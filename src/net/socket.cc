#include "net/socket.h"

namespace partyd::net {

namespace asio = boost::asio;
using asio::ip::tcp;

Socket toSocket(tcp::socket socket) {
  auto& io = static_cast<asio::io_context&>(asio::query(socket.get_executor(),
                                                        asio::execution::context));
  boost::system::error_code ec;
  const tcp protocol = socket.local_endpoint(ec).protocol();
  if (ec) return Socket(io);
  const auto fd = socket.release(ec);
  if (ec) return Socket(io);
  return Socket(io, protocol, fd);
}

}  // namespace partyd::net
